"""Copying encoded packets between containers without re-encoding: finishing fragmented recordings,
rescuing the ones a killed run left behind, joining the segments of a video job.

A fragmented MP4 is playable up to its last complete fragment however its writer died; a normal
MP4 (index first, `faststart`) is what players and editors expect of a finished file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import av
import av.bitstream

from live_style.atomic import partial_path
from live_style.sinks.video_file import AudioTrack

# moov first and empty, then a moof+mdat pair per keyframe (about every second), flushed at once
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
# AVI takes H.264 only as a start-code stream (not as MP4 stores it) and counts time in frames
FRAME_COUNTED = {"avi"}
FINISHED = {suffix: {"movflags": "+faststart"} for suffix in (".mp4", ".m4v", ".mov")}


@dataclass(frozen=True)
class Remuxed:
    """What a remux carried over: video frames and their duration."""

    frames: int
    seconds: float


def readable_packets(container: av.container.InputContainer, stream: av.stream.Stream):
    """The stream's complete packets, in order, up to where the file stops making sense (a killed writer)."""
    with contextlib.suppress(av.FFmpegError):
        for packet in container.demux(stream):
            if packet.dts is not None and not packet.is_corrupt:
                yield packet


def annex_b_filter(video: av.video.stream.VideoStream) -> av.bitstream.BitStreamFilterContext:
    """Rewrites MP4-style H.264 packets with start codes, for containers that need them."""
    return av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video)


def remux(parts: list[Path], target: Path, container_format: str, audio_from: Path | None = None) -> Remuxed:
    """Copy the video of `parts`, end to end, into a finished `target`, with the audio of `audio_from` if given.

    A truncated tail of a part is dropped. `target` appears only once complete (written under its
    partial name, then renamed).
    """
    partial = partial_path(target)
    options = FINISHED.get(target.suffix.lower(), {})
    with (
        av.open(str(partial), "w", format=container_format, options=options) as writing,
        contextlib.ExitStack() as readers,
    ):
        opened = [readers.enter_context(av.open(str(part))) for part in parts]
        first = opened[0].streams.video[0]
        copy = writing.add_stream_from_template(first)
        annex_b = None
        if container_format in FRAME_COUNTED:
            annex_b, copy.time_base = annex_b_filter(first), 1 / (first.average_rate or first.guessed_rate or 30)
        audio = readers.enter_context(AudioFeed(writing, audio_from)) if audio_from else None
        frames, end = 0, 0.0
        for reading in opened:
            for packet in readable_packets(reading, reading.streams.video[0]):
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if audio is not None:
                    audio.until(float(packet.pts * packet.time_base))
                for ready in annex_b.filter(packet) if annex_b else [packet]:
                    ready.stream = copy
                    writing.mux(ready)
                    frames += 1
        if audio is not None:
            audio.until(float("inf"))
    partial.replace(target)
    return Remuxed(frames, end)


class AudioFeed:
    """The audio of a source file, pulled packet by packet into an output as its video advances."""

    def __init__(self, writing: av.container.OutputContainer, source: Path):
        self._reading = av.open(str(source))
        self.track = AudioTrack(writing, self._reading.streams.audio[0])
        self._packets = readable_packets(self._reading, self._reading.streams.audio[0])
        self._next = next(self._packets, None)

    def until(self, seconds: float) -> None:
        """Write the audio that starts by `seconds` (all of it for infinity, and finish the track)."""
        while self._next is not None and float(self._next.pts * self._next.time_base) <= seconds:
            self.track.add(self._next)
            self._next = next(self._packets, None)
        if seconds == float("inf"):
            self.track.close()  # everything left, and the encoder flushed
        else:
            self.track.mux_until(seconds)

    def __enter__(self) -> AudioFeed:
        return self

    def __exit__(self, *_exc) -> None:
        self._reading.close()
