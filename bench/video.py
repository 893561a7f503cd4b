"""Frames per second of `live-style video` against the simple loop, in one run.

    python bench/video.py [--shared ../shared] [--sizes 256,384] [--frames 150] [--batch 4]

Input: a synthetic 640x480 30 fps clip with an AAC tone. The simple loop reads one frame, stylizes
it, encodes it, with no overlap, no batching and no steadying; the job overlaps decoding, batched
inference and encoding. Both use the same reader, model and writer. The speed-up compares like with
like (the job with `--no-stabilize`); the last column is the job as users run it, steadied.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
from media import write_av_clip

from live_style import load_model
from live_style.commands.bench import pipelined_run
from live_style.media.decode import VideoFile, demuxed
from live_style.media.encode import VideoFileWriter
from live_style.sinks import OutputFrame

WIDTH, HEIGHT, FPS = 640, 480, 30


def simple_loop(model, clip: Path, out: Path, vector, size: int) -> float:
    """Read a frame, stylize it, write it; frames per second."""
    video = VideoFile(clip)
    writer = VideoFileWriter(out, (WIDTH, HEIGHT), video.rate, video.time_base, video.audio)
    started = time.perf_counter()
    count = 0
    for frame in video.frames():
        writer.write(OutputFrame(model.stylize(frame.image, vector, size=size), frame.time))
        count += 1
    for packet in demuxed(video.container, video.audio):
        writer.add_audio(packet)
    writer.close()
    video.close()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--sizes", default="256,384")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        clip = write_av_clip(scratch / "clip.mp4", frames=args.frames, fps=FPS, size=(WIDTH, HEIGHT))
        model = load_model(str(args.shared / "models" / "magenta-lite"), cache_dir=scratch)
        vector = model.style_vector(cv2.imread(str(args.shared / "styles" / "wave.jpg")))
        print(f"{model.description}; {args.frames} frames of {WIDTH}x{HEIGHT} at {FPS} fps with audio, H.264 out")
        print(
            f"{'size':>5} {'simple loop fps':>16} {'job, not steadied':>18} {'speed-up':>9} {'job, steadied':>14}"
            f"  (batch {args.batch})"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            pipelined_run(model, clip, vector, size, args.batch, scratch / "warm.mp4")  # compile for this shape
            simple = simple_loop(model, clip, scratch / "simple.mp4", vector, size)
            job = scratch / "job.mp4"
            plain, steady = (
                pipelined_run(model, clip, vector, size, args.batch, job, audio=True, stabilize=stabilize)["fps"]
                for stabilize in (False, True)
            )
            print(f"{size:>5} {simple:16.1f} {plain:18.1f} {plain / simple:8.2f}x {steady:14.1f}", flush=True)


if __name__ == "__main__":
    main()
