"""Milliseconds per frame of `stylize`, per model, size and option, next to the TF Lite interpreter.

    python bench/engine.py [--shared ../shared] [--repeats 20]

Rows: the TensorFlow engine (`--runtime tensorflow`): the lite model as TF ops (fp16 and int8
weights), the hub graph (synthetic weights, real structure), each with and without XLA, and the TF
Lite interpreter running the same .tflite files (fixed 384x384). Frames are given at the processing
size, so only the engine is timed. `live-style bench` compares the runtimes (OpenVINO, int8).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # synthetic_hub

import cv2
import numpy as np
import tensorflow as tf
from synthetic_hub import write_synthetic_hub_model

from live_style import load_model

SHAPES = {"256 (256x340)": (256, 340), "384x384": (384, 384), "384 (384x512)": (384, 512)}


def ms_per_frame(model, frame: np.ndarray, vector: np.ndarray, repeats: int) -> float:
    """Median wall time of one stylize call, after two warm-up calls (tracing, compilation)."""
    for _ in range(2):
        model.stylize(frame, vector)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.stylize(frame, vector)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def configurations(shared: Path, hub_dir: Path) -> list[tuple[str, str, dict]]:
    """(label, model spec, load_model options) for every row."""
    lite = shared / "models" / "magenta-lite"
    pair = lambda transfer: f"{lite / 'style_predict_int8.tflite'},{lite / transfer}"  # noqa: E731
    rows = []
    for transfer in ("style_transfer_fp16.tflite", "style_transfer_int8.tflite"):
        tag = transfer.split("_")[-1].removesuffix(".tflite")
        rows += [
            (f"lite {tag}, TF graph", pair(transfer), {"runtime": "tensorflow"}),
            (f"lite {tag}, TF graph + XLA", pair(transfer), {"runtime": "tensorflow", "xla": True}),
        ]
        rows.append((f"lite {tag}, TF Lite interpreter", pair(transfer), {"lite_interpreter": True}))
    rows += [
        ("hub (synthetic weights)", str(hub_dir), {"runtime": "tensorflow"}),
        ("hub (synthetic weights) + XLA", str(hub_dir), {"runtime": "tensorflow", "xla": True}),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    content = cv2.imread(str(args.shared / "media" / "chicago.jpg"))
    style = cv2.imread(str(args.shared / "styles" / "wave.jpg"))
    with tempfile.TemporaryDirectory() as scratch:
        hub_dir = write_synthetic_hub_model(args.shared / "models" / "magenta-hub-graph", Path(scratch) / "hub")
        print(
            f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, GPUs: {tf.config.list_physical_devices('GPU')}"
        )
        print(f"{'model':34} " + " ".join(f"{s:>15}" for s in SHAPES) + "   (ms per frame, median)")
        for label, spec, options in configurations(args.shared, hub_dir):
            model = load_model(spec, cache_dir=Path(scratch) / "cache", **options)
            vector = model.style_vector(style)
            cells = []
            for height, width in SHAPES.values():
                if model.network.fixed_size and model.network.fixed_size != (height, width):
                    cells.append(f"{'-':>15}")
                    continue
                frame = cv2.resize(content, (width, height), interpolation=cv2.INTER_AREA)
                cells.append(f"{ms_per_frame(model, frame, vector, args.repeats):15.1f}")
            print(f"{label:34} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
