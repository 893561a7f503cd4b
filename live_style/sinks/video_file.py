"""Encoded video files (PyAV): frames at their own timestamps, the audio copied or re-encoded."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import av
import cv2
import numpy as np

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
VIDEO_CODECS = {".webm": "libvpx-vp9"}  # everything else: H.264
AUDIO_FALLBACK = {".webm": "libopus"}  # for audio a container cannot carry as it is; else AAC
OPUS_RATE = 48000  # the one rate every Opus decoder takes
# no B-frames: segments then join end to end with rising decode times, however the frame rate varies
H264_OPTIONS = {"crf": "18", "preset": "veryfast", "bf": "0"}
# a fixed count: left to itself an encoder counts the CPUs its thread may run on (OpenVINO pins threads
# to CPUs), and x264's slices, so its pixels, follow that count from one segment to the next
ENCODER_THREADS = {"threads": str(os.cpu_count() or 1)}


def even(value: int) -> int:
    """H.264 with 4:2:0 chroma needs even dimensions."""
    return max(2, value - value % 2)


def yuv420_frame(image: np.ndarray) -> av.VideoFrame:
    """A BGR image as a 4:2:0 frame (odd edges dropped), converted by OpenCV.

    Same BT.601 limited range as FFmpeg's own conversion, about 6x cheaper at 720p.
    """
    height, width = even(image.shape[0]), even(image.shape[1])
    yuv = cv2.cvtColor(np.ascontiguousarray(image[:height, :width]), cv2.COLOR_BGR2YUV_I420)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


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


class AudioTrack:
    """The source's audio carried into an output container: packets copied untouched when the container
    allows, else re-encoded; muxed as the video reaches their time, so the file is interleaved."""

    def __init__(self, container: av.container.OutputContainer, audio: av.audio.stream.AudioStream):
        suffix = Path(container.name).suffix.lower()
        self.container = container
        self.copied = container_accepts(suffix, audio)
        self._resampler = None
        self._pending: list[av.Packet] = []
        if self.copied:
            self.stream = container.add_stream_from_template(audio)
            return
        codec = AUDIO_FALLBACK.get(suffix, "aac")
        rate = OPUS_RATE if codec == "libopus" else audio.rate
        self.stream = container.add_stream(codec, rate=rate)
        self.stream.layout = audio.layout
        self._resampler = av.AudioResampler(format=self.stream.format, layout=audio.layout, rate=rate)

    def add(self, packet: av.Packet) -> None:
        """Queue an audio packet; it is written once the video reaches its time."""
        self._pending.append(packet)

    def mux_until(self, seconds: float) -> None:
        """Write every queued packet that starts by `seconds`."""
        while self._pending and float(self._pending[0].pts * self._pending[0].time_base) <= seconds:
            self._mux(self._pending.pop(0))

    def _mux(self, packet: av.Packet) -> None:
        if self.copied:
            packet.stream = self.stream
            self.container.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                self.container.mux(self.stream.encode(resampled))

    def close(self) -> None:
        """Write what is left and flush the encoder, if there is one."""
        self.mux_until(float("inf"))
        if self._resampler is not None:
            self.container.mux(self.stream.encode(None))


class VideoFileWriter:
    """Encodes frames at their own timestamps (variable frame rate kept), and the audio along if given."""

    def __init__(self, path: Path, size: tuple[int, int], rate, time_base, audio: av.audio.stream.AudioStream | None):
        suffix = Path(path).suffix.lower()
        self.container = av.open(str(path), "w", format=CONTAINER_FORMATS[suffix])
        self.video = self.container.add_stream(
            VIDEO_CODECS.get(suffix, "libx264"),
            rate=rate,
            options={**(H264_OPTIONS if suffix not in VIDEO_CODECS else {}), **ENCODER_THREADS},
        )
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.time_base = time_base
        self.time_base = time_base
        self.audio = AudioTrack(self.container, audio) if audio is not None else None

    def add_audio(self, packet: av.Packet) -> None:
        """Queue an audio packet; it is written once the video reaches its time."""
        self.audio.add(packet)

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one BGR frame at `pts` (in the input's time base)."""
        frame = yuv420_frame(image)
        frame.pts, frame.time_base = pts, self.time_base
        if self.audio is not None:
            self.audio.mux_until(float(pts * self.time_base))
        self.container.mux(self.video.encode(frame))

    def close(self) -> None:
        """Flush the encoders and the remaining audio, and finish the file."""
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.audio.close()
        self.container.close()
