"""One browser's session: its peer connection, its live pipeline and settings, its control channel.

In camera mode every session runs the live pipeline over its own browser's camera track (its own
settings, its own steadiness state); in watch mode sessions show, and steer, the server's one
pipeline. Controls arrive as JSON over an RTCDataChannel; figures go back on it twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdatachannel import RTCDataChannel

from live_style.errors import UserError
from live_style.pipeline.controls import SIZE_RANGE, LiveControls
from live_style.pipeline.live import LivePipeline
from live_style.sinks.browser import FeedTrack, FrameFeed
from live_style.sources.capture import SourceLost
from live_style.sources.webrtc import TrackCapture, track_source

if TYPE_CHECKING:
    from live_style.server.studio import Studio

STATS_EVERY_S = 0.5


def apply_settings(controls: LiveControls, message: dict, style_count: int) -> None:
    """Apply the page's controls (only the keys present); a bad value is a UserError naming it."""

    def number(key: str, low: float, high: float) -> float:
        value = message[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise UserError(f"{key} must be a number from {low:g} to {high:g}")
        return float(value)

    def style(key: str) -> int:
        value = number(key, 0, style_count - 1)
        if value != int(value):
            raise UserError(f"{key} must be a style's number")
        return int(value)

    if "style" in message:
        controls.style_index = style("style")
    if "second" in message:
        controls.second_style = None if message["second"] is None else style("second")
    if "mix" in message:
        controls.mix = number("mix", 0, 1)
    if "strength" in message:
        controls.strength = number("strength", 0, 1)
    if "size" in message:
        controls.size = int(number("size", *SIZE_RANGE))
    for flag in ("preserve_colors", "stabilize"):
        if flag in message:
            if not isinstance(message[flag], bool):
                raise UserError(f"{flag} must be true or false")
            setattr(controls, flag, message[flag])


def run_to_end(pipeline: LivePipeline) -> str:
    """Run a live pipeline in this thread; why it ended (its stop reason, or the error that stopped it)."""
    try:
        pipeline.run()
        return pipeline.stop_reason or "stopped"
    except UserError as error:
        return str(error)
    except Exception as error:  # the model failed: end this pipeline, keep the server
        return f"the model failed ({error!r})"


class Session:
    """A peer connection to one browser tab and what it shows."""

    def __init__(self, studio: Studio, number: int, on_end: Callable[[Session], None]):
        self.studio, self.number, self.on_end = studio, number, on_end
        self.id = f"s{number}"
        self.pc = RTCPeerConnection(studio.rtc_configuration)
        self.loop = asyncio.get_running_loop()
        self.channel: RTCDataChannel | None = None
        self.pipeline: LivePipeline | None = None
        self.end_reason: str | None = None
        self._capture: TrackCapture | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing: asyncio.Task | None = None
        if studio.watch is None:
            self.controls, self.bank = studio.new_controls(), studio.new_bank()
        else:
            self.controls, self.bank = studio.watch.controls, studio.watch.bank

    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Take the browser's offer, wire the tracks, and return the answer."""
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.on("track", self._on_track)
        await self.pc.setRemoteDescription(offer)
        if self.studio.watch is not None:
            self.pc.addTrack(FeedTrack(self.studio.watch.stylized))
            self.pc.addTrack(FeedTrack(self.studio.watch.original))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription

    def _on_track(self, track) -> None:
        """Camera mode: the browser's camera in, the stylized stream back on the same transceiver."""
        if track.kind != "video" or self.studio.watch is not None or self._capture is not None:
            return
        self._capture = TrackCapture(track)
        self._tasks.append(asyncio.ensure_future(self._capture.drain()))
        feed = FrameFeed(self.loop)
        self.pc.addTrack(FeedTrack(feed))
        source = track_source(self._capture, f"browser session {self.number}", self.studio.options.stall_timeout)
        self.pipeline = self.studio.live_pipeline(source, self.controls, self.bank, feed)
        self._thread = threading.Thread(target=self._run_pipeline, name=f"session {self.number}", daemon=True)
        self._thread.start()

    def _run_pipeline(self) -> None:
        """The session's live pipeline until it stops; then the session ends."""
        reason = run_to_end(self.pipeline)
        if isinstance(self.pipeline.error, SourceLost):
            reason = f"the browser sent no video for {self.studio.options.stall_timeout:g} s"
        elif reason == "end of input":
            reason = "the browser stopped sending"
        self.end_reason = self.end_reason or reason
        with contextlib.suppress(RuntimeError):  # the loop is gone when the server is shutting down
            self.loop.call_soon_threadsafe(self.close_soon)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        channel.on("message", self._on_message)
        self._tasks.append(asyncio.ensure_future(self._send_stats(channel)))

    def _on_message(self, text: str) -> None:
        """A ping (answered at once, for the page's round trip) or new settings."""
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise UserError("send a JSON object")
            if "ping" in message:
                self._send({"pong": message["ping"]})
            else:
                apply_settings(self.controls, message, len(self.bank))
        except (ValueError, UserError) as error:
            self._send({"error": f"control refused: {error}"})

    def _send(self, message: dict) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    async def _send_stats(self, channel: RTCDataChannel) -> None:
        """fps, server-side latency, processing size, model and style, twice a second."""
        while channel.readyState in ("connecting", "open"):
            pipeline = self.pipeline or (self.studio.watch.pipeline if self.studio.watch else None)
            if channel.readyState == "open" and pipeline is not None:
                self._send(self.studio.figures(pipeline, self.controls, self.bank))
            await asyncio.sleep(STATS_EVERY_S)

    async def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.end_reason = self.end_reason or f"the browser left (connection {self.pc.connectionState})"
            self.close_soon()

    def close_soon(self) -> None:
        """Start closing (once, however many ask): from a callback, or the pipeline's thread via the loop."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())

    async def close(self) -> None:
        """Stop the pipeline, close the peer connection, free the slot."""
        self.close_soon()
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.request_stop(self.end_reason or "closed")
        if self._capture is not None:
            self._capture.release()
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        print(f"session {self.number} ended: {self.end_reason or 'closed'}", file=sys.stderr, flush=True)
        self.on_end(self)
