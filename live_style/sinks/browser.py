"""The stylized stream (or the server's original) sent to browsers as a WebRTC track (aiortc).

`FrameFeed` is a sink like the virtual camera: the live pipeline submits frames from its threads and
only the newest is kept. Each viewer's `FeedTrack` awaits the next new frame on the server's event
loop, so a track never queues old frames: latency stays bounded however slow the model is. A track keeps
what it sent (`Sent`: when, and which source frame), which the page matches to the frames it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from live_style.media.timeline import from_clock, ticks
from live_style.sinks import OutputFrame

CLOCK = Fraction(1, 90_000)  # the RTP video clock
SENT_KEPT = 256  # sends remembered for the page (8 s at 30 fps; it takes them twice a second)


@dataclass(frozen=True)
class Sent:
    """One frame sent to a viewer: when (time.monotonic()), its source frame's time, when that arrived."""

    at: float
    source_time: float
    source_arrived: float | None


class FrameFeed:
    """The newest frame, handed from the pipeline's threads to tracks on one asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str = "browser stream"):
        self.name = name
        self.error: Exception | None = None
        self.loop = loop
        self.version = 0
        self.closed = False
        self._frame: OutputFrame | None = None
        self._lock = threading.Lock()
        self._waiters: set[asyncio.Event] = set()

    def write(self, frame: OutputFrame) -> None:
        """Make the frame the one to send next (called from any thread; never blocks)."""
        with self._lock:
            self._frame, self.version = frame, self.version + 1
        self._wake()

    def close(self) -> None:
        """End every track reading this feed."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is already closed: nobody is waiting
            self.loop.call_soon_threadsafe(self._set_waiters)

    def _set_waiters(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    async def newer_than(self, version: int) -> tuple[int, OutputFrame] | None:
        """(version, frame) once a frame newer than `version` is there; None when the feed is closed."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            while self.version <= version and not self.closed:
                await waiter.wait()
                waiter.clear()
        finally:
            self._waiters.discard(waiter)
        with self._lock:
            return None if self.closed else (self.version, self._frame)


class FeedTrack(MediaStreamTrack):
    """A video track sending each new frame of a feed once, stamped with the time it was sent (so the browser's
    jitter buffer sees the network's jitter, not the model's), and remembering each send in `sent`."""

    kind = "video"

    def __init__(self, feed: FrameFeed):
        super().__init__()
        self.feed = feed
        self.sent: deque[Sent] = deque(maxlen=SENT_KEPT)
        self._version = 0
        self._started: float | None = None

    async def recv(self) -> VideoFrame:
        newer = await self.feed.newer_than(self._version)
        if newer is None:
            self.stop()
            raise MediaStreamError
        self._version, finished = newer
        frame = VideoFrame.from_ndarray(finished.image, format="bgr24")
        now = time.monotonic()
        self._started = self._started if self._started is not None else now
        frame.pts, frame.time_base = ticks(from_clock(now - self._started), CLOCK), CLOCK
        self.sent.append(Sent(now, float(finished.pts), finished.captured_at))
        return frame
