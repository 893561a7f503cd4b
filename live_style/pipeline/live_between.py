"""--interpolate: in-between frames for the captured frames the model skips, warped from the newest stylized one."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from live_style.pipeline.stats import StageTimes
from live_style.sources.capture import Frame
from live_style.temporal.interpolate import Interpolator


class InBetween:
    """The interpolation thread: warps the newest key (stylized frame) onto every newer captured frame.

    The newest key is always the one warped, so a model frame overtaken by in-between frames is not
    shown late (that would step back in time); its style reaches the next in-between frames.
    """

    def __init__(self, stop: threading.Event, times: StageTimes):
        self.interpolator = Interpolator()
        self.times = times
        self.made = 0
        self._stop = stop
        self._newest: deque[Frame] = deque(maxlen=1)
        self._ready = threading.Condition()

    def offer(self, frame: Frame) -> None:
        """Called by the capture thread for every frame: keep the newest."""
        with self._ready:
            self._newest.append(frame)
            self._ready.notify_all()

    def wake(self) -> None:
        """Let the thread see that the session stopped."""
        with self._ready:
            self._ready.notify_all()

    def run(
        self,
        small: Callable[[Frame], np.ndarray],
        publish: Callable[[Frame, np.ndarray, tuple[int, int]], bool],
        published: Callable[[], int],
    ) -> None:
        """Until stopped: the newest captured frame not shown yet, at `small` size, warped and `publish`ed."""
        while not self._stop.is_set():
            with self._ready:
                self._ready.wait_for(lambda: self._newest or self._stop.is_set())
                if self._stop.is_set():
                    return
                frame = self._newest.popleft()
            if frame.index <= published():
                continue
            started = time.perf_counter()
            small_frame = small(frame)
            between = self.interpolator.between(small_frame)
            if between is not None and publish(frame, between, small_frame.shape[:2]):
                self.made += 1
                self.times.add("interpolate", time.perf_counter() - started)
