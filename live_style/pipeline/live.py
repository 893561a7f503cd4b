"""The live engine: source -> downscale -> stylize -> person mask -> steady -> upscale -> sinks.

Capture (which also downscales to the processing size) runs in its own thread, the model in a
worker thread that only stylizes, steadying and upscaling in a finishing thread behind it, so
everything else overlaps inference. Finished frames go, in capture order, to the sinks (window,
recording, virtual camera, browser); a front-end (the window's loop, the console) holds the main
thread until the session stops. Every way of stopping (q, a closed window, Ctrl+C, SIGTERM, end of
input, a lost camera) goes through `request_stop`, and every sink is closed on each. A sink that fails
is seen after the frame it failed on: said at once and written no more; the session stops there only
when no sink is left to take the frames, and ends with the sink's error either way.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from live_style.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, UserError
from live_style.imaging import resize_frames
from live_style.model.segmenter import PersonMasker, SegmenterSupply
from live_style.model.shared import LiveModel
from live_style.pipeline.auto_size import LiveAutoSize
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live_between import InBetween
from live_style.pipeline.live_console import wait_for_stop
from live_style.pipeline.stats import RateMeter, StageTimes
from live_style.pipeline.threads import END, Stage, get_unless_stopped, put_unless_stopped, stop_signals_call
from live_style.sinks import OutputFrame, Sink
from live_style.sources.capture import Frame, VideoSource
from live_style.styles import StyleBank, StyleMixer
from live_style.temporal.coherence import Steadier
from live_style.temporal.masks import display_frame, with_mask

log = logging.getLogger(__name__)
FrontEnd = Callable[["LivePipeline"], None]  # holds the main thread until the session stops


class StopReason(Enum):
    """Why a live session stopped; the value is what its report says, unless the stop says more."""

    STOPPED = "stopped"  # its owner stopped it (the server, a browser's session closing)
    QUIT = "quit"
    WINDOW_CLOSED = "window closed"
    INTERRUPTED = "interrupted (Ctrl+C)"
    TERMINATED = "terminated"
    END_OF_INPUT = "end of input"
    LIMIT = "limit reached"  # --max-frames or --duration, said with the count
    FAILED = "error"  # a thread, or the last sink, failed: said with the error when the user can act on it


STOP_SIGNALS = {
    signal.SIGINT: (StopReason.INTERRUPTED, EXIT_INTERRUPTED),
    signal.SIGTERM: (StopReason.TERMINATED, EXIT_TERMINATED),
}


@dataclass
class LiveOptions:
    """When a live session ends by itself, and whether it makes in-between frames."""

    max_frames: int | None = None
    duration: float | None = None
    interpolate: bool = False


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
        model: LiveModel,
        source: VideoSource,
        bank: StyleBank,
        controls: LiveControls,
        options: LiveOptions,
        sinks: Sequence[Sink] = (),
        segmenter: SegmenterSupply | None = None,
        report: Callable[[str], None] = log.warning,
    ):
        """`report` is told at once what the user should know while it runs (a sink that failed)."""
        self.model, self.source, self.bank, self.controls, self.options = model, source, bank, controls, options
        self.sinks = list(sinks)
        self.report = report
        self._writing = list(sinks)
        self.segmenter = segmenter
        self._masker = PersonMasker(segmenter) if segmenter is not None else None
        self.times = StageTimes()
        self.output_rate = RateMeter()
        self.frames_done = 0
        self.frames_shown = 0
        self.processing: tuple[int, int] | None = None  # (height, width) of the newest frame shown
        self.style_shown = ""  # the style of the newest frame shown
        self.stop_reason: StopReason | None = None
        self.stop_text: str | None = None  # what the report says
        self.exit_code = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._inferred: queue.Queue[Inferred | object] = queue.Queue(maxsize=1)
        self._steadier: Steadier | None = None
        self._between = InBetween(self._stop, self.times) if options.interpolate else None
        self._publish_lock = threading.Lock()
        self._published_index = -1
        self._mixer = StyleMixer(bank, controls, model.style_vector)
        self._auto_size = LiveAutoSize(controls, model, source.fps)
        self._started = time.monotonic()

    @property
    def failed(self) -> list[Sink]:
        """The sinks that failed, no longer written."""
        return [sink for sink in self.sinks if sink not in self._writing]

    @property
    def frames_interpolated(self) -> int:
        return self._between.made if self._between is not None else 0

    @property
    def interpolating(self) -> bool:
        return self._between is not None

    def request_stop(self, reason: StopReason, exit_code: int = 0, text: str | None = None) -> None:
        """Stop the session (the first reason given wins); `text` says more than the reason's own words."""
        if not self._stop.is_set():
            self.stop_reason, self.stop_text, self.exit_code = reason, text or reason.value, exit_code
            self._stop.set()
            if self._between is not None:
                self._between.wake()

    def wait_stopped(self, timeout: float) -> bool:
        """True once the session stops (waits up to `timeout`)."""
        return self._stop.wait(timeout)

    def run(self, front_end: FrontEnd = wait_for_stop) -> int:
        """Run until something stops the session, `front_end` holding this thread; close every sink; the exit code.

        In the main thread Ctrl+C and SIGTERM stop it; elsewhere (a server's session) its owner does.
        """
        workers = [Stage("stylize", self._model_loop, self._fail), Stage("finish", self._finish_loop, self._fail)]
        self.source.prepare_with(self._downscale)
        if self._between is not None:
            self.source.subscribe(self._between.offer)
            between = lambda: self._between.run(self._small, self._publish_between, self._last_index)  # noqa: E731
            workers.append(Stage("interpolate", between, self._fail))
        with stop_signals_call(self._on_signal):
            try:
                self._warm_up()
                self.source.start()
                for worker in workers:
                    worker.start()
                front_end(self)
            finally:
                self.request_stop(StopReason.STOPPED)
                self.source.close()
                for worker in workers:
                    if worker.is_alive():
                        worker.join()
                self._close_sinks()
        if isinstance(self.error, UserError):
            raise self.error
        if self.error is not None:
            raise RuntimeError(f"the model thread failed: {self.error!r}") from self.error
        return self.exit_code

    def run_to_end(self) -> str:
        """Run in this thread (a server's session); why it ended: its stop reason, or the error that stopped it."""
        try:
            self.run()
            return self.stop_text
        except UserError as error:
            return str(error)
        except Exception as error:  # the model failed: end this session, keep the server
            return f"the model failed ({error!r})"

    def _close_sinks(self) -> None:
        """Close every sink; one that failed (after the last frame too) ends the session with its error."""
        for sink in self.sinks:
            try:
                sink.close()
            except UserError as error:
                self.error = self.error or error
            if sink.error is not None and self.error is None:
                self.error = sink_failure(sink)

    def _fail(self, error: BaseException) -> None:
        """What stopped a worker thread is remembered and stops the session (surfaced by run())."""
        self.error = self.error or error
        if isinstance(error, UserError):
            self.request_stop(StopReason.FAILED, error.exit_code, str(error))
        else:
            self.request_stop(StopReason.FAILED, 1)

    def _sink_failed(self, sink: Sink) -> None:
        """A sink whose `error` is set is written no more: said at once while others take the frames, else the
        session's error."""
        self._writing.remove(sink)
        failure = sink_failure(sink)
        if self._writing:
            self.report(f"{failure}; going on without the {sink.name}")
        else:
            self._fail(failure)

    def _on_signal(self, signum: int, _frame) -> None:
        self.request_stop(*STOP_SIGNALS[signal.Signals(signum)])

    def _warm_up(self) -> None:
        """Compile for the source's frame size before the first frame is due, so none is dropped."""
        width, height = self.source.size
        if width and height:
            shape = self.model.processing_shape(height, width, self.controls.size)
            self.model.transfer(np.zeros((1, *shape, 3), np.uint8), self.bank.vectors[self.controls.style_index])

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
        finally:
            put_unless_stopped(self._inferred, END, self._stop)

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
        out = self.model.transfer(
            small[None],
            self._mixer.vector(frame.image, time.monotonic()),
            preserve_colors=self.controls.preserve_colors,
        )
        spent = time.perf_counter() - started
        self.times.add("stylize", spent)
        style = self.bank.names[self.controls.style_index]
        return Inferred(frame, small, out[0], style, self.controls.person, 1000.0 * spent)

    # --- the finishing thread ------------------------------------------------------------------
    def _finish_loop(self) -> None:
        """Steady, upscale and publish the model's frames in order; the end of input stops the session."""
        while (inferred := get_unless_stopped(self._inferred, self._stop)) is not END:
            started = time.perf_counter()
            self._finish(inferred)
            self._auto_size.observe(inferred, 1000.0 * (time.perf_counter() - started))
            self.frames_done += 1
            self._check_limits()
        self.request_stop(StopReason.END_OF_INPUT)

    def _finish(self, inferred: Inferred) -> None:
        """Steady, upscale back to the source's size and publish.

        No upscale when in-between frames already overtook this one: it only becomes the new key.
        """
        started = time.perf_counter()
        small, out = inferred.small, self._with_person_mask(inferred)
        steadier = self._current_steadier()
        if steadier is not None:
            out = steadier(small, out)
        if self._between is not None:
            self._between.interpolator.set_key(small, out)
        steadied = time.perf_counter()
        self.times.add("temporal", steadied - started)
        if inferred.frame.index <= self._published_index:
            return
        full = display_frame(inferred.frame.image, out, self.controls.person_look)
        self.times.add("postprocess", time.perf_counter() - steadied)
        self._publish(inferred.frame, full, inferred.style, small.shape[:2])

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

    def _publish_between(self, frame: Frame, between: np.ndarray, processing: tuple[int, int]) -> bool:
        """An in-between frame, upscaled and published with the current style."""
        full = display_frame(frame.image, between, self.controls.person_look)
        return self._publish(frame, full, self.bank.names[self.controls.style_index], processing)

    def _last_index(self) -> int:
        return self._published_index

    def _publish(self, frame: Frame, image: np.ndarray, style: str, processing: tuple[int, int]) -> bool:
        """Hand a finished frame to every sink, in capture order.

        A frame older than one already shown (a model frame overtaken by in-between frames) is not
        shown again; returns whether it was.
        """
        with self._publish_lock:
            if frame.index <= self._published_index:
                return False
            self._published_index = frame.index
            self.frames_shown += 1
            self.processing, self.style_shown = processing, style
            finished = OutputFrame(image, frame.pts, frame.image, frame.captured_at)
            for sink in list(self._writing):
                sink.write(finished)
                if sink.error is not None:
                    self._sink_failed(sink)
            self.output_rate.tick()
        self.times.add("latency", time.monotonic() - frame.captured_at)
        return True

    def _check_limits(self) -> None:
        if self.options.max_frames and self.frames_done >= self.options.max_frames:
            self.request_stop(StopReason.LIMIT, text=f"{self.frames_done} frames done")
        elif self.options.duration and time.monotonic() - self._started >= self.options.duration:
            self.request_stop(StopReason.LIMIT, text=f"{self.options.duration:g} s elapsed")

    def person_state(self) -> str:
        """The person mode as it is (see SegmenterSupply.state); 'unavailable' without a segmenter."""
        mode = self.controls.person
        return self.segmenter.state(mode) if self.segmenter else ("off" if mode == "off" else "unavailable")


def sink_failure(sink: Sink) -> UserError:
    """A failed sink's error as the user reads it (one line)."""
    error = sink.error
    return error if isinstance(error, UserError) else UserError(f"the {sink.name} stopped ({error})")
