"""Running measurements: per-stage times (median, p95) and frames per second."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

import numpy as np

WINDOW = 300  # samples kept per stage


class StageTimes:
    """Thread-safe rolling samples of how long each stage takes, in milliseconds."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._samples[stage].append(1000.0 * seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        """{stage: {"median": ms, "p95": ms}} over the recent samples."""
        with self._lock:
            samples = {stage: np.asarray(values) for stage, values in self._samples.items() if values}
        return {s: {"median": float(np.median(v)), "p95": float(np.percentile(v, 95))} for s, v in samples.items()}

    def median(self, stage: str) -> float:
        """Median milliseconds of one stage (0 before any sample)."""
        return self.summary().get(stage, {}).get("median", 0.0)


class RateMeter:
    """Events per second over the last `span_s`, as of the moment it is read: it falls to 0 once events stop,
    and an event after a long pause counts as one in that pause (never as no rate at all)."""

    def __init__(self, span_s: float = 2.0) -> None:
        self.span_s = span_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def rate_at(self, now: float) -> float:
        """The events after the anchor (the newest event at least `span_s` before `now`, else the first) per
        second since it."""
        with self._lock:
            self._trim(now)
            if len(self._times) < 2 or now <= self._times[0]:
                return 0.0
            return (len(self._times) - 1) / (now - self._times[0])

    @property
    def rate(self) -> float:
        return self.rate_at(time.monotonic())

    def _trim(self, now: float) -> None:
        while len(self._times) > 1 and self._times[1] <= now - self.span_s:
            self._times.popleft()
