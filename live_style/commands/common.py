"""What every command does with its options: open the model, turn --style/--mix into a vector."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from live_style.imaging import read_image
from live_style.model import load_model
from live_style.model.openvino_runtime import INSTALL_HINT, openvino_available
from live_style.model.stylizer import Stylizer
from live_style.styles import mix_vectors, normalized_weights, parse_mix, style_files


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
    report = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    model = load_model(**model_options(args), workload=workload, report=report)
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
