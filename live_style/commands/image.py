"""`live-style image IN... -o OUT`: stylize stills, keeping each one's size and aspect ratio."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from live_style.commands.options import (
    add_command,
    add_model_options,
    add_person_options,
    add_style_options,
    positive_int,
)
from live_style.errors import UserError
from live_style.imaging import resize_frames, to_bgr_uint8
from live_style.stills import check_still, output_name, read_image, read_still, write_still
from live_style.styles import IMAGE_SUFFIXES, style_files, with_strength
from live_style.temporal.masks import PersonLook, composite, guided_upsample

if TYPE_CHECKING:
    from live_style.model.segmenter import Segmenter
    from live_style.model.stylizer import Stylizer

EXAMPLES = (
    "live-style image photo.jpg --style mosaic -o photo-mosaic.png",
    "live-style image a.jpg b.png --style flow --style ink --mix 0.7,0.3 -o out/",
    "live-style image photo.jpg --style ink --method optimize --steps 300 -o slow.png",
)
Stylize = Callable[[np.ndarray, Path], np.ndarray]  # (BGR content, its output path) -> the stylized BGR still


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`image`: stills, by the network or by optimization."""
    image = add_command(commands, "image", "stylize still images", EXAMPLES)
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
    image.add_argument("--quiet", action="store_true", help="no progress bar (--method optimize)")
    image.set_defaults(run=run)


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
        help="VGG19 weights: imagenet (the default, downloaded once by Keras), none (random, for tests), a file",
    )


def output_paths(inputs: list[Path], output: Path, into_folder: bool) -> list[Path]:
    """One output per input: OUT itself, or OUT/<name> (see `output_name`) for several or into a folder."""
    if not into_folder:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"-o {output}: give an image name ending in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
        return [output]
    if output.is_file() or (output.suffix.lower() in IMAGE_SUFFIXES and not output.exists()):
        raise UserError(f"-o {output}: several inputs need an output folder; give a folder (it is created)")
    names = [output_name(p) for p in inputs]
    if len(set(names)) != len(names):
        raise UserError("two inputs have the same file name; stylize them into separate -o folders")
    outputs = [output / name for name in names]
    if any(o.resolve() == i.resolve() for o, i in zip(outputs, inputs, strict=True)):
        raise UserError(f"-o {output} is the inputs' own folder; give another folder so the originals are kept")
    return outputs


def run(args: argparse.Namespace) -> int:
    """Check every input, the output and the styles, open the model once, stylize each image; a bad input of
    several is said in one line and the others go on (exit 1)."""
    from live_style.commands.common import each_or_report, outcome, person_mode

    output, single = Path(args.output), len(args.inputs) == 1
    into_folder = not single or output.is_dir() or args.output.endswith(("/", os.sep))
    sources, refused = each_or_report([Path(p) for p in args.inputs], lambda p: check_still(p, "input image"), single)
    pairs = list(zip(sources, output_paths(sources, output, into_folder), strict=True))
    style_files(args.style)
    look = PersonLook.of(*person_mode(args))
    if args.method == "optimize" and look is not None:
        raise UserError("the person options work with --method fast only")
    if not pairs:
        return outcome(0, refused, single, "images")
    stylize = optimizing(args) if args.method == "optimize" else networked(args, look)

    def stylize_file(pair: tuple[Path, Path]) -> None:
        source, out_path = pair
        started = time.perf_counter()
        still = read_still(source, "input image")
        result = stylize(to_bgr_uint8(still.image), out_path)
        write_still(out_path, result, still)
        elapsed = time.perf_counter() - started
        print(f"wrote {out_path} ({result.shape[1]}x{result.shape[0]}, {elapsed:.2f} s)", file=sys.stderr)

    written, failed = each_or_report(pairs, stylize_file, single)
    return outcome(len(written), refused + failed, single, "images")


def networked(args: argparse.Namespace, look: PersonLook | None) -> Stylize:
    """The fast method: the Magenta network (with the person mask when asked), the model opened once."""
    from live_style.commands.common import open_model, styles_vector
    from live_style.model.segmenter import Segmenter, locate_segmenter

    segmenter = Segmenter(locate_segmenter(args.segmenter)) if look is not None else None
    model = open_model(args, "still")
    vector = styles_vector(model, args)

    def stylize(content: np.ndarray, _out_path: Path) -> np.ndarray:
        height, width = content.shape[:2]
        size = None if args.output_size == "input" else model.processing_shape(height, width, args.size)[::-1]
        vector_here = with_strength(model, vector, content, args.strength)
        stylized = model.stylize(content, vector_here, args.size, size, preserve_colors=args.preserve_colors)
        if segmenter is None:
            return stylized
        return with_person(model, segmenter, content, stylized, args.size, look)

    return stylize


def with_person(
    model: Stylizer, segmenter: Segmenter, content: np.ndarray, stylized: np.ndarray, size: int | None, look: PersonLook
) -> np.ndarray:
    """The stylized still composited with the content through the person mask (found at the processing size)."""
    small = resize_frames(content[None], *model.processing_shape(*content.shape[:2], size))[0]
    original = resize_frames(content[None], *stylized.shape[:2])[0]
    return composite(original, stylized, guided_upsample(segmenter(small), original), look)


def optimizing(args: argparse.Namespace) -> Stylize:
    """The Gatys et al. optimization, written at the input's size unless --output-size processing."""
    from live_style.model.gatys import LossWeights
    from live_style.model.optimize import OptimizeOptions, Optimizer

    if len(args.style) != 1 or args.mix or args.strength != 1.0:
        raise UserError(
            "--method optimize takes one --style at full strength; drop --mix/--strength or use --method fast"
        )
    style = to_bgr_uint8(read_image(style_files(args.style)[0], "style image"))
    weights = LossWeights(args.style_weight, args.content_weight, args.tv_weight)
    optimizer = Optimizer(
        OptimizeOptions(
            args.size,
            args.steps,
            args.optimizer,
            args.learning_rate,
            weights,
            args.init,
            args.save_every,
            args.vgg_weights,
            args.quiet,
        )
    )

    def stylize(content: np.ndarray, out_path: Path) -> np.ndarray:
        result = optimizer.stylize(content, style, out_path)
        if args.output_size == "processing":
            return result
        return resize_frames(result[None], *content.shape[:2])[0]

    return stylize
