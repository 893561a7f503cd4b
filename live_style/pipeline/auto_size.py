"""`--size auto`: the largest processing size at which the live loop keeps the source's frame rate.

The live loop runs the model in one thread and the finishing (steadying, person mask, upscaling) in
another, so it keeps the source's rate while the busier of the two takes less than a frame's
interval. Their per-frame times, measured at the size in use, give a cost per pixel and so a
prediction for every other size. The size goes down when the busier thread takes more than
DOWN_AT of the interval, and up, one step at a time, only when the next size is predicted under
UP_BELOW of it: between the two, nothing changes, so the size does not swing back and forth. After
a change the new size is measured for SETTLE_S before the next decision.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from live_style.pipeline.controls import SIZE_RANGE, SIZE_STEP, LiveControls

if TYPE_CHECKING:
    from live_style.model.shared import LiveModel
    from live_style.pipeline.live import Inferred

log = logging.getLogger(__name__)

SIZES = tuple(range(SIZE_RANGE[0], SIZE_RANGE[1] + 1, SIZE_STEP))
DOWN_AT = 0.9  # share of the frame interval the busier thread may take before the size goes down
TARGET = 0.75  # going down: the largest size predicted at or under this share
UP_BELOW = 0.6  # going up: the next size must be predicted under this share
SETTLE_S = 3.0  # seconds measured at a new size before the next decision
MIN_SAMPLES = 8  # frames measured at a size before any decision


class AutoSize:
    """Chooses the processing size from measured per-frame times; `observe` returns a new size or None."""

    def __init__(self, start: int, frame_rate: float, pixels: Callable[[int], int]):
        """`pixels(size)`: how many pixels the model sees at that processing size (for this source)."""
        self.size = min(SIZES, key=lambda s: abs(s - start))
        self.interval_ms = 1000.0 / frame_rate if frame_rate > 0 else 1000.0 / 30
        self.pixels = pixels
        self._busiest: deque[float] = deque(maxlen=4 * MIN_SAMPLES)  # the recent frames only
        self._since: float | None = None

    def observe(self, model_ms: float, finish_ms: float, now: float) -> int | None:
        """One frame's times in the model and the finishing thread at the current size; a new size when due."""
        if self._since is None:
            self._since = now
        self._busiest.append(max(model_ms, finish_ms))
        if len(self._busiest) < MIN_SAMPLES or now - self._since < SETTLE_S:
            return None
        busiest = statistics.median(self._busiest)
        chosen = self.choose(busiest)
        if chosen == self.size:
            return None
        self.size, self._since = chosen, None
        self._busiest.clear()
        return chosen

    def choose(self, busiest_ms: float) -> int:
        """The size for a busier thread taking `busiest_ms` a frame at the current size."""
        per_pixel = busiest_ms / self.pixels(self.size)
        predicted = lambda size: per_pixel * self.pixels(size)  # noqa: E731
        if busiest_ms > DOWN_AT * self.interval_ms:
            fitting = [s for s in SIZES if s < self.size and predicted(s) <= TARGET * self.interval_ms]
            return fitting[-1] if fitting else SIZES[0]
        larger = [s for s in SIZES if s > self.size]
        if larger and predicted(larger[0]) < UP_BELOW * self.interval_ms:
            return larger[0]
        return self.size


class LiveAutoSize:
    """The live session's side of --size auto: each finished frame's times in, the controls' size changed."""

    def __init__(self, controls: LiveControls, model: LiveModel, frame_rate: float):
        self.controls, self.model, self.frame_rate = controls, model, frame_rate
        self._chooser: AutoSize | None = None

    def observe(self, inferred: Inferred, finish_ms: float) -> None:
        """One frame's model and finishing times; a new size goes to the controls (nothing while auto is off)."""
        if not self.controls.auto_size:
            self._chooser = None
            return
        if self._chooser is None:
            height, width = inferred.frame.image.shape[:2]
            pixels = lambda size: int(np.prod(self.model.processing_shape(height, width, size)))  # noqa: E731
            self._chooser = AutoSize(self.controls.size, self.frame_rate, pixels)
        size = self._chooser.observe(inferred.model_ms, finish_ms, time.monotonic())
        if size is not None:
            busiest = max(inferred.model_ms, finish_ms)
            log.info("--size auto: %d (the busier thread took %.0f ms a frame)", size, busiest)
            self.controls.size = size
