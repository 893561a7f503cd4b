"""`live-style styles [DIR] [-o sheet.png]`: the styles there are (built in, or in DIR), or a contact sheet of them,
vectors cached on the way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from live_style.commands.options import add_command, add_model_options, positive_int
from live_style.errors import UserError
from live_style.imaging import draw_text_block, to_bgr_uint8, write_image
from live_style.stills import read_image
from live_style.styles import IMAGE_SUFFIXES, builtin_styles, style_files
from live_style.synthetic_media import scene

EXAMPLES = (
    "live-style styles",
    "live-style styles -o sheet.png",
    "live-style styles my-paintings/ -o sheet.png --content photo.jpg",
)
COLUMNS = 3
SAMPLE_SIZE = (480, 360)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`styles`: the built-in styles (or a folder's), listed or laid out in a contact sheet."""
    styles = add_command(commands, "styles", "list the built-in styles, or write a contact sheet of them", EXAMPLES)
    styles.add_argument("folder", nargs="?", metavar="DIR", help="style images (default: the built-in styles)")
    styles.add_argument("-o", "--output", metavar="SHEET", help="write a contact sheet image of them")
    styles.add_argument("--content", metavar="IMAGE", help="the sample to stylize (default: a synthetic scene)")
    styles.add_argument(
        "--size", type=positive_int, default=256, metavar="N", help="processing short side (default 256)"
    )
    add_model_options(styles)
    styles.set_defaults(run=run)


def tile(stylized: np.ndarray, style: np.ndarray, name: str) -> np.ndarray:
    """One sheet cell: the stylized sample, the style image inset bottom-left, the name on top."""
    side = stylized.shape[0] // 4
    inset = cv2.resize(to_bgr_uint8(style), (side, side), interpolation=cv2.INTER_AREA)
    stylized[-side - 4 : -4, 4 : side + 4] = inset
    return draw_text_block(stylized, [name])


def grid(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles in rows of COLUMNS, the last row padded with black."""
    blank = np.zeros_like(tiles[0])
    rows = [tiles[i : i + COLUMNS] for i in range(0, len(tiles), COLUMNS)]
    width = min(COLUMNS, len(tiles))
    return np.vstack([np.hstack(row + [blank] * (width - len(row))) for row in rows])


def run(args: argparse.Namespace) -> int:
    """List the styles (built in, or in DIR); with -o, stylize one sample frame with each and lay them out."""
    files = style_files([args.folder]) if args.folder else builtin_styles()
    if args.output is None:
        for path in files:
            print(path.stem if args.folder is None else path)
        return 0
    return contact_sheet(args, files)


def contact_sheet(args: argparse.Namespace, files: list[Path]) -> int:
    """Stylize one sample frame with every style and lay the results out, labelled."""
    from live_style.commands.common import open_model

    out = Path(args.output)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"-o {out}: give an image name ending in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    sample = to_bgr_uint8(read_image(args.content, "content image")) if args.content else scene(8, *SAMPLE_SIZE)
    styles = [read_image(f, "style image") for f in files]
    model = open_model(args, "still")
    tiles = []
    for path, style in zip(files, styles, strict=True):
        stylized = model.stylize(sample, model.style_vector(style), size=args.size)
        tiles.append(tile(stylized, style, path.stem))
    write_image(out, grid(tiles))
    print(f"wrote {out}: {len(files)} styles; their vectors are cached in {model.cache.directory}", file=sys.stderr)
    return 0
