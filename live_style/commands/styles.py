"""`live-style styles [DIR] -o sheet.png`: a contact sheet of every style, vectors cached on the way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from live_style.commands.common import open_model
from live_style.errors import UserError
from live_style.imaging import read_image, to_bgr_uint8, write_image
from live_style.sinks.window import draw_text_block
from live_style.styles import IMAGE_SUFFIXES, style_files
from live_style.synthetic_media import scene

COLUMNS = 3
SAMPLE_SIZE = (480, 360)


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


def write_contact_sheet(args: argparse.Namespace) -> int:
    """Stylize one sample frame with every style in DIR and lay the results out, labelled."""
    out = Path(args.output)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"-o {out}: give an image name ending in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    files = style_files([args.folder])
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
