"""Copying encoded packets between containers without re-encoding: finishing fragmented recordings,
rescuing the ones a killed run left behind, joining the segments of a video job.

A fragmented MP4 is playable up to its last complete fragment however its writer died; a normal
MP4 (index first, `faststart`) is what players and editors expect of a finished file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import av

from live_style.atomic import partial_path
from live_style.media.encode import AudioTrack
from live_style.media.formats import container_accepts

# moov first and empty, then a moof+mdat pair per keyframe (about every second), flushed at once
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
FINISHED = {suffix: {"movflags": "+faststart"} for suffix in (".mp4", ".m4v", ".mov")}


@dataclass(frozen=True)
class Remuxed:
    """What a remux carried over: video frames, their duration, each one's time (seconds), and the source's
    tracks the output could not carry (one line each)."""

    frames: int
    seconds: float
    times: list[float]
    dropped: list[str] = field(default_factory=list)


def readable_packets(container: av.container.InputContainer, *streams: av.stream.Stream):
    """The streams' complete packets, in order, up to where the file stops making sense (a killed writer)."""
    with contextlib.suppress(av.FFmpegError):
        for packet in container.demux(*streams):
            if packet.dts is not None and not packet.is_corrupt:
                yield packet


def remux(
    parts: list[Path],
    target: Path,
    container_format: str,
    audio_from: Path | None = None,
    span: tuple[float, float] | None = None,
    video_start: float = 0.0,
) -> Remuxed:
    """Copy the video of `parts`, end to end, into a finished `target`, with every audio (and subtitle) track of
    `audio_from` if given: all of it, or the stretch `span` (start, end seconds) of its timeline, moved to 0.
    The video's own timeline is moved back by `video_start` seconds (a source starting late starts at 0).

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
        audio = readers.enter_context(TrackFeed(writing, audio_from, span)) if audio_from else None
        times: list[float] = []
        end = 0.0
        for reading in opened:
            for packet in readable_packets(reading, reading.streams.video[0]):
                shift = round(video_start / packet.time_base)
                packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                times.append(float(packet.pts * packet.time_base))
                if audio is not None:
                    audio.until(float(packet.pts * packet.time_base))
                packet.stream = copy
                writing.mux(packet)
        if audio is not None:
            audio.until(float("inf"))
    partial.replace(target)
    return Remuxed(len(times), end, times, audio.dropped if audio is not None else [])


class TrackFeed:
    """The audio tracks (every one) and subtitle tracks of a source file, pulled packet by packet into an output
    as its video advances; a subtitle track the output cannot carry is named in `dropped`."""

    def __init__(self, writing: av.container.OutputContainer, source: Path, span: tuple[float, float] | None):
        self._reading = av.open(str(source))
        suffix = Path(writing.name).suffix.lower()
        self.dropped: list[str] = []
        self.tracks: dict[int, AudioTrack] = {}
        for stream in self._reading.streams.audio:
            self.tracks[stream.index] = AudioTrack(writing, stream)
        for number, stream in enumerate(self._reading.streams.subtitles, 1):
            if container_accepts(suffix, stream):
                self.tracks[stream.index] = AudioTrack(writing, stream)
            else:
                codec = stream.codec_context.name if stream.codec_context else "unknown"
                self.dropped.append(f"subtitle track {number} ({codec}): {suffix} cannot carry it; use .mkv to keep it")
        self.start, self.end = span or (0.0, float("inf"))
        carried = [self._reading.streams[index] for index in self.tracks]
        self._packets = (packet for packet in readable_packets(self._reading, *carried) if self._moved(packet))
        self._next = next(self._packets, None)

    def _moved(self, packet: av.Packet) -> bool:
        """Whether the packet is in the span; if so, its times moved so the span starts at 0."""
        seconds = float(packet.pts * packet.time_base)
        if not self.start <= seconds < self.end:
            return False
        shift = round(self.start / packet.time_base)
        packet.pts -= shift
        packet.dts = packet.dts - shift if packet.dts is not None else None
        return True

    def until(self, seconds: float) -> None:
        """Write what starts by `seconds` (everything for infinity, and finish the tracks)."""
        while self._next is not None and float(self._next.pts * self._next.time_base) <= seconds:
            self.tracks[self._next.stream.index].add(self._next)
            self._next = next(self._packets, None)
        for track in self.tracks.values():
            if seconds == float("inf"):
                track.close()  # everything left, and the encoder flushed
            else:
                track.mux_until(seconds)

    def __enter__(self) -> TrackFeed:
        return self

    def __exit__(self, *_exc) -> None:
        self._reading.close()
