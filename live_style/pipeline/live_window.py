"""The live window's front-end and sink: the newest finished frame shown with its HUD, hotkeys, snapshots.

The pipeline's threads write frames to it (newest wins); its loop in the main thread shows them.
The CLI attaches it; the studio and the bench run the live pipeline without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from live_style.imaging import write_image
from live_style.pipeline.live import StopReason
from live_style.sinks import OutputFrame
from live_style.sinks.window import Window, compose_view

if TYPE_CHECKING:
    from live_style.pipeline.live import LivePipeline
    from live_style.sinks.recording import Recording


class WindowFrontEnd:
    """Shows the pipeline's frames until it stops; a key, a closed window or q stops it from here."""

    name = "window"

    def __init__(self, snapshot_dir: Path, recording: Recording | None, say: Callable[[str], None]):
        self.snapshot_dir, self.recording, self.say = snapshot_dir, recording, say
        self.error: Exception | None = None
        self._newest: OutputFrame | None = None
        self._lock = threading.Lock()

    def write(self, frame: OutputFrame) -> None:
        """Make the frame the next one shown (newest wins; called from the pipeline's threads)."""
        with self._lock:
            self._newest = frame

    def close(self) -> None:
        """Nothing to finish: the window closes when its loop ends."""

    def __call__(self, pipeline: LivePipeline) -> None:
        window = Window()
        shown: OutputFrame | None = None
        try:
            while not pipeline.wait_stopped(0.01):
                with self._lock:
                    frame, self._newest = self._newest, None
                if frame is not None:
                    shown = frame
                    self._render(window, pipeline, frame)
                key = window.key()
                if key is not None:
                    self._on_key(pipeline, key, shown)
                if window.closed():
                    pipeline.request_stop(StopReason.WINDOW_CLOSED)
        finally:
            window.close()

    def _render(self, window: Window, pipeline: LivePipeline, frame: OutputFrame) -> None:
        started = time.perf_counter()
        image = compose_view(frame.original, frame.image, pipeline.controls.view)
        window.show(image, self.hud(pipeline), pipeline.controls.show_help)
        pipeline.times.add("render", time.perf_counter() - started)

    def hud(self, pipeline: LivePipeline) -> str:
        """FPS, latency, style, strength, processing size, person mask, recording (or why it failed)."""
        controls = pipeline.controls
        height, width = pipeline.processing
        parts = [
            f"{pipeline.output_rate.rate:4.1f} fps",
            f"{pipeline.times.median('latency'):4.0f} ms",
            pipeline.style_shown,
            f"strength {controls.strength:.1f}",
            f"{width}x{height}" + (" auto" if controls.auto_size else ""),
        ]
        if controls.person != "off":
            parts.append(f"person: {pipeline.person_state()}")
        if self.recording is not None and self.recording.error is not None:
            parts.append(f"REC FAILED: {self.recording.error.reason}")
        elif self.recording is not None and self.recording.running:
            parts.append("REC")
        return " | ".join([*parts, "h: help"])

    def _on_key(self, pipeline: LivePipeline, key: str, shown: OutputFrame | None) -> None:
        action = pipeline.controls.handle_key(key)
        if action == "quit":
            pipeline.request_stop(StopReason.QUIT)
        elif action == "snapshot" and shown is not None:
            path = self.snapshot_dir / f"live-style-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
            write_image(path, shown.image)
            self.say(f"snapshot {path}")
