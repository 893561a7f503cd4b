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


def remux(source: Path, target: Path, container_format: str) -> Remuxed:
    """Copy the video of `source` into a finished `target` of this format; a truncated tail is dropped.

    `target` appears only once complete (written under its partial name, then renamed).
    """
    partial = partial_path(target)
    with (
        av.open(str(source)) as reading,
        av.open(str(partial), "w", format=container_format, options=FINISHED.get(target.suffix.lower(), {})) as writing,
    ):
        video = reading.streams.video[0]
        copy = writing.add_stream_from_template(video)
        annex_b = None
        if container_format in FRAME_COUNTED:
            annex_b, copy.time_base = annex_b_filter(video), 1 / video.average_rate
        frames, end = 0, 0.0
        for packet in readable_packets(reading, video):
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            for ready in annex_b.filter(packet) if annex_b else [packet]:
                ready.stream = copy
                writing.mux(ready)
                frames += 1
    partial.replace(target)
    return Remuxed(frames, end)
