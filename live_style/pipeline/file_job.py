"""The file job: every frame of a video through decode -> stylize (batched) -> upscale + encode.

Decoding (PyAV, its own thread), inference (batches, the caller's thread) and upscaling + encoding
(its own thread) overlap through bounded queues; a failing stage stops the others.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
from tqdm import tqdm

from live_style.imaging import resize_frames
from live_style.model.stylizer import Stylizer
from live_style.pipeline.stats import StageTimes
from live_style.pipeline.threads import END, Stage, get_unless_stopped, put_unless_stopped
from live_style.sinks.video_file import VideoFileWriter
from live_style.sources.video_file import DecodedFrame, VideoFile
from live_style.styles import with_strength
from live_style.temporal.coherence import TwoWaySteadier


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
        stabilize: bool = True,
    ):
        self.model, self.video, self.writer = model, video, writer
        self.processing, self.output, self.batch = processing, output, batch
        self.decoded: queue.Queue = queue.Queue(maxsize=2 * batch + 8)
        self.encoded: queue.Queue = queue.Queue(maxsize=4)
        self.stop = threading.Event()
        self.frames_done = 0
        self.times = StageTimes()
        self.preserve_colors = preserve_colors
        self.steadier = TwoWaySteadier() if stabilize else None

    def _put(self, channel: queue.Queue, item: object) -> None:
        put_unless_stopped(channel, item, self.stop)

    def _get(self, channel: queue.Queue) -> object:
        return get_unless_stopped(channel, self.stop)

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
        if self.steadier is not None and not self.stop.is_set():
            self._put(self.encoded, self.steadier.flush())

    def _stylize_batch(self, batch: list[tuple[DecodedFrame, np.ndarray]], vector: np.ndarray, progress: tqdm) -> None:
        started = time.perf_counter()
        smalls = np.stack([small for _, small in batch])
        stylized = self.model.stylize(smalls, vector, preserve_colors=self.preserve_colors)
        inferred = time.perf_counter()
        done = [(frame, image) for (frame, _), image in zip(batch, stylized, strict=True)]
        if self.steadier is not None:
            done = [
                ready
                for (frame, small), image in zip(batch, stylized, strict=True)
                for ready in self.steadier.push(frame, small, image)
            ]
        for _ in batch:
            self.times.add("stylize", (inferred - started) / len(batch))
            self.times.add("temporal", (time.perf_counter() - inferred) / len(batch))
        self._put(self.encoded, done)
        self.frames_done += len(batch)
        progress.update(len(batch))
