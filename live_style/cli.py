"""Command line entry point: `live-style [COMMAND] ...`; each command's options and run are in commands/."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Sequence

from live_style import logs
from live_style.commands import bench, image, live, repair, serve, styles, video
from live_style.commands.options import examples
from live_style.errors import EXIT_INTERRUPTED, UserError

COMMANDS = {module.__name__.rsplit(".", 1)[1]: module for module in (live, image, video, bench, styles, serve, repair)}
EXAMPLES = (
    "live-style --camera 0 --style wave",
    "live-style video holiday.mp4 -o holiday-wave.mp4 --style wave",
    "live-style image photo.jpg --style mosaic -o photo-mosaic.png",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="live-style",
        description="Repaint webcam video, video files and images "
        "in the style of any image (Magenta arbitrary image stylization). "
        "Without a COMMAND, live is meant: live-style --camera 0 --style wave; "
        "live-style alone prints this help.",
        epilog=examples(EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (image, live, video, bench, styles, serve, repair):
        module.add_parser(commands)
    return parser


def with_default_command(argv: Sequence[str]) -> list[str]:
    """`live-style --camera 0 ...` means `live-style live --camera 0 ...`."""
    argv = list(argv)
    if not argv or argv[0] in (*COMMANDS, "-h", "--help"):
        return argv
    return ["live", *argv]


def preload_webrtc() -> None:
    """Load aiortc before TensorFlow: its libsrtp crashes when loaded after TensorFlow's global BoringSSL symbols."""
    with contextlib.suppress(ImportError):  # `serve` then names the extra to install
        importlib.import_module("aiortc")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, turn errors into one line and an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        build_parser().print_help()
        return 0
    args = build_parser().parse_args(with_default_command(argv))
    logs.set_verbose(args.verbose)
    logs.show_own_lines()
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        if args.command == "serve":
            preload_webrtc()
        if getattr(COMMANDS[args.command], "NEEDS_TENSORFLOW", True):
            logs.import_tensorflow_quietly()
        return run(args)
    except UserError as error:
        print(f"live-style: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("live-style: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
