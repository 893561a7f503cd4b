"""Where stylized frames go: the window, a live recording, an encoded video file, a virtual camera, a browser."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Sink(Protocol):
    """A live output beside the window and the recording: handed every shown frame, closed at the end."""

    name: str
    error: Exception | None  # what stopped it, if anything; the session ends with it

    def submit(self, pts: float, image: np.ndarray) -> None: ...

    def close(self) -> None: ...
