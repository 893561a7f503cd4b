"""Live recordings with real timing, crash-safe: fragmented MP4 while recording, a normal file when done.

While a recording runs it is a hidden `.NAME.partial.mp4`, fragmented and flushed about every
second, and locked; a killed run leaves that file playable up to its last fragment, and the next
recording in the folder (or `live-style repair`) turns it into a normal file (media/recovery.py).
`Recording` is the live session's sink: it starts and stops a `VideoRecorder` as the r key says.

Nothing slow runs on the caller's thread: a recorder opens, writes and finishes its file in a thread of
its own, and the session's keeper thread rescues orphans and waits for files to be finished. A
recording that fails says so in `error` at once; what it wrote stays in its partial, for `repair`.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from filelock import FileLock

from live_style.errors import UserError
from live_style.media.encode import VideoFileWriter, yuv420_frame
from live_style.media.formats import CONTAINER_FORMATS, even
from live_style.media.recovery import check_record_path, claim, drop_lock, recording_partial, rescue_orphans
from live_style.media.remux import FRAGMENTED, remux
from live_style.media.timeline import Seconds, ticks
from live_style.sinks import OutputFrame
from live_style.sources.capture import Frame, VideoSource

log = logging.getLogger(__name__)
Report = Callable[[str], None]  # where a sink's lines for the user go (the command prints them)
QUEUE_FRAMES = 64
# live: no lookahead or B-frames (frames reach the file at once), two threads at most beside the model;
# ultrafast: half the CPU of superfast at 720p for 32% more bytes (the model needs the cores more)
H264_LIVE = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20", "threads": "2"}
RECORD_TIME_BASE = Fraction(1, 90_000)  # each frame at its own time, to 11 microseconds
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
UNSEEN_TICKS = 4096  # source frame times kept while no recording runs (the start is behind the source)


class RecordingFailed(UserError):
    """A recording that could not go on: the whole story (what was kept, how to repair it), and `reason`, its
    few words for the window's HUD."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class Recording:
    """The live session's recording sink: a file while `active()` says so (the --record option, the r key),
    each finished when recording stops; the last one held until the source's end. `write` only hands frames on."""

    name = "recording"

    def __init__(
        self, path: Path | None, active: Callable[[], bool], source: VideoSource, report: Report = log.warning
    ):
        self.path, self.active, self.source, self.report = path, active, source, report
        self._started = False
        self._recorder: VideoRecorder | None = None
        self._recorders: list[VideoRecorder] = []  # every one started (what failed stays said)
        self._unseen: deque[float] = deque(maxlen=UNSEEN_TICKS)  # source frame times before a recorder starts
        self._lock = threading.Lock()  # the capture thread's ticks and audio against starting and stopping
        self._stream_audio: StreamAudio | None = None  # a stream's audio, kept beside the recording
        self._keeper = ThreadPoolExecutor(1, "recording keeper")  # rescues orphans and finishes files, in order
        self._jobs: list[Future] = []
        source.subscribe(self._tick)
        if source.stream_audio is not None:
            source.stream_audio.audio_listeners.append(self._audio)

    @property
    def error(self) -> RecordingFailed | None:
        """What stopped recording, from the moment it did: a file that could not be opened, written or finished."""
        return next((recorder.error for recorder in self._recorders if recorder.error is not None), None)

    def _audio(self, packet: av.Packet, seconds: Seconds) -> None:
        """A stream's audio packet (the capture thread) goes beside the recording while one runs."""
        with self._lock:
            if self._stream_audio is not None:
                self._stream_audio.write(packet, seconds)

    def _tick(self, frame: Frame) -> None:
        """Every source frame's time (the capture thread) goes to the recorder, or waits for it to start."""
        with self._lock:
            if self._recorder is not None:
                self._recorder.tick(frame.pts)
            else:
                self._unseen.append(frame.pts)

    @property
    def running(self) -> bool:
        return self._recorder is not None

    def write(self, frame: OutputFrame) -> None:
        """Start or stop a file as `active()` says, and hand it the frame."""
        if self.active() and self._recorder is None:
            self._start(frame)
        elif not self.active() and self._recorder is not None:
            self._stop(frame.pts)
        if self._recorder is not None:
            self._recorder.write(frame)
        self._started = True

    def close(self) -> None:
        """Finish the file being written, holding its last frame until the source's end; wait for every file."""
        self._stop(self.source.last_pts + 1 / Fraction(self.source.fps))
        self._keeper.shutdown()
        for job in self._jobs:
            job.result()  # what no job foresaw goes on up

    def _start(self, frame: OutputFrame) -> None:
        path = self._next_path()
        height, width = frame.image.shape[:2]
        # from the session's start, the recording covers the source from its first frame, even if the
        # model skipped it
        origin = frame.pts if self._started else self.source.first_pts
        side = self._side_audio(path)
        audio = side.path if side is not None else self.source.audio_file
        clock = self.source.audio_origin if side is None else Fraction(0)
        recorder = VideoRecorder(path, self.source.fps, (width, height), origin, self.report, audio, clock)
        with self._lock:
            for pts in self._unseen:
                if pts >= origin:
                    recorder.tick(pts)
            self._unseen.clear()
            self._recorder, self._stream_audio = recorder, side
        self._recorders.append(recorder)
        self._jobs.append(self._keeper.submit(self._opened, recorder))

    def _side_audio(self, path: Path) -> StreamAudio | None:
        """A stream's audio file beside the recording to `path`, if the source is a stream with audio (none, said,
        when the folder cannot take it: the picture is recorded all the same, and its recorder says why)."""
        stream = self.source.stream_audio
        if stream is None:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return StreamAudio(recording_partial(path).with_suffix(".audio.mka"), stream.audio)
        except (av.FFmpegError, OSError) as error:
            self.report(f"warning: recording {path} without the stream's audio ({error})")
            return None

    def _next_path(self) -> Path:
        """--record's name (else a timestamped one), numbered NAME-2.ext, NAME-3.ext... past those this session
        used: r pressed again never writes over a recording, nor waits for the one before it to be finished."""
        base = self.path or Path(f"live-style-{datetime.now():%Y%m%d-%H%M%S}.mp4")
        used = {recorder.path for recorder in self._recorders}
        numbered = (base.with_name(f"{base.stem}-{number}{base.suffix}") for number in itertools.count(2))
        return next(name for name in itertools.chain([base], numbered) if name not in used)

    def _stop(self, end_pts: Seconds) -> None:
        with self._lock:
            recorder, self._recorder = self._recorder, None
            side, self._stream_audio = self._stream_audio, None
        if recorder is not None:
            self._jobs.append(self._keeper.submit(self._finish, recorder, side, end_pts))

    def _opened(self, recorder: VideoRecorder) -> None:
        """Once the new file is open (the keeper's thread): say so, and rescue the folder's orphaned recordings."""
        recorder.opened.wait()
        if recorder.error is None:
            self.report(f"recording to {recorder.path}")
        for line in rescue_orphans(recorder.path.parent):
            self.report(line)

    def _finish(self, recorder: VideoRecorder, side: StreamAudio | None, end_pts: Seconds) -> None:
        """Finish a file and say what was saved (the keeper's thread); a failure stays in `error`, for the session."""
        if side is not None:
            side.close()
        try:
            path = recorder.close(end_pts)
        except RecordingFailed:
            return
        finally:
            if side is not None:
                side.path.unlink(missing_ok=True)
        if path is None:
            self.report(f"nothing was recorded to {recorder.path}")
            return
        self.report(
            f"saved {path}: {recorder.written} frames, {recorder.seconds:.1f} s"
            + (", with the source's audio" if recorder.audio_from else "")
            + (f", {recorder.dropped} dropped by a slow disk" if recorder.dropped else "")
        )


class StreamAudio:
    """A live stream's audio packets, copied as they arrive into a Matroska file beside a recording (which takes
    them in when it is finished), each at its time on the video's timeline."""

    def __init__(self, path: Path, audio: av.audio.stream.AudioStream):
        self.path = path
        self._container = av.open(str(path), "w", format="matroska")
        self._stream = self._container.add_stream_from_template(audio)

    def write(self, packet: av.Packet, seconds: Seconds) -> None:
        if seconds < 0:
            return
        packet.pts = packet.dts = ticks(seconds, packet.time_base)
        packet.stream = self._stream
        with contextlib.suppress(av.FFmpegError):  # a packet the muxer refuses (out of order) is a moment of silence
            self._container.mux(packet)

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError):
            self._container.close()


class VideoRecorder:
    """Writes a live session's frames at the source's own frame times (variable rate kept), in its own thread,
    which opens, writes and finishes the file.

    `tick(t)` says the source has a frame at t; the recording gets a frame there: the newest stylized
    frame by then, repeated when the model skipped source frames, so playback speed and timing are
    the source's. A written frame's own time is a tick too (a caller with no source). The last frame
    is held until the end given to `close`. The audio of `audio_from` (a file source), for the same
    stretch of its timeline, joins when the file is finished. Writing never blocks the caller: a
    full queue drops the frame and counts it. Odd sizes lose a row or column (H.264 4:2:0). What stops
    the file (a full disk) is in `error` at once, and the partial closed as it is, for `repair`.
    """

    name = "recording"

    def __init__(
        self,
        path: Path,
        fps: float,
        size: tuple[int, int],
        origin: Seconds,
        report: Report = log.warning,
        audio_from: Path | None = None,
        audio_origin: Fraction = Fraction(0),
    ):
        self.path, self.fps, self.report, self.audio_from = Path(path), fps, report, audio_from
        self.audio_origin = audio_origin  # where the recording's timeline is on the clock of `audio_from`
        check_record_path(self.path)
        self._partial = recording_partial(self.path)
        self.size = (even(size[0]), even(size[1]))
        self.written = 0
        self.dropped = 0
        self.seconds = 0.0  # how long the recording runs so far
        self.error: RecordingFailed | None = None
        self.opened = threading.Event()  # set once the file is open, or could not be
        self._lock: FileLock | None = None  # held on the partial while the file is written
        self._writer: VideoFileWriter | None = None
        self._origin = origin  # the recording's time 0 on the source's timeline
        self._end: float | None = None  # where the last frame is held until, once closing
        self._ticks: deque[float] = deque()  # source frame times not written yet
        self._last_tick = float("-inf")
        self._last_ticks = -1  # the last frame's time in the file's time base
        self._add_tick(origin)  # the first frame covers the recording from its start
        self._queue: queue.Queue[tuple[float, np.ndarray | None] | None] = queue.Queue(QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name=f"record {path}", daemon=True)
        self._thread.start()

    def tick(self, pts: Seconds) -> None:
        """A source frame's time (seconds on its timeline): the recording has a frame there."""
        with contextlib.suppress(queue.Full):  # dropped: the frame before lasts longer
            self._queue.put_nowait((pts, None))

    def write(self, frame: OutputFrame) -> None:
        """Queue a stylized frame for its time on the timeline; drop it (counted) if the writer is behind."""
        try:
            self._queue.put_nowait((frame.pts, frame.image))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self.report(f"warning: the recording to {self.path} is falling behind; dropping frames")

    def close(self, end_pts: Seconds | None = None) -> Path | None:
        """Write everything queued, the last frame held until `end_pts` (else for a frame's time), and finish the
        file as a normal one, with the audio if there is some (in the recorder's thread: this waits for it).

        Returns the finished file, or None (and no file) when no frame ever arrived; raises what stopped it.
        """
        self._end = end_pts
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.path if self.written else None

    def _run(self) -> None:
        """The file's whole life: opened, written as frames arrive, finished once `close` says so."""
        try:
            self._open()
        finally:
            self.opened.set()
        newest = self._write_loop()
        if self.error is None:
            self._finish(newest)

    def _open(self) -> None:
        """Claim the partial (locked) and open it for fragments; what stops that is the recording's error."""
        rate = Fraction(self.fps).limit_denominator(1001)
        live = {**H264_LIVE, "g": str(max(1, round(rate)))}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = claim(self.path)
            self._writer = VideoFileWriter(self._partial, self.size, rate, RECORD_TIME_BASE, None, FRAGMENTED, live)
        except UserError as error:  # another live-style records to that name
            self.error = RecordingFailed(str(error), "another live-style records to that name")
        except (av.FFmpegError, OSError):
            if self._lock is not None:
                drop_lock(self._lock)
            message = f"cannot record to {self.path}; check the folder is writable"
            self.error = RecordingFailed(message, "cannot write to that folder")

    def _write_loop(self) -> av.VideoFrame | None:
        """Encode what arrives until `close`, converting each stylized frame once; the newest is returned. After a
        failure keep draining, so nobody waits on the queue."""
        newest: av.VideoFrame | None = None
        while (item := self._queue.get()) is not None:
            if self.error is not None:
                continue
            pts, image = item
            self._add_tick(pts)
            if image is None:
                continue
            picture = yuv420_frame(image[: self.size[1], : self.size[0]])
            try:  # the source frames before this one show the one before it (this one, at the start)
                self._write_ticks(lambda tick, until=pts: tick < until, newest or picture)
            except (av.FFmpegError, OSError) as error:
                self._failed(error)
            newest = picture
        return newest

    def _add_tick(self, pts: Seconds) -> None:
        if pts > self._last_tick:
            self._ticks.append(pts)
            self._last_tick = pts

    def _write_ticks(self, due: Callable[[float], bool], picture: av.VideoFrame) -> None:
        while self._ticks and due(self._ticks[0]):
            self._encode(picture, self._ticks.popleft() - self._origin)

    def _encode(self, picture: av.VideoFrame, seconds: Seconds) -> None:
        """Encode one frame at `seconds` of the recording (kept after the last one written)."""
        at = max(ticks(seconds, RECORD_TIME_BASE), self._last_ticks + 1)
        self._writer.encode(picture, at)
        self._last_ticks, self.seconds = at, float(at * RECORD_TIME_BASE)
        self.written += 1

    def _finish(self, newest: av.VideoFrame | None) -> None:
        """The newest frame held until the end, the fragments remuxed into a normal file with the audio; the
        partial goes."""
        try:
            end = max((self._end or 0) - self._origin, self.seconds + 1 / Fraction(self.fps))
            if newest is not None:
                self._add_tick(self._origin + end - 1 / Fraction(self.fps))  # held until the end
                self._write_ticks(lambda tick: tick < self._origin + end, newest)
            self._writer.close()
            self.seconds = float(end)
            if self.written:
                span = (self.audio_origin + self._origin, self.audio_origin + self._origin + end)
                remux([self._partial], self.path, CONTAINER_FORMATS[self.path.suffix.lower()], self.audio_from, span)
        except (av.FFmpegError, OSError) as error:
            self._failed(error)
            return
        self._partial.unlink()
        drop_lock(self._lock)

    def _failed(self, error: Exception) -> None:
        """Close the file as it is and let the partial go, for `repair` (now, or later); then say what stopped it."""
        with contextlib.suppress(av.FFmpegError, OSError):
            self._writer.close()
        drop_lock(self._lock)
        disk = "free some disk space, then " if getattr(error, "errno", None) in DISK_FULL else ""
        self.error = RecordingFailed(
            f"the recording to {self.path} failed ({error}); what was written is in {self._partial}: "
            f"{disk}run live-style repair {self._partial}",
            getattr(error, "strerror", None) or str(error),
        )
