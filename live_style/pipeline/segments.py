"""Cutting a video at keyframes into segments that are stylized, stored and resumed one by one.

A segment is a run of frames (positions in presentation order) that starts on a keyframe, so it
decodes on its own. Steadiness looks `WARM_FRAMES` beyond each end, so there is no seam.
"""

from __future__ import annotations

from dataclasses import dataclass

from live_style.media.decode import FrameIndex
from live_style.temporal.coherence import LOOKAHEAD

WARM_FRAMES = LOOKAHEAD  # the neighbours' weight has fallen below 1% this far away


@dataclass(frozen=True)
class Segment:
    """Frames [first, stop) of a video, and the frames around them its steadiness looks at."""

    number: int
    first: int
    stop: int
    warm_first: int
    warm_stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.first

    @property
    def name(self) -> str:
        """How messages name it: counted from 1, as people count (`number` counts from 0, as files do)."""
        return f"segment {self.number + 1}"


def plan_segments(index: FrameIndex, fps: float, seconds: float, warm: int = WARM_FRAMES) -> list[Segment]:
    """Cut at the first keyframe at least `seconds` after the previous cut; the last segment takes the rest."""
    total = len(index.pts)
    cuts = [0]
    for keyframe in index.keyframes:
        if keyframe - cuts[-1] >= seconds * fps:
            cuts.append(keyframe)
    bounds = list(zip(cuts, [*cuts[1:], total], strict=True))
    return [
        Segment(number, first, stop, max(0, first - warm), min(total, stop + warm))
        for number, (first, stop) in enumerate(bounds)
    ]
