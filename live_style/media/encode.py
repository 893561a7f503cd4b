"""Encoded video files (PyAV): frames at their own timestamps, the audio copied or re-encoded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from live_style.media.formats import (
    AUDIO_FALLBACK,
    CONTAINER_FORMATS,
    ENCODER_THREADS,
    H264_OPTIONS,
    OPUS_RATE,
    VIDEO_CODECS,
    container_accepts,
    even,
)
from live_style.media.timeline import seconds, ticks
from live_style.sinks import OutputFrame

DRIFT_S = 0.01  # re-encoded audio whose times and samples part by more is put back beside the picture
NAMED_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def yuv420_frame(image: np.ndarray) -> av.VideoFrame:
    """A BGR image as a 4:2:0 frame (odd edges dropped), converted by OpenCV.

    Same BT.601 limited range as FFmpeg's own conversion, about 6x cheaper at 720p.
    """
    height, width = even(image.shape[0]), even(image.shape[1])
    yuv = cv2.cvtColor(np.ascontiguousarray(image[:height, :width]), cv2.COLOR_BGR2YUV_I420)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


def ordered_layout(layout: av.AudioLayout) -> av.AudioLayout:
    """The layout an encoder takes: a named one for a count of channels with no order ('1 channels' from WMA)."""
    if not layout.name.endswith("channels"):
        return layout
    return av.AudioLayout(NAMED_LAYOUTS.get(len(layout.channels), "stereo"))


class AudioTrack:
    """A source's audio track (or a subtitle track the container takes) carried into an output container:
    packets copied untouched when the container allows, else (audio) re-encoded; muxed as the video
    reaches their time, so the file is interleaved.

    Re-encoded audio keeps its times to the sample: it starts where its first sample is due (samples before 0 cut
    off), and a gap in the source is filled with silence, so the track stays beside the picture."""

    def __init__(self, container: av.container.OutputContainer, audio: av.stream.Stream):
        suffix = Path(container.name).suffix.lower()
        self.container = container
        self.copied = container_accepts(suffix, audio)
        self._resampler = None
        self._pending: list[av.Packet] = []
        self._last_dts: int | None = None  # of the audio packets copied
        if self.copied:
            self.stream = container.add_stream_from_template(audio)
            return
        codec = AUDIO_FALLBACK.get(suffix, "aac")
        self.rate = OPUS_RATE if codec == "libopus" else audio.rate
        layout = ordered_layout(audio.layout)
        self.stream = container.add_stream(codec, rate=self.rate)
        self.stream.layout = layout
        self._resampler = av.AudioResampler(format=self.stream.format, layout=layout, rate=self.rate)
        self._written = 0  # samples handed to the encoder: the next one is due at this position
        self._started = False
        self._decoder: tuple[av.CodecContext, Fraction] | None = None  # the source's decoder, flushed at the end

    def add(self, packet: av.Packet) -> None:
        """Queue an audio packet; it is written once the video reaches its time."""
        self._pending.append(packet)

    def mux_until(self, seconds: float) -> None:
        """Write every queued packet that starts by `seconds`."""
        while self._pending and float(self._pending[0].pts * self._pending[0].time_base) <= seconds:
            self._mux(self._pending.pop(0))

    def _mux(self, packet: av.Packet) -> None:
        if self.copied:
            if packet.stream.type == "audio" and self._repeated(packet):
                return
            packet.stream = self.stream
            self.container.mux(packet)
            return
        self._decoder = packet.stream.codec_context, packet.time_base
        with contextlib.suppress(av.FFmpegError):  # a damaged packet is a moment of silence
            self._reencode(packet.decode(), packet.pts, packet.time_base)

    def _repeated(self, packet: av.Packet) -> bool:
        """Whether an audio packet is timed at or before the last one copied: a broadcast TS repeats one now and then
        (an MPEG-2 TS from FFmpeg's samples, MP3 at 53072 twice), which the MP4 muxer refuses outright and players
        skip, so it is left out."""
        if packet.dts is None:
            return False
        if self._last_dts is not None and packet.dts <= self._last_dts:
            return True
        self._last_dts = packet.dts
        return False

    def _reencode(self, frames: list[av.AudioFrame], stamp: int | None, time_base: Fraction) -> None:
        """Decoded frames resampled and encoded, each at its time (a decoder that holds samples back, as WMA's
        does, gives its first frame no time: the packet's `stamp` stands in)."""
        for frame in frames:
            stamp = frame.pts if frame.pts is not None else stamp
            due = ticks(seconds(stamp, time_base), Fraction(1, self.rate)) if stamp is not None else None
            for resampled in self._resampler.resample(frame):
                self._encode(resampled, due)
                due = None  # the resampler's further output follows on
            stamp = None

    def _encode(self, frame: av.AudioFrame, due: int | None) -> None:
        """Encode samples due at sample `due` (None: right after the last): the track starts at its first sample's
        time (samples before 0 cut off); where the times move away from the samples (a gap, a decoder's delay) by
        more than `DRIFT_S`, silence fills in or the overlap is cut, so sound stays beside the picture."""
        samples = channels_by_samples(frame)
        if due is not None and not self._started:
            samples, self._written = samples[:, max(0, -due) :], max(0, due)
        elif due is not None and abs(due - self._written) > DRIFT_S * self.rate:
            if due > self._written:
                self._encode_samples(np.zeros((len(samples), due - self._written), samples.dtype), frame)
            else:
                samples = samples[:, self._written - due :]
        self._started = True
        if samples.shape[1]:
            self._encode_samples(samples, frame)

    def _encode_samples(self, samples: np.ndarray, like: av.AudioFrame) -> None:
        """Samples (channels x samples) in the format of `like`, encoded at the next position."""
        planar = samples if like.format.is_planar else samples.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar), format=like.format.name, layout=like.layout)
        frame.sample_rate, frame.pts, frame.time_base = self.rate, self._written, Fraction(1, self.rate)
        self._written += frame.samples
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        """Write what is left, the samples the decoder still holds, and flush the encoder, if there is one."""
        self.mux_until(float("inf"))
        if self._resampler is None:
            return
        if self._decoder is not None:
            decoder, time_base = self._decoder
            with contextlib.suppress(av.FFmpegError):
                self._reencode(decoder.decode(None), None, time_base)
        self.container.mux(self.stream.encode(None))


def channels_by_samples(frame: av.AudioFrame) -> np.ndarray:
    """An audio frame's samples as a channels x samples array, planar or packed."""
    samples = frame.to_ndarray()
    return samples if frame.format.is_planar else samples.reshape(-1, len(frame.layout.channels)).T


class VideoFileWriter:
    """Encodes frames at their own timestamps (variable frame rate kept), and the audio along if given.

    `muxer` and `encoder` options replace the file's defaults (a live recording: fragmented MP4, x264 that keeps up
    live). A failure to write (a full disk) is kept in `error` and raised.
    """

    name = "video file"

    def __init__(
        self,
        path: Path,
        size: tuple[int, int],
        rate,
        time_base,
        audio: av.audio.stream.AudioStream | None,
        muxer: dict[str, str] | None = None,
        encoder: dict[str, str] | None = None,
    ):
        suffix = Path(path).suffix.lower()
        self.container = av.open(str(path), "w", format=CONTAINER_FORMATS[suffix], options=muxer or {})
        codec = VIDEO_CODECS.get(suffix, "libx264")
        defaults = {**(H264_OPTIONS if suffix not in VIDEO_CODECS else {}), **ENCODER_THREADS}
        self.video = self.container.add_stream(codec, rate=rate, options=encoder or defaults)
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.codec_context.time_base = time_base
        self.time_base = time_base
        self.audio = AudioTrack(self.container, audio) if audio is not None else None
        self.error: Exception | None = None

    def add_audio(self, packet: av.Packet) -> None:
        """Queue an audio packet; it is written once the video reaches its time."""
        self.audio.add(packet)

    def write(self, frame: OutputFrame) -> None:
        """Encode one BGR frame at its time (on the input's time base, which keeps every timestamp exact)."""
        if self.audio is not None:
            with self._failing():
                self.audio.mux_until(frame.pts)
        self.encode(yuv420_frame(frame.image), ticks(frame.pts, self.time_base))

    def encode(self, picture: av.VideoFrame, pts: int) -> None:
        """Encode a 4:2:0 frame at `pts`, counted in the time base (the one place H.264 frames are encoded)."""
        picture.pts, picture.time_base = pts, self.time_base
        with self._failing():
            self.container.mux(self.video.encode(picture))

    def close(self) -> None:
        """Flush the encoders and the remaining audio, and finish the file (closed whatever fails)."""
        with self._failing():
            try:
                self.container.mux(self.video.encode(None))
                if self.audio is not None:
                    self.audio.close()
            finally:
                self.container.close()

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """What stops the file (FFmpeg's error, the disk's) is kept in `error` as it goes on up."""
        try:
            yield
        except (av.FFmpegError, OSError) as error:
            self.error = self.error or error
            raise
