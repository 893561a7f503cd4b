"""The studio's styles: the served images with thumbnails, and style images uploaded from the page.

Uploads are untrusted: capped in bytes and pixels, decoded by Pillow as an image of a known format
(its header is read before any pixel is decoded) at a reduced size where the format allows it (the
style network sees a 256x256 square), and only ever kept in memory under a name the server makes.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from live_style.errors import UserError
from live_style.imaging import center_square, to_bgr_uint8
from live_style.stills import read_image

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
UPLOAD_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "TIFF"}  # MPO: a phone camera's JPEG (its first picture)
DECODED_SIDE = 512  # uploads are brought down to about this short side (twice what the style network sees)
REDUCIBLE_MODES = {"RGB", "RGBA", "L", "LA"}  # what reduce() takes; others become RGB first
THUMBNAIL_SIDE = 96
TOO_MANY_PIXELS = f"upload an image of at most {MAX_UPLOAD_PIXELS // 1_000_000} megapixels"


@dataclass
class StyleImage:
    """A style's name, its image (BGR) and its thumbnail (JPEG bytes)."""

    name: str
    image: np.ndarray
    thumbnail: bytes

    @property
    def thumbnail_url(self) -> str:
        """The thumbnail as a data: URL, for styles that have no file to serve."""
        return "data:image/jpeg;base64," + base64.b64encode(self.thumbnail).decode()


def thumbnail(image: np.ndarray) -> bytes:
    """A small square JPEG of the style's centre (what the style network sees)."""
    ok, encoded = cv2.imencode(".jpg", center_square(to_bgr_uint8(image), THUMBNAIL_SIDE))
    return encoded.tobytes() if ok else b""


def load_styles(files: list[Path]) -> list[StyleImage]:
    """The served style images (already checked to exist)."""
    styles = []
    for path in files:
        image = to_bgr_uint8(read_image(path, "style image"))
        styles.append(StyleImage(path.stem, image, thumbnail(image)))
    return styles


class UploadRefused(UserError):
    """An uploaded style image that is too big or not an image; the page shows the message."""


def decode_reduced(picture: Image.Image) -> np.ndarray:
    """The picture as RGB, its short side brought down toward DECODED_SIDE as it is decoded where the format
    allows (JPEG's DCT scaling: 1/2 to 1/8 of the pixels ever made), else right after."""
    width, height = picture.size
    wanted = min(width, height) // DECODED_SIDE
    if wanted > 1:
        picture.draft("RGB", (width // wanted, height // wanted))
    picture.load()
    if picture.mode not in REDUCIBLE_MODES:
        picture = picture.convert("RGB")
    factor = min(picture.size) // DECODED_SIDE
    if factor > 1:  # band by band: Pillow's reduce() of RGBA makes a premultiplied copy of the whole image first
        colour = "L" if picture.mode.startswith("L") else "RGB"
        picture = Image.merge(colour, [picture.getchannel(band).reduce(factor) for band in colour])
    return np.asarray(picture.convert("RGB"))


def return_decoded_memory() -> None:
    """Have Pillow allocate pixels in 64 MB blocks, above glibc's mmap threshold, so a huge upload's
    memory goes back to the system once it is reduced (16 MB blocks stay in the heap of the thread
    that decoded them: +260 MB after four 40-megapixel PNGs, against +80 MB)."""
    Image.core.set_block_size(64 << 20)


def decode_upload(data: bytes, name: str) -> StyleImage:
    """An uploaded style image, under the server's `name` whatever the client called it."""
    if len(data) > MAX_UPLOAD_BYTES:
        megabytes = len(data) / 2**20
        raise UploadRefused(f"the image is {megabytes:.1f} MB; upload one of at most {MAX_UPLOAD_BYTES >> 20} MB")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format not in UPLOAD_FORMATS:
                raise UploadRefused(f"{picture.format} is not a style image format; upload a JPEG, PNG or WebP")
            width, height = picture.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise UploadRefused(f"the image is {width}x{height}; {TOO_MANY_PIXELS}")
            rgb = decode_reduced(picture)
    except Image.DecompressionBombError:
        raise UploadRefused(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadRefused("that file is not an image; upload a JPEG, PNG or WebP") from None
    if min(rgb.shape[:2]) < 8:
        raise UploadRefused("the image is too small to have a style; upload one of at least 8x8 pixels")
    image = np.ascontiguousarray(rgb[..., ::-1])
    return StyleImage(name, image, thumbnail(image))
