"""Milliseconds per frame of `stylize`, per model, size and option, next to the TF Lite interpreter.

    python bench/engine.py [--shared ../shared] [--repeats 7] [--rounds 3]

Rows: the TensorFlow engine (`--runtime tensorflow`): the lite model as TF ops (fp16 and int8
weights), the hub graph (synthetic weights, real structure), each with and without XLA, and the TF
Lite interpreter running the same .tflite files (fixed 384x384). Frames are given at the processing
size, so only the engine is timed; the rows are timed in interleaved rounds, each cell the median of
its rounds' medians. `live-style bench` compares the runtimes (OpenVINO, int8).
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
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per cell and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes over every row; medians are reported")
    args = parser.parse_args()
    content = cv2.imread(str(args.shared / "media" / "chicago.jpg"))
    style = cv2.imread(str(args.shared / "styles" / "wave.jpg"))
    frames = {shape: cv2.resize(content, shape[::-1], interpolation=cv2.INTER_AREA) for shape in SHAPES.values()}
    with tempfile.TemporaryDirectory() as scratch:
        hub_dir = write_synthetic_hub_model(args.shared / "models" / "magenta-hub-graph", Path(scratch) / "hub")
        print(
            f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, GPUs: {tf.config.list_physical_devices('GPU')}"
        )
        rows = []
        for label, spec, options in configurations(args.shared, hub_dir):
            model = load_model(spec, cache_dir=Path(scratch) / "cache", **options)
            shapes = [s for s in SHAPES.values() if not model.network.fixed_size or model.network.fixed_size == s]
            rows.append((label, model, model.style_vector(style), shapes))
        times: dict[tuple[str, tuple[int, int]], list[float]] = {}
        for _ in range(args.rounds):  # this machine has slow spells: every row sees each of them alike
            for label, model, vector, shapes in rows:
                for shape in shapes:
                    cell = times.setdefault((label, shape), [])
                    cell.append(ms_per_frame(model, frames[shape], vector, args.repeats))
        print(f"{'model':34} " + " ".join(f"{s:>15}" for s in SHAPES) + "   (ms per frame, median)")
        for label, *_ in rows:
            cells = [times.get((label, shape)) for shape in SHAPES.values()]
            print(f"{label:34} " + " ".join(f"{statistics.median(c):15.1f}" if c else f"{'-':>15}" for c in cells))


if __name__ == "__main__":
    main()
