"""End-to-end FPS and latency of the live pipeline next to transfer-only FPS, in one run.

    python bench/live.py [--shared ../shared] [--sizes 256,384] [--seconds 20] [--input-size 1280x720] [--rounds 3]

Input: a synthetic 30 fps clip, 640x480 unless --input-size says otherwise. Transfer-only:
`stylize` on frames already at the processing size, back to back. End to end: the live pipeline,
headless, recording to an mp4, (a) reading the file as fast as it goes (throughput, every frame),
steadied (the default) and not (`--no-stabilize`), and (b) paced at 30 fps like a camera, newest
frame only (the latency a viewer sees). This machine is noisy, so the runs are interleaved over
`--rounds` and each column is the median; a share is the median of each round's own ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from media import write_clip

from live_style import load_model
from live_style.commands.bench import live_run
from live_style.imaging import resize_frames
from live_style.styles import StyleBank

FPS = 30


def transfer_only_fps(model, frame: np.ndarray, vector: np.ndarray, size: int, seconds: float) -> float:
    """Back-to-back `stylize` calls on a frame already at the processing size."""
    small = resize_frames(frame[None], *model.processing_shape(*frame.shape[:2], size))
    model.stylize(small, vector)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.stylize(small, vector)
        count += 1
    return count / (time.perf_counter() - started)


def pipeline_run(model, vector, clip: Path, size: int, paced: bool, seconds: float, stabilize: bool = True):
    """One headless live session; returns (fps, latency median ms, latency p95 ms, stage medians)."""
    pipeline, elapsed = live_run(model, vector, clip, size, seconds, paced=paced, stabilize=stabilize)
    summary = pipeline.times.summary()
    return pipeline.frames_done / elapsed, summary["latency"]["median"], summary["latency"]["p95"], summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--sizes", default="256,384")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--input-size", default="640x480", help="WIDTHxHEIGHT of the synthetic input")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; medians are reported")
    args = parser.parse_args()
    width, height = (int(part) for part in args.input_size.lower().split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        clip = write_clip(scratch / "clip.mp4", frames=int(FPS * args.seconds * 3), fps=FPS, size=(width, height))
        model = load_model(str(args.shared / "models" / "magenta-lite"), cache_dir=scratch)
        bank = StyleBank(lambda f: model.style_vector(cv2.imread(str(f))), [args.shared / "styles" / "wave.jpg"])
        frame = cv2.VideoCapture(str(clip)).read()[1]
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            rounds = [
                (
                    transfer_only_fps(model, frame, bank.vectors[0], size, args.seconds / 2),
                    pipeline_run(model, bank.vectors[0], clip, size, False, args.seconds),
                    pipeline_run(model, bank.vectors[0], clip, size, True, args.seconds),
                    pipeline_run(model, bank.vectors[0], clip, size, False, args.seconds, stabilize=False),
                )
                for _ in range(args.rounds)
            ]
            rows.append((size, rounds))
    print(f"\n{model.description}; input {width}x{height} at {FPS} fps, recording to mp4, no window")
    print(
        f"{'size':>5} {'transfer fps':>13} {'end-to-end fps':>15} {'share':>6} {'not steady':>11} {'share':>6} "
        f"{'live fps':>9} "
        f"{'latency ms (median/p95)':>24}  stage medians (ms, end-to-end run)"
    )
    for size, rounds in rows:
        transfer = [round_[0] for round_ in rounds]
        fast, live, plain = ([round_[i] for round_ in rounds] for i in (1, 2, 3))
        share = median([run[0] / alone for run, alone in zip(fast, transfer, strict=True)])
        plain_share = median([run[0] / alone for run, alone in zip(plain, transfer, strict=True)])
        stage_names = [stage for stage in fast[0][3] if stage != "latency"]
        stages = ", ".join(f"{stage} {median([run[3][stage]['median'] for run in fast]):.1f}" for stage in stage_names)
        print(
            f"{size:>5} {median(transfer):13.1f} {median([run[0] for run in fast]):15.1f} {share:6.0%} "
            f"{median([run[0] for run in plain]):11.1f} {plain_share:6.0%} "
            f"{median([run[0] for run in live]):9.1f} {median([run[1] for run in live]):12.0f} / "
            f"{median([run[2] for run in live]):<9.0f}  {stages}"
        )


if __name__ == "__main__":
    main()
