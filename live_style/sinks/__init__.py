"""Where finished frames go: the window, a live recording, a virtual camera, a browser, an encoded file.

Every output is a `Sink`: it is written each finished frame in order and closed once at the end;
it finishes its own file or device on `close()`, and says by `error` what stopped it, from the moment
it does (a write never raises for it): the live engine looks after every write and writes it no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from live_style.media.timeline import Seconds


@dataclass(frozen=True)
class OutputFrame:
    """A finished frame: the picture (BGR), its time on the source's timeline in seconds, what it was made from."""

    image: np.ndarray
    pts: Seconds  # exact (see media/timeline.py)
    original: np.ndarray | None = None  # the source frame (the window's side-by-side view)
    captured_at: float | None = None  # time.monotonic() when the source frame arrived, live


class Sink(Protocol):
    """An output: handed every finished frame, closed at the end."""

    name: str
    error: Exception | None  # what stopped it, if anything; the session is told at once, and ends with it

    def write(self, frame: OutputFrame) -> None: ...

    def close(self) -> None: ...
