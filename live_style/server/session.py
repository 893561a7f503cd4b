"""One browser's session: its peer connection, its live pipeline and settings, its control channel.

In camera mode every session runs the live pipeline over its own browser's camera track (its own
settings, its own steadiness state); in watch mode sessions show, and steer, the server's one
pipeline. Controls arrive as JSON over an RTCDataChannel; figures go back on it twice a second.

A session belongs to the page that opened it: its id is random, and the page proves itself with the
page secret it sent with the offer. Whatever happens, a session ends by freeing its slot: closing
runs every step even when one fails, and a session with no video flowing within the stall timeout
(no camera frame, or in watch mode no connection) is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdatachannel import RTCDataChannel
from aiortc.rtcsctptransport import WEBRTC_BINARY, WEBRTC_STRING, RTCSctpTransport

from live_style.errors import UserError
from live_style.pipeline.controls import SIZE_RANGE, LiveControls
from live_style.pipeline.live import LivePipeline, StopReason
from live_style.server.limits import Refused, parse_json_object
from live_style.server.styleset import StyleSet
from live_style.sinks.browser import FeedTrack, FrameFeed
from live_style.sources.capture import SourceLost
from live_style.sources.webrtc import TrackCapture, discard, track_source
from live_style.temporal.masks import MODES

if TYPE_CHECKING:
    from live_style.server.watch import PipelineMaker, Watch
    from live_style.styles import StyleBank

STATS_EVERY_S = 0.5
MAX_MESSAGE_BYTES = 4096  # a control message is a few dozen bytes
log = logging.getLogger(__name__)


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
    if message.get("size") == "auto":
        controls.auto_size = True
    elif "size" in message:
        controls.size = int(number("size", *SIZE_RANGE))
        controls.auto_size = False
    if "person" in message:
        if message["person"] not in MODES:
            raise UserError(f"person must be one of {', '.join(MODES)}")
        controls.person = message["person"]
    if "person_strength" in message:
        controls.person_strength = number("person_strength", 0, 1)
    for flag in ("preserve_colors", "stabilize"):
        if flag in message:
            if not isinstance(message[flag], bool):
                raise UserError(f"{flag} must be true or false")
            setattr(controls, flag, message[flag])


def pass_bad_text_as_bytes(sctp: RTCSctpTransport) -> None:
    """A string message (PPID 51) that is not UTF-8 reaches the channel as bytes, which the control channel
    refuses with an error reply. aiortc decodes it inside its SCTP receive loop, where the UnicodeDecodeError
    would end the association and the session's media with it; it has no setting for this."""
    receive = sctp._data_channel_receive

    async def checked(stream_id: int, pp_id: int, data: bytes) -> None:
        if pp_id == WEBRTC_STRING and not is_utf8(data):
            pp_id = WEBRTC_BINARY
        await receive(stream_id, pp_id, data)

    sctp._data_channel_receive = checked


def is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class SessionSetup:
    """What a session is given by the studio: its controls and styles, how to make its pipeline and figures."""

    controls: LiveControls
    styles: StyleSet
    make_pipeline: PipelineMaker
    figures: Callable[[LivePipeline, LiveControls, StyleBank], dict]
    stall_timeout: float
    rtc_configuration: RTCConfiguration
    watch: Watch | None  # watch mode: the server's shared pipeline and feeds


class Session:
    """A peer connection to one browser tab and what it shows; `page` is the secret of the page that opened it."""

    def __init__(self, setup: SessionSetup, number: int, page: str, on_end: Callable[[Session], None]):
        self.setup, self.number, self.page, self.on_end = setup, number, page, on_end
        self.styles, self.controls, self.watch = setup.styles, setup.controls, setup.watch
        self.id = secrets.token_urlsafe(16)
        self.pc = RTCPeerConnection(setup.rtc_configuration)
        self.loop = asyncio.get_running_loop()
        self.channel: RTCDataChannel | None = None
        self.pipeline: LivePipeline | None = None
        self.end_reason: str | None = None
        self._capture: TrackCapture | None = None
        self._shown: FeedTrack | None = None  # the stylized track: its sends go to the page, for the latency
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing: asyncio.Task | None = None

    @property
    def bank(self):
        return self.styles.bank

    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Take the browser's offer, wire the tracks, and return the answer."""
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("connectionstatechange", self._on_state)
        self.pc.on("track", self._on_track)
        await self.pc.setRemoteDescription(offer)
        if self.pc.sctp is not None:
            pass_bad_text_as_bytes(self.pc.sctp)
        if self.watch is not None:
            self._shown = FeedTrack(self.watch.stylized)
            self.pc.addTrack(self._shown)
            self.pc.addTrack(FeedTrack(self.watch.original))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._tasks.append(asyncio.ensure_future(self._expect_video()))
        return self.pc.localDescription

    async def _expect_video(self) -> None:
        """Close the session if no video flows within the stall timeout of the answer, whatever the offer was."""
        timeout = self.setup.stall_timeout
        await asyncio.sleep(timeout)
        if self.watch is not None:
            flowing = self.pc.connectionState == "connected"
        else:
            flowing = self._capture is not None and self._capture.received > 0
        if not flowing:
            self.end_reason = self.end_reason or f"no video arrived within {timeout:g} s"
            self.close_soon()

    def _on_track(self, track) -> None:
        """Camera mode: the browser's camera in, the stylized stream back on the same transceiver.

        Any other track (a second one, any in watch mode) is read and dropped: aiortc would queue it without bound.
        """
        if track.kind != "video" or self.watch is not None or self._capture is not None:
            self._tasks.append(asyncio.ensure_future(discard(track)))
            return
        self._capture = TrackCapture(track)
        self._tasks.append(asyncio.ensure_future(self._capture.drain()))
        feed = FrameFeed(self.loop)
        self._shown = FeedTrack(feed)
        self.pc.addTrack(self._shown)
        source = track_source(self._capture, f"browser session {self.number}", self.setup.stall_timeout)
        self.pipeline = self.setup.make_pipeline(source, self.controls, self.bank, feed)
        self._thread = threading.Thread(target=self._run_pipeline, name=f"session {self.number}", daemon=True)
        self._thread.start()

    def _run_pipeline(self) -> None:
        """The session's live pipeline until it stops; then the session ends."""
        reason = self.pipeline.run_to_end()
        if isinstance(self.pipeline.error, SourceLost):
            reason = f"the browser sent no video for {self.setup.stall_timeout:g} s"
        elif self.pipeline.error is None and self.pipeline.stop_reason is StopReason.END_OF_INPUT:
            reason = "the browser stopped sending"
        self.end_reason = self.end_reason or reason
        with contextlib.suppress(RuntimeError):  # the loop is gone when the server is shutting down
            self.loop.call_soon_threadsafe(self.close_soon)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        """The page's control channel (the first one; any further channel is closed)."""
        if self.channel is not None:
            channel.close()
            return
        self.channel = channel
        channel.on("message", self._on_message)
        self._tasks.append(asyncio.ensure_future(self._send_stats(channel)))

    def _on_message(self, text: str | bytes) -> None:
        """A ping (answered at once with the server's clock: the page's round trip and clock offset) or new
        settings; anything else gets an error reply."""
        try:
            message = parse_json_object(text, "a control message", MAX_MESSAGE_BYTES)
            if "ping" in message:
                ping = message["ping"]
                if isinstance(ping, bool) or not isinstance(ping, int | float):
                    raise UserError("ping must be a number")
                self._send({"pong": ping, "server_clock_ms": round(1000 * time.monotonic(), 3)})
            else:
                apply_settings(self.controls, message, len(self.bank))
        except (Refused, UserError) as error:
            self._send({"error": f"control refused: {error}"})

    def _send(self, message: dict) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    async def _send_stats(self, channel: RTCDataChannel) -> None:
        """fps, server-side latency, processing size, model and style, and the frames sent since, twice a second."""
        while channel.readyState in ("connecting", "open"):
            pipeline = self.pipeline or (self.watch.pipeline if self.watch else None)
            if channel.readyState == "open" and pipeline is not None:
                self._send({**self.setup.figures(pipeline, self.controls, self.bank), "sent": self._sent_since()})
            await asyncio.sleep(STATS_EVERY_S)

    def _sent_since(self) -> list[list[float | None]]:
        """The stylized frames sent since last asked, each [sent, source arrived] on the server's clock (ms) and
        [source time] on the source's (s): what the page needs to tell capture from display (see latency.js)."""
        sent = self._shown.sent if self._shown is not None else []
        taken = []
        while sent:
            one = sent.popleft()
            arrived = round(1000 * one.source_arrived, 3) if one.source_arrived is not None else None
            taken.append([round(1000 * one.at, 3), round(one.source_time, 6), arrived])
        return taken

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
        """Every step runs, whichever fails: the slot is always freed."""
        try:
            if self.pipeline is not None:
                self.pipeline.request_stop(StopReason.STOPPED, text=self.end_reason or "closed")
            if self._capture is not None:
                self._capture.release()
            try:
                await self.pc.close()
            except Exception as error:  # aiortc can fail half-way on a peer that never connected
                log.warning("session %d: closing its peer connection failed (%r)", self.number, error)
            for task in self._tasks:
                task.cancel()
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join)
        finally:
            self.on_end(self)
            log.info("session %d ended: %s", self.number, self.end_reason or "closed")
