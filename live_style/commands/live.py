"""`live-style [live] --camera N | --input PATH_OR_URL --style S`: the live stylizer."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from live_style.commands.common import open_model, person_mode, segmenter_supply
from live_style.errors import UserError
from live_style.imaging import read_image
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live import LiveOptions, LivePipeline
from live_style.sinks.recorder import check_record_path
from live_style.sinks.virtual_camera import VirtualCamera, import_pyvirtualcam
from live_style.sources.capture import VideoSource, list_cameras, open_camera, open_input
from live_style.styles import StyleBank, live_style_files, parse_mix

DEFAULT_VIRTUAL_CAMERA_SIZE = (1280, 720)  # when a stream does not say its size
CPU_LIVE_SIZE = 256  # about 25 fps of model time here; 384 halves that
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts")


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
    if args.record:
        check_record_path(Path(args.record))
    if args.window:
        check_display()
    if args.virtual_camera is not None:
        import_pyvirtualcam()
        parse_size(args.virtual_camera_size, "--virtual-camera-size")


def run_live(args: argparse.Namespace) -> int:
    """Open the source and the model, then run the live pipeline."""
    if args.list_cameras:
        print("\n".join(list_cameras()) or "no camera found (probed indices 0-9)")
        return 0
    if not args.style:
        raise UserError("give a style image with --style, e.g. --style styles/wave.jpg")
    check_options(args)
    files = live_style_files(args.style)
    weights = parse_mix(args.mix)
    segmenter = segmenter_supply(args, person_mode(args)[0])
    if args.input:
        source = open_input(args.input, paced=not args.as_fast_as_possible, stall_timeout=args.stall_timeout)
    else:
        source = open_camera(
            args.camera, parse_size(args.camera_size, "--camera-size"), args.camera_fps, args.stall_timeout
        )
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
    controls = starting_controls(args, model.device, model.default_size, len(bank))
    options = LiveOptions(
        record=Path(args.record) if args.record else None,
        window=args.window,
        max_frames=args.max_frames,
        duration=args.duration,
        snapshot_dir=Path(args.snapshot_dir),
        interpolate=args.interpolate,
    )
    print(f"live: {source.name} at {source.fps:g} fps, styles: {', '.join(bank.names)}", file=sys.stderr, flush=True)
    sinks = [virtual_camera] if virtual_camera is not None else []
    return LivePipeline(model, source, bank, controls, options, sinks, segmenter).run()


def starting_controls(args: argparse.Namespace, device: str, default_size: int, style_count: int) -> LiveControls:
    """The live settings from the command line (--size defaults to CPU_LIVE_SIZE on a CPU; auto starts there)."""
    person, person_strength = person_mode(args)
    return LiveControls(
        style_count=style_count,
        size=args.size if isinstance(args.size, int) else (CPU_LIVE_SIZE if "CPU" in device else default_size),
        auto_size=args.size == "auto",
        strength=args.strength,
        preserve_colors=args.preserve_colors,
        stabilize=args.stabilize,
        person=person,
        person_strength=person_strength,
    )


def open_virtual_camera(args: argparse.Namespace, source: VideoSource) -> VirtualCamera:
    """The --virtual-camera device at --virtual-camera-size (default: the source's size) and the source's rate."""
    size = parse_size(args.virtual_camera_size, "--virtual-camera-size") or source.size
    if not all(size):
        size = DEFAULT_VIRTUAL_CAMERA_SIZE
    camera = VirtualCamera(size, source.fps, args.virtual_camera or None)
    print(f"virtual camera: {camera.device}, {size[0]}x{size[1]} at {source.fps:g} fps", file=sys.stderr, flush=True)
    return camera
