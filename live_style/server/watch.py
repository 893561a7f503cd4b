"""Watch mode: the server's own camera or stream through one live pipeline, shown to (and steered by) every
session."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live import LivePipeline, StopReason
from live_style.server.styleset import StyleSet
from live_style.sinks import OutputFrame
from live_style.sinks.browser import FrameFeed
from live_style.sources.capture import VideoSource
from live_style.styles import StyleBank

log = logging.getLogger(__name__)
PipelineMaker = Callable[[VideoSource, LiveControls, StyleBank, FrameFeed], LivePipeline]


class Watch:
    """The server's source stylized once; every session gets its two feeds (stylized, original) and its controls."""

    def __init__(
        self,
        controls: LiveControls,
        styles: StyleSet,
        make_pipeline: PipelineMaker,
        source: VideoSource,
        loop: asyncio.AbstractEventLoop,
    ):
        self.controls, self.styles = controls, styles
        self.stylized = FrameFeed(loop)
        self.original = FrameFeed(loop, "original stream")
        source.subscribe(lambda frame: self.original.write(OutputFrame(frame.image, frame.pts)))
        self.pipeline = make_pipeline(source, self.controls, self.styles.bank, self.stylized)
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        reason = self.pipeline.run_to_end()
        self.original.close()
        log.info("the server's source stopped: %s", reason)

    def stop(self) -> None:
        self.pipeline.request_stop(StopReason.STOPPED, text="server stopped")
        if self._thread.is_alive():
            self._thread.join()
