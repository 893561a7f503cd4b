"""Motion-compensated temporal coherence: each stylized frame is blended with its neighbours' outputs,
warped along the content's optical flow, wherever that warp can be trusted.

`Steadier` is causal (live: past frames only). `TwoWaySteadier` is for files, where the future is
available too: a forward and a backward recursive pass over chunks of frames, averaged, so the
steadying has no lag. In both, the warped neighbour's weight is capped below 1 (`KEEP`), so fresh
per-frame detail keeps coming back: no drift, and repeated warping never accumulates blur. After a
cut or a whip pan (little of the frame aligns), the recursion starts afresh.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from live_style.temporal.flow import Alignment, FlowEstimator, warp

KEEP = 0.5  # weight of the warped neighbour where the flow is fully trusted (bench/temporal.py measures it)
CUT_COVERAGE = 0.4  # below this share of confidently aligned pixels, the scene changed: start afresh
CHUNK = 32  # files: frames emitted per backward pass
LOOKAHEAD = 8  # files: future frames each backward pass starts from (KEEP**8 < 1%)


def blend(fresh: np.ndarray, neighbour: np.ndarray | None, alignment: Alignment | None, keep: float) -> np.ndarray:
    """fresh + keep * confidence * (warped neighbour - fresh); fresh itself where there is no usable neighbour."""
    if neighbour is None or alignment is None or neighbour.shape != fresh.shape:
        return fresh
    weight = keep * alignment.confidence
    return cv2.blendLinear(warp(neighbour, alignment.flow), fresh, weight, 1.0 - weight)


class FrameLinks:
    """Aligns each new content frame with the one before; says None across a cut.

    `both` also gives the link from the previous frame to this one (the backward pass of files needs it).
    """

    def __init__(self, flow: FlowEstimator | None = None, both: bool = False):
        self.flow = flow or FlowEstimator()
        self.both = both
        self._previous: np.ndarray | None = None

    def link(self, content: np.ndarray) -> tuple[Alignment, Alignment | None] | None:
        """(this frame -> previous, previous -> this frame or None), or None for the first frame and after a cut."""
        small = self.flow.small(content)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape:
            return None
        links = self.flow.align(small, previous, content.shape[:2], both=self.both)
        return None if links[0].coverage < CUT_COVERAGE else links


class Steadier:
    """Causal coherence for a live stream: each output is blended with the previous output only."""

    def __init__(self, keep: float = KEEP, flow: FlowEstimator | None = None):
        self.keep = keep
        self.links = FrameLinks(flow)
        self._previous_output: np.ndarray | None = None

    def __call__(self, content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The steadied frame of `stylized`, the output for `content` (both BGR uint8, processing size)."""
        links = self.links.link(content)
        self._previous_output = blend(stylized, self._previous_output, links[0] if links else None, self.keep)
        return self._previous_output


@dataclass
class Pending:
    """A frame of a file waiting for its future: the fresh and forward-steadied outputs, and its link forward."""

    key: Hashable
    fresh: np.ndarray
    forward: np.ndarray
    to_next: Alignment | None = None  # this frame -> the next one, on this frame's grid


class TwoWaySteadier:
    """Coherence for files: every frame sees its past (forward pass) and its future (backward pass).

    `push(key, content, stylized)` returns the frames that are complete, in order, as (key, image);
    `flush()` returns the rest at the end. Frames wait for at most CHUNK + LOOKAHEAD successors.
    """

    def __init__(self, keep: float = KEEP, flow: FlowEstimator | None = None):
        self.keep = keep
        self.links = FrameLinks(flow, both=True)
        self._pending: list[Pending] = []
        self._forward: np.ndarray | None = None

    def push(self, key: Hashable, content: np.ndarray, stylized: np.ndarray) -> list[tuple[Hashable, np.ndarray]]:
        links = self.links.link(content)
        back, ahead = links if links else (None, None)
        self._forward = blend(stylized, self._forward, back, self.keep)
        if self._pending:
            self._pending[-1].to_next = ahead
        self._pending.append(Pending(key, stylized, self._forward))
        if len(self._pending) < CHUNK + LOOKAHEAD:
            return []
        return self._emit(CHUNK)

    def flush(self) -> list[tuple[Hashable, np.ndarray]]:
        return self._emit(len(self._pending))

    def _emit(self, count: int) -> list[tuple[Hashable, np.ndarray]]:
        """Run the backward pass over everything pending; hand out the first `count` frames."""
        backward: list[np.ndarray] = [None] * len(self._pending)  # type: ignore[list-item]
        following: np.ndarray | None = None
        for index in range(len(self._pending) - 1, -1, -1):
            frame = self._pending[index]
            following = blend(frame.fresh, following, frame.to_next, self.keep)
            backward[index] = following
        done = [
            (frame.key, average(frame.forward, back))
            for frame, back in zip(self._pending[:count], backward[:count], strict=True)
        ]
        del self._pending[:count]
        return done


def steady_clip(contents: list[np.ndarray], stylized: list[np.ndarray]) -> list[np.ndarray]:
    """A whole clip's per-frame outputs steadied as a file (two-way), in order."""
    steadier = TwoWaySteadier()
    done = [ready for i, pair in enumerate(zip(contents, stylized, strict=True)) for ready in steadier.push(i, *pair)]
    return [image for _, image in done + steadier.flush()]


def average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean of two uint8 frames, rounded."""
    return ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)
