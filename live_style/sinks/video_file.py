"""Encoded video files (PyAV): frames at their own timestamps, the audio copied or re-encoded."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import av
import numpy as np

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
VIDEO_CODECS = {".webm": "libvpx-vp9"}  # everything else: H.264
AUDIO_FALLBACK = {".webm": "libopus"}  # for audio a container cannot carry as it is; else AAC
OPUS_RATE = 48000  # the one rate every Opus decoder takes
H264_OPTIONS = {"crf": "18", "preset": "veryfast"}


def even(value: int) -> int:
    """H.264 with 4:2:0 chroma needs even dimensions."""
    return max(2, value - value % 2)


def container_accepts(suffix: str, audio: av.audio.stream.AudioStream) -> bool:
    """Whether a container of this kind can carry the audio stream copied as it is."""
    probe = av.open(io.BytesIO(), "w", format=CONTAINER_FORMATS[suffix])
    try:
        probe.add_stream_from_template(audio)
        probe.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False
    finally:
        with contextlib.suppress(av.FFmpegError):
            probe.close()


class VideoFileWriter:
    """Encodes frames at their own timestamps (variable frame rate kept) and carries the audio along.

    Audio packets are copied untouched when the container allows, else re-encoded; they are muxed
    as the video reaches their time, so the file is interleaved.
    """

    def __init__(self, path: Path, size: tuple[int, int], rate, time_base, audio: av.audio.stream.AudioStream | None):
        suffix = Path(path).suffix.lower()
        self.container = av.open(str(path), "w", format=CONTAINER_FORMATS[suffix])
        self.video = self.container.add_stream(
            VIDEO_CODECS.get(suffix, "libx264"), rate=rate, options=H264_OPTIONS if suffix not in VIDEO_CODECS else {}
        )
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.time_base = time_base
        self.time_base = time_base
        self.audio_copied = audio is not None and container_accepts(suffix, audio)
        self.audio = None
        self._resampler = None
        if audio is not None:
            self._add_audio(suffix, audio)
        self._pending_audio: list[av.Packet] = []

    def _add_audio(self, suffix: str, audio: av.audio.stream.AudioStream) -> None:
        if self.audio_copied:
            self.audio = self.container.add_stream_from_template(audio)
            return
        codec = AUDIO_FALLBACK.get(suffix, "aac")
        rate = OPUS_RATE if codec == "libopus" else audio.rate
        self.audio = self.container.add_stream(codec, rate=rate)
        self.audio.layout = audio.layout
        self._resampler = av.AudioResampler(format=self.audio.format, layout=audio.layout, rate=rate)

    def add_audio(self, packet: av.Packet) -> None:
        """Queue an audio packet; it is written once the video reaches its time."""
        self._pending_audio.append(packet)

    def _mux_audio_until(self, seconds: float) -> None:
        while self._pending_audio and float(self._pending_audio[0].pts * self._pending_audio[0].time_base) <= seconds:
            self._mux_audio(self._pending_audio.pop(0))

    def _mux_audio(self, packet: av.Packet) -> None:
        if self.audio_copied:
            packet.stream = self.audio
            self.container.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                self.container.mux(self.audio.encode(resampled))

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one BGR frame at `pts` (in the input's time base)."""
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, self.time_base
        self._mux_audio_until(float(pts * self.time_base))
        self.container.mux(self.video.encode(frame))

    def close(self) -> None:
        """Flush the encoders and the remaining audio, and finish the file."""
        self.container.mux(self.video.encode(None))
        self._mux_audio_until(float("inf"))
        if self._resampler is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()
