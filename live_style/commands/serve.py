"""`live-style serve`: the browser studio (parse, load, bind, print the URL, run until stopped)."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

from live_style.commands.options import (
    add_command,
    add_model_options,
    add_person_options,
    add_stabilize_option,
    add_stall_timeout_option,
    port_number,
    positive_int,
    size_or_auto,
    strength_value,
)
from live_style.errors import UserError
from live_style.network import is_loopback

EXAMPLES = (
    "live-style serve                            # then open the printed URL",
    "live-style serve --host 0.0.0.0 --cert cert.pem --key key.pem   # other machines: HTTPS and a token",
    "live-style serve --camera 0                 # watch and steer this machine's webcam from a browser",
)
CLEAR_TEXT_WARNING = (
    "warning: served over plain http: the token and its cookie cross the network in clear text, and browsers "
    "on other machines refuse the camera to http pages; give --cert and --key for HTTPS"
)
INSTALL_HINT = "pip install -e '.[serve]' (or pip install aiortc aiohttp pillow)"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`serve`: the browser studio over WebRTC."""
    serve = add_command(
        commands, "serve", "serve the browser studio: the browser's own camera, stylized over WebRTC", EXAMPLES
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=port_number, default=8080, help="port (default 8080; 0: any free port)")
    serve.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="another host name the page may be opened by (repeat; e.g. a reverse proxy's); others get 421",
    )
    serve.add_argument(
        "--token",
        help="access token asked of every request (default: none on 127.0.0.1, a new random one on any other --host)",
    )
    serve.add_argument(
        "--cert", metavar="PEM", help="TLS certificate: browsers give the camera only to https or localhost"
    )
    serve.add_argument("--key", metavar="PEM", help="the certificate's private key")
    serve.add_argument(
        "--style",
        action="append",
        metavar="IMAGE_OR_DIR",
        help="styles to offer (repeat; default: the built-in styles)",
    )
    serve.add_argument(
        "--strength", type=strength_value, default=1.0, metavar="X", help="each session's starting strength (1)"
    )
    serve.add_argument(
        "--size",
        type=size_or_auto,
        metavar="N|auto",
        help="starting processing short side (256 on CPU; auto: the largest that keeps the camera's rate)",
    )
    serve.add_argument("--preserve-colors", action="store_true", help="start with the content's colours kept")
    add_stabilize_option(serve, "past frames only")
    add_person_options(serve, "each session's start; the page switches it")
    serve.add_argument("--max-sessions", type=positive_int, default=4, metavar="N", help="browsers at once (4)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, metavar="N", help="show this machine's webcam N instead of the browser's")
    source.add_argument(
        "--input", metavar="PATH_OR_URL", help="show a video file or stream instead of the browser's camera"
    )
    add_stall_timeout_option(serve, "end a session whose camera")
    add_model_options(serve)
    serve.set_defaults(run=run)


def import_server():
    """The server modules, or a one-line error naming the extra to install."""
    try:
        from live_style.server import app, gallery, guard, run, studio
    except ImportError as error:
        raise UserError(f"live-style serve needs its [serve] extra ({error.name} is missing): {INSTALL_HINT}") from None
    return app, gallery, guard, run, studio


def run(args: argparse.Namespace) -> int:
    """Bind, load the model and styles, start the studio, serve until Ctrl+C or SIGTERM; exit 0."""
    from live_style.commands.common import live_controls, open_model, person_mode, segmenter_supply
    from live_style.model.shared import ModelThread

    app_module, gallery, guard_module, serving, studio_module = import_server()
    local = is_loopback(args.host)
    token = args.token or ("" if local else secrets.token_urlsafe(18))
    tls = serving.tls_context(args.cert, args.key)
    guard = guard_module.Guard.for_bind(args.host, args.allow_host or [], token, tls is not None)
    files = studio_files(args.style)
    segmenter = segmenter_supply(args, person_mode(args)[0])
    source = open_watch_source(args)
    sock = serving.bind(args.host, args.port)
    try:
        styles = gallery.load_styles(files)
        model = ModelThread(open_model(args, "live"))
        options = studio_module.StudioOptions(
            start=live_controls(args, model.model.on_gpu, model.model.default_size, len(styles)),
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
    app = app_module.build_app(studio, guard)
    url = serving.page_url(sock, args.host, token, tls is not None)
    warning = CLEAR_TEXT_WARNING if not local and tls is None else ""
    asyncio.run(serving.serve(app, studio, sock, tls, source, lambda: announce(url, warning)))
    return 0


def announce(url: str, warning: str) -> None:
    """The address to open (stdout), after any warning about how it is served (stderr)."""
    if warning:
        print(warning, file=sys.stderr, flush=True)
    print(f"live-style studio: open {url}", flush=True)


def studio_files(styles: list[str] | None) -> list[Path]:
    """--style images or folders; by default the built-in styles."""
    from live_style.styles import builtin_styles, style_files

    return style_files(styles) if styles else builtin_styles()


def open_watch_source(args: argparse.Namespace):
    """Watch mode's source (--camera N or --input), or None for camera mode (each browser's own camera)."""
    from live_style.sources.capture import open_camera, open_input

    if args.input:
        return open_input(args.input, paced=True, stall_timeout=args.stall_timeout)
    if args.camera is not None:
        return open_camera(args.camera, None, None, args.stall_timeout)
    return None
