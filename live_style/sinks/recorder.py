"""Live recordings with real timing, crash-safe: fragmented MP4 while recording, a normal file when done.

While a recording runs it is a hidden `.NAME.partial.mp4`, fragmented and flushed about every
second, and locked; a killed run leaves that file playable up to its last fragment, and the next
recording in the folder (or `live-style repair`) turns it into a normal file (`rescue_orphans`).
"""

from __future__ import annotations

import queue
import sys
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from filelock import FileLock, Timeout

from live_style.errors import UserError
from live_style.sinks.remux import FRAGMENTED, Remuxed, remux
from live_style.sinks.video_file import CONTAINER_FORMATS, VIDEO_CODECS, even, yuv420_frame

RECORD_SUFFIXES = tuple(suffix for suffix in CONTAINER_FORMATS if suffix not in VIDEO_CODECS)  # H.264 carriers
PARTIAL_SUFFIX = ".partial.mp4"
QUEUE_FRAMES = 64
# live: no lookahead or B-frames (frames reach the file at once), two threads at most beside the model;
# ultrafast: half the CPU of superfast at 720p for 32% more bytes (the model needs the cores more)
H264_LIVE = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20", "threads": "2"}


def check_record_path(path: Path, option: str = "--record") -> None:
    """Refuse a recording name whose extension cannot carry H.264."""
    if Path(path).suffix.lower() not in RECORD_SUFFIXES:
        raise UserError(f"{option} {path}: the extension picks the container; use one of {', '.join(RECORD_SUFFIXES)}")


def recording_partial(path: Path) -> Path:
    """Where a recording to `path` is written while it runs: hidden, clearly partial, fragmented MP4."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def final_name(partial: Path) -> Path | None:
    """The recording a partial was meant to become, or None if the name is not a recording's partial."""
    name = partial.name
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        return None
    final = partial.with_name(name[1 : -len(PARTIAL_SUFFIX)])
    return final if final.suffix.lower() in RECORD_SUFFIXES else None


def owner_lock(partial: Path) -> FileLock:
    """The lock a running recorder holds on its partial; the kernel frees it when the process dies."""
    return FileLock(partial.with_name(partial.name + ".lock"), timeout=0)


def repair(partial: Path, target: Path | None = None) -> tuple[Path, Remuxed]:
    """Turn a killed recording's partial into a finished file (beside it, never over an existing one)."""
    final = target or final_name(partial)
    if final is None:
        raise UserError(f"{partial} is not a live-style recording's partial (.NAME.ext{PARTIAL_SUFFIX}); give one")
    final = free_name(final) if target is None else final
    lock = owner_lock(partial)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(f"{partial} is still being recorded by a running live-style; stop it first") from None
    try:
        try:
            result = remux([partial], final, CONTAINER_FORMATS[final.suffix.lower()])
        except (av.FFmpegError, IndexError):
            raise UserError(f"{partial} is not a readable recording (no video in it); nothing to repair") from None
        if result.frames == 0:
            final.unlink(missing_ok=True)
            raise UserError(f"{partial} holds no complete frame; nothing to rescue (delete it)")
        partial.unlink()
        return final, result
    finally:
        drop_lock(lock)


def drop_lock(lock: FileLock) -> None:
    """Remove the lock file while still holding it, then let go (a contender then retries on a fresh file)."""
    Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()


def free_name(path: Path) -> Path:
    """`path`, or `NAME-recovered[-N].ext` beside it if that name is taken."""
    candidate, number = path, 1
    while candidate.exists():
        suffix = "-recovered" if number == 1 else f"-recovered-{number}"
        candidate, number = path.with_name(f"{path.stem}{suffix}{path.suffix}"), number + 1
    return candidate


def rescue_orphans(folder: Path) -> list[str]:
    """Repair every recording partial in `folder` whose recorder is gone; one line per file rescued."""
    said = []
    for partial in sorted(Path(folder).glob(f".*{PARTIAL_SUFFIX}")):
        if final_name(partial) is None:
            continue
        try:
            final, result = repair(partial)
        except UserError:
            continue  # still recording, or nothing in it
        said.append(f"rescued {result.frames} frames ({result.seconds:.1f} s) of a killed recording into {final}")
    return said


class VideoRecorder:
    """Writes (pts, frame) pairs at a fixed frame rate in its own thread.

    Frames land on the slot their timestamp falls in, and the previous frame is repeated to fill
    the gaps, so playback speed is right even when the model is slower than the source. Writing
    never blocks the caller: a full queue drops the frame and counts it. Odd sizes lose a row or
    column (H.264 4:2:0 needs even ones).
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int], origin: float):
        self.path, self.fps = Path(path), fps
        check_record_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for line in rescue_orphans(self.path.parent):
            print(line, file=sys.stderr)
        self._partial = recording_partial(self.path)
        self._lock = owner_lock(self._partial)
        try:
            self._lock.acquire()
        except Timeout:
            raise UserError(f"another live-style is recording to {path}; pick another name") from None
        self.size = (even(size[0]), even(size[1]))
        self._container, self._stream = self._open(Fraction(fps).limit_denominator(1001))
        self.written = 0
        self.dropped = 0
        self._origin = origin  # where slot 0 starts on the source's timeline
        self._previous: av.VideoFrame | None = None
        self._error: Exception | None = None
        self._queue: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue(QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._write_loop, name=f"record {path}", daemon=True)
        self._thread.start()

    def _open(self, rate: Fraction) -> tuple:
        try:
            container = av.open(str(self._partial), "w", format="mp4", options=FRAGMENTED)
        except (av.FFmpegError, OSError):
            drop_lock(self._lock)
            raise UserError(f"cannot record to {self.path}; check the folder is writable") from None
        stream = container.add_stream("libx264", rate=rate, options={**H264_LIVE, "g": str(max(1, round(rate)))})
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        return container, stream

    def submit(self, pts: float, image: np.ndarray) -> None:
        """Queue a frame for its time on the timeline; drop it (counted) if the writer is behind."""
        try:
            self._queue.put_nowait((pts, image))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                print(f"warning: the recording to {self.path} is falling behind; dropping frames", file=sys.stderr)

    def _write_loop(self) -> None:
        """Encode what arrives; after a failure (a full disk) keep draining, so nobody waits on the queue."""
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            pts, image = item
            try:
                self._fill_until(pts)
            except (av.FFmpegError, OSError) as error:
                self._error = error
            # converted once, however often it is repeated
            self._previous = yuv420_frame(image[: self.size[1], : self.size[0]])

    def _fill_until(self, pts: float) -> None:
        """Write the previous frame into every slot before the one `pts` falls in."""
        slot = round((pts - self._origin) * self.fps)
        while self._previous is not None and self.written < slot:
            self._encode(self._previous)

    def _encode(self, frame: av.VideoFrame | None) -> None:
        """Encode one frame at the next slot (None flushes the encoder)."""
        if frame is not None:
            frame.pts = self.written
            self.written += 1
        self._container.mux(self._stream.encode(frame))

    def close(self, end_pts: float) -> Path | None:
        """Write everything queued, hold the last frame until `end_pts`, and finish OUT as a normal file.

        Returns the finished file, or None (and no file) when no frame ever arrived.
        """
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is None and self._previous is not None:
                self._fill_until(max(end_pts, self._origin + (self.written + 1) / self.fps))
            self._encode(None)
            self._container.close()
            if self._error is None and self.written:
                remux([self._partial], self.path, CONTAINER_FORMATS[self.path.suffix.lower()])
        except (av.FFmpegError, OSError) as error:
            self._error = self._error or error
        if self._error is not None:
            drop_lock(self._lock)
            raise UserError(
                f"the recording to {self.path} failed ({self._error}); what was written is in {self._partial}: "
                f"free some disk space, then run live-style repair {self._partial}"
            )
        self._partial.unlink()
        drop_lock(self._lock)
        return self.path if self.written else None
