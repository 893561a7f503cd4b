"""`live-style video IN -o OUT --style S`: stylize every frame of a file, in order, audio kept.

Decoding (PyAV, its own thread), inference (batches, main thread) and upscaling + encoding (its
own thread) overlap through bounded queues. OUT is written under a partial name and renamed only
when complete, so an interrupted run never leaves a file that looks finished.
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from live_style.atomic import partial_path
from live_style.commands.common import open_model, styles_vector, with_strength
from live_style.errors import EXIT_INTERRUPTED, UserError
from live_style.imaging import resize_frames
from live_style.model.stylizer import Stylizer
from live_style.sinks import CONTAINER_FORMATS, VideoFileWriter, even
from live_style.sources import DecodedFrame, VideoFile
from live_style.stabilize import Stabilizer
from live_style.stats import StageTimes
from live_style.styles import style_files

END = object()
POLL_S = 0.1


def check_output(out: Path, source: Path, overwrite: bool) -> None:
    """Refuse outputs that cannot or should not be written, before any work starts."""
    if out.suffix.lower() not in CONTAINER_FORMATS:
        raise UserError(f"-o {out}: the extension picks the container; use one of {', '.join(CONTAINER_FORMATS)}")
    if not out.parent.is_dir():
        raise UserError(f"-o {out}: the folder {out.parent} does not exist; create it first")
    if out.exists() and out.resolve() == source.resolve():
        raise UserError(f"-o {out} is the input itself; give another name")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists; add --overwrite to replace it")


class Stage(threading.Thread):
    """A pipeline thread that remembers the exception it died of and stops the job with it."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._target_fn, self._job_stop = target, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as error:
            self.error = error
            self._job_stop.set()


class VideoJob:
    """One file through decode -> stylize (batched) -> upscale + encode."""

    def __init__(
        self,
        model: Stylizer,
        video: VideoFile,
        writer: VideoFileWriter,
        processing: tuple[int, int],
        output: tuple[int, int],
        batch: int,
        preserve_colors: bool = False,
        stabilize: bool = False,
    ):
        self.model, self.video, self.writer = model, video, writer
        self.processing, self.output, self.batch = processing, output, batch
        self.decoded: queue.Queue = queue.Queue(maxsize=2 * batch + 8)
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        self.stop = threading.Event()
        self.frames_done = 0
        self.times = StageTimes()
        self.preserve_colors = preserve_colors
        self.stabilizer = Stabilizer() if stabilize else None

    def _put(self, channel: queue.Queue, item: object) -> None:
        """Put, giving up when the job is stopped (so no thread hangs on a full queue)."""
        while not self.stop.is_set():
            try:
                channel.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def _get(self, channel: queue.Queue) -> object:
        """Get, or END once the job is stopped and nothing is left (so no thread hangs on an empty one)."""
        while True:
            try:
                return channel.get(timeout=POLL_S)
            except queue.Empty:
                if self.stop.is_set():
                    return END

    def _decode(self, with_audio: bool) -> None:
        try:
            started = time.perf_counter()
            for item in self.video.demux(with_audio):
                if isinstance(item, DecodedFrame):
                    decoded = time.perf_counter()
                    item = (item, resize_frames(item.image[None], *self.processing)[0])
                    self.times.add("decode", decoded - started)
                    self.times.add("preprocess", time.perf_counter() - decoded)
                self._put(self.decoded, item)
                started = time.perf_counter()
                if self.stop.is_set():
                    return
        finally:
            self._put(self.decoded, END)

    def _encode(self) -> None:
        height, width = self.output[1], self.output[0]
        while (item := self._get(self.encoded)) is not END:
            if isinstance(item, list):
                for frame, stylized in item:
                    started = time.perf_counter()
                    full = resize_frames(stylized[None], height, width)[0]
                    resized = time.perf_counter()
                    self.writer.write(full, frame.pts)
                    self.times.add("postprocess", resized - started)
                    self.times.add("encode", time.perf_counter() - resized)
            else:
                self.writer.add_audio(item)

    def run(self, vector: np.ndarray, strength: float, progress: tqdm, with_audio: bool) -> None:
        """Run to the end (or until interrupted); the writer is closed by the caller."""
        decoder = Stage("decode", lambda: self._decode(with_audio), self.stop)
        encoder = Stage("encode", self._encode, self.stop)
        decoder.start()
        encoder.start()
        try:
            self._stylize_all(vector, strength, progress)
            self._put(self.encoded, END)
            encoder.join()
        finally:
            self.stop.set()
            encoder.join()
            decoder.join()
        for stage in (decoder, encoder):
            if stage.error is not None:
                raise stage.error

    def _stylize_all(self, vector: np.ndarray, strength: float, progress: tqdm) -> None:
        """Audio packets pass straight on; frames go through the model `self.batch` at a time."""
        batch: list[tuple[DecodedFrame, np.ndarray]] = []
        while (item := self._get(self.decoded)) is not END:
            if not isinstance(item, tuple):
                self._put(self.encoded, item)
                continue
            if self.frames_done == 0 and not batch:  # the content's own style comes from the first frame
                vector = with_strength(self.model, vector, item[0].image, strength)
            batch.append(item)
            if len(batch) == self.batch:
                self._stylize_batch(batch, vector, progress)
                batch = []
        if batch and not self.stop.is_set():
            self._stylize_batch(batch, vector, progress)

    def _stylize_batch(self, batch: list[tuple[DecodedFrame, np.ndarray]], vector: np.ndarray, progress: tqdm) -> None:
        started = time.perf_counter()
        smalls = np.stack([small for _, small in batch])
        stylized = self.model.stylize(smalls, vector, preserve_colors=self.preserve_colors)
        if self.stabilizer is not None:
            stylized = [self.stabilizer(small, image) for small, image in zip(smalls, stylized, strict=True)]
        for _ in batch:
            self.times.add("stylize", (time.perf_counter() - started) / len(batch))
        self._put(self.encoded, [(frame, image) for (frame, _), image in zip(batch, stylized, strict=True)])
        self.frames_done += len(batch)
        progress.update(len(batch))


def output_size(model: Stylizer, video: VideoFile, first: tuple[int, int], args: argparse.Namespace) -> tuple:
    """(processing (h, w), output (w, h)): output at the input's size or the processing size, even."""
    height, width = first
    processing = model.processing_shape(height, width, args.size)
    if args.output_size == "processing":
        return processing, (processing[1], processing[0])
    return processing, (even(width), even(height))


def stylize_video(args: argparse.Namespace) -> int:
    """Check everything, open the model, run the job, rename the result into place."""
    source, out = Path(args.input), Path(args.output)
    check_output(out, source, args.overwrite)
    style_files(args.style)
    video = VideoFile(source)
    try:
        return run_job(args, video, out)
    finally:
        video.close()


def first_frame_shape(video: VideoFile) -> tuple[int, int]:
    """(height, width) of the first frame, upright (the stream is rewound afterwards)."""
    for item in video.demux(with_audio=False):
        video.container.seek(0)
        return item.image.shape[:2]
    raise UserError(f"{video.path} has no decodable video frame; re-encode the file")


def run_job(args: argparse.Namespace, video: VideoFile, out: Path) -> int:
    """Stylize into the partial file; rename it to OUT only when every frame is in."""
    model = open_model(args)
    vector = styles_vector(model, args)
    processing, size = output_size(model, video, first_frame_shape(video), args)
    with_audio = not args.no_audio and video.audio is not None
    partial = partial_path(out)
    writer = VideoFileWriter(partial, size, video.rate, video.time_base, video.audio if with_audio else None)
    job = VideoJob(model, video, writer, processing, size, args.batch, args.preserve_colors, args.stabilize)
    audio = "no audio" if not with_audio else ("audio copied" if writer.audio_copied else "audio re-encoded")
    print(
        f"{video.path} -> {out}: {size[0]}x{size[1]}, processing {processing[1]}x{processing[0]}, "
        f"{video.frame_count} frames at {float(video.rate):.3g} fps, {audio}",
        file=sys.stderr,
        flush=True,
    )
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    progress = tqdm(total=video.frame_count or None, unit="frame", disable=args.quiet, file=sys.stderr)
    try:
        job.run(vector, args.strength, progress, with_audio)
    except av.FFmpegError as error:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"cannot stylize {video.path} into {out} ({error}); check the file and free disk space"
        ) from None
    except KeyboardInterrupt:
        writer.close()
        print(
            f"\ninterrupted after {job.frames_done} of {video.frame_count} frames: {out} was not written; "
            f"the part done is in {partial}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        progress.close()
        signal.signal(signal.SIGTERM, previous)
    writer.close()
    partial.replace(out)
    print(f"wrote {out} ({job.frames_done} frames)", file=sys.stderr)
    return 0


def raise_interrupt(_signum: int, _frame) -> None:
    """SIGTERM stops a video job the way Ctrl+C does."""
    raise KeyboardInterrupt
