"""What the commands do with their shared options: open the model, turn --style/--mix into a vector, find the
segmenter, the live settings. Imported by a command's run (it imports TensorFlow)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from live_style.errors import EXIT_SOME_FAILED, UserError
from live_style.model.loading import load_model
from live_style.model.openvino_runtime import INSTALL_HINT, openvino_available
from live_style.model.segmenter import SegmenterSupply, locate_segmenter
from live_style.model.stylizer import Stylizer
from live_style.pipeline.controls import LiveControls
from live_style.stills import read_image
from live_style.styles import mix_vectors, normalized_weights, parse_mix, style_files

CPU_LIVE_SIZE = 256  # about 25 fps of model time here; 384 halves that


def say(line: str) -> None:
    """A line for the user on stderr, at once (stdout stays for the command's results)."""
    print(line, file=sys.stderr, flush=True)


def model_options(args: argparse.Namespace) -> dict:
    """load_model's keyword arguments from the shared model options (also what a Ray worker opens)."""
    return {
        "spec": args.model,
        "device": args.device,
        "xla": args.xla,
        "precision": args.precision,
        "lite_interpreter": args.lite_interpreter,
        "runtime": args.runtime,
    }


def open_model(args: argparse.Namespace, workload: str = "video") -> Stylizer:
    """load_model from the shared model options, saying what runs (`workload`: see `pick_precision`)."""
    model = load_model(**model_options(args), workload=workload, report=say)
    print(f"model: {model.description}", file=sys.stderr)
    if args.runtime == "auto" and model.runtime == "tensorflow" and "CPU" in model.device and not openvino_available():
        print(
            f"note: OpenVINO is not installed, so TensorFlow runs the model; for a faster CPU path: {INSTALL_HINT}",
            file=sys.stderr,
        )
    return model


def styles_vector(model: Stylizer, args: argparse.Namespace) -> np.ndarray:
    """The mixed vector of every --style (one style network run per new image, then cached)."""
    files = style_files(args.style)
    weights = normalized_weights(parse_mix(args.mix), len(files))
    return mix_vectors([model.style_vector(read_image(f, "style image")) for f in files], weights)


def person_mode(args: argparse.Namespace) -> tuple[str, float]:
    """(mode, person strength) from --keep-person / --only-person / --person-strength."""
    if args.person_strength is None:
        return args.person, 0.0
    if args.person == "only":
        raise UserError("--person-strength sets how much the kept person is painted; leave out --only-person")
    return "keep", args.person_strength


def segmenter_supply(args: argparse.Namespace, mode: str) -> SegmenterSupply:
    """Located now when a person option or --segmenter is given (a bad file stops the command before it starts),
    else on first use (the m key, the page's control)."""
    if mode != "off" or args.segmenter:
        return SegmenterSupply(ready=locate_segmenter(args.segmenter))
    return SegmenterSupply()


def live_controls(
    args: argparse.Namespace, on_gpu: bool, default_size: int, style_count: int, recording: bool = False
) -> LiveControls:
    """The live settings from the command line (--size defaults to CPU_LIVE_SIZE on a CPU, the model's default
    size on a GPU; auto starts there)."""
    person, person_strength = person_mode(args)
    return LiveControls(
        style_count=style_count,
        size=args.size if isinstance(args.size, int) else (default_size if on_gpu else CPU_LIVE_SIZE),
        auto_size=args.size == "auto",
        strength=args.strength,
        preserve_colors=args.preserve_colors,
        stabilize=args.stabilize,
        recording=recording,
        person=person,
        person_strength=person_strength,
    )


def each_or_report(items: list, work, single: bool) -> tuple[list, int]:
    """`work(item)` for each item; a UserError ends a one-input run, else it is reported and counted."""
    done, failures = [], 0
    for item in items:
        try:
            done.append(work(item))
        except UserError as error:
            if single:
                raise
            print(f"live-style: error: {error}", file=sys.stderr)
            failures += 1
    return done, failures


def outcome(written: int, failures: int, single: bool, things: str) -> int:
    """The exit code (1 if any input failed), after a line counting them when there were several."""
    if failures and not single:
        print(f"{written} of {written + failures} {things} written; {failures} failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else 0
