"""End-to-end FPS and latency of the live pipeline next to transfer-only FPS, in one run.

    python bench/live.py [--shared ../shared] [--sizes 256,384] [--seconds 20] [--input-size 1280x720] [--rounds 3]

Input: a synthetic 30 fps clip, 640x480 unless --input-size says otherwise. Transfer-only:
`stylize` on frames already at the processing size, back to back. End to end: the live pipeline,
headless, recording to an mp4, (a) reading the file as fast as it goes (throughput, every frame),
steadied (the default) and not (`--no-stabilize`), and (b) paced at 30 fps like a camera, newest
frame only (the latency a viewer sees). This machine is noisy, so the runs are interleaved over
`--rounds` and each column is the median; a share is the median of each round's own ratio.

CPU budget: each stage's CPU time per frame, run alone over the same clip (process CPU time, so
OpenCV's and x264's own threads count), and what it predicts: with the model's CPU time M and the
rest F, fully busy cores give about `cores x model wall time / (M + F)` of the transfer-only rate
(an estimate: M includes the time the model's threads spin while waiting, which others can use).
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
from live_style.sinks import OutputFrame
from live_style.sinks.recording import QUEUE_FRAMES, VideoRecorder
from live_style.styles import StyleBank
from live_style.temporal.coherence import Steadier

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


def cpu_ms(step, count: int) -> float:
    """CPU time of the whole process per call of `step(i)`, i = 0..count-1, in ms."""
    started = time.process_time()
    for index in range(count):
        step(index)
    return (time.process_time() - started) / count * 1e3


def cpu_budget(
    model, vector: np.ndarray, clip: Path, size: int, scratch: Path, count: int = QUEUE_FRAMES
) -> dict[str, float]:
    """Each live stage's CPU ms per frame, alone, on `count` frames of the clip (the pipeline's own code).

    No more frames than the recorder's queue holds, so it converts and encodes every one (none dropped).
    """
    capture = cv2.VideoCapture(str(clip))
    costs = {"decode": cpu_ms(lambda _: capture.read(), count)}
    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    frames = [capture.read()[1] for _ in range(count)]
    shape = model.processing_shape(*frames[0].shape[:2], size)
    smalls: list[np.ndarray] = []
    costs["downscale"] = cpu_ms(lambda i: smalls.append(resize_frames(frames[i][None], *shape)[0]), count)
    model.stylize(smalls[0][None], vector)
    outs: list[np.ndarray] = []
    wall = time.perf_counter()
    costs["stylize"] = cpu_ms(lambda i: outs.append(model.stylize(smalls[i][None], vector)[0]), count)
    wall = (time.perf_counter() - wall) / count * 1e3
    steadier = Steadier()
    costs["steady"] = cpu_ms(lambda i: steadier(smalls[i], outs[i]), count)
    # upscaled frames are dropped as in the pipeline, where their memory is reused: keeping them all would
    # time the kernel handing out fresh pages (10.6 against 2.2 ms at 1080p); made again, untimed, to record
    costs["upscale"] = cpu_ms(lambda i: resize_frames(outs[i][None], *frames[0].shape[:2]), count)
    fulls = [resize_frames(out[None], *frames[0].shape[:2])[0] for out in outs]
    recorder = VideoRecorder(scratch / "budget.mp4", FPS, fulls[0].shape[1::-1], 0.0)
    started = time.process_time()
    for index, full in enumerate(fulls):
        recorder.write(OutputFrame(full, index / FPS))
    recorder.close(count / FPS)
    assert recorder.dropped == 0, "the budget's recorder dropped frames"
    costs["record"] = (time.process_time() - started) / count * 1e3
    cores = len(os.sched_getaffinity(0))
    costs["predicted"] = cores * wall / sum(costs.values())
    return costs


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
        rows, budgets = [], {}
        for size in (int(s) for s in args.sizes.split(",")):
            budgets[size] = cpu_budget(model, bank.vectors[0], clip, size, scratch)
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
    print("\nCPU ms per frame, each stage alone (all threads), and the share that CPU budget predicts:")
    for size, costs in budgets.items():
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in costs.items() if stage != "predicted")
        print(f"{size:>5} {stages} -> about {costs['predicted']:.0%} of transfer-only")


if __name__ == "__main__":
    main()
