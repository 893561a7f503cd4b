"""Video files read with PyAV: every frame in order, upright, with its timestamp, and the audio packets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from live_style.errors import UserError
from live_style.sources.capture import DEFAULT_FPS


@dataclass(frozen=True)
class FrameIndex:
    """Every video frame's timestamp in presentation order, and the positions where a keyframe starts."""

    pts: list[int]
    keyframes: list[int]


@dataclass(frozen=True)
class DecodedFrame:
    """A frame of a video file, upright, with its timestamp in the stream's time base."""

    image: np.ndarray
    index: int
    pts: int
    seconds: float


class VideoFile:
    """A video file read with PyAV: every frame (upright, BGR) in order, and its audio packets."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"input {path} does not exist; check the path")
        try:
            self.container = av.open(str(path))
        except av.FFmpegError:
            raise UserError(f"{path} is not a readable video; give an mp4, mov, mkv, avi or webm file") from None
        if not self.container.streams.video:
            self.container.close()
            raise UserError(f"{path} has no video stream; give a file with video in it")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.time_base = self.video.time_base
        self.rate = self.video.average_rate or self.video.guessed_rate or DEFAULT_FPS
        if self.video.duration:
            duration = float(self.video.duration * self.time_base)
        else:  # Matroska keeps the length on the container only
            duration = (self.container.duration or 0) / av.time_base
        self.frame_count = self.video.frames or round(duration * float(self.rate))

    def demux(self, with_audio: bool) -> Iterator[DecodedFrame | av.Packet]:
        """Frames and (if asked) audio packets in file order; a clear error if the file is damaged."""
        streams = [self.video, self.audio] if with_audio and self.audio else [self.video]
        index = 0
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in packet.decode():
                    yield self._upright(frame, index)
                    index += 1
        except av.FFmpegError as error:
            raise UserError(f"{self.path} is damaged at frame {index} ({error}); re-encode or trim the file") from None

    def index_frames(self) -> FrameIndex | None:
        """Read the packets (no decoding) for every frame's time; None if the file does not say (no cuts then)."""
        stamps: list[tuple[int, bool]] = []
        try:
            for packet in self.container.demux(self.video):
                if packet.size == 0 or packet.is_discard:
                    continue  # the end-of-stream marker; frames an edit list trims away (decoded, never shown)
                if packet.pts is None:
                    return None
                stamps.append((packet.pts, packet.is_keyframe))
        except av.FFmpegError:
            pass  # a damaged tail: the frames before it are what there is
        finally:
            self.container.seek(0)
        stamps.sort()
        return FrameIndex([pts for pts, _ in stamps], [i for i, (_, key) in enumerate(stamps) if key])

    def frames_at(self, pts: list[int], first_index: int) -> Iterator[DecodedFrame]:
        """The frames with these timestamps (ascending), numbered from `first_index`; decoding starts at a keyframe."""
        positions = {stamp: first_index + offset for offset, stamp in enumerate(pts)}
        self.container.seek(pts[0], stream=self.video, backward=True)
        try:
            for frame in self.container.decode(self.video):
                if frame.pts in positions:
                    yield self._upright(frame, positions[frame.pts])
                if frame.pts is not None and frame.pts >= pts[-1]:
                    return
        except av.FFmpegError as error:
            raise UserError(
                f"{self.path} is damaged near frame {first_index} ({error}); re-encode or trim it"
            ) from None

    def _upright(self, frame: av.VideoFrame, index: int) -> DecodedFrame:
        """BGR pixels turned as the rotation metadata says (phone videos)."""
        image = frame.to_ndarray(format="bgr24")
        quarter_turns = round(frame.rotation / 90) % 4
        if quarter_turns:
            image = np.ascontiguousarray(np.rot90(image, k=quarter_turns))
        pts = frame.pts if frame.pts is not None else round(index / (self.rate * self.time_base))
        return DecodedFrame(image, index, pts, float(pts * self.time_base))

    def close(self) -> None:
        self.container.close()
