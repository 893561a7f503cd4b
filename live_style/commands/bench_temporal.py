"""`live-style bench --temporal CLIP`: how steady the output is, what steadying costs, and the live frame rates.

For a clip: the warping error (Lai et al. 2018) of the source itself, of the per-frame output, and
of the steadied output (live: causal; files: two-way), their ratio, SSIM and PSNR of the steadied
output against the per-frame one, the temporal step's cost per frame, and the live pipeline's fps
over the clip with and without steadying (and the shown fps with --interpolate).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from live_style.errors import UserError
from live_style.imaging import resize_frames
from live_style.media.decode import VideoFile
from live_style.model.stylizer import Stylizer
from live_style.temporal.coherence import Steadier, steady_clip
from live_style.temporal.interpolate import Interpolator
from live_style.temporal.metrics import psnr, ssim, warping_errors

MODES = ("live", "file")
KEY_EVERY = 3  # --interpolate figures: the model stylizes every 3rd frame (a 30 fps camera, a 10 fps model)


def read_frames(path: Path, limit: int) -> list[np.ndarray]:
    """The first `limit` frames of a video, upright BGR."""
    video = VideoFile(path)
    try:
        frames = [frame.image for frame in itertools.islice(video.frames(), limit)]
    finally:
        video.close()
    if len(frames) < 2:
        raise UserError(f"{path} has {len(frames)} decodable frame(s); steadiness needs at least 2")
    return frames


def timed(steps: Callable[[], list[np.ndarray]], count: int) -> tuple[list[np.ndarray], float]:
    """(outputs, milliseconds per frame)."""
    started = time.perf_counter()
    outputs = steps()
    return outputs, 1000 * (time.perf_counter() - started) / max(1, count)


def interpolated_outputs(contents: list[np.ndarray], plain: list[np.ndarray]) -> list[np.ndarray]:
    """What --interpolate shows when the model keeps up with every KEY_EVERY-th frame only."""
    steadier, interpolator, shown = Steadier(), Interpolator(), []
    for index, (content, stylized) in enumerate(zip(contents, plain, strict=True)):
        if index % KEY_EVERY == 0:
            shown.append(steadier(content, stylized))
            interpolator.set_key(content, shown[-1])
        else:
            shown.append(interpolator.between(content))
    return shown


def steady_outputs(mode: str, contents: list[np.ndarray], plain: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """The steadied outputs of one mode and its cost per frame (ms)."""
    if mode == "interpolated":
        return timed(lambda: interpolated_outputs(contents, plain), len(contents))
    if mode == "live":
        steadier = Steadier()
        return timed(lambda: [steadier(c, p) for c, p in zip(contents, plain, strict=True)], len(contents))
    return timed(lambda: steady_clip(contents, plain), len(contents))


def temporal_report(model: Stylizer, frames: list[np.ndarray], vector: np.ndarray, size: int) -> dict:
    """Every steadiness figure of one clip at one processing size (per-pair error series included, for plots)."""
    shape = model.processing_shape(*frames[0].shape[:2], size)
    contents = [resize_frames(frame[None], *shape)[0] for frame in frames]  # steadying works at processing size
    plain = [model.transfer(c[None], vector)[0] for c in contents]
    report = {
        "frames": len(frames),
        "processing": f"{shape[1]}x{shape[0]}",
        "source_error": float(warping_errors(contents, contents).mean()),
        "per_frame_errors": warping_errors(contents, plain).tolist(),
    }
    report["per_frame_error"] = float(np.mean(report["per_frame_errors"]))
    for mode in (*MODES, "interpolated"):
        steadied, cost = steady_outputs(mode, contents, plain)
        errors = warping_errors(contents, steadied)
        report[mode] = {
            "errors": errors.tolist(),
            "error": float(errors.mean()),
            "ratio": float(errors.mean() / report["per_frame_error"]),
            "ssim": float(np.mean([ssim(a, b) for a, b in zip(steadied, plain, strict=True)])),
            "psnr": psnr(np.stack(steadied), np.stack(plain)),
            "ms_per_frame": cost,
        }
    return report


def print_temporal(report: dict) -> None:
    """The human-readable lines."""
    print(
        f"clip: {report['frames']} frames at {report['processing']} | warping error x1e3 (Lai et al. 2018): "
        f"source {1e3 * report['source_error']:.2f}, per-frame output {1e3 * report['per_frame_error']:.2f}"
    )
    for mode in MODES:
        figures = report[mode]
        print(
            f"  steadied ({mode:4}): {1e3 * figures['error']:.2f} = {figures['ratio']:.2f}x per-frame | "
            f"SSIM {figures['ssim']:.3f}, PSNR {figures['psnr']:.1f} dB vs per-frame | "
            f"temporal step {figures['ms_per_frame']:.1f} ms/frame"
        )
    figures = report["interpolated"]
    print(
        f"  --interpolate, 1 frame in {KEY_EVERY} stylized: {1e3 * figures['error']:.2f} = {figures['ratio']:.2f}x "
        f"per-frame | SSIM {figures['ssim']:.3f}, PSNR {figures['psnr']:.1f} dB vs per-frame every frame"
    )
    if "live_fps" in report:
        fps = report["live_fps"]
        print(
            f"  live pipeline over the clip (every frame): {fps['plain']:.1f} fps plain, {fps['steadied']:.1f} fps "
            f"steadied ({fps['steadied'] / fps['plain']:.0%}); paced at the clip's rate with --interpolate: "
            f"{fps['interpolated_shown']:.1f} fps shown, {fps['interpolated_stylized']:.1f} fps stylized"
        )


def check_clip(args: argparse.Namespace) -> Path:
    """The --temporal clip, checked to exist and decode (a clear error otherwise)."""
    path = Path(args.temporal)
    VideoFile(path).close()
    if args.frames < 2:
        raise UserError(f"--frames {args.frames}: steadiness is measured between frames; give at least 2")
    return path
