"""Command line: `live-style [live] ...`, `live-style image ...`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Sequence

from live_style import logs
from live_style.errors import EXIT_INTERRUPTED, UserError

COMMANDS = ("live", "image", "video", "bench", "styles", "serve", "repair")
NO_TENSORFLOW = ("repair",)
SEGMENT_SECONDS = 20.0  # video jobs: long enough to amortize the warm-up, short enough to lose little to a crash
EXAMPLES = {
    "live-style": (
        "live-style --camera 0 --style styles/wave.jpg",
        "live-style video holiday.mp4 -o holiday-wave.mp4 --style styles/wave.jpg",
        "live-style image photo.jpg --style styles/mosaic.jpg -o photo-mosaic.png",
    ),
    "live": (
        "live-style --camera 0 --style styles/wave.jpg",
        "live-style --camera 1 --camera-size 1280x720 --style styles/ --record out.mp4",
        "live-style --input talk.mp4 --style styles/ink.jpg --no-window --record talk-ink.mp4",
        "live-style --camera 0 --style styles/wave.jpg --no-window --virtual-camera   # then pick it in Zoom/Meet",
    ),
    "image": (
        "live-style image photo.jpg --style styles/mosaic.jpg -o photo-mosaic.png",
        "live-style image a.jpg b.png --style styles/flow.jpg --style styles/ink.jpg --mix 0.7,0.3 -o out/",
        "live-style image photo.jpg --style styles/ink.jpg --method optimize --steps 300 -o slow.png",
    ),
    "repair": (
        "live-style repair .talk.mp4.partial.mp4            # becomes talk.mp4 (or talk-recovered.mp4)",
        "live-style repair .talk.mp4.partial.mp4 -o rescued.mkv",
    ),
    "video": (
        "live-style video holiday.mp4 -o holiday-wave.mp4 --style styles/wave.jpg",
        "live-style video talk.mp4 -o talk-ink.mkv --style styles/ink.jpg --preserve-colors --size 512",
    ),
    "bench": (
        "live-style bench",
        "live-style bench --source my-clip.mp4 --sizes 256,384,512 --json bench.json",
        "live-style bench --temporal handheld.mp4 --sizes 256 --frames 90",
    ),
    "serve": (
        "live-style serve --style styles/            # then open the printed URL",
        "live-style serve --host 0.0.0.0 --cert cert.pem --key key.pem   # other machines: HTTPS and a token",
        "live-style serve --camera 0                 # watch and steer this machine's webcam from a browser",
    ),
    "styles": (
        "live-style styles styles -o sheet.png",
        "live-style styles my-paintings/ -o sheet.png --content photo.jpg",
    ),
}


def examples(name: str) -> str:
    """The --help epilog: real command lines to copy."""
    return "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])


def verbose_option() -> argparse.ArgumentParser:
    """-v/--verbose, shared by every sub-command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", help="also show TensorFlow's and the other libraries' own logs"
    )
    return parent


def add_command(commands: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    """A sub-command with -v and its examples at the end of its --help."""
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        parents=[verbose_option()],
        epilog=examples(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def command(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """The runner of a sub-command; its module (and TensorFlow) is imported only when it is chosen."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"live_style.commands.{module}"), function)(args)

    return run


def positive_int(text: str) -> int:
    """argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return value


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def strength_value(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and how it runs, shared by every command."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        metavar="SPEC",
        help="TF Hub handle/URL, SavedModel folder, TF Lite folder, or "
        "PREDICT.tflite,TRANSFER.tflite (default: $LIVE_STYLE_MODEL, else downloaded once)",
    )
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"), help="where to run (default: auto)")
    group.add_argument(
        "--runtime",
        default="auto",
        choices=("auto", "tensorflow", "openvino"),
        help="what runs the transfer network (default auto: OpenVINO on a CPU when the [openvino] extra is "
        "installed, else TensorFlow)",
    )
    group.add_argument("--xla", action="store_true", help="compile the transfer network with XLA")
    group.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "float32", "float16", "bfloat16", "int8"),
        help="compute precision of the TF Lite transfer network: float16/bfloat16 (TensorFlow on a GPU, OpenVINO's "
        "hint on a CPU), int8 quantized per style on OpenVINO (default auto: on OpenVINO the fastest measured on "
        "this CPU that stays within 30 dB of float32, kept in the cache; on TensorFlow float32)",
    )
    group.add_argument(
        "--lite-interpreter",
        action="store_true",
        help="run the TF Lite transfer file in the TF Lite interpreter (fixed size, CPU)",
    )


def add_stall_timeout_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--stall-timeout: when a silent live source counts as gone."""
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help=f"{what} sends nothing for S seconds (default: 5)",
    )


def add_stabilize_option(parser: argparse.ArgumentParser, which: str) -> None:
    """--stabilize (the default) / --no-stabilize."""
    parser.add_argument(
        "--stabilize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"steady, flicker-free output: blend with neighbouring outputs along the optical flow ({which}); "
        "--no-stabilize gives the plain per-frame output",
    )


def size_or_auto(text: str) -> int | str:
    """argparse type: a positive whole number, or 'auto'."""
    if text == "auto":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a whole number above 0 nor auto") from None


def add_style_options(
    parser: argparse.ArgumentParser, size_help: str, required: bool = True, auto_size: bool = False
) -> None:
    """--style, --mix, --strength, --size."""
    parser.add_argument(
        "--style",
        action="append",
        required=required,
        metavar="IMAGE",
        help="style image (repeat to mix several, or give a folder)",
    )
    parser.add_argument("--mix", metavar="W1,W2,...", help="weights of the --style images (default: equal)")
    parser.add_argument(
        "--strength",
        type=strength_value,
        default=1.0,
        metavar="X",
        help="0 keeps the content's own look, 1 is the full style (default: 1)",
    )
    size_type, metavar = (size_or_auto, "N|auto") if auto_size else (positive_int, "N")
    parser.add_argument("--size", type=size_type, metavar=metavar, help=size_help)
    parser.add_argument(
        "--preserve-colors", action="store_true", help="keep the content's colours: only the luminance is stylized"
    )


def add_person_options(parser: argparse.ArgumentParser, where: str) -> None:
    """--keep-person / --only-person / --person-strength / --segmenter."""
    group = parser.add_argument_group(f"person (MediaPipe selfie segmentation; {where})")
    modes = group.add_mutually_exclusive_group()
    modes.add_argument(
        "--keep-person",
        dest="person",
        action="store_const",
        const="keep",
        default="off",
        help="the person stays real, the room is painted",
    )
    modes.add_argument(
        "--only-person",
        dest="person",
        action="store_const",
        const="only",
        help="the person is painted, the room stays real",
    )
    group.add_argument(
        "--person-strength",
        type=strength_value,
        metavar="X",
        help="paint the person at X (0-1) of the stylized look, the room fully (implies --keep-person)",
    )
    group.add_argument(
        "--segmenter",
        metavar="PATH",
        help="MediaPipe's selfie_segmentation.tflite or a folder holding it "
        "(default: $LIVE_STYLE_SEGMENTER, else downloaded once)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="live-style",
        description="Repaint webcam video, video files and images "
        "in the style of any image (Magenta arbitrary image stylization). "
        "Without a COMMAND, live is meant: live-style --camera 0 --style IMAGE.",
        epilog=examples("live-style"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    image = add_command(commands, "image", "stylize still images")
    image.add_argument("inputs", nargs="+", metavar="IN", help="image file(s)")
    image.add_argument("-o", "--output", required=True, metavar="OUT", help="output image, or a folder for several")
    image.add_argument(
        "--output-size",
        choices=("input", "processing"),
        default="input",
        help="write at the input's size (default) or at the processing size",
    )
    add_style_options(
        image,
        "processing short side in pixels (default: 384 on CPU, 512 on GPU; "
        "--method optimize: longest side, default 512)",
    )
    add_person_options(image, "fast method")
    add_optimize_options(image)
    add_model_options(image)
    image.set_defaults(run=command("image", "stylize_images"))
    add_live_command(commands)
    add_video_command(commands)
    add_bench_command(commands)
    add_styles_command(commands)
    add_serve_command(commands)
    add_repair_command(commands)
    return parser


def add_repair_command(commands: argparse._SubParsersAction) -> None:
    """`repair`: a killed recording's partial into a finished file."""
    repair = add_command(commands, "repair", "turn the partial a killed recording left into a playable file")
    repair.add_argument("partials", nargs="+", metavar="PARTIAL", help="a .NAME.ext.partial.mp4 left by a killed run")
    repair.add_argument("-o", "--output", metavar="OUT", help="where to write it (one PARTIAL; default: NAME.ext)")
    repair.set_defaults(run=command("repair", "repair_recordings"))


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    """`serve`: the browser studio over WebRTC."""
    serve = add_command(commands, "serve", "serve the browser studio: the browser's own camera, stylized over WebRTC")
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
        "--style", action="append", metavar="IMAGE_OR_DIR", help="styles to offer (repeat; default: ./styles)"
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
    serve.set_defaults(run=command("serve", "run_serve"))


def add_styles_command(commands: argparse._SubParsersAction) -> None:
    """`styles`: a contact sheet of a folder of styles."""
    styles = add_command(commands, "styles", "write a contact sheet of every style in a folder")
    styles.add_argument("folder", nargs="?", default="styles", metavar="DIR", help="style images (default: styles)")
    styles.add_argument("-o", "--output", required=True, metavar="SHEET", help="the contact sheet image")
    styles.add_argument("--content", metavar="IMAGE", help="the sample to stylize (default: a synthetic scene)")
    styles.add_argument("--size", type=positive_int, default=256, metavar="N", help="processing short side")
    add_model_options(styles)
    styles.set_defaults(run=command("styles", "write_contact_sheet"))


def add_bench_command(commands: argparse._SubParsersAction) -> None:
    """`bench`: how fast, where the time goes, how close to the machine's limit."""
    bench = add_command(commands, "bench", "measure FPS, stage times and GFLOP/s against the naive loop")
    bench.add_argument(
        "--source",
        default="synthetic",
        metavar="synthetic|PATH",
        help="a synthetic 640x480 30 fps clip (default) or a video file",
    )
    bench.add_argument("--sizes", default="256,384", metavar="N,N", help="processing short sides (default 256,384)")
    bench.add_argument("--frames", type=positive_int, default=120, metavar="N", help="frames of the synthetic clip")
    bench.add_argument("--batch", type=positive_int, default=4, metavar="B", help="frames per model call")
    bench.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    bench.add_argument(
        "--segmenter",
        metavar="PATH",
        help="the person mask's model, to measure its cost (default: $LIVE_STYLE_SEGMENTER, else downloaded once)",
    )
    bench.add_argument(
        "--temporal",
        metavar="CLIP",
        help="measure steadiness on a clip instead: warping error, SSIM, cost and live fps (first of --sizes, "
        "first --frames frames)",
    )
    add_model_options(bench)
    bench.set_defaults(run=command("bench", "run_bench"))


def add_video_command(commands: argparse._SubParsersAction) -> None:
    """`video`: every frame of a file, audio kept."""
    video = add_command(commands, "video", "stylize every frame of video files, keeping their audio; resumable")
    video.add_argument("inputs", nargs="+", metavar="IN", help="video file(s), or a folder of them")
    video.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output video (.mp4, .mkv, .mov, ...), or a folder"
    )
    video.add_argument("--batch", type=positive_int, default=4, metavar="B", help="frames per model call (default 4)")
    video.add_argument(
        "--output-size",
        choices=("input", "processing"),
        default="input",
        help="write at the input's size (default) or at the processing size",
    )
    video.add_argument("--no-audio", action="store_true", help="leave the audio out")
    video.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    video.add_argument(
        "--segment-seconds",
        type=positive_float,
        default=SEGMENT_SECONDS,
        metavar="S",
        help=f"cut inputs at keyframes into segments of about S seconds, the unit of resuming and of --ray "
        f"(default {SEGMENT_SECONDS:g})",
    )
    video.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="render segments on a Ray cluster (ADDRESS, else $RAY_ADDRESS, else a local Ray); needs .[ray]",
    )
    video.add_argument(
        "--ray-workers",
        type=positive_int,
        metavar="N",
        help="model-holding Ray workers (default: as many as the nodes hold: one per GPU, else one per 4 of a "
        "node's CPUs, at least one per node with CPUs)",
    )
    video.add_argument(
        "--ray-cpus-per-worker",
        type=positive_int,
        metavar="N",
        help="CPUs each Ray worker asks of its node (default: a node's CPUs shared out, 4 each at most)",
    )
    video.add_argument(
        "--ray-worker-memory",
        type=positive_float,
        metavar="GB",
        help="memory Ray reserves for each worker on its node (default: none reserved; see README)",
    )
    add_stabilize_option(video, "past and future frames")
    add_person_options(video, "the mask steadied with past and future frames")
    add_style_options(video, "processing short side in pixels (default: 384 on CPU, 512 on GPU)")
    add_model_options(video)
    video.set_defaults(run=command("video", "stylize_video"))


def add_optimize_options(parser: argparse.ArgumentParser) -> None:
    """The Gatys et al. optimization (the tutorials' method) for stills."""
    group = parser.add_argument_group("optimization method (--method optimize)")
    group.add_argument(
        "--method",
        choices=("fast", "optimize"),
        default="fast",
        help="fast: the Magenta network (default); optimize: Gatys et al. on VGG19 features",
    )
    group.add_argument("--steps", type=positive_int, default=1000, metavar="N", help="optimization steps (1000)")
    group.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam", help="Adam (default) or L-BFGS")
    group.add_argument("--learning-rate", type=float, default=0.02, metavar="LR", help="Adam's step (0.02)")
    group.add_argument("--style-weight", type=float, default=1e-2, metavar="W", help="style loss weight (1e-2)")
    group.add_argument("--content-weight", type=float, default=1e4, metavar="W", help="content loss weight (1e4)")
    group.add_argument("--tv-weight", type=float, default=30.0, metavar="W", help="total variation weight (30)")
    group.add_argument("--init", choices=("content", "noise"), default="content", help="start from (content)")
    group.add_argument("--save-every", type=positive_int, metavar="K", help="write OUT-stepNNNNN every K steps")
    group.add_argument(
        "--vgg-weights",
        default="imagenet",
        metavar="imagenet|none|PATH",
        help="VGG19 weights: imagenet (downloaded once by Keras), none (random, for tests), a file",
    )
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def add_live_command(commands: argparse._SubParsersAction) -> None:
    """`live` (the default command): camera or stream -> window and recording."""
    live = add_command(commands, "live", "stylize a webcam or stream live (the default command)")
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
    live.add_argument("--record", metavar="OUT", help="record the stylized stream (.mp4, .avi, .mkv)")
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
    live.set_defaults(run=command("live", "run_live"))


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
    args = build_parser().parse_args(with_default_command(sys.argv[1:] if argv is None else argv))
    logs.set_verbose(args.verbose)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        if args.command == "serve":
            preload_webrtc()
        if args.command not in NO_TENSORFLOW:
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
