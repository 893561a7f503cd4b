"""What the studio serves: one shared model, the styles, the sessions, and (watch mode) the server's own source."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from aiortc import RTCConfiguration, RTCSessionDescription

from live_style.errors import UserError
from live_style.model.segmenter import SegmenterSupply
from live_style.model.shared import ModelThread
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live import LiveOptions, LivePipeline
from live_style.server.gallery import StyleImage, decode_upload, return_decoded_memory
from live_style.server.limits import Refused
from live_style.server.session import Session, SessionSetup
from live_style.server.styleset import StyleSet
from live_style.server.watch import Watch
from live_style.sinks.browser import FrameFeed
from live_style.sources.capture import VideoSource
from live_style.styles import StyleBank

MAX_UPLOADS = 8  # uploaded styles one session holds (in watch mode, the one shared set)
DECODES_AT_ONCE = 1  # uploads read and decoded at a time: a 40-megapixel PNG takes ~200 MB while it is decoded
UPLOAD_WAIT_S = 60.0  # the longest an upload waits for its turn (its body unread meanwhile)
log = logging.getLogger(__name__)


@dataclass
class StudioOptions:
    """Each new session's starting settings, and the server's limits."""

    start: LiveControls
    max_sessions: int = 4
    stall_timeout: float = 5.0
    segmenter: SegmenterSupply = field(default_factory=SegmenterSupply)


class Busy(UserError):
    """Every session slot is taken."""


class Studio:
    """Shared state of `live-style serve`; sessions come and go through `open_session`."""

    rtc_configuration = RTCConfiguration(iceServers=[])  # no STUN or TURN: nothing leaves the machine's interfaces

    def __init__(self, model: ModelThread, styles: list[StyleImage], options: StudioOptions):
        self.model, self.options = model, options
        self.names = [style.name for style in styles]
        self.vectors = [model.style_vector(style.image) for style in styles]
        self.thumbnails = {style.name: style.thumbnail_url for style in styles}
        self.sessions: dict[str, Session] = {}
        self.watch: Watch | None = None
        self._session_numbers = itertools.count(1)
        self._upload_numbers = itertools.count(1)
        self._decoding = asyncio.Semaphore(DECODES_AT_ONCE)
        return_decoded_memory()

    def new_controls(self) -> LiveControls:
        """A session's own settings, as the server was started with."""
        return replace(self.options.start, style_count=len(self.names))

    def new_styles(self) -> StyleSet:
        """A session's own copy of the served styles (its uploads are its own)."""
        return StyleSet(StyleBank.of(self.names, self.vectors))

    def live_pipeline(
        self, source: VideoSource, controls: LiveControls, bank: StyleBank, feed: FrameFeed
    ) -> LivePipeline:
        """The window's live pipeline, headless and quiet, on the shared model, feeding browsers."""
        return LivePipeline(self.model, source, bank, controls, LiveOptions(), [feed], self.options.segmenter)

    def session_setup(self) -> SessionSetup:
        """What a new session starts from: its own controls and styles, or watch mode's shared ones."""
        watch = self.watch
        return SessionSetup(
            controls=self.new_controls() if watch is None else watch.controls,
            styles=self.new_styles() if watch is None else watch.styles,
            make_pipeline=self.live_pipeline,
            figures=self.figures,
            stall_timeout=self.options.stall_timeout,
            rtc_configuration=self.rtc_configuration,
            watch=watch,
        )

    def start_watch(self, source: VideoSource, loop: asyncio.AbstractEventLoop) -> None:
        """Watch mode: the server's own source through one pipeline, shown to every session."""
        self.watch = Watch(self.new_controls(), self.new_styles(), self.live_pipeline, source, loop)
        self.watch.start()

    def style_list(self, styles: StyleSet) -> list[dict]:
        thumbnails = {**self.thumbnails, **styles.upload_thumbnails}
        return [{"index": i, "name": name, "thumbnail": thumbnails[name]} for i, name in enumerate(styles.bank.names)]

    async def open_session(self, offer: RTCSessionDescription, page: str) -> tuple[Session, RTCSessionDescription]:
        """A new session answering `offer` for the page whose secret is `page`, or Busy past the cap.

        If answering fails in any way the session is closed and its slot freed before the error goes on.
        """
        if len(self.sessions) >= self.options.max_sessions:
            raise Busy(f"busy: {len(self.sessions)} sessions are running, the most this server takes; try again later")
        session = Session(
            self.session_setup(), next(self._session_numbers), page, lambda s: self.sessions.pop(s.id, None)
        )
        self.sessions[session.id] = session
        try:
            answer = await session.answer(offer)
        except BaseException:
            session.end_reason = "its offer could not be answered"
            await session.close()
            raise
        log.info("session %d started (%d running)", session.number, len(self.sessions))
        return session, answer

    async def add_upload(self, session: Session, read_image: Callable[[], Awaitable[bytes]]) -> dict:
        """An uploaded style image added to the session's styles, kept in memory only.

        Its body is read (`read_image`) only once the set has room and the upload has its turn: one at a
        time, read, decoded and turned into a vector off the event loop; a full set is refused unread.
        """
        styles = session.styles
        self.check_room(styles)
        try:
            await asyncio.wait_for(self._decoding.acquire(), UPLOAD_WAIT_S)
        except asyncio.TimeoutError:
            raise Refused(503, "other uploads are being decoded; upload again in a moment") from None
        try:
            self.check_room(styles)
            style = await asyncio.to_thread(decode_upload, await read_image(), "upload")
            vector = await asyncio.to_thread(self.model.style_vector, style.image, False)
        finally:
            self._decoding.release()
        style.name = f"upload {next(self._upload_numbers)}"  # numbered once accepted
        styles.upload_thumbnails[style.name] = style.thumbnail_url
        index = styles.bank.add(style.name, vector)
        session.controls.style_count = len(styles.bank)
        return {"index": index, "name": style.name, "thumbnail": style.thumbnail_url}

    def check_room(self, styles: StyleSet) -> None:
        """Refused (429) when the upload set is full, saying which set it is and what empties it."""
        if len(styles.upload_thumbnails) < MAX_UPLOADS:
            return
        if self.watch is not None and styles is self.watch.styles:
            raise Refused(
                429,
                f"the {MAX_UPLOADS} uploaded styles that everyone watching shares are all taken; "
                "the set empties when the server restarts",
            )
        raise Refused(
            429, f"this page has uploaded {MAX_UPLOADS} styles, the most a session keeps; reload the page to start over"
        )

    def figures(self, pipeline: LivePipeline, controls: LiveControls, bank: StyleBank) -> dict:
        """What the page shows under the video."""
        height, width = pipeline.processing or (0, 0)
        return {
            "fps": round(pipeline.output_rate.rate, 1),
            "server_ms": round(pipeline.times.median("latency")),
            "size": f"{width}x{height}",
            "model": self.model.description,
            "style": bank.names[controls.style_index],
            "person": pipeline.person_state(),
            "frames": pipeline.frames_done,
            "dropped": pipeline.source.dropped,
            "ended": pipeline.stop_text,
        }

    async def close(self) -> None:
        """Close every peer connection and stop every pipeline (each session frees itself whatever fails)."""
        await asyncio.gather(*(session.close() for session in list(self.sessions.values())), return_exceptions=True)
        if self.watch is not None:
            await asyncio.to_thread(self.watch.stop)
        self.model.close()
