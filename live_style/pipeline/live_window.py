"""The live window's front-end (the main thread's loop): the newest stylized frame with its HUD, hotkeys,
snapshots. The CLI attaches it; the studio and the bench run the live pipeline without it."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

from live_style.imaging import write_image
from live_style.sinks.window import Window, compose_view

if TYPE_CHECKING:
    from live_style.pipeline.live import LivePipeline, Stylized


class WindowFrontEnd:
    """Shows the pipeline's frames until it stops; a key, a closed window or q stops it from here."""

    def __init__(self, pipeline: LivePipeline):
        self.pipeline = pipeline
        self.controls = pipeline.controls

    def run(self) -> None:
        window = Window()
        shown: Stylized | None = None
        try:
            while not self.pipeline.wait_stopped(0):
                result = self.pipeline.take_latest(timeout=0.01)
                if result is not None:
                    shown = result
                    self._render(window, result)
                key = window.key()
                if key is not None:
                    self._on_key(key, shown)
                if window.closed():
                    self.pipeline.request_stop("window closed")
        finally:
            window.close()

    def _render(self, window: Window, result: Stylized) -> None:
        times = self.pipeline.times
        started = time.perf_counter()
        image = compose_view(result.frame.image, result.image, self.controls.view)
        window.show(image, self.hud(result), self.controls.show_help)
        times.add("render", time.perf_counter() - started)
        times.add("latency", time.monotonic() - result.frame.captured_at)

    def hud(self, result: Stylized) -> str:
        """FPS, latency, style, strength, processing size, person mask, recording."""
        height, width = result.processing
        parts = [
            f"{self.pipeline.output_rate.rate:4.1f} fps",
            f"{self.pipeline.times.median('latency'):4.0f} ms",
            result.style,
            f"strength {self.controls.strength:.1f}",
            f"{width}x{height}" + (" auto" if self.controls.auto_size else ""),
        ]
        if self.controls.person != "off":
            parts.append(f"person: {self.pipeline.person_state()}")
        if self.pipeline.recording_now:
            parts.append("REC")
        return " | ".join([*parts, "h: help"])

    def _on_key(self, key: str, shown: Stylized | None) -> None:
        action = self.controls.handle_key(key)
        if action == "quit":
            self.pipeline.request_stop("quit")
        elif action == "snapshot" and shown is not None:
            path = self.pipeline.options.snapshot_dir / f"live-style-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
            write_image(path, shown.image)
            print(f"snapshot {path}", file=sys.stderr)
