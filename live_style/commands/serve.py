"""`live-style serve`: the browser studio (parse, load, bind, print the URL, run until stopped)."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import socket
import ssl
import sys
from pathlib import Path

from live_style.commands.common import open_model
from live_style.commands.live import CPU_LIVE_SIZE
from live_style.errors import UserError
from live_style.model.shared import ModelThread

INSTALL_HINT = "pip install -e '.[serve]' (or pip install aiortc aiohttp pillow)"


def import_server():
    """The server modules, or a one-line error naming the extra to install."""
    try:
        from live_style.server import app, gallery, studio
    except ImportError as error:
        raise UserError(f"live-style serve needs {error.name}: {INSTALL_HINT}") from None
    return app, gallery, studio


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


def page_url(host: str, port: int, token: str, tls: bool) -> str:
    """The address to open (the wildcard hosts become this machine's name)."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if tls else 'http'}://{shown}:{port}/" + (f"?token={token}" if token else "")


def run_serve(args: argparse.Namespace) -> int:
    """Bind, load the model and styles, start the studio, serve until Ctrl+C or SIGTERM; exit 0."""
    app_module, gallery, studio_module = import_server()
    local = app_module.is_loopback(args.host)
    token = args.token or ("" if local else secrets.token_urlsafe(18))
    tls = tls_context(args.cert, args.key)
    files = studio_files(args.style)
    source = open_watch_source(args)
    sock = bind(args.host, args.port)
    try:
        styles = gallery.load_styles(files)
        model = ModelThread(open_model(args))
        size = args.size or (CPU_LIVE_SIZE if "CPU" in model.device else model.model.default_size)
        options = studio_module.StudioOptions(
            size=size,
            strength=args.strength,
            preserve_colors=args.preserve_colors,
            stabilize=args.stabilize,
            max_sessions=args.max_sessions,
            stall_timeout=args.stall_timeout,
        )
        studio = studio_module.Studio(model, styles, options)
    except BaseException:
        sock.close()
        if source is not None:
            source.close()
        raise
    if local:
        app_module.keep_ice_on_loopback()
    app = app_module.build_app(studio, token)
    url = page_url(args.host, args.port, token, tls is not None)
    asyncio.run(serve(app, studio, sock, tls, url, source))
    return 0


def studio_files(styles: list[str] | None) -> list[Path]:
    """--style images or folders; by default the styles/ folder here."""
    from live_style.styles import style_files

    if styles:
        return style_files(styles)
    if not Path("styles").is_dir():
        raise UserError("give the styles to serve with --style (a folder or images), e.g. --style styles/")
    return style_files(["styles"])


def open_watch_source(args: argparse.Namespace):
    """Watch mode's source (--camera N or --input), or None for camera mode (each browser's own camera)."""
    from live_style.sources.capture import open_camera, open_input

    if args.input:
        return open_input(args.input, paced=True, stall_timeout=args.stall_timeout)
    if args.camera is not None:
        return open_camera(args.camera, None, None, args.stall_timeout)
    return None


async def serve(app, studio, sock: socket.socket, tls: ssl.SSLContext | None, url: str, source) -> None:
    """Run the app on the bound socket until SIGINT or SIGTERM, then close every session."""
    from aiohttp import web

    from live_style.server.studio import Watch

    loop = asyncio.get_running_loop()
    if source is not None:
        studio.watch = Watch(studio, source, loop)
        studio.watch.start()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=tls).start()
    print(f"live-style studio: open {url}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print(f"stopping: closing {len(studio.sessions)} session(s)", file=sys.stderr, flush=True)
    await runner.cleanup()
