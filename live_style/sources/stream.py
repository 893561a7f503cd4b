"""A network stream (`live --input URL`: RTSP, RTMP, HLS, HTTP, UDP...) read by PyAV over one connection: its video
frames upright with their own times, and its audio packets handed on for a recording."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import av
import cv2
import numpy as np

from live_style.errors import UserError
from live_style.media.decode import decoded_frames, demuxed, played_streams, upright_image
from live_style.media.timeline import Seconds, seconds

AudioListener = Callable[[av.Packet, Seconds], None]  # a packet and its time on the video's timeline


class StreamCapture:
    """The Capture protocol over a stream; `frame_time()` is the time of the frame read last, from the stream's first
    video frame. Audio packets go to `audio_listeners` as they arrive."""

    def __init__(self, url: str, timeout_s: float):
        try:
            self.container = av.open(url, timeout=timeout_s)
        except (av.FFmpegError, OSError) as error:
            raise UserError(f"cannot open the stream {url} ({error}); check the URL and that it is up") from None
        if not self.container.streams.video:
            self.container.close()
            raise UserError(f"the stream {url} has no video; give one with a picture")
        self.video, self.audio = played_streams(self.container)
        self.audio_listeners: list[AudioListener] = []
        streams = [self.video, self.audio] if self.audio is not None else [self.video]
        self._frames = decoded_frames(demuxed(self.container, *streams), self._hand_on)
        self._first: Seconds | None = None  # the stream time of its first video frame
        self._time = Fraction(0)
        self._open = True

    def isOpened(self) -> bool:
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        frame = next(self._frames, None)
        if frame is None:
            self._open = False  # the sender closed the stream: the source ends
            return False, None
        if frame.pts is not None:
            time = seconds(frame.pts, frame.time_base)
            self._first = time if self._first is None else self._first
            self._time = time - self._first
        return True, upright_image(frame, self.video.sample_aspect_ratio)

    def frame_time(self) -> Seconds:
        return self._time

    def _hand_on(self, packet: av.Packet) -> None:
        """An audio packet, timed on the video's timeline, to every listener (once the video has started)."""
        if packet.pts is None or self._first is None:
            return
        time = seconds(packet.pts, packet.time_base) - self._first
        for listener in self.audio_listeners:
            listener(packet, time)

    def get(self, prop: int) -> float:
        values = {
            cv2.CAP_PROP_FPS: float(self.video.average_rate or 0),
            cv2.CAP_PROP_FRAME_WIDTH: self.video.codec_context.width,
            cv2.CAP_PROP_FRAME_HEIGHT: self.video.codec_context.height,
        }
        return float(values.get(prop, 0.0))

    def release(self) -> None:
        self._open = False
        self.container.close()
