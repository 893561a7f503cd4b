"""Video jobs: what cutting into segments costs, and a local Ray against the in-process run, in one run.

    python bench/video_jobs.py [--shared ../shared] [--seconds 40] [--size 256] [--segment-seconds 20]

A handheld clip over a real photo (640x360, 30 fps, a keyframe every 2 s) goes through the same job
three ways: in this process as one segment (no cuts, as before segments existed), in this process
cut into segments, and on a local Ray with two workers. Printed: wall time, fps, ratios, and the
per-frame cost from which the throughput of N GPU workers follows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
from handheld import handheld_clip, photos, write_frames

from live_style import load_model
from live_style.pipeline.job_folder import JobFolder
from live_style.pipeline.ray_renderer import RayRenderer
from live_style.pipeline.video_jobs import JobOptions, LocalRenderer, VideoRun, plan_video

FPS = 30


def timed_job(model, vector, clip: Path, out: Path, size: int, segment_seconds: float, renderer) -> tuple:
    """(seconds, frames, segments) of one `live-style video` job through `renderer`."""
    plan = plan_video(model, vector, clip, out, JobOptions(size, "input", 4, False, True, 1.0, False, segment_seconds))
    folder = JobFolder(out)
    started = time.perf_counter()
    try:
        VideoRun([plan], {out: folder}, renderer, quiet=True).run()
    finally:
        folder.release()
    return time.perf_counter() - started, plan.frames, len(plan.segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--segment-seconds", type=float, default=20.0)
    args = parser.parse_args()
    lite = str(args.shared / "models" / "magenta-lite")
    os.environ["LIVE_STYLE_MODEL"] = lite  # the Ray workers open the same model
    model = load_model(lite)
    vector = model.style_vector(cv2.imread(str(args.shared / "styles" / "wave.jpg")))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        frames = handheld_clip(photos(args.shared)["chicago"], "pan", int(args.seconds * FPS), (640, 360))
        clip = write_frames(scratch / "clip.mp4", frames, FPS, keyframe_every=2 * FPS)
        local = LocalRenderer(model)
        timed_job(model, vector, clip, scratch / "warm.mp4", args.size, float("inf"), local)  # compile the shape
        whole = timed_job(model, vector, clip, scratch / "whole.mp4", args.size, float("inf"), local)
        cut = timed_job(model, vector, clip, scratch / "cut.mp4", args.size, args.segment_seconds, local)
        ray_args = argparse.Namespace(
            model=lite, device="auto", xla=False, precision="float32", lite_interpreter=False, runtime="auto",
            ray_workers=2,
        )  # fmt: skip
        started = time.perf_counter()
        with RayRenderer(None, ray_args) as renderer:
            start_up = time.perf_counter() - started
            on_ray = timed_job(model, vector, clip, scratch / "ray.mp4", args.size, args.segment_seconds, renderer)
    print(f"\n{model.description}; {whole[1]} frames of 640x360 at --size {args.size}")
    print(f"{'run':<34} {'seconds':>8} {'fps':>7} {'vs one segment':>15}")
    rows = (
        ("in-process, one segment", whole),
        (f"in-process, {cut[2]} segments of {args.segment_seconds:g} s", cut),
        (f"local Ray, 2 workers, {on_ray[2]} segments", on_ray),
    )
    for name, (seconds, count, _) in rows:
        print(f"{name:<34} {seconds:8.1f} {count / seconds:7.1f} {seconds / whole[0]:14.2f}x")
    print(f"(Ray start-up, two model loads: {start_up:.1f} s, not counted above)")
    per_frame_ms = 1000 * whole[0] / whole[1]
    print(
        f"per-frame cost in one worker: {per_frame_ms:.1f} ms, so N workers that each run the model this fast "
        f"render about N x {1000 / per_frame_ms:.1f} fps while segments outnumber workers"
    )


if __name__ == "__main__":
    main()
