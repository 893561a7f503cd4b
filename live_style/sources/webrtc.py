"""The browser's camera as a live source: the WebRTC track received by the server (aiortc).

aiortc queues every decoded frame without bound, so a slow consumer would fall further and further
behind. `TrackCapture` drains that queue as frames arrive and keeps only the newest; the live
pipeline reads it through the same `Capture` protocol as a webcam, so newest-frame-only, drop
counting and the stall timeout are the ones every live source has. Each frame's time is its own, from
its RTP timestamp (the browser's capture clock, from 0 at the first frame received): the page maps it
back to its camera's capture time to show the latency a viewer sees.
"""

from __future__ import annotations

import contextlib
import threading

import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from live_style.media.timeline import Seconds
from live_style.sources.capture import DEFAULT_FPS, VideoSource

READ_WAIT_S = 0.1  # how long a read waits for a frame before saying "none yet" (the source then retries)


class TrackCapture:
    """A remote video track as an OpenCV-like capture: `read()` gives the newest frame not yet read."""

    def __init__(self, track: MediaStreamTrack):
        self.track = track
        self.received = 0
        self._newest: VideoFrame | None = None
        self._ended = False
        self._changed = threading.Condition()
        self._size = (0, 0)
        self._read_time = Seconds(0)

    async def drain(self) -> None:
        """Receive every frame as it comes, keeping the newest (run as a task on the server's event loop)."""
        try:
            while True:
                frame = await self.track.recv()
                with self._changed:
                    self._newest, self._size = frame, (frame.width, frame.height)
                    self.received += 1
                    self._changed.notify_all()
        except MediaStreamError:  # the browser stopped sending or left
            self.release()

    def isOpened(self) -> bool:
        return not self._ended

    def read(self) -> tuple[bool, np.ndarray | None]:
        """(True, BGR image) for a frame not read before; (False, None) when none came within READ_WAIT_S."""
        with self._changed:
            self._changed.wait_for(lambda: self._newest is not None or self._ended, READ_WAIT_S)
            frame, self._newest = self._newest, None
        if frame is None:
            return False, None
        self._read_time = Seconds(frame.pts * frame.time_base) if frame.pts is not None else self._read_time
        return True, frame.to_ndarray(format="bgr24")  # converted off the event loop, in the capture thread

    def frame_time(self) -> Seconds:
        """The time of the frame read last, on the browser's capture clock (its RTP timestamp, 0 at the first)."""
        return self._read_time

    def get(self, prop: int) -> float:
        """Frame size once known; the browser picks the rate, so the usual webcam rate is assumed."""
        return {
            cv2.CAP_PROP_FPS: DEFAULT_FPS,
            cv2.CAP_PROP_FRAME_WIDTH: self._size[0],
            cv2.CAP_PROP_FRAME_HEIGHT: self._size[1],
        }.get(prop, 0.0)

    def release(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()


async def discard(track: MediaStreamTrack) -> None:
    """Receive a track nobody shows and drop its frames, so aiortc's queue of it stays empty."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


def track_source(capture: TrackCapture, name: str, stall_timeout: float) -> VideoSource:
    """A live source over a browser's track (newest frame only, each at its capture time)."""
    return VideoSource(capture, name, live=True, paced=False, stall_timeout=stall_timeout, timed=True)
