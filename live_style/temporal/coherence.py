"""Motion-compensated temporal coherence: each stylized frame is blended with its neighbours' outputs,
warped along the content's optical flow, wherever that warp can be trusted.

`Steadier` is causal (live: past frames only). `TwoWaySteadier` is for files, where the future is
available too: a forward and a backward recursive pass over chunks of frames, averaged, so the
steadying has no lag. In both, the warped neighbour's weight stays below 1, so fresh per-frame
detail keeps coming back: no drift, and repeated warping never accumulates blur. That weight follows
the footage (`KeepControl`): as high as it can go while the steadied frame keeps the per-frame
frame's structure (SSIM near `FIDELITY`), so smooth styles are steadied hard and noisy ones gently.
After a cut or a whip pan (little of the frame aligns), the recursion starts afresh.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from live_style.temporal.flow import Alignment, FlowEstimator, warp
from live_style.temporal.metrics import ssim

KEEP_RANGE = (0.3, 0.8)  # the warped neighbour's weight where the flow is fully trusted: its floor and cap
FIDELITY = 0.85  # SSIM of the steadied frame against the fresh one the weight steers to (docs/steadiness.md)
FIDELITY_SIGMA = 0.75  # SSIM's window (1.5 px in metrics.py), scaled with the flow's half-size frames
FIDELITY_GAIN = 2.0  # weight change per unit of SSIM off target, per frame
MASK_KEEP = 0.9  # a person mask's (masks.py) warped neighbour's weight where the flow is trusted and it agrees
MASK_CHANGE = 0.5  # a mask change (0..1) this large keeps 37% of that weight (picked by bench/person.py)
CUT_COVERAGE = 0.4  # below this share of confidently aligned pixels, the scene changed: start afresh
CHUNK = 32  # files: frames emitted per backward pass
LOOKAHEAD = 16  # files: future frames each backward pass starts from (0.8**16 < 3%)


def blend(fresh: np.ndarray, neighbour: np.ndarray | None, alignment: Alignment | None, keep: float) -> np.ndarray:
    """fresh + keep * confidence * (warped neighbour - fresh); fresh itself where there is no usable neighbour.

    A mask riding as a fourth channel (masks.py) is blended by `blend_mask`; the picture stays steady
    when a mask comes or goes.
    """
    if neighbour is None or alignment is None:
        return fresh
    warped = warp(to_size(neighbour, fresh.shape), alignment.flow)
    if warped.shape[2] != fresh.shape[2]:  # a mask came or went: the picture is steadied, the mask is fresh
        warped = np.dstack([warped[:, :, :3], fresh[:, :, 3]]) if fresh.shape[2] == 4 else warped[:, :, :3]
    blended = blend_warped(fresh, warped, alignment.confidence, keep)  # every channel at once: no copies
    if fresh.shape[2] == 4:
        blended[:, :, 3] = blend_mask(fresh[:, :, 3], warped[:, :, 3], alignment.confidence)
    return blended


def blend_mask(fresh: np.ndarray, warped: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Like blend_warped at MASK_KEEP, but trusting the warped mask less the more the fresh one disagrees:
    small changes (the outline's jitter) are steadied, a real change (a person leaving a spot the flow
    cannot tell apart by colour) comes through at once."""
    change = cv2.absdiff(fresh, warped).astype(np.float32)
    trust = cv2.exp(cv2.multiply(change, change, scale=-1 / (255 * MASK_CHANGE) ** 2))
    weight = cv2.multiply(confidence, trust, scale=MASK_KEEP)
    return cv2.blendLinear(warped, fresh, weight, 1.0 - weight)


def to_size(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The image at another frame's size (the live processing size can change: steadiness goes on across it)."""
    if image.shape[:2] == shape[:2]:
        return image
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def blend_warped(fresh: np.ndarray, warped: np.ndarray, confidence: np.ndarray, keep: float) -> np.ndarray:
    """fresh + keep * confidence * (warped - fresh)."""
    weight = keep * confidence
    return cv2.blendLinear(np.ascontiguousarray(warped), np.ascontiguousarray(fresh), weight, 1.0 - weight)


class KeepControl:
    """The neighbour's weight next frame: raised while steadied frames stay near the fresh ones, else lowered."""

    def __init__(self, flow: FlowEstimator):
        self.flow = flow
        self.keep = KEEP_RANGE[1]

    def update(self, steadied: np.ndarray, fresh: np.ndarray) -> None:
        """Steer by this frame's SSIM between the steadied and the fresh output (at the flow's size: cheap).

        Only the picture counts, not a mask channel riding along (masks.py).
        """
        steadied, fresh = (self.flow.small(image[:, :, :3]) for image in (steadied, fresh))
        fidelity = ssim(steadied, fresh, sigma=FIDELITY_SIGMA)
        self.keep = float(np.clip(self.keep + FIDELITY_GAIN * (fidelity - FIDELITY), *KEEP_RANGE))


class FrameLinks:
    """Aligns each new content frame with the one before (brought to its size); says None across a cut.

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
        if previous is None:
            return None
        links = self.flow.align(small, to_size(previous, small.shape), content.shape[:2], both=self.both)
        return None if links[0].coverage < CUT_COVERAGE else links


class Steadier:
    """Causal coherence for a live stream: each output is blended with the previous output only."""

    def __init__(self, flow: FlowEstimator | None = None):
        self.links = FrameLinks(flow)
        self.control = KeepControl(self.links.flow)
        self._previous_output: np.ndarray | None = None

    def __call__(self, content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The steadied frame of `stylized`, the output for `content` (both BGR uint8, processing size;
        `stylized` may carry a mask as a fourth channel, steadied with it)."""
        links = self.links.link(content)
        steadied = blend(stylized, self._previous_output, links[0] if links else None, self.control.keep)
        self.control.update(steadied, stylized)
        self._previous_output = steadied
        return steadied


@dataclass
class Pending:
    """A file's frame waiting for its future: fresh and forward-steadied outputs, their weight, its link forward."""

    key: Hashable
    fresh: np.ndarray
    forward: np.ndarray
    keep: float  # the neighbour's weight the forward pass used; the backward pass uses it too
    to_next: Alignment | None = None  # this frame -> the next one, on this frame's grid


class TwoWaySteadier:
    """Coherence for files: every frame sees its past (forward pass) and its future (backward pass).

    `push(key, content, stylized)` returns the frames that are complete, in order, as (key, image);
    `flush()` returns the rest at the end. Frames wait for at most CHUNK + LOOKAHEAD successors.
    """

    def __init__(self, flow: FlowEstimator | None = None):
        self.links = FrameLinks(flow, both=True)
        self.control = KeepControl(self.links.flow)
        self._pending: list[Pending] = []
        self._forward: np.ndarray | None = None

    def push(self, key: Hashable, content: np.ndarray, stylized: np.ndarray) -> list[tuple[Hashable, np.ndarray]]:
        links = self.links.link(content)
        back, ahead = links if links else (None, None)
        keep = self.control.keep
        self._forward = blend(stylized, self._forward, back, keep)
        self.control.update(self._forward, stylized)
        if self._pending:
            self._pending[-1].to_next = ahead
        self._pending.append(Pending(key, stylized, self._forward, keep))
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
            following = blend(frame.fresh, following, frame.to_next, frame.keep)
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
