"""Serving the studio: the listening socket, HTTPS, the address to open, and the run until a stop signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
from collections.abc import Callable

from aiohttp import web

from live_style.errors import UserError
from live_style.server.limits import HEADER_TIMEOUT_S
from live_style.server.protocol import StudioProtocol
from live_style.server.refusals import printable, request_log
from live_style.server.studio import Studio
from live_style.sources.capture import VideoSource

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the model loads so a taken port fails at once."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as error:
        reason = error.strerror or error
        raise UserError(
            f"cannot listen on {host}:{port} ({reason}); pick another --port or stop what uses it"
        ) from None


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """HTTPS from --cert/--key (browsers give the camera only to https pages or localhost)."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise UserError("give both --cert and --key for HTTPS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise UserError(
            f"--cert {cert} / --key {key} cannot be used ({error}); give a PEM certificate and key"
        ) from None
    return context


def page_url(sock: socket.socket, host: str, token: str, tls: bool) -> str:
    """The address to open (the wildcard hosts become this machine's name; port 0 becomes the one bound)."""
    port = sock.getsockname()[1]
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if tls else 'http'}://{shown}:{port}/" + (f"?token={token}" if token else "")


def log_unawaited_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Errors of tasks nobody awaits as one rate-limited line each, not asyncio's traceback: aiortc's own connecting
    task fails on its closed ICE transport when a page leaves mid-handshake ("Task exception was never
    retrieved", seen once in CI under load), and any page can make that happen again and again."""

    def one_line(_loop: asyncio.AbstractEventLoop, context: dict) -> None:
        error = context.get("exception")
        request_log.info("note: %s (%s)", printable(context.get("message", "")), printable(repr(error)))

    loop.set_exception_handler(one_line)


async def serve(
    app: web.Application,
    studio: Studio,
    sock: socket.socket,
    tls: ssl.SSLContext | None,
    source: VideoSource | None,
    on_listening: Callable[[], None],
) -> None:
    """Run the app on the bound socket until SIGINT or SIGTERM, then close every session.

    Connections are the studio's `StudioProtocol` (aiohttp's, with the studio's refusals) over the app's runner.
    A connection that has not sent a whole request within HEADER_TIMEOUT_S (aiohttp's keep-alive timer,
    which runs from the connection's start) is closed: a trickling client holds no handler.
    """
    loop = asyncio.get_running_loop()
    log_unawaited_errors(loop)
    if source is not None:
        studio.start_watch(source, loop)
    settings = {"access_log": None, "keepalive_timeout": HEADER_TIMEOUT_S}  # the connections' own, not the runner's
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    server = await loop.create_server(lambda: StudioProtocol(runner.server, loop=loop, **settings), sock=sock, ssl=tls)
    on_listening()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: closing %d session(s)", len(studio.sessions))
    server.close()
    await runner.cleanup()
