"""The options several sub-commands share, and argparse's value types; nothing here imports TensorFlow."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def examples(lines: Sequence[str]) -> str:
    """The --help epilog: real command lines to copy."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def verbose_option() -> argparse.ArgumentParser:
    """-v/--verbose, shared by every sub-command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", help="also show TensorFlow's and the other libraries' own logs"
    )
    return parent


def add_command(
    commands: argparse._SubParsersAction, name: str, help_text: str, example_lines: Sequence[str]
) -> argparse.ArgumentParser:
    """A sub-command with -v and its examples at the end of its --help."""
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        parents=[verbose_option()],
        epilog=examples(example_lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


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
        help="lite (Magenta's TF Lite pair) or hub (the larger TF Hub model), a TF Hub or Kaggle handle/URL, a "
        "SavedModel folder, a folder holding the two .tflite files (any names), or PREDICT.tflite,TRANSFER.tflite "
        "(default: $LIVE_STYLE_MODEL, else lite on a CPU and hub on a GPU, downloaded once)",
    )
    group.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "gpu", "cuda", "mps"),
        help="where to run: gpu is the GPU TensorFlow or PyTorch sees, cuda and mps (Apple) PyTorch's (default: auto, "
        "a GPU when there is one)",
    )
    group.add_argument(
        "--runtime",
        default="auto",
        choices=("auto", "tensorflow", "openvino", "torch"),
        help="what runs the transfer network (default auto: PyTorch on a GPU only it sees, the faster of TensorFlow "
        "and PyTorch, measured once, on a GPU both see, OpenVINO on a CPU when the [openvino] extra is installed, "
        "else TensorFlow)",
    )
    group.add_argument("--xla", action="store_true", help="compile the transfer network with XLA")
    group.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "float32", "float16", "bfloat16", "int8"),
        help="compute precision of the transfer network: float16/bfloat16 (PyTorch, norms in float32; TensorFlow on "
        "a GPU; OpenVINO's hint on a CPU), int8 quantized per style on OpenVINO (default auto: on OpenVINO the fastest "
        "measured on this CPU that stays within 30 dB of float32, kept in the cache; PyTorch float16 on a GPU; "
        "else float32)",
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
        help="steady, flicker-free output (the default): blend with neighbouring outputs along the optical flow "
        f"({which}); --no-stabilize gives the plain per-frame output",
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
        help="style image (repeat to mix several, or give a folder)"
        + ("" if required else "; required, except with --list-cameras"),
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
