"""The live session's console front-end: a progress line every few seconds while it runs headless, and the
report when it stops (as text for the command to print)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from live_style.pipeline.live import LivePipeline

PROGRESS_EVERY_S = 2.0


def wait_for_stop(pipeline: LivePipeline) -> None:
    """The front-end of a session nobody watches here (the studio, the bench): wait for the end."""
    while not pipeline.wait_stopped(1.0):
        pass


class Console:
    """Holds the main thread while headless, handing `say` a progress line every few seconds."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say

    def __call__(self, pipeline: LivePipeline) -> None:
        while not pipeline.wait_stopped(PROGRESS_EVERY_S):
            self.say(progress_line(pipeline))


def progress_line(pipeline: LivePipeline) -> str:
    """frames, fps, latency, drops, the size when --size auto picks it, the ETA when the length is known, and
    the outputs that failed."""
    source, rate = pipeline.source, pipeline.output_rate.rate
    line = (
        f"frames {pipeline.frames_done} | {rate:.1f} fps | "
        f"latency {pipeline.times.median('latency'):.0f} ms | dropped {source.dropped}"
    )
    if pipeline.controls.auto_size and pipeline.processing:
        line += f" | size {pipeline.processing[1]}x{pipeline.processing[0]} auto"
    remaining = source.frame_count - pipeline.frames_done - source.dropped
    if source.frame_count and not source.paced and rate > 0:
        line += f" | ETA {remaining / rate:.0f} s"
    return "".join([line, *(f" | {sink.name} FAILED" for sink in pipeline.failed)])


def report(pipeline: LivePipeline) -> str:
    """Why it stopped, what was done, and each stage's median time."""
    stages = ", ".join(f"{k} {v['median']:.1f}" for k, v in pipeline.times.summary().items())
    return (
        f"stopped: {pipeline.stop_text}; {pipeline.frames_done} frames stylized"
        + (f", {pipeline.frames_interpolated} in-between" if pipeline.interpolating else "")
        + f", {pipeline.source.dropped} dropped; "
        f"median ms: {stages}"
    )
