"""The torch runtime on a GPU, sized for a short loan: both networks at five sizes in float32 and half precision,
and one 1080p camera frame end to end (upload, resize, network, resize, download) at processing size 512.

Needs Python, numpy, torch and safetensors only, plus the weights files that `bench/gpu_weights.py` writes on a
machine with the project (the TF Lite pair's real weights; the hub model's from ../shared's graph, synthetic values:
its timing is real). On a machine with nothing else:

    python bench/gpu_weights.py                      # here: writes bench/gpu-weights/{lite,hub}.safetensors
    pip install --target bench/gpu-deps safetensors  # here, if the GPU machine lacks it
    python bench/gpu.py                              # there: carry bench/gpu-weights and bench/gpu-deps

`--quick` (CI's smoke test on a CPU) runs the smallest size only, a few frames. Prints ms and fps per row and the
device's name, memory and driver; `--json FILE` keeps the figures.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {
    "256x256": (256, 256),
    "384x384": (384, 384),
    "512x912": (512, 912),
    "720p": (720, 1280),
    "1080p": (1080, 1920),
}
END_TO_END = (1080, 1920), (512, 912)  # a 1080p camera frame at processing size 512 (short side)
VECTOR_SEED = 0


def torch_runtime():
    """live_style/model/torch_runtime.py loaded by path: the package's __init__ imports OpenCV, absent here."""
    sys.path.insert(0, str(HERE / "gpu-deps"))
    spec = importlib.util.spec_from_file_location("torch_runtime", ROOT / "live_style" / "model" / "torch_runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(run, frames: int, sync) -> float:
    """Median ms of `frames` calls (after two warm-up calls: CUDA graph capture, cuDNN autotuning)."""
    run()
    run()
    times = []
    for _ in range(frames):
        sync()
        started = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=HERE / "gpu-weights", help="folder of {lite,hub}.safetensors")
    parser.add_argument("--device", default="auto", help="cuda, mps, cpu (default: the GPU torch sees, else cpu)")
    parser.add_argument("--frames", type=int, default=30, help="timed frames per row (default: 30)")
    parser.add_argument("--quick", action="store_true", help="smoke test: the smallest size, a few frames")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    runtime = torch_runtime()
    import numpy as np
    import torch

    device = (runtime.gpu_name() or "cpu") if args.device == "auto" else args.device
    half = "bfloat16" if device == "cpu" else "float16"
    sizes = dict(list(SIZES.items())[:1]) if args.quick else SIZES
    frames = 2 if args.quick else args.frames
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    print(f"device: {runtime.device_report(device)}", flush=True)
    rows = []
    rng = np.random.default_rng(VECTOR_SEED)
    for network in ("lite", "hub"):
        path = args.weights / f"{network}.safetensors"
        if not path.exists():
            print(f"{network}: no {path} (run bench/gpu_weights.py where the project is installed)", flush=True)
            continue
        weights = runtime.load_weights(path)
        for precision in ("float32", half):
            transfer = runtime.TorchTransfer(weights, device, precision)
            vector = rng.standard_normal(transfer.vector_size).astype(np.float32)
            for name, (height, width) in sizes.items():
                frame = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
                ms = timed(functools.partial(transfer, frame, vector), frames, sync)
                rows.append({"network": network, "precision": precision, "size": name, "ms": ms})
                print(f"{network:4} {precision:8} {name:8} {ms:8.2f} ms  {1000 / ms:7.1f} fps", flush=True)
            if device == "mps":  # MPS's area resize takes whole ratios only: live-style resizes stills on the CPU
                continue
            (height, width), shape = END_TO_END if not args.quick else ((120, 160), (64, 96))
            camera = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
            ms = timed(functools.partial(transfer.resized, camera, vector, shape, (width, height)), frames, sync)
            name = f"{width}x{height} via {shape[1]}x{shape[0]}, end to end"
            rows.append({"network": network, "precision": precision, "size": name, "ms": ms})
            print(f"{network:4} {precision:8} {name} {ms:8.2f} ms  {1000 / ms:7.1f} fps", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": runtime.device_report(device), "rows": rows}, indent=1))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
