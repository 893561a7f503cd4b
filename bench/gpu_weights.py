"""Write the weights files `bench/gpu.py` reads: bench/gpu-weights/{lite,hub}.safetensors.

    python bench/gpu_weights.py [--shared ../shared]

lite: Magenta's TF Lite transfer network (real weights); hub: the TF Hub model's real graph from ../shared with
synthetic weight values (its 92 MB weight shard is not there: the timing is real, the pictures are not). Both are
written by the code the torch runtime uses to cache them (`torch_weights.cached_weights`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synthetic_hub import write_synthetic_hub_model

from live_style.model.hub import HubNetwork
from live_style.model.lite import LiteNetwork
from live_style.model.torch_weights import cached_weights

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "gpu-weights")
    args = parser.parse_args()
    lite = args.shared / "models" / "magenta-lite"
    with tempfile.TemporaryDirectory() as scratch:
        hub = write_synthetic_hub_model(args.shared / "models" / "magenta-hub-graph", Path(scratch) / "hub")
        networks = {
            "lite": (LiteNetwork(lite / "style_predict_int8.tflite", lite / "style_transfer_fp16.tflite"), str(lite)),
            "hub": (HubNetwork(hub), "hub-graph-synthetic"),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        for name, (network, identity) in networks.items():
            written = cached_weights(network, identity, Path(scratch) / "cache")
            shutil.copy(written, args.out / f"{name}.safetensors")
            print(f"wrote {args.out / f'{name}.safetensors'} ({written.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
