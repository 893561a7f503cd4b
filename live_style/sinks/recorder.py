"""Where stylized frames go: a live recording with real timing, an encoded video file (window: `window`)."""

from __future__ import annotations

import queue
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

from live_style.atomic import partial_path
from live_style.errors import UserError

CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
QUEUE_FRAMES = 64


class VideoRecorder:
    """Writes (pts, frame) pairs at a fixed frame rate in its own thread.

    Frames land on the slot their timestamp falls in, and the previous frame is repeated to fill
    the gaps, so playback speed is right even when the model is slower than the source. The file
    is written under a partial name and renamed by `close()`; writing never blocks the caller: a
    full queue drops the frame and counts it.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self.path, self.fps, self.size = Path(path), fps, size
        codec = CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise UserError(f"--record {path}: the extension picks the codec; use one of {', '.join(CODECS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = partial_path(self.path)
        self._writer = cv2.VideoWriter(str(self._partial), cv2.VideoWriter_fourcc(*codec), fps, size)
        if not self._writer.isOpened():
            raise UserError(f"cannot record to {path}; check the folder is writable")
        self.written = 0
        self.dropped = 0
        self._origin: float | None = None
        self._previous: np.ndarray | None = None
        self._queue: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue(QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._write_loop, name=f"record {path}", daemon=True)
        self._thread.start()

    def submit(self, pts: float, image: np.ndarray) -> None:
        """Queue a frame for its time on the timeline; drop it (counted) if the writer is behind."""
        try:
            self._queue.put_nowait((pts, image))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                print(f"warning: the recording to {self.path} is falling behind; dropping frames", file=sys.stderr)

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            pts, image = item
            self._fill_until(pts)
            self._previous = image

    def _fill_until(self, pts: float) -> None:
        """Write the previous frame into every slot before the one `pts` falls in."""
        if self._origin is None:
            self._origin = pts
        slot = round((pts - self._origin) * self.fps)
        while self._previous is not None and self.written < slot:
            self._writer.write(self._previous)
            self.written += 1

    def close(self, end_pts: float | None = None) -> Path | None:
        """Write everything queued, hold the last frame until `end_pts`, finalize and rename.

        Returns the finished file, or None (and no file) when no frame ever arrived.
        """
        self._queue.put(None)
        self._thread.join()
        if self._previous is not None:
            end = end_pts if end_pts is not None else self._origin + (self.written + 1) / self.fps
            self._fill_until(max(end, self._origin + (self.written + 1) / self.fps))
        self._writer.release()
        if self.written == 0:
            self._partial.unlink(missing_ok=True)
            return None
        self._partial.replace(self.path)
        return self.path
