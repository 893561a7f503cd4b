"""`live-style serve`: the browser studio (parse, load, bind, print the URL, run until stopped)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from pathlib import Path

from live_style.commands.common import open_model, person_mode, segmenter_supply
from live_style.commands.live import starting_controls
from live_style.errors import UserError
from live_style.model.shared import ModelThread
from live_style.network import is_loopback

INSTALL_HINT = "pip install -e '.[serve]' (or pip install aiortc aiohttp pillow)"


def import_server():
    """The server modules, or a one-line error naming the extra to install."""
    try:
        from live_style.server import app, gallery, guard, run, studio
    except ImportError as error:
        raise UserError(f"live-style serve needs its [serve] extra ({error.name} is missing): {INSTALL_HINT}") from None
    return app, gallery, guard, run, studio


def show_server_log() -> None:
    """The studio's own lines (sessions starting and ending, refusals worth knowing) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("live_style.server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def run_serve(args: argparse.Namespace) -> int:
    """Bind, load the model and styles, start the studio, serve until Ctrl+C or SIGTERM; exit 0."""
    app_module, gallery, guard_module, run, studio_module = import_server()
    local = is_loopback(args.host)
    token = args.token or ("" if local else secrets.token_urlsafe(18))
    tls = run.tls_context(args.cert, args.key)
    files = studio_files(args.style)
    segmenter = segmenter_supply(args, person_mode(args)[0])
    source = open_watch_source(args)
    sock = run.bind(args.host, args.port)
    try:
        styles = gallery.load_styles(files)
        model = ModelThread(open_model(args, "live"))
        options = studio_module.StudioOptions(
            start=starting_controls(args, model.device, model.model.default_size, len(styles)),
            max_sessions=args.max_sessions,
            stall_timeout=args.stall_timeout,
            segmenter=segmenter,
        )
        studio = studio_module.Studio(model, styles, options)
    except BaseException:
        sock.close()
        if source is not None:
            source.close()
        raise
    if local:
        app_module.keep_ice_on_loopback()
    guard = guard_module.Guard.for_bind(args.host, args.allow_host or [], token, tls is not None)
    app = app_module.build_app(studio, guard)
    url = run.page_url(sock, args.host, token, tls is not None)
    show_server_log()
    asyncio.run(run.serve(app, studio, sock, tls, source, lambda: print(f"live-style studio: open {url}", flush=True)))
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
