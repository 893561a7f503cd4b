"""What the H.264 encoder costs a `video` job's output frame, per x264 preset, and what each keeps.

    python bench/encoder.py [--shared ../shared] [--frames 60] [--size 1920x1080] [--rounds 3]

The frames are what a job encodes: a handheld pan over a real photograph (chicago.jpg from
../shared) stylized by the real model at the default processing size (384) and upscaled to the
output size. Each preset encodes them through live-style's own writer (its CRF and thread count);
presets run interleaved, `--rounds` times, and each figure is the median of the rounds. Quality is
each decoded frame against the frame handed to the encoder: SSIM (grey, Wang et al.) and PSNR.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from handheld import handheld_clip

from live_style import load_model
from live_style.commands.bench_temporal import read_frames
from live_style.media.encode import VideoFileWriter
from live_style.media.formats import ENCODER_THREADS, H264_OPTIONS
from live_style.model.cpu import cpu_flags, cpu_name
from live_style.sinks import OutputFrame
from live_style.styles import BUILTIN_FOLDER
from live_style.temporal.metrics import ssim

PRESETS = ("veryfast", "superfast", "ultrafast", "faster")
FPS = 30


def stylized_frames(shared: Path, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """The model's output for a pan over the photograph, at the default processing size, upscaled to `size`."""
    model = load_model(str(shared / "models" / "magenta-lite"), workload="video")
    vector = model.style_vector(cv2.imread(str(BUILTIN_FOLDER / "wave.jpg")))
    photo = cv2.imread(str(shared / "media" / "chicago.jpg"))
    clip = handheld_clip(photo, "pan", count, (size[0] // 2, size[1] // 2))
    return [cv2.resize(model.stylize(frame, vector), size, interpolation=cv2.INTER_LINEAR) for frame in clip]


def encode(frames: list[np.ndarray], preset: str, out: Path) -> float:
    """Milliseconds a frame to encode and write them with `preset`, as a job writes its output."""
    options = {**H264_OPTIONS, "preset": preset, **ENCODER_THREADS}
    writer = VideoFileWriter(out, frames[0].shape[1::-1], FPS, Fraction(1, FPS), None, encoder=options)
    started = time.perf_counter()
    for index, frame in enumerate(frames):
        writer.write(OutputFrame(frame, Fraction(index, FPS)))
    writer.close()
    return 1e3 * (time.perf_counter() - started) / len(frames)


def quality(frames: list[np.ndarray], out: Path) -> tuple[float, float]:
    """(mean SSIM, mean PSNR in dB) of the decoded file against the frames handed to the encoder."""
    decoded = read_frames(out, len(frames))
    return (
        float(np.mean([ssim(a, b) for a, b in zip(frames, decoded, strict=True)])),
        float(np.mean([cv2.PSNR(a, b) for a, b in zip(frames, decoded, strict=True)])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    frames = stylized_frames(args.shared, args.frames, size)
    named = ("AVX2", "AVX512F", "AVX512VNNI", "AVX512BF16", "AVX512_SPR")  # numpy's names; SPR: AMX's generation
    flags = " ".join(flag for flag in named if flag in cpu_flags())
    print(f"CPU: {cpu_name()} ({flags}), {os.cpu_count()} cores")
    print(f"{args.frames} frames at {args.size}, x264 crf {H264_OPTIONS['crf']}, threads {ENCODER_THREADS['threads']}")
    timings: dict[str, list[float]] = {preset: [] for preset in PRESETS}
    with tempfile.TemporaryDirectory() as scratch:
        files = {preset: Path(scratch) / f"{preset}.mp4" for preset in PRESETS}
        for _ in range(args.rounds):
            for preset in PRESETS:
                timings[preset].append(encode(frames, preset, files[preset]))
        base = float(np.median(timings[H264_OPTIONS["preset"]]))
        print(f"{'preset':10s} {'ms/frame':>9s} {'x now':>6s} {'SSIM':>7s} {'PSNR':>6s} {'kB/s':>6s}")
        for preset in PRESETS:
            ms = float(np.median(timings[preset]))
            similar, psnr = quality(frames, files[preset])
            rate = files[preset].stat().st_size / 1024 / (args.frames / FPS)
            print(f"{preset:10s} {ms:9.1f} {ms / base:6.2f} {similar:7.4f} {psnr:6.1f} {rate:6.0f}")


if __name__ == "__main__":
    main()
