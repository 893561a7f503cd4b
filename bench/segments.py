"""Seams between video-job segments: is the warping error at segment boundaries worse than elsewhere?

    python bench/segments.py [--shared ../shared] [--size 256] [--frames 90] [--photos a,b] [--lossless]

Handheld clips (pan, zoom, a moving object) over each real photo are written with a keyframe every
half second and run through the real `live-style video` job twice: cut into 1 s segments, and whole.
Printed per clip: the warping error (Lai et al. 2018, x1e3) of frame pairs away from the cuts, of
the pairs that straddle a cut, their ratio, and the straddling pairs' error in the uncut run, whose
encoder is told to put its keyframes (which every H.264 file has, x264 every 250 frames) at the
same frames. A segment starts with such a keyframe; `--lossless` encodes losslessly (CRF 0) so
that only the steadiness across the cut is measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from handheld import handheld_clip, photos, write_frames

from live_style import load_model
from live_style.commands.bench_temporal import read_frames
from live_style.media import formats as video_file
from live_style.pipeline.job_folder import JobFolder
from live_style.pipeline.video_jobs import JobOptions, LocalRenderer, VideoRun, plan_video
from live_style.temporal.metrics import warping_errors

FPS = 30
KINDS = ("pan", "zoom", "object")


def stylize(model, vector, clip: Path, out: Path, size: int, segment_seconds: float) -> list:
    """The job's output frames and the first frame of every segment after the first."""
    options = JobOptions(size, "input", 4, False, True, 1.0, False, segment_seconds)
    plan = plan_video(model, vector, clip, out, options)
    folder = JobFolder(out)
    try:
        VideoRun([plan], {out: folder}, LocalRenderer(model), quiet=True).run()
    finally:
        folder.release()
    return read_frames(out, 10_000), [segment.first for segment in plan.segments[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--photos", help="comma-separated photo names (default: all)")
    parser.add_argument("--lossless", action="store_true", help="encode with CRF 0: measure the steadiness alone")
    args = parser.parse_args()
    if args.lossless:
        video_file.H264_OPTIONS["crf"] = "0"
    model = load_model(str(args.shared / "models" / "magenta-lite"))
    vector = model.style_vector(cv2.imread(str(args.shared / "styles" / "wave.jpg")))
    print(f"{'clip':<18} {'elsewhere':>9} {'at cuts':>8} {'ratio':>6} {'uncut, keyframes there':>22}")
    ratios = []
    with tempfile.TemporaryDirectory() as scratch:
        chosen = {n: p for n, p in photos(args.shared).items() if not args.photos or n in args.photos.split(",")}
        for name, photo in chosen.items():
            for kind in KINDS:
                frames = handheld_clip(photo, kind, args.frames, (640, 360))
                clip = write_frames(Path(scratch) / f"{name}-{kind}.mp4", frames, FPS, keyframe_every=FPS // 2)
                source = read_frames(clip, 10_000)
                cut, starts = stylize(model, vector, clip, Path(scratch) / "cut.mp4", args.size, 1.0)
                video_file.H264_OPTIONS.update(g=str(FPS), sc_threshold="0")  # keyframes where the cuts are
                whole, _ = stylize(model, vector, clip, Path(scratch) / "whole.mp4", args.size, float("inf"))
                del video_file.H264_OPTIONS["g"], video_file.H264_OPTIONS["sc_threshold"]
                cut_errors, whole_errors = warping_errors(source, cut), warping_errors(source, whole)
                at = [start - 1 for start in starts]  # pair (start-1, start) straddles the cut
                away = np.delete(cut_errors, at)
                ratio = cut_errors[at].mean() / away.mean()
                ratios.append(ratio)
                print(
                    f"{name + '-' + kind:<18} {away.mean() * 1e3:9.2f} {cut_errors[at].mean() * 1e3:8.2f} "
                    f"{ratio:6.2f} {whole_errors[at].mean() * 1e3:22.2f}"
                )
    print(f"mean ratio at cuts / elsewhere: {np.mean(ratios):.2f} (max {np.max(ratios):.2f}) over {len(ratios)} clips")


if __name__ == "__main__":
    main()
