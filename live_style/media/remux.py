"""Copying encoded packets between containers without re-encoding: finishing fragmented recordings,
rescuing the ones a killed run left behind, joining the segments of a video job.

A fragmented MP4 is playable up to its last complete fragment however its writer died; a normal
MP4 (index first, `faststart`) is what players and editors expect of a finished file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from live_style.atomic import partial_path
from live_style.media.decode import demuxed
from live_style.media.encode import AudioTrack
from live_style.media.formats import container_accepts
from live_style.media.timeline import Seconds, ticks

# moov first and empty, then a moof+mdat pair per keyframe (about every second), flushed at once
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
# index first; edit lists (a track starting after 0 or inside its first packet) timed to 1/90,000 s, not to FFmpeg's
# default millisecond, so sound starts within half a sample of where it should
FINISHED = {suffix: {"movflags": "+faststart", "movie_timescale": "90000"} for suffix in (".mp4", ".m4v", ".mov")}
TECHNICAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration", "bps", "rotate"}
PREROLL_S = Fraction(1)  # re-encoded audio is decoded from this far before its start (the decoder's warm-up)
NEGATIVE_TIMES = {".mp4", ".m4v", ".mov"}  # containers whose edit lists start a track inside its first packet


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
    return (packet for packet in demuxed(container, *streams) if packet.dts is not None and not packet.is_corrupt)


def remux(
    parts: list[Path],
    target: Path,
    container_format: str,
    audio_from: Path | None = None,
    span: tuple[Seconds, Seconds | None] | None = None,
    offsets: list[Seconds] | None = None,
    tracks: bool = True,
) -> Remuxed:
    """Copy the video of `parts`, end to end, into a finished `target`, with what the output can hold of `audio_from`
    if given: every audio and subtitle track (unless `tracks` is False), chapters, the file's and the tracks' tags
    (language, title, creation time, location); all of it, or the stretch `span` (start, end on its own clock; end
    None: to its end) moved to 0. Part i's video is moved by `offsets[i]` (a segment stored from 0 goes to its
    place; none: as they are).

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
        audio = readers.enter_context(TrackFeed(writing, audio_from, span, tracks)) if audio_from else None
        if audio is not None:
            audio.label(copy)
        times: list[float] = []
        end = 0.0
        for reading, offset in zip(opened, offsets or [Seconds(0)] * len(opened), strict=True):
            shift = ticks(offset, reading.streams.video[0].time_base)
            for packet in readable_packets(reading, reading.streams.video[0]):
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
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


def kept_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags worth keeping in an output: all but what describes the old file's encoding."""
    return {
        key: value
        for key, value in tags.items()
        if key.lower() not in TECHNICAL_TAGS and not key.upper().startswith(("_STATISTICS", "NUMBER_OF_"))
    }


class TrackFeed:
    """The audio tracks (every one) and subtitle tracks of a source file, pulled packet by packet into an output
    as its video advances; a subtitle track the output cannot carry is named in `dropped`."""

    def __init__(
        self,
        writing: av.container.OutputContainer,
        source: Path,
        span: tuple[Seconds, Seconds | None] | None,
        tracks: bool = True,
    ) -> None:
        self._reading = av.open(str(source))
        self._writing = writing
        suffix = Path(writing.name).suffix.lower()
        self.negative_ok = suffix in NEGATIVE_TIMES  # an edit list trims a packet that starts before 0
        self.dropped: list[str] = []
        self.tracks: dict[int, AudioTrack] = {}
        for stream in self._reading.streams.audio if tracks else ():
            self.tracks[stream.index] = AudioTrack(writing, stream)
        for number, stream in enumerate(self._reading.streams.subtitles if tracks else (), 1):
            if container_accepts(suffix, stream):
                self.tracks[stream.index] = AudioTrack(writing, stream)
            else:
                codec = stream.codec_context.name if stream.codec_context else "unknown"
                self.dropped.append(f"subtitle track {number} ({codec}): {suffix} cannot carry it; use .mkv to keep it")
        self.start, self.end = span or (Seconds(0), None)
        carried = [self._reading.streams[index] for index in self.tracks]
        packets = readable_packets(self._reading, *carried) if carried else iter(())  # none: demux would read all
        self._packets = (packet for packet in packets if self._moved(packet))
        self._next = next(self._packets, None)

    def label(self, video: av.stream.Stream) -> None:
        """The source's tags on the output (the file's, its video's, each carried track's) and its chapters, moved
        with the span; technical tags (brands, encoder, statistics, rotation: the picture is upright) are not."""
        self._writing.metadata.update(kept_tags(self._reading.metadata))
        source_video = self._reading.streams.best("video")
        if source_video is not None:
            video.metadata.update(kept_tags(source_video.metadata))
        for index, track in self.tracks.items():
            track.stream.metadata.update(kept_tags(self._reading.streams[index].metadata))
        chapters = [moved for chapter in self._reading.chapters() if (moved := self._moved_chapter(chapter))]
        if chapters:
            self._writing.set_chapters(chapters)

    def _moved_chapter(self, chapter: dict) -> dict | None:
        """A chapter on the output's timeline (cut to the span), or None when it is outside."""
        shift = ticks(self.start, chapter["time_base"])
        start, end = chapter["start"] - shift, chapter["end"] - shift
        if end <= 0 or (self.end is not None and start >= ticks(self.end - self.start, chapter["time_base"])):
            return None
        return {**chapter, "start": max(0, start), "end": end}

    def _moved(self, packet: av.Packet) -> bool:
        """Whether the packet overlaps the span; if so, its times moved so the span starts at 0. One that starts
        before the span (audio priming, a subtitle already showing) is kept: audio at its negative time where the
        container trims it exactly (else left out, a packet's length of silence), a subtitle from 0, shortened.
        Audio that is re-encoded is decoded from `PREROLL_S` before the span (a decoder's warm-up), then cut to
        the sample."""
        start = ticks(self.start, packet.time_base)
        reencoded = packet.stream.type == "audio" and not self.tracks[packet.stream.index].copied
        reaches = packet.pts + (packet.duration or 0) > start
        if reencoded:
            reaches = packet.pts >= start - ticks(PREROLL_S, packet.time_base)
        if not reaches or (self.end is not None and packet.pts >= ticks(self.end, packet.time_base)):
            return False
        packet.pts -= start
        packet.dts = packet.dts - start if packet.dts is not None else None
        if packet.pts >= 0 or reencoded:
            return True
        if packet.stream.type == "subtitle":
            packet.duration, packet.pts, packet.dts = packet.pts + packet.duration, 0, 0
            return True
        return self.negative_ok

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
