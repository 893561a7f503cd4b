"""A network stream (`live --input URL`: RTSP, RTMP, HLS, HTTP, UDP...) read by PyAV over one connection: its video
frames upright with their own times, and its audio packets handed on for a recording."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import av
import cv2
import numpy as np

from live_style.errors import UserError
from live_style.media.decode import upright_image

AudioListener = Callable[[av.Packet, float], None]  # a packet and its time (seconds, the video's timeline)


class StreamCapture:
    """The Capture protocol over a stream; `get(CAP_PROP_POS_MSEC)` is the time of the frame read last, from the
    stream's first video frame. Audio packets go to `on_audio` listeners as they arrive."""

    def __init__(self, url: str, timeout_s: float):
        try:
            self.container = av.open(url, timeout=timeout_s)
        except (av.FFmpegError, OSError) as error:
            raise UserError(f"cannot open the stream {url} ({error}); check the URL and that it is up") from None
        if not self.container.streams.video:
            self.container.close()
            raise UserError(f"the stream {url} has no video; give one with a picture")
        self.video = self.container.streams.video[0]
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.audio_listeners: list[AudioListener] = []
        streams = [self.video, self.audio] if self.audio is not None else [self.video]
        self._packets = self.container.demux(*streams)
        self._ready: deque[av.VideoFrame] = deque()
        self._first: float | None = None  # the stream time of its first video frame
        self._seconds = 0.0
        self._open = True

    def isOpened(self) -> bool:
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        frame = self._next_frame()
        if frame is None:
            self._open = False  # the sender closed the stream: the source ends
            return False, None
        seconds = float(frame.pts * frame.time_base) if frame.pts is not None else self._seconds
        self._first = seconds if self._first is None else self._first
        self._seconds = seconds - self._first
        return True, upright_image(frame, self.video.sample_aspect_ratio)

    def _next_frame(self) -> av.VideoFrame | None:
        while not self._ready:
            try:
                packet = next(self._packets)
            except (StopIteration, av.FFmpegError):
                return None
            if packet.stream is self.audio:
                self._hand_on(packet)
                continue
            try:
                self._ready.extend(packet.decode())
            except av.FFmpegError:
                continue  # a damaged packet: the next keyframe picks up
        return self._ready.popleft()

    def _hand_on(self, packet: av.Packet) -> None:
        """An audio packet, timed on the video's timeline, to every listener (once the video has started)."""
        if packet.pts is None or self._first is None:
            return
        seconds = float(packet.pts * packet.time_base) - self._first
        for listener in self.audio_listeners:
            listener(packet, seconds)

    def get(self, prop: int) -> float:
        values = {
            cv2.CAP_PROP_FPS: float(self.video.average_rate or 0),
            cv2.CAP_PROP_FRAME_WIDTH: self.video.codec_context.width,
            cv2.CAP_PROP_FRAME_HEIGHT: self.video.codec_context.height,
            cv2.CAP_PROP_POS_MSEC: 1000.0 * self._seconds,
        }
        return float(values.get(prop, 0.0))

    def release(self) -> None:
        self._open = False
        self.container.close()
