"""int8 quality: PSNR of live-style's int8 output against its float32 output, for every style, real photo and size.

    python bench/int8.py [--shared ../shared]

Both int8 candidates the measured choice offers are shown: "int8" (the unquantized rest in float32) and, on a CPU
with bfloat16, "int8 bfloat16" (the rest in bfloat16).

Styles: the paintings in ../shared/styles and the project's own in styles/ (the calibration frames
are the project's paintings, so the shared paintings and photos are held out). Photos: chicago.jpg
and scikit-image's. Magenta's int8 file, OpenVINO at 384x384 (the only size it runs), is the
comparison: what a user picking Google's int8 release gets against the same float output.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from handheld import photos

from live_style import load_model
from live_style.commands.bench_runtimes import magenta_transfer_files
from live_style.model.openvino_runtime import import_openvino
from live_style.styles import BUILTIN_FOLDER
from live_style.temporal.metrics import psnr

SIZES = ((256, 340), (384, 384), (480, 640))
ROOT = Path(__file__).resolve().parents[1]


def magenta_int8(transfer: Path):
    """Magenta's int8 transfer file (beside `transfer`) on OpenVINO: (384x384 BGR frame, vector) -> BGR frame."""
    ov = import_openvino()
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(magenta_transfer_files(transfer)["int8"])), "CPU")

    def run(frame: np.ndarray, vector: np.ndarray) -> np.ndarray:
        rgb = frame[None, ..., ::-1].astype(np.float32) / 255.0
        feed = {port: (rgb if port.get_partial_shape()[-1] == 3 else vector) for port in compiled.inputs}
        out = next(iter(compiled(feed).values()))[0]
        return cv2.cvtColor(cv2.convertScaleAbs(out, alpha=255.0), cv2.COLOR_RGB2BGR)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    lite = args.shared / "models" / "magenta-lite"
    float32 = load_model(str(lite), runtime="openvino", precision="float32")
    int8 = load_model(str(lite), precision="int8")
    int8_bf16 = load_model(str(lite), precision="int8")
    int8_bf16.use_precision("int8 bfloat16", wait=True)
    google = magenta_int8(float32.network.transfer_path)
    styles = sorted((args.shared / "styles").glob("*.jpg")) + sorted(BUILTIN_FOLDER.glob("*.jpg"))
    pictures = photos(args.shared)
    print(f"PSNR (dB) of int8 against float32 output: {len(pictures)} photos x sizes {SIZES}")
    print(
        f"{'style':42} {'int8 min':>9} {'median':>7}   {'int8 bfloat16 min':>18} {'median':>7}"
        f"   {'Magenta int8 file min':>22} {'median':>7}"
    )
    everything = {"ours": [], "bf16": [], "magenta": []}
    for path in styles:
        vector = float32.style_vector(cv2.imread(str(path)))
        ours, bf16, magenta = [], [], []
        for photo in pictures.values():
            for height, width in SIZES:
                frame = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
                reference = float32.stylize(frame, vector, size=height)
                ours.append(psnr(int8.stylize(frame, vector, size=height), reference))
                bf16.append(psnr(int8_bf16.stylize(frame, vector, size=height), reference))
                if (height, width) == (384, 384):
                    magenta.append(psnr(google(frame, vector), reference))
        for name, values in (("ours", ours), ("bf16", bf16), ("magenta", magenta)):
            everything[name] += values
        where = "../shared" if args.shared in path.parents else "project"
        print(f"{where + ': ' + path.stem:42} {row(ours, bf16, magenta)}", flush=True)
    print(f"{'all':42} {row(everything['ours'], everything['bf16'], everything['magenta'])}")


def row(ours: list[float], bf16: list[float], magenta: list[float]) -> str:
    """min and median of each column."""
    return (
        f"{np.min(ours):9.1f} {np.median(ours):7.1f}   {np.min(bf16):18.1f} {np.median(bf16):7.1f}"
        f"   {np.min(magenta):22.1f} {np.median(magenta):7.1f}"
    )


if __name__ == "__main__":
    main()
