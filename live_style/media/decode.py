"""Video files read with PyAV: every frame in order, upright and with square pixels, with its timestamp, and the
audio packets.

What a file holds is measured, not taken from its header: the frames are counted and timed by reading
its packets once (`index_frames`), which is also how MPEG-TS/PS files, whose timestamps may start
anywhere and whose seeking is approximate, are cut into segments. Decoding starts at a keyframe
found by seeking, checked; where a seek lands past it, or in a file whose seeks mislabel packets (an MXF labels
them from its index table after a seek, frames off: tried once, when indexing), the packets are read from the
file's start and decoded from that keyframe. A packet that does not decode (a damaged stretch) is skipped, as
FFmpeg's tools do.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from live_style.errors import UserError
from live_style.media.timeline import Seconds, seconds, ticks

DEFAULT_RATE = Fraction(30)
SEEK_BACK_S = (0.0, 1.0, 4.0, 16.0)  # seek this far before the frame wanted, then from the file's start
SEEK_CHECKS, SEEK_CHECKED_PACKETS = 3, 48  # keyframes a seek is tried at when indexing, packets compared after each
MP4_SUFFIXES = {".mp4", ".m4v", ".mov", ".3gp", ".3g2"}
DECODER_DELAY = 16  # packets a threaded decoder may be behind the demuxer
REORDER_PROBE = 48  # frames decoded up front: the first shown, and whether stamps are in decode order
ORIENTATIONS = {  # display matrix (a, b, c, d) -> (quarter turns, mirrored)
    (1, 0, 0, 1): (0, False),
    (-1, 0, 0, 1): (0, True),
    (1, 0, 0, -1): (2, True),
    (-1, 0, 0, -1): (2, False),
    (0, -1, 1, 0): (1, False),
    (0, 1, 1, 0): (1, True),
    (0, 1, -1, 0): (3, False),
    (0, -1, -1, 0): (3, True),
}
STEADY_SHARE, HOLE_FACTOR, HOLE_CONTEXT = 0.9, 2.5, 8  # a steady rate, a gap far over its interval, enough frames


@dataclass(frozen=True)
class FrameIndex:
    """Every shown frame's timestamp (in `time_base`) in presentation order, the positions where a keyframe starts,
    and where the packets stop when the file ends before its header says (seconds), else None.

    It owns the file's timeline: time 0 is the first shown frame (`origin` seconds on the file's own clock, where
    its other tracks are timed), as FFmpeg's tools make it."""

    pts: list[int]
    keyframes: list[int]
    time_base: Fraction
    cut_at: float | None = None
    reorder: int = 0  # > 0: the file stores decode-order stamps (AVI, OGM with B-frames), put back in order
    origin_pts: int | None = None  # time 0, when not the first frame (a stretch of the file timed from its own)
    seekable: bool = True  # False: a seek mislabels packets, so packets are always read from the file's start

    @property
    def origin(self) -> Seconds:
        """Where time 0 is on the file's own clock (an MPEG-TS often starts at 1.4 s)."""
        first = self.pts[0] if self.pts else 0
        return seconds(first if self.origin_pts is None else self.origin_pts, self.time_base)

    def stretch(self, first: int, stop: int, zero: int) -> FrameIndex:
        """Frames first .. stop - 1 alone, timed from frame `zero` (a segment, stored from 0, with its warm-up)."""
        return replace(self, pts=self.pts[first:stop], keyframes=[], cut_at=None, origin_pts=self.pts[zero])

    def time_of(self, pts: int) -> Seconds:
        """A video timestamp as exact seconds on the timeline."""
        return seconds(pts, self.time_base) - self.origin

    def time_at(self, position: int) -> Seconds:
        """The time of the frame at this position."""
        return self.time_of(self.pts[position])


@dataclass(frozen=True)
class DecodedFrame:
    """A frame of a video file, upright: its position, its timestamp in the stream's time base, and its time on the
    package's timeline (exact seconds from the video's first shown frame, see `media.timeline`)."""

    image: np.ndarray
    index: int
    pts: int
    time: Fraction


def mp4_index_missing(path: Path) -> bool:
    """An MP4/MOV whose top-level boxes hold media ('mdat') but no index ('moov'): cut before its end was written."""
    boxes: set[bytes] = set()
    with open(path, "rb") as file:
        size = path.stat().st_size
        offset = 0
        while offset + 8 <= size:
            file.seek(offset)
            header = file.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            boxes.add(kind)
            if length < 8:
                break
            offset += length
    return b"mdat" in boxes and b"moov" not in boxes


def open_error(path: Path) -> UserError:
    """Why FFmpeg could not open `path`, in one line."""
    if path.suffix.lower() in MP4_SUFFIXES and mp4_index_missing(path):
        return UserError(
            f"{path} has no index (its 'moov' box, which this MP4 keeps at its end, is missing): it was cut short "
            "or is still being written, and cannot be read; finish or re-record it"
        )
    return UserError(f"{path} is not a readable video; give a file FFmpeg plays (mp4, mov, mkv, webm, ts, ...)")


class VideoFile:
    """A video file read with PyAV: every frame (upright, square pixels, BGR) in presentation order, each at its time.

    Its timeline starts at its first shown frame: `index_frames()` (read once) owns that shift to zero.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"input {path} does not exist; check the path")
        try:
            self.container = av.open(str(path))
        except av.FFmpegError:
            raise open_error(self.path) from None
        if not self.container.streams.video:
            self.container.close()
            raise UserError(f"{path} has no video stream; give a file with video in it")
        self._use_streams()
        self.time_base = self.video.time_base
        self.rate = self.video.average_rate or self.video.guessed_rate or DEFAULT_RATE
        self.pixel_aspect = self.video.sample_aspect_ratio  # width:height of a pixel (anamorphic video)
        self.timed_by_rate = self._untimed()  # no timestamps in the file (raw H.264): frames numbered in order
        self.captions = False  # closed captions inside the video stream (found by index_frames)
        self._index: FrameIndex | None = None

    @property
    def side_tracks(self) -> bool:
        """Whether there is audio or subtitles to carry into an output."""
        return bool(self.container.streams.audio or self.container.streams.subtitles)

    def index_frames(self) -> FrameIndex:
        """Every shown frame's timestamp, in presentation order, read once from the packets (no decoding but the
        first frames); a raw stream that times none gets times from its rate. Also measures the frame rate, whether
        stamps are stored in decode order, and whether the file was cut short."""
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def use_index(self, index: FrameIndex) -> None:
        """Read with an index made before (a segment's, timed from its first frame) instead of reading one."""
        self._index = index

    def _read_index(self) -> FrameIndex:
        stamps, offsets, packets_end, damaged_tail = self._packet_stamps()
        if self.timed_by_rate or any(pts is None for pts, _ in stamps):
            self.timed_by_rate = True
            return self._timed_by_rate(len(stamps))
        first_shown, reorder = self._probe_decoding()
        stamps.sort()
        if first_shown is not None:  # leading frames that never decode (an open GOP's) are not part of the video
            stamps = [(pts, key) for pts, key in stamps if pts >= first_shown]
        keyframes = [i for i, (_, key) in enumerate(stamps) if key]
        seekable = self._seeks_label_as_read(offsets, [pts for pts, key in stamps if key])
        index = FrameIndex([pts for pts, _ in stamps], keyframes, self.time_base, reorder=reorder, seekable=seekable)
        self.rate = measured_rate(index.pts, self.time_base, self.rate)
        if damaged_tail or self._cut_short(packets_end):
            index = replace(index, cut_at=float(index.time_of(index.pts[-1]) + 1 / self.rate) if index.pts else 0.0)
        return index

    def _packet_stamps(self) -> tuple[list[tuple[int | None, bool]], tuple[array, array], float, bool]:
        """(pts and keyframe flag of every video packet, the byte offsets and stamps of those with both, where the
        packets of any stream end (s), a damaged tail)."""
        stamps: list[tuple[int | None, bool]] = []
        offsets, offset_stamps = array("q"), array("q")
        end = 0.0
        try:
            for packet in self.container.demux():
                if packet.size == 0 or packet.is_discard:
                    continue  # the end-of-stream marker; frames an edit list trims away (decoded, never shown)
                if packet.pts is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if packet.stream is self.video:
                    stamps.append((packet.pts, packet.is_keyframe))
                    if packet.pts is not None and packet.pos is not None and packet.pos >= 0:
                        offsets.append(packet.pos)
                        offset_stamps.append(packet.pts)
        except av.FFmpegError:
            return stamps, (offsets, offset_stamps), end, True  # the frames before it are what there is
        finally:
            self._seek_start()
        return stamps, (offsets, offset_stamps), end, False

    def _seeks_label_as_read(self, offsets: tuple[array, array], keyframes: list[int]) -> bool:
        """Whether the packets after a seek to a keyframe carry the stamps they had when read in order (matched by
        byte offset), tried at keyframes spread over the file. Packets without offsets are taken as labelled right."""
        positions, stamps = offsets
        tried = keyframes[1:][:: max(1, len(keyframes) // SEEK_CHECKS)][:SEEK_CHECKS]
        try:
            for keyframe in tried:
                if keyframe not in stamps:
                    continue
                at = stamps.index(keyframe)
                around = range(max(0, at - SEEK_CHECKED_PACKETS), min(len(stamps), at + 2 * SEEK_CHECKED_PACKETS))
                read: dict[int, int | None] = {}
                for i in around:  # several frames in one packet (ASF) share an offset: not compared
                    read[positions[i]] = stamps[i] if positions[i] not in read else None
                self._seek_before(keyframe)
                for packet in itertools.islice(self._packets(self.video), SEEK_CHECKED_PACKETS):
                    if read.get(packet.pos) is not None and read[packet.pos] != packet.pts:
                        return False
        except av.FFmpegError:
            return False
        finally:
            self._seek_start()
        return True

    def _probe_decoding(self) -> tuple[int | None, int]:
        """Decode the first frames: (the first shown frame's stamp, the reorder window its stamps need: 0 when the
        decoder's frames come with rising stamps, as they should; more for files storing decode-order stamps).
        Also notes whether they carry closed captions (CEA-608/708 inside the video)."""
        stamps: list[int | None] = []
        for frame in itertools.islice(self._decoded(self._packets(self.video)), REORDER_PROBE):
            stamps.append(frame.pts)  # the stamps only: 48 frames of 4K video would be a gigabyte
            self.captions = self.captions or side_data(frame, "A53_CC") is not None
        self._seek_start()
        stamps = [pts for pts in stamps if pts is not None]
        late = [sum(earlier > pts for earlier in stamps[:n]) for n, pts in enumerate(stamps)]
        return (min(stamps) if stamps else None), (max(late, default=0) + 1 if any(late) else 0)

    def _untimed(self) -> bool:
        """Whether the video's packets carry no timestamps (a raw elementary stream)."""
        first = next((packet for packet in self._packets(self.video) if packet.size), None)
        self._seek_start()
        return first is not None and first.pts is None

    def _timed_by_rate(self, frames: int) -> FrameIndex:
        """A stream without timestamps (raw H.264): frame n at n / rate, decoded in order from the start."""
        return FrameIndex([self._rate_pts(number) for number in range(frames)], [0], self.time_base)

    def _rate_pts(self, number: int) -> int:
        return ticks(number / self.rate, self.time_base)

    def _cut_short(self, packets_end: float) -> bool:
        """Whether the header's length goes past the last packet of every stream by more than 3 frames and 2%
        (measured from 0 and from the start time, as containers count either way)."""
        if not self.container.duration:
            return False
        header = self.container.duration / av.time_base
        start = (self.container.start_time or 0) / av.time_base
        short = min(header - packets_end, header - (packets_end - start))
        return short > max(3 / float(self.rate), 0.02 * header)

    def frames(self) -> Iterator[DecodedFrame]:
        """Every frame from the start, in presentation order."""
        self.index_frames()
        self._seek_start()
        for number, frame in enumerate(self._decoded(self._packets(self.video))):
            yield self._upright(frame, number)

    def frames_at(self, pts: list[int], first_index: int) -> Iterator[DecodedFrame]:
        """The frames with these timestamps (ascending), numbered from `first_index`; decoding starts at a keyframe
        at or before the first."""
        positions = {stamp: first_index + offset for offset, stamp in enumerate(pts)}
        self.index_frames()  # before decoding: the stamps' order and the timeline
        if self.timed_by_rate:
            yield from (frame for frame in self.frames() if frame.pts in positions)
            return
        for frame in self._decoded_from(pts[0]):
            if frame.pts in positions:
                yield self._upright(frame, positions[frame.pts])
            if frame.pts is not None and frame.pts >= pts[-1]:
                return

    def damaged_between(self, first: Seconds, last: Seconds) -> bool:
        """Whether a packet from the keyframe before `first` to `last` (times on the timeline) fails to decode: damage,
        as opposed to packets that decode to no picture of their own (VP9's hidden frames, a frame's second field)."""
        index = self.index_frames()
        start, end = (ticks(time + index.origin, self.time_base) for time in (first, last))
        self._seek_before(start)
        after = 0  # packets past the stretch: a threaded decoder reports an error a few packets late
        for packet in self._packets(self.video):
            after += packet.pts is not None and packet.pts > end
            if after > DECODER_DELAY:
                return False
            try:
                packet.decode()
            except av.FFmpegError:
                return True
        return False

    def _decoded_from(self, target: int) -> Iterator[av.VideoFrame]:
        """Decoded frames from a keyframe at or before `target`: a seek, checked, further back, else from the start.

        In a file stamped in decode order, the frames just after a keyframe can be its open GOP's leading frames,
        which do not decode after a seek and shift the stamps given back: the seek must land that far earlier."""
        index = self.index_frames()
        margin = ticks(Fraction(index.reorder) / self.rate, self.time_base)
        for back in SEEK_BACK_S if index.seekable else ():
            frames = self._decoded_after_seek(target - margin - ticks(Fraction(back), self.time_base))
            first = next(frames, None)
            if first is not None and (first.pts is None or first.pts <= target - margin):
                break
        else:
            frames = self._decoded_read_from_start(target - margin)
            first = next(frames, None)
        if first is not None:
            yield first
            yield from frames

    def _decoded_read_from_start(self, target: int) -> Iterator[av.VideoFrame]:
        """Decoded frames from the last keyframe at or before `target`, its packets read from the file's start: those
        before that keyframe are read in order (so labelled right) but not decoded."""
        self._seek_start()
        packets = self._packets(self.video)
        held: list[av.Packet] = []  # since the last keyframe at or before the target
        skipped = False
        for packet in packets:
            if packet.is_keyframe and packet.pts is not None:
                if packet.pts > target:
                    held.append(packet)
                    break
                skipped, held = skipped or bool(held), []
            held.append(packet)
        chained = itertools.chain(held, packets)
        return self._decoded_from_keyframe(chained) if skipped else self._decoded(chained)

    def _decoded_after_seek(self, target: int) -> Iterator[av.VideoFrame]:
        self._seek_before(target)
        return self._decoded_from_keyframe(
            itertools.dropwhile(lambda packet: not packet.is_keyframe, self._packets(self.video))
        )

    def _decoded_from_keyframe(self, packets: Iterator[av.Packet]) -> Iterator[av.VideoFrame]:
        """Decoded frames from a keyframe's packet on, less those shown before it: an open GOP's leading frames,
        whose references were never decoded (FFmpeg conceals them rather than drop them). In a file stamped in
        decode order the stamps cannot tell them (`_decoded_from` seeks earlier instead)."""
        first = next(packets, None)
        if first is None:
            return iter(())
        frames = self._decoded(itertools.chain([first], packets))
        if first.pts is None or self.index_frames().reorder:
            return frames
        return (frame for frame in frames if frame.pts is None or frame.pts >= first.pts)

    def _seek_before(self, target: int) -> None:
        """Position the demuxer at the keyframe at or before `target` (the start, when the index is truncated)."""
        try:
            self.container.seek(max(target, self.video.start_time or 0), stream=self.video, backward=True)
        except av.FFmpegError:
            self._seek_start()

    def _decoded(self, packets: Iterator[av.Packet]) -> Iterator[av.VideoFrame]:
        reorder = self._index.reorder if self._index is not None else 0  # none while the index itself is read
        return in_presentation_order(decoded_frames(packets), reorder)

    def _packets(self, *streams: av.stream.Stream) -> Iterator[av.Packet]:
        return demuxed(self.container, *streams)

    def _seek_start(self) -> None:
        """Back to the first packet, by opening the file again: a seek to 0 lands past it in some MPEG-TS files
        (then the first GOP, up to a second of video, was lost)."""
        self.container.close()
        self.container = av.open(str(self.path))
        self._use_streams()

    def _use_streams(self) -> None:
        """The video and audio streams a player picks (the video decoded with threads), of the container now open."""
        self.video, self.audio = played_streams(self.container)
        self.video.thread_type = "AUTO"

    def _upright(self, frame: av.VideoFrame, index: int) -> DecodedFrame:
        """The frame as a player shows it (see upright_image), at its time."""
        timed = frame.pts is not None and not self.timed_by_rate
        pts = frame.pts if timed else self._rate_pts(index)
        return DecodedFrame(upright_image(frame, self.pixel_aspect), index, pts, self.index_frames().time_of(pts))

    def close(self) -> None:
        self.container.close()


def played_streams(container: av.container.InputContainer) -> tuple[av.VideoStream, av.AudioStream | None]:
    """The video and audio streams a player picks (FFmpeg's best stream: an animated AVIF's sequence, not its still
    item; never a cover picture)."""
    return container.streams.best("video"), container.streams.best("audio")


def demuxed(container: av.container.InputContainer, *streams: av.stream.Stream) -> Iterator[av.Packet]:
    """The streams' packets until the input ends, or stops making sense (a damaged tail, a broken connection)."""
    try:
        yield from container.demux(*streams)
    except av.FFmpegError:
        return


def decoded_frames(packets: Iterator[av.Packet], other: Callable[[av.Packet], None] | None = None):
    """The video frames the packets decode to, in the decoder's order; a packet that does not decode (a damaged
    stretch, concealed by the frames around) gives none. Packets of other streams go to `other`."""
    for packet in packets:
        if packet.stream.type != "video":
            if other is not None:
                other(packet)
            continue
        try:
            frames = packet.decode()
        except av.FFmpegError:
            continue
        yield from frames


def in_presentation_order(frames: Iterator[av.VideoFrame], window: int) -> Iterator[av.VideoFrame]:
    """Frames (which a decoder gives in presentation order) with their stamps in that order too: a file storing
    decode-order stamps (AVI, OGM with B-frames) has them shuffled within `window` frames, each frame gets the
    smallest stamp not yet given. `window` 0 passes the frames through."""
    if not window:
        yield from frames
        return
    waiting: deque[av.VideoFrame] = deque()
    stamps: list[int] = []
    for frame in frames:
        waiting.append(frame)
        heapq.heappush(stamps, frame.pts)
        if len(waiting) > window:
            yield restamped(waiting.popleft(), heapq.heappop(stamps))
    while waiting:
        yield restamped(waiting.popleft(), heapq.heappop(stamps))


def restamped(frame: av.VideoFrame, pts: int) -> av.VideoFrame:
    frame.pts = pts
    return frame


def upright_image(frame: av.VideoFrame, pixel_aspect: Fraction | None) -> np.ndarray:
    """BGR pixels made square (anamorphic video), then turned and mirrored as the display matrix says (phone
    videos, a front camera's mirror image), as FFmpeg's player shows them."""
    image = square_pixels(frame.to_ndarray(format="bgr24"), pixel_aspect)
    quarter_turns, mirrored = orientation(frame)
    if mirrored:
        image = image[:, ::-1]
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns or mirrored else image


def orientation(frame: av.VideoFrame) -> tuple[int, bool]:
    """(quarter turns counter-clockwise, mirrored first) that show the frame upright, from its display matrix.

    The matrix's 2x2 part (16.16 fixed point) is one of the 8 turns and mirror images; the table is what FFmpeg's
    own player does with each (checked against its output for every -display_rotation with and without hflip)."""
    matrix = side_data(frame, "DISPLAYMATRIX")
    if matrix is None or len(matrix) < 36:
        return 0, False
    a, b, _, c, d = (round(value / 65536) for value in struct.unpack("<9i", matrix[:36])[:5])
    return ORIENTATIONS.get((a, b, c, d), (round(frame.rotation / 90) % 4, False))


def side_data(frame: av.VideoFrame, kind: str) -> bytes | None:
    """A frame's side data of this kind, if it has some (PyAV 18 iterates the entries, PyAV 19 their kinds)."""
    for entry in frame.side_data:
        data = entry if hasattr(entry, "type") else frame.side_data[entry]
        if getattr(entry, "type", entry).name == kind:
            return bytes(data)
    return None


def square_pixels(image: np.ndarray, aspect: Fraction | None) -> np.ndarray:
    """An anamorphic frame (pixels aspect:1, e.g. 64:45 for 16:9 PAL) widened or heightened to square pixels."""
    if not aspect or aspect == 1:
        return image
    height, width = image.shape[:2]
    if aspect > 1:
        width = round(width * aspect)
    else:
        height = round(height / aspect)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


def typical_interval(pts: list[int]) -> int:
    """The median time between successive frames (0 when there are fewer than two distinct times)."""
    intervals = sorted(later - earlier for earlier, later in itertools.pairwise(pts) if later > earlier)
    return intervals[len(intervals) // 2] if intervals else 0


def measured_rate(pts: list[int], time_base: Fraction, declared: Fraction) -> Fraction:
    """The frame rate the timestamps show, from the typical (median) interval between frames; the header's when it
    agrees within 1%, as it is exact."""
    typical = typical_interval(pts)
    if not typical:
        return declared
    measured = 1 / (typical * time_base)
    if declared and abs(float(declared) / float(measured) - 1) < 0.01:
        return declared
    return Fraction(measured).limit_denominator(1001)


def holes(index: FrameIndex) -> list[tuple[float, float, int]]:
    """Where a steady-rate video has no frames (a damaged stretch its demuxer skipped): (from, to seconds on its
    timeline, frames missing). None for a variable-rate video, whose long gaps are its own."""
    pts = index.pts
    intervals = [later - earlier for earlier, later in itertools.pairwise(pts)]
    typical = typical_interval(pts)
    if len(intervals) < HOLE_CONTEXT or not typical:
        return []
    steady = sum(abs(gap - typical) <= max(1, typical // 100) for gap in intervals) >= STEADY_SHARE * len(intervals)
    if not steady:
        return []
    return [
        (float(index.time_of(earlier)), float(index.time_of(later)), round((later - earlier) / typical) - 1)
        for earlier, later in itertools.pairwise(pts)
        if later - earlier > HOLE_FACTOR * typical
    ]
