"""A video file as a live source (`live --input FILE`): decoded by PyAV like `video` does, so frames come upright,
with square pixels and their own times (variable frame rate kept), and the audio can follow a recording."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from live_style.media.animated import open_video


class FileCapture:
    """The Capture protocol (what a live source reads) over a video file; `frame_time()` is the time of the frame
    read last, on the file's timeline."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.file = open_video(self.path)
        index = self.file.index_frames()  # the real frame count and rate, from the packets
        self.frame_count = len(index.pts)
        self.has_audio = self.file.audio is not None
        self._frames = self.file.frames()
        self._next = next(self._frames, None)
        self._size = self._next.image.shape[1::-1] if self._next is not None else (0, 0)
        self._time = Fraction(0)

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        frame, self._next = self._next, next(self._frames, None) if self._next is not None else None
        if frame is None:
            return False, None
        self._time = frame.time
        return True, frame.image

    def frame_time(self) -> Fraction:
        return self._time

    def get(self, prop: int) -> float:
        values = {
            cv2.CAP_PROP_FPS: float(self.file.rate),
            cv2.CAP_PROP_FRAME_COUNT: self.frame_count,
            cv2.CAP_PROP_FRAME_WIDTH: self._size[0],
            cv2.CAP_PROP_FRAME_HEIGHT: self._size[1],
        }
        return float(values.get(prop, 0.0))

    def release(self) -> None:
        self.file.close()
