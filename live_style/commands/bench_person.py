"""`live-style bench`'s person mask: what it costs a frame, step by step, and the live rate with it on."""

from __future__ import annotations

import time

import cv2
import numpy as np

from live_style.errors import UserError
from live_style.imaging import processing_shape
from live_style.model.segmenter import Segmenter, SegmenterFile, locate_segmenter
from live_style.temporal.coherence import Steadier
from live_style.temporal.masks import PersonLook, composite, guided_upsample, split_mask, with_mask

STEPS = ("segmenter", "steadying", "upsampling", "composite")


def find_segmenter(spec: str | None) -> SegmenterFile | str:
    """The segmenter for the figures, or why there is none (the bench goes on without them)."""
    try:
        return locate_segmenter(spec)
    except UserError as error:
        return str(error)


def mask_costs(file: SegmenterFile, frames: list[np.ndarray], short_side: int) -> dict:
    """Median ms per frame of each step of the person mask at `short_side`, on the frames as the live loop runs it.

    The steadying's cost is the mask channel's share: the same steadier run with and without it, interleaved.
    """
    segmenter, plain, masked = Segmenter(file), Steadier(), Steadier()
    look = PersonLook.of("keep")
    spent: dict[str, list[float]] = {step: [] for step in STEPS}
    for frame in frames:
        height, width = processing_shape(*frame.shape[:2], short_side)
        small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        started = time.perf_counter()
        mask = segmenter(small)
        segmented = time.perf_counter()
        plain(small, small)
        alone = time.perf_counter()
        _, steady = split_mask(masked(small, with_mask(small, mask)))
        steadied = time.perf_counter()
        person = guided_upsample(steady, frame)
        upsampled = time.perf_counter()
        composite(frame, frame, person, look)
        spent["segmenter"].append(segmented - started)
        spent["steadying"].append(max(0.0, (steadied - alone) - (alone - segmented)))
        spent["upsampling"].append(upsampled - steadied)
        spent["composite"].append(time.perf_counter() - upsampled)
    medians = {step: 1e3 * float(np.median(times)) for step, times in spent.items()}
    return {
        "segmenter_file": file.name,
        "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "processing": f"{width}x{height}",
        "ms": medians,
        "total_ms": sum(medians.values()),
    }


def print_mask_costs(report: dict | str) -> None:
    """One line: the mask's whole cost per frame and its steps (or why it was not measured)."""
    if isinstance(report, str):
        print(f"person mask: not measured ({report})")
        return
    steps = ", ".join(f"{step} {report['ms'][step]:.1f}" for step in STEPS)
    print(
        f"person mask (--keep-person): {report['total_ms']:.1f} ms a {report['frame']} frame at "
        f"{report['processing']} ({steps} ms)"
    )
