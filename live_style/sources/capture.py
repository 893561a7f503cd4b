"""Frame sources: a camera (OpenCV), a video file (sources/file.py) or a stream (sources/stream.py), read in their
own thread.

A camera (or a stream) keeps only its newest frame, so a slow model never builds up lag; frames it
replaces unseen are counted as dropped. A file in live mode is paced at its own frame rate the same
way, or read as fast as the consumer takes frames (no drops) with `paced=False`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from live_style.errors import EXIT_SOURCE_LOST, UserError
from live_style.media.timeline import Seconds, from_clock
from live_style.sources.file import FileCapture
from live_style.sources.stream import StreamCapture

DEFAULT_FPS = 30.0
RETRY_WAIT_S = 0.01
PROBED_CAMERAS = range(10)


class Capture(Protocol):
    """The part of cv2.VideoCapture a source uses (a test can stand in for a webcam with it)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


class TimedCapture(Capture, Protocol):
    """A capture that knows each frame's own time (a file, a stream): `frame_time()` of the frame read last."""

    def frame_time(self) -> Seconds: ...


@dataclass(frozen=True)
class Frame:
    """One captured frame and when it belongs on the timeline."""

    image: np.ndarray
    index: int
    pts: Seconds  # on the source's timeline (file or stream: the frame's own time; camera: since capture began)
    captured_at: float  # time.monotonic() at capture, where end-to-end latency starts
    small: np.ndarray | None = None  # the image at the processing size, if the capture thread made it


class SourceLost(UserError):
    """A camera or stream stopped delivering frames."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_SOURCE_LOST)


class VideoSource:
    """Reads a capture in a background thread; `next_frame()` hands frames to one consumer."""

    def __init__(
        self,
        capture: Capture | TimedCapture,
        name: str,
        live: bool,
        paced: bool,
        stall_timeout: float = 5.0,
        timed: bool = False,
    ):
        """`timed`: the capture says each frame's own time (a `TimedCapture`); else frames are timed on arrival."""
        if not capture.isOpened():
            raise UserError(f"cannot open {name}; check the path or URL and that it is a video")
        self.name, self.live, self.paced, self.stall_timeout = name, live, paced, stall_timeout
        self.timed = timed
        self.capture = capture
        self.fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        if not 1 <= self.fps <= 1000:
            self.fps = DEFAULT_FPS
        self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not live else 0
        self.size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.audio_file: Path | None = None  # the file whose audio a recording of this source carries
        self.audio_origin = Seconds(0)  # where this source's time 0 is on that file's clock
        self.stream_audio: StreamCapture | None = None  # or the stream whose audio packets it takes as they come
        self.dropped = 0
        self.frames_read = 0
        self.first_pts: Seconds | None = None
        self.last_pts = Seconds(0)
        self._keep_latest = live or paced
        self._frames: deque[Frame] = deque(maxlen=1 if self._keep_latest else 4)
        self._ended = False
        self._changed = threading.Condition()
        self._listeners: list[Callable[[Frame], None]] = []
        self._prepare: Callable[[Frame], Frame] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name=f"capture {name}", daemon=True)

    def subscribe(self, listener: Callable[[Frame], None]) -> None:
        """Also hand every captured frame to `listener` (called in the capture thread; keep it quick)."""
        self._listeners.append(listener)

    def prepare_with(self, prepare: Callable[[Frame], Frame]) -> None:
        """Pass every frame through `prepare` in the capture thread, before anyone sees it (off the model thread)."""
        self._prepare = prepare

    def start(self) -> None:
        """Begin reading (and, for a paced file, the clock)."""
        self._thread.start()

    def _read_loop(self) -> None:
        """Read until the end, a stop, or (live) the stall timeout; pace files if asked."""
        started = time.monotonic()
        index = 0
        first_pts: Seconds | None = None
        while not self._stop.is_set():
            ok, image = self.capture.read()
            now = time.monotonic()
            if not ok or image is None:
                if not self.live or not self.capture.isOpened():  # a file's end, or a stream its sender closed
                    break
                self._stop.wait(RETRY_WAIT_S)  # a dead camera returns at once; the consumer times out
                continue
            pts = self.capture.frame_time() if self.timed else from_clock(now - started)
            first_pts = pts if first_pts is None else first_pts
            if self.paced and self.timed:
                self._stop.wait(max(0.0, started + float(pts - first_pts) - now))
            frame = Frame(image, index, pts, time.monotonic() if self.paced else now)
            if self._prepare is not None:
                frame = self._prepare(frame)
            self._publish(frame)
            for listener in self._listeners:
                listener(frame)
            index += 1
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _publish(self, frame: Frame) -> None:
        """Newest-only for live/paced sources (counting what is dropped), else wait for room."""
        with self._changed:
            if self._keep_latest:
                self.dropped += len(self._frames)
            else:
                self._changed.wait_for(lambda: len(self._frames) < self._frames.maxlen or self._stop.is_set())
            self._frames.append(frame)
            self.frames_read += 1
            self.first_pts = frame.pts if self.first_pts is None else self.first_pts
            self.last_pts = frame.pts
            self._changed.notify_all()

    def next_frame(self) -> Frame | None:
        """The next frame (newest, for live sources); None at the end of a file, or of a stream its sender ended.

        Raises SourceLost when a live source delivers nothing for `stall_timeout` seconds.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._frames or self._ended or self._stop.is_set(), self.stall_timeout)
            if self._frames and not self._stop.is_set():
                frame = self._frames.popleft()
                self._changed.notify_all()
                return frame
        ended_by_sender = self._ended and self.timed  # a stream read by PyAV knows when its sender ended it
        if self.live and not self._stop.is_set() and not ended_by_sender:
            reason = "stopped delivering frames" if self.frames_read else "delivered no frame"
            raise SourceLost(
                f"{self.name} {reason} for {self.stall_timeout:g} s; check the cable and that no other program took it"
            )
        return None

    def close(self) -> None:
        """Stop reading and release the device or file."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self.capture.release()


def is_stream(spec: str) -> bool:
    """A network stream (treated like a camera: live, newest frame only)."""
    return "://" in spec


def open_input(spec: str, paced: bool, stall_timeout: float) -> VideoSource:
    """A video file (paced unless `paced=False`) or a stream URL as a live source."""
    if is_stream(spec):
        stream = StreamCapture(spec, stall_timeout)
        source = VideoSource(stream, f"input {spec}", True, paced, stall_timeout, timed=True)
        source.stream_audio = stream if stream.audio is not None else None
        return source
    if not Path(spec).is_file():
        raise UserError(f"--input {spec} does not exist; give a video file or a stream URL")
    capture = FileCapture(Path(spec))
    source = VideoSource(capture, f"input {spec}", live=False, paced=paced, stall_timeout=stall_timeout, timed=True)
    source.audio_file = capture.path if capture.has_audio else None
    source.audio_origin = capture.file.index_frames().origin
    return source


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while probing devices; our message says what went wrong."""
    log = cv2.utils.logging
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(level)


def open_camera(index: int, size: tuple[int, int] | None, fps: float | None, stall_timeout: float) -> VideoSource:
    """A webcam by index, asked for a size and frame rate; a helpful error if it does not open."""
    with quiet_opencv():
        capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise UserError(
            f"camera {index} did not open (tried OpenCV's camera backends for index {index}): check it is plugged in, "
            "that you may use it (Linux: the 'video' group), that no other program holds it, or try another "
            "index (live-style --list-cameras)"
        )
    if size:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
    if fps:
        capture.set(cv2.CAP_PROP_FPS, fps)
    return VideoSource(capture, f"camera {index}", live=True, paced=False, stall_timeout=stall_timeout)


def list_cameras() -> list[str]:
    """Probe camera indices 0-9; a line for each that opens and gives a frame."""
    found = []
    for index in PROBED_CAMERAS:
        with quiet_opencv():
            capture = cv2.VideoCapture(index)
            ok, image = capture.read() if capture.isOpened() else (False, None)
        if ok and image is not None:
            fps = capture.get(cv2.CAP_PROP_FPS)
            found.append(f"camera {index}: {image.shape[1]}x{image.shape[0]} at {fps:g} fps")
        capture.release()
    return found
