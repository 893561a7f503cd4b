"""The live loop: source -> downscale -> stylize -> person mask -> steady -> upscale -> window and recording.

Capture (which also downscales to the processing size) and recording run in their own threads, the
model in a worker thread that only stylizes, steadying and upscaling in a finishing thread behind
it, the window (or the headless progress line) in the main thread, so everything else overlaps
inference.
Every way of stopping (q, a closed window, Ctrl+C, SIGTERM, end of input, a lost camera) goes
through `request_stop`, and the recording is finalized on each.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from live_style.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, UserError
from live_style.imaging import resize_frames
from live_style.model.segmenter import PersonMasker, SegmenterSupply
from live_style.model.stylizer import Stylizer
from live_style.pipeline.auto_size import AutoSize
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live_console import print_report, run_console
from live_style.pipeline.live_window import WindowFrontEnd
from live_style.pipeline.stats import RateMeter, StageTimes
from live_style.pipeline.threads import END, get_unless_stopped, put_unless_stopped, stop_signals_call
from live_style.sinks import Sink
from live_style.sinks.recorder import VideoRecorder
from live_style.sources.capture import Frame, VideoSource
from live_style.styles import StyleBank, StyleMixer
from live_style.temporal.coherence import Steadier
from live_style.temporal.interpolate import Interpolator
from live_style.temporal.masks import display_frame, with_mask

log = logging.getLogger(__name__)
STOP_SIGNALS = {
    signal.SIGINT: ("interrupted (Ctrl+C)", EXIT_INTERRUPTED),
    signal.SIGTERM: ("terminated", EXIT_TERMINATED),
}


@dataclass
class LiveOptions:
    """How a live session runs and ends."""

    record: Path | None = None
    window: bool = True
    max_frames: int | None = None
    duration: float | None = None
    snapshot_dir: Path = Path()
    interpolate: bool = False
    progress: bool = True  # headless: a progress line every few seconds and a report at the end


@dataclass
class Stylized:
    """A stylized frame at the source's size, with what made it."""

    frame: Frame
    image: np.ndarray
    style: str
    processing: tuple[int, int]


@dataclass
class Inferred:
    """A frame fresh from the model, at the processing size, on its way to the finishing thread."""

    frame: Frame
    small: np.ndarray
    out: np.ndarray
    style: str
    person: str
    model_ms: float


class LivePipeline:
    """Runs one live session; `run()` returns the exit code."""

    def __init__(
        self,
        model: Stylizer,
        source: VideoSource,
        bank: StyleBank,
        controls: LiveControls,
        options: LiveOptions,
        sinks: Sequence[Sink] = (),
        segmenter: SegmenterSupply | None = None,
    ):
        self.model, self.source, self.bank, self.controls, self.options = model, source, bank, controls, options
        self.sinks = list(sinks)
        self.segmenter = segmenter
        self._masker = PersonMasker(segmenter) if segmenter is not None else None
        self.controls.recording = options.record is not None
        self.times = StageTimes()
        self.output_rate = RateMeter()
        self.frames_done = 0
        self.frames_interpolated = 0
        self.frames_shown = 0
        self.processing: tuple[int, int] | None = None  # (height, width) of the newest frame shown
        self.stop_reason: str | None = None
        self.exit_code = 0
        self.error: BaseException | None = None
        self.recordings: list[Path] = []
        self._stop = threading.Event()
        self._latest: Stylized | None = None
        self._latest_ready = threading.Condition()
        self._inferred: queue.Queue[Inferred | object] = queue.Queue(maxsize=1)
        self._recorder: VideoRecorder | None = None
        self._steadier: Steadier | None = None
        self._interpolator = Interpolator() if options.interpolate else None
        self._between: deque[Frame] = deque(maxlen=1)  # the newest captured frame, for the interpolator
        self._between_ready = threading.Condition()
        self._publish_lock = threading.Lock()
        self._published_index = -1
        self._mixer = StyleMixer(bank, controls, model.style_vector)
        self._auto_size: AutoSize | None = None
        self._started = time.monotonic()

    def request_stop(self, reason: str, exit_code: int = 0) -> None:
        """Stop the session (the first reason given wins)."""
        if not self._stop.is_set():
            self.stop_reason, self.exit_code = reason, exit_code
            self._stop.set()
            for condition in (self._latest_ready, self._between_ready):
                with condition:
                    condition.notify_all()

    def run(self) -> int:
        """Run until something stops the session; finalize everything; return the exit code.

        In the main thread Ctrl+C and SIGTERM stop it; elsewhere (a server's session) its owner does.
        """
        workers = [
            threading.Thread(target=self._model_loop, name="stylize", daemon=True),
            threading.Thread(target=self._finish_loop, name="finish", daemon=True),
        ]
        self.source.prepare_with(self._downscale)
        if self._interpolator is not None:
            self.source.subscribe(self._offer_between)
            workers.append(threading.Thread(target=self._interpolate_loop, name="interpolate", daemon=True))
        with stop_signals_call(self._on_signal):
            try:
                self._warm_up()
                self.source.start()
                for worker in workers:
                    worker.start()
                WindowFrontEnd(self).run() if self.options.window else run_console(self)
            finally:
                self.request_stop("stopped")
                self.source.close()
                for worker in workers:
                    if worker.is_alive():
                        worker.join()
                self._close_sinks()
                self._finish_recording(self.source.last_pts + 1.0 / self.source.fps)
        if self.options.progress:
            print_report(self)
        if isinstance(self.error, UserError):
            raise self.error
        if self.error is not None:
            raise RuntimeError(f"the model thread failed: {self.error!r}") from self.error
        return self.exit_code

    def _close_sinks(self) -> None:
        """Close every sink; one that failed after the last frame still ends the session with its error."""
        for sink in self.sinks:
            sink.close()
            if sink.error is not None and self.error is None:
                self.error = UserError(f"the {sink.name} stopped ({sink.error})")

    def _fail(self, error: BaseException) -> None:
        """Remember what stopped a worker thread and stop the session with it (surfaced by run())."""
        if self.error is None:
            self.error = error
        if isinstance(error, UserError):
            self.request_stop(str(error), error.exit_code)
        else:
            self.request_stop("error", 1)

    def _on_signal(self, signum: int, _frame) -> None:
        self.request_stop(*STOP_SIGNALS[signal.Signals(signum)])

    def _warm_up(self) -> None:
        """Compile for the source's frame size before the first frame is due, so none is dropped."""
        width, height = self.source.size
        if width and height:
            shape = self.model.processing_shape(height, width, self.controls.size)
            self.model.stylize(np.zeros((*shape, 3), np.uint8), self.bank.vectors[self.controls.style_index])

    # --- the model thread -------------------------------------------------------------------
    def _model_loop(self) -> None:
        """Stylize the newest (already downscaled) frame, over and over; the finishing thread takes it from there."""
        try:
            while not self._stop.is_set():
                waited = time.perf_counter()
                frame = self.source.next_frame()
                self.times.add("wait for frame", time.perf_counter() - waited)
                if frame is None:
                    break
                put_unless_stopped(self._inferred, self._infer(frame), self._stop)
        except BaseException as error:  # surfaced by run() after the recording is finalized
            self._fail(error)
        finally:
            put_unless_stopped(self._inferred, END, self._stop)

    def _finish_loop(self) -> None:
        """Steady, upscale and publish the model's frames in order; the end of input stops the session."""
        try:
            while (inferred := get_unless_stopped(self._inferred, self._stop)) is not END:
                started = time.perf_counter()
                result = self._finish(inferred)
                self._adjust_size(inferred, 1000.0 * (time.perf_counter() - started))
                self.frames_done += 1
                if result is not None:
                    self._publish(result)
                self._check_limits()
            self.request_stop("end of input")
        except BaseException as error:
            self._fail(error)

    def _adjust_size(self, inferred: Inferred, finish_ms: float) -> None:
        """--size auto: the measured frame goes to the size controller, which may pick another size."""
        if not self.controls.auto_size:
            self._auto_size = None
            return
        if self._auto_size is None:
            height, width = inferred.frame.image.shape[:2]
            pixels = lambda size: int(np.prod(self.model.processing_shape(height, width, size)))  # noqa: E731
            self._auto_size = AutoSize(self.controls.size, self.source.fps, pixels)
        size = self._auto_size.observe(inferred.model_ms, finish_ms, time.monotonic())
        if size is not None:
            busiest = max(inferred.model_ms, finish_ms)
            log.info("--size auto: %d (the busier thread took %.0f ms a frame)", size, busiest)
            self.controls.size = size

    def _downscale(self, frame: Frame) -> Frame:
        """The frame with its copy at the processing size (run by the capture thread, off the model's)."""
        started = time.perf_counter()
        frame = replace(frame, small=self._small(frame))
        self.times.add("preprocess", time.perf_counter() - started)
        return frame

    def _small(self, frame: Frame) -> np.ndarray:
        """The frame at the processing size: the capture thread's copy unless the size changed since."""
        shape = self.model.processing_shape(*frame.image.shape[:2], self.controls.size)
        if frame.small is not None and frame.small.shape[:2] == shape:
            return frame.small
        return resize_frames(frame.image[None], *shape)[0]

    def _infer(self, frame: Frame) -> Inferred:
        """Stylize one frame (the model thread's whole job)."""
        small = self._small(frame)
        started = time.perf_counter()
        out = self.model.stylize(
            small[None],
            self._mixer.vector(frame.image, time.monotonic()),
            preserve_colors=self.controls.preserve_colors,
        )
        spent = time.perf_counter() - started
        self.times.add("stylize", spent)
        style = self.bank.names[self.controls.style_index]
        return Inferred(frame, small, out[0], style, self.controls.person, 1000.0 * spent)

    def _finish(self, inferred: Inferred) -> Stylized | None:
        """Steady and upscale back to the source's size.

        None (no upscale) when in-between frames already overtook this one: it only becomes the new key.
        """
        started = time.perf_counter()
        small, out = inferred.small, self._with_person_mask(inferred)
        steadier = self._current_steadier()
        if steadier is not None:
            out = steadier(small, out)
        if self._interpolator is not None:
            self._interpolator.set_key(small, out)
        steadied = time.perf_counter()
        self.times.add("temporal", steadied - started)
        frame = inferred.frame
        if frame.index <= self._published_index:
            return None
        full = display_frame(frame.image, out, self.controls.person_look)
        self.times.add("postprocess", time.perf_counter() - steadied)
        return Stylized(frame, full, inferred.style, small.shape[:2])

    def _with_person_mask(self, inferred: Inferred) -> np.ndarray:
        """The model's output with the person mask as a fourth channel while a person mode is on."""
        if inferred.person == "off" or self._masker is None:
            return inferred.out
        started = time.perf_counter()
        mask = self._masker(inferred.small)
        self.times.add("person mask", time.perf_counter() - started)
        return inferred.out if mask is None else with_mask(inferred.out, mask)

    def _current_steadier(self) -> Steadier | None:
        """The steadier while steadiness is on (a fresh one each time it is switched back on)."""
        if not self.controls.stabilize:
            self._steadier = None
        elif self._steadier is None:
            self._steadier = Steadier()
        return self._steadier

    def _publish(self, result: Stylized) -> bool:
        """Hand the result to the window (newest only) and to the recording, in capture order.

        A result older than one already shown (a model frame overtaken by in-between frames) is not
        shown again; returns whether it was.
        """
        with self._publish_lock:
            if result.frame.index <= self._published_index:
                return False
            self._published_index = result.frame.index
            self.frames_shown += 1
            self.processing = result.processing
            self._update_recorder(result)
            for sink in (self._recorder, *self.sinks):
                if sink is not None:
                    sink.submit(result.frame.pts, result.image)
            self.output_rate.tick()
        with self._latest_ready:
            self._latest = result
            self._latest_ready.notify_all()
        if not self.options.window:
            self.times.add("latency", time.monotonic() - result.frame.captured_at)
        return True

    # --- the interpolation thread (--interpolate) ----------------------------------------------
    def _offer_between(self, frame: Frame) -> None:
        """Called by the capture thread for every frame: keep the newest for the interpolator."""
        with self._between_ready:
            self._between.append(frame)
            self._between_ready.notify_all()

    def _interpolate_loop(self) -> None:
        """Warp the last stylized frame onto every newer captured frame the model skips.

        The newest key is always the one warped, so a model frame overtaken by in-between frames is not
        shown late (that would step back in time); its style reaches the next in-between frames.
        """
        try:
            self._interpolate_until_stopped()
        except BaseException as error:
            self._fail(error)

    def _interpolate_until_stopped(self) -> None:
        while not self._stop.is_set():
            with self._between_ready:
                self._between_ready.wait_for(lambda: self._between or self._stop.is_set())
                if self._stop.is_set():
                    return
                frame = self._between.popleft()
            if frame.index <= self._published_index:
                continue
            started = time.perf_counter()
            small = self._small(frame)
            between = self._interpolator.between(small)
            if between is None:
                continue
            full = display_frame(frame.image, between, self.controls.person_look)
            self.times.add("interpolate", time.perf_counter() - started)
            if self._publish(Stylized(frame, full, self.bank.names[self.controls.style_index], small.shape[:2])):
                self.frames_interpolated += 1

    def _check_limits(self) -> None:
        if self.options.max_frames and self.frames_done >= self.options.max_frames:
            self.request_stop(f"{self.frames_done} frames done")
        elif self.options.duration and time.monotonic() - self._started >= self.options.duration:
            self.request_stop(f"{self.options.duration:g} s elapsed")

    # --- recording (started and stopped in the model thread, which feeds it) -----------------
    def _update_recorder(self, result: Stylized) -> None:
        if self.controls.recording and self._recorder is None:
            path = self.options.record or Path(f"live-style-{datetime.now():%Y%m%d-%H%M%S}.mp4")
            height, width = result.image.shape[:2]
            # from the session's start, the recording covers the source from its first frame, even if
            # the model skipped it
            origin = self.source.first_pts if self.frames_shown == 1 else result.frame.pts
            self._recorder = VideoRecorder(path, self.source.fps, (width, height), origin)
            print(f"recording to {path}", file=sys.stderr, flush=True)
        elif not self.controls.recording and self._recorder is not None:
            self._finish_recording(result.frame.pts)

    def _finish_recording(self, end_pts: float) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        path = recorder.close(end_pts)
        if path is None:
            print(f"nothing was recorded to {recorder.path}", file=sys.stderr)
            return
        self.recordings.append(path)
        seconds = recorder.written / recorder.fps
        print(
            f"saved {path}: {recorder.written} frames, {seconds:.1f} s at {recorder.fps:g} fps"
            + (f", {recorder.dropped} dropped by a slow disk" if recorder.dropped else ""),
            file=sys.stderr,
        )

    # --- what the front-ends (live_window.py, live_console.py) read -----------------------------
    def take_latest(self, timeout: float) -> Stylized | None:
        """The newest result not taken yet (waits up to `timeout`; None if there is none or the session stopped)."""
        with self._latest_ready:
            self._latest_ready.wait_for(lambda: self._latest is not None or self._stop.is_set(), timeout)
            result, self._latest = self._latest, None
            return result

    def wait_stopped(self, timeout: float) -> bool:
        """True once the session stops (waits up to `timeout`)."""
        return self._stop.wait(timeout)

    @property
    def recording_now(self) -> bool:
        return self._recorder is not None

    @property
    def interpolating(self) -> bool:
        return self._interpolator is not None

    def person_state(self) -> str:
        """'off', 'keep', 'only', or why there is no mask yet ('loading', 'unavailable')."""
        if self.controls.person == "off":
            return "off"
        if self.segmenter is None or self.segmenter.error:
            return "unavailable"
        return self.controls.person if self.segmenter.file() is not None else "loading"
