"""One segment of a video through decode -> stylize (batched) + person mask -> steady -> upscale + encode.

Decoding (PyAV, its own thread), inference (batches, the caller's thread) and upscaling + encoding
(its own thread) overlap through bounded queues; a failing stage stops the others. The frames
just outside the segment are stylized too, so its steadiness is warmed up across both ends, but
only the segment's own frames are encoded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from live_style.imaging import resize_frames
from live_style.media.animated import open_video
from live_style.media.decode import DecodedFrame, FrameIndex, VideoFile
from live_style.media.encode import VideoFileWriter
from live_style.model.segmenter import Segmenter, SegmenterFile
from live_style.model.stylizer import Stylizer
from live_style.pipeline.segments import Segment
from live_style.pipeline.stats import StageTimes
from live_style.pipeline.threads import END, Stage, get_unless_stopped, put_unless_stopped
from live_style.sinks import OutputFrame
from live_style.temporal.coherence import TwoWaySteadier
from live_style.temporal.masks import PersonLook, display_frame, with_mask


@dataclass(frozen=True)
class RenderSettings:
    """How every segment of one video is made; picklable, so Ray workers get it as it is."""

    processing: tuple[int, int]  # (h, w) the model sees
    output: tuple[int, int]  # (w, h) written
    vector: np.ndarray
    batch: int
    preserve_colors: bool
    stabilize: bool
    rate: Fraction
    time_base: Fraction
    person: PersonLook | None = None  # with the segmenter: the person and the room painted apart
    segmenter: SegmenterFile | None = None


@dataclass(frozen=True)
class SegmentTask:
    """A segment to render: where the video is, which frames (their timestamps from the warm-up on), how."""

    source: Path
    segment: Segment
    index: FrameIndex  # frames warm_first .. warm_stop - 1, timed from the segment's first: its file starts at 0
    settings: RenderSettings
    suffix: str  # the segment file's container


class SegmentJob:
    """One segment through decode -> stylize (batched) -> steady -> upscale + encode."""

    def __init__(
        self, model: Stylizer, video: VideoFile, task: SegmentTask, writer: VideoFileWriter, times: StageTimes
    ):
        self.model, self.video, self.task, self.writer, self.times = model, video, task, writer, times
        self.settings = task.settings
        self.decoded: queue.Queue = queue.Queue(maxsize=2 * self.settings.batch + 8)
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        self.stop = threading.Event()
        self.frames_done = 0
        self.steadier = TwoWaySteadier() if self.settings.stabilize else None
        self.segmenter = Segmenter(self.settings.segmenter) if self.settings.person is not None else None

    def _put(self, channel: queue.Queue, item: object) -> None:
        put_unless_stopped(channel, item, self.stop)

    def _get(self, channel: queue.Queue) -> object:
        return get_unless_stopped(channel, self.stop)

    def _decode(self) -> None:
        segment = self.task.segment
        first, stop = (segment.warm_first, segment.warm_stop) if self.steadier else (segment.first, segment.stop)
        pts = self.task.index.pts[first - segment.warm_first : stop - segment.warm_first]  # from warm_first
        try:
            started = time.perf_counter()
            for frame in self.video.frames_at(pts, first):
                decoded = time.perf_counter()
                small = resize_frames(frame.image[None], *self.settings.processing)[0]
                self.times.add("decode", decoded - started)
                self.times.add("preprocess", time.perf_counter() - decoded)
                self._put(self.decoded, (frame, small))  # waiting for the model is no stage's time
                started = time.perf_counter()
                if self.stop.is_set():
                    return
        finally:
            self._put(self.decoded, END)

    def _encode(self) -> None:
        width, height = self.settings.output
        look = self.settings.person
        segment = self.task.segment
        while (item := self._get(self.encoded)) is not END:
            for frame, stylized in item:
                if not segment.first <= frame.index < segment.stop:
                    continue  # warm-up only
                started = time.perf_counter()
                full = display_frame(frame.image, stylized, look, (height, width))
                resized = time.perf_counter()
                self.writer.write(OutputFrame(full, frame.time))
                self.times.add("postprocess", resized - started)
                self.times.add("encode", time.perf_counter() - resized)

    def run(self, progress: Callable[[int], None]) -> None:
        """Run to the end (or until interrupted); the writer is closed by the caller."""
        decoder = Stage("decode", self._decode, lambda _error: self.stop.set())
        encoder = Stage("encode", self._encode, lambda _error: self.stop.set())
        decoder.start()
        encoder.start()
        try:
            self._stylize_all(progress)
            self._put(self.encoded, END)
            encoder.join()
        finally:
            self.stop.set()
            encoder.join()
            decoder.join()
        for stage in (decoder, encoder):
            if stage.error is not None:
                raise stage.error

    def _stylize_all(self, progress: Callable[[int], None]) -> None:
        batch: list[tuple[DecodedFrame, np.ndarray]] = []
        while (item := self._get(self.decoded)) is not END:
            batch.append(item)
            if len(batch) == self.settings.batch:
                self._stylize_batch(batch, progress)
                batch = []
        if batch and not self.stop.is_set():
            self._stylize_batch(batch, progress)
        if self.steadier is not None and not self.stop.is_set():
            self._put(self.encoded, self.steadier.flush())

    def _stylize_batch(self, batch: list[tuple[DecodedFrame, np.ndarray]], progress: Callable[[int], None]) -> None:
        started = time.perf_counter()
        smalls = np.stack([small for _, small in batch])
        stylized = self.model.transfer(smalls, self.settings.vector, self.settings.preserve_colors)
        inferred = time.perf_counter()
        if self.segmenter is not None:
            stylized = [with_mask(image, self.segmenter(small)) for image, small in zip(stylized, smalls, strict=True)]
            self.times.add("person mask", (time.perf_counter() - inferred) / len(batch))
            inferred = time.perf_counter()
        if self.steadier is None:
            done = [(frame, image) for (frame, _), image in zip(batch, stylized, strict=True)]
        else:
            done = [
                ready
                for (frame, small), image in zip(batch, stylized, strict=True)
                for ready in self.steadier.push(frame, small, image)
            ]
        for _ in batch:
            self.times.add("stylize", (inferred - started) / len(batch))
            self.times.add("temporal", (time.perf_counter() - inferred) / len(batch))
        self._put(self.encoded, done)
        inside = sum(self.task.segment.first <= frame.index < self.task.segment.stop for frame, _ in batch)
        self.frames_done += inside
        progress(inside)


def render_segment(
    model: Stylizer,
    task: SegmentTask,
    target: Path,
    progress: Callable[[int], None],
    times: StageTimes | None = None,
) -> SegmentJob:
    """Render a segment into `target` (video only; the audio joins at the end). Returns the finished job."""
    video = open_video(task.source)
    video.use_index(task.index)
    try:
        writer = VideoFileWriter(target, task.settings.output, task.settings.rate, task.settings.time_base, None)
        try:
            job = SegmentJob(model, video, task, writer, times or StageTimes())
            job.run(progress)
        finally:
            writer.close()
    finally:
        video.close()
    return job
