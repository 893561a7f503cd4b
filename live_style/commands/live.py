"""`live-style [live] --camera N | --input PATH_OR_URL --style S`: the live stylizer (the default command)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from live_style.commands.options import (
    add_command,
    add_model_options,
    add_person_options,
    add_stabilize_option,
    add_stall_timeout_option,
    add_style_options,
    positive_int,
)
from live_style.errors import UserError
from live_style.media.formats import RECORD_SUFFIXES

if TYPE_CHECKING:
    from live_style.sinks.virtual_camera import VirtualCamera
    from live_style.sources.capture import VideoSource

EXAMPLES = (
    "live-style --camera 0 --style wave",
    "live-style --camera 1 --camera-size 1280x720 --style my-paintings/ --record out.mp4",
    "live-style --input talk.mp4 --style ink --no-window --record talk-ink.mp4",
    "live-style --camera 0 --style wave --no-window --virtual-camera   # then pick it in Zoom/Meet",
)
DEFAULT_VIRTUAL_CAMERA_SIZE = (1280, 720)  # when a stream does not say its size
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`live`: camera or stream -> window, recording, virtual camera."""
    live = add_command(commands, "live", "stylize a webcam or stream live (the default command)", EXAMPLES)
    source = live.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=0, metavar="N", help="webcam index (default: 0)")
    source.add_argument("--input", metavar="PATH_OR_URL", help="a video file or stream, shown as a live source")
    live.add_argument("--camera-size", metavar="WxH", help="ask the camera for this resolution, e.g. 1280x720")
    live.add_argument("--camera-fps", type=float, metavar="FPS", help="ask the camera for this frame rate")
    live.add_argument("--list-cameras", action="store_true", help="probe camera indices 0-9 and exit")
    live.add_argument(
        "--as-fast-as-possible",
        action="store_true",
        help="read --input as fast as the model goes (every frame) instead of at its frame rate",
    )
    add_style_options(
        live,
        "processing short side in pixels (default: 256 on CPU, 512 on GPU; [ and ] change it); auto: the largest "
        "that keeps the source's frame rate, measured as it runs",
        required=False,
        auto_size=True,
    )
    live.add_argument(
        "--record",
        metavar="OUT",
        help=f"record the stylized stream, each frame at its own time ({', '.join(RECORD_SUFFIXES)}); "
        "a file's audio is kept",
    )
    live.add_argument(
        "--virtual-camera",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="also publish the stylized stream as a virtual camera for Zoom, Meet, Teams, OBS "
        "(DEVICE: e.g. /dev/video10 on Linux; default: the first free one); needs the [vcam] extra",
    )
    live.add_argument(
        "--virtual-camera-size",
        metavar="WxH",
        help="the virtual camera's fixed size (default: the camera's), e.g. 1280x720",
    )
    live.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where s saves snapshots (default: .)")
    live.add_argument("--no-window", dest="window", action="store_false", help="run headless")
    add_stabilize_option(live, "past frames only")
    add_person_options(live, "the m key switches it")
    live.add_argument(
        "--interpolate",
        action="store_true",
        help="when the model is slower than the source, show and record in-between frames warped along the motion",
    )
    live.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N stylized frames")
    live.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    add_stall_timeout_option(live, "give up on a camera or stream that")
    add_model_options(live)
    live.set_defaults(run=run)


def parse_size(text: str | None, option: str) -> tuple[int, int] | None:
    """'640x480' -> (640, 480)."""
    if text is None:
        return None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        width = height = 0
    if width < 2 or height < 2:
        raise UserError(f"{option} {text}: give WIDTHxHEIGHT, e.g. 1280x720")
    return width, height


def check_display() -> None:
    """Refuse a window where there is no screen, before Qt aborts the process."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("there is no display to open a window on; run with --no-window, or set DISPLAY")
    if "QT_QPA_FONTDIR" not in os.environ:  # OpenCV's Qt ships no fonts; point it at the system's
        os.environ["QT_QPA_FONTDIR"] = next((d for d in FONT_DIRS if Path(d).is_dir()), "")


def check_options(args: argparse.Namespace) -> None:
    """Everything that can be refused before the camera and the model are opened."""
    from live_style.media.recovery import check_record_path
    from live_style.sinks.virtual_camera import import_pyvirtualcam

    if args.record:
        check_record_path(Path(args.record))
    if args.virtual_camera is not None:
        import_pyvirtualcam()
        parse_size(args.virtual_camera_size, "--virtual-camera-size")


def open_source_and_screen(args: argparse.Namespace) -> VideoSource:
    """The camera, file or stream, with the screen checked first when a window is wanted: a headless box
    without a camera hears of both at once."""
    from live_style.sources.capture import open_camera, open_input

    no_screen = None
    if args.window:
        try:
            check_display()
        except UserError as error:
            no_screen = error
    try:
        if args.input:
            source = open_input(args.input, paced=not args.as_fast_as_possible, stall_timeout=args.stall_timeout)
        else:
            size = parse_size(args.camera_size, "--camera-size")
            source = open_camera(args.camera, size, args.camera_fps, args.stall_timeout)
    except UserError as no_source:
        raise UserError(f"{no_screen}; and {no_source}" if no_screen else str(no_source)) from None
    if no_screen is not None:
        source.close()
        raise no_screen
    return source


def run(args: argparse.Namespace) -> int:
    """Open the source, the model and the outputs, then run the live pipeline until it stops."""
    from live_style.commands.common import live_controls, open_model, person_mode, say, segmenter_supply
    from live_style.pipeline.live import LiveOptions, LivePipeline
    from live_style.pipeline.live_console import Console, report
    from live_style.pipeline.live_window import WindowFrontEnd
    from live_style.sinks.recording import Recording
    from live_style.sources.capture import list_cameras
    from live_style.stills import read_image
    from live_style.styles import StyleBank, live_style_files, parse_mix

    if args.list_cameras:
        print("\n".join(list_cameras()) or "no camera found (probed indices 0-9)")
        return 0
    if not args.style:
        raise UserError("give a style image with --style, e.g. --style wave")
    check_options(args)
    files = live_style_files(args.style)
    weights = parse_mix(args.mix)
    segmenter = segmenter_supply(args, person_mode(args)[0])
    source = open_source_and_screen(args)
    virtual_camera = None
    try:
        if args.virtual_camera is not None:
            virtual_camera = open_virtual_camera(args, source)
        model = open_model(args, "live")
        bank = StyleBank(lambda f: model.style_vector(read_image(f, "style image")), files, weights)
    except BaseException:
        source.close()
        if virtual_camera is not None:
            virtual_camera.close()
        raise
    controls = live_controls(args, model.on_gpu, model.default_size, len(bank), recording=bool(args.record))
    options = LiveOptions(max_frames=args.max_frames, duration=args.duration, interpolate=args.interpolate)
    say(f"live: {source.name} at {source.fps:.4g} fps, styles: {', '.join(bank.names)}")
    recording = None
    if args.record or args.window:  # headless, nothing but --record starts one
        recording = Recording(Path(args.record) if args.record else None, lambda: controls.recording, source, say)
    window = WindowFrontEnd(Path(args.snapshot_dir), recording, say) if args.window else None
    sinks = [sink for sink in (window, recording, virtual_camera) if sink is not None]
    pipeline = LivePipeline(model, source, bank, controls, options, sinks, segmenter, say)
    try:
        return pipeline.run(window or Console(say))
    finally:
        say(report(pipeline))


def open_virtual_camera(args: argparse.Namespace, source: VideoSource) -> VirtualCamera:
    """The --virtual-camera device at --virtual-camera-size (default: the source's size) and the source's rate."""
    from live_style.commands.common import say
    from live_style.sinks.virtual_camera import VirtualCamera

    size = parse_size(args.virtual_camera_size, "--virtual-camera-size") or source.size
    if not all(size):
        size = DEFAULT_VIRTUAL_CAMERA_SIZE
    camera = VirtualCamera(size, source.fps, args.virtual_camera or None)
    say(f"virtual camera: {camera.device}, {size[0]}x{size[1]} at {source.fps:g} fps")
    return camera
