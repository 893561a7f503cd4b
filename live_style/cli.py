"""Command line: `live-style [live] ...`, `live-style image ...`."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

from live_style.errors import UserError

EXIT_INTERRUPTED = 130


def positive_int(text: str) -> int:
    """argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value


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
    group.add_argument("--xla", action="store_true", help="compile the transfer network with XLA")
    group.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="compute precision of the TF Lite transfer network (float16 for GPUs)",
    )
    group.add_argument(
        "--lite-interpreter",
        action="store_true",
        help="run the TF Lite transfer file in the TF Lite interpreter (fixed size, CPU)",
    )


def add_style_options(parser: argparse.ArgumentParser, size_help: str) -> None:
    """--style, --mix, --strength, --size."""
    parser.add_argument(
        "--style",
        action="append",
        required=True,
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
    parser.add_argument("--size", type=positive_int, metavar="N", help=size_help)


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="live-style",
        description="Repaint webcam video, video files and images "
        "in the style of any image (Magenta arbitrary image stylization).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    image = commands.add_parser("image", help="stylize still images")
    image.add_argument("inputs", nargs="+", metavar="IN", help="image file(s)")
    image.add_argument("-o", "--output", required=True, metavar="OUT", help="output image, or a folder for several")
    image.add_argument(
        "--output-size",
        choices=("input", "processing"),
        default="input",
        help="write at the input's size (default) or at the processing size",
    )
    add_style_options(image, "processing short side in pixels (default: 384 on CPU, 512 on GPU)")
    add_model_options(image)
    image.set_defaults(run=run_image)
    return parser


def run_image(args: argparse.Namespace) -> int:
    """`live-style image`."""
    from live_style.commands.image import stylize_images

    return stylize_images(args)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up chatter (logged before absl is set up) off the user's terminal.

    Those lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is parked in a file while TensorFlow
    imports and finds its devices; the file is shown only if that fails.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        except BaseException:
            os.dup2(saved, 2)
            parked.seek(0)
            sys.stderr.write(parked.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, turn errors into one line and an exit code."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow()
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UserError as error:
        print(f"live-style: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("live-style: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
