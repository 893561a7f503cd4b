"""Still image files as viewers show them. Pillow, the reference reader, decodes every format: the picture comes
upright (EXIF orientation, and AVIF's irot/imir, which Pillow reports as one), in sRGB (the file's ICC profile
applied, as colour-managed viewers do) and with its alpha. An output keeps what its format holds of the input:
the alpha, 16 bits in PNG and TIFF, and a tag saying it is sRGB when the input carried a profile."""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from live_style.errors import UserError
from live_style.imaging import to_bgr_uint8, write_image
from live_style.styles import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

HEIF_SUFFIXES = {".heic", ".heif"}  # iPhone photos: Pillow opens them with pillow-heif (the [heic] extra)
HEIC_HINT = "pip install -e '.[heic]' (or pip install pillow-heif)"
GIVE = "give a JPEG, PNG, HEIC, AVIF, BMP, TIFF or WebP file"
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff", ".avif"}  # outputs that keep the input's alpha
DEEP_SUFFIXES = {".png", ".tif", ".tiff"}  # outputs that keep a 16-bit input's 16 bits
NUMERIC_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # Pillow's one-channel integer and float pixels
QUALITY = 95  # JPEG, WebP and AVIF outputs: OpenCV's JPEG default, which outputs had before


@dataclass(frozen=True)
class Still:
    """A still as viewers show it (`image`: HxWx3 BGR or HxWx4 BGRA, uint8, upright, sRGB), and what its file held
    that an output keeps: `depth` bits per sample (8 or 16), whether it carried an ICC profile (`profiled`)."""

    image: np.ndarray
    depth: int = 8
    profiled: bool = False


def read_image(path: str | Path, what: str = "image") -> np.ndarray:
    """The still's pixels as viewers show them (see `read_still`)."""
    return read_still(path, what).image


def read_still(path: str | Path, what: str = "image") -> Still:
    """Read a still as viewers show it; a one-line UserError naming it (`what` and path) when it can't be."""
    path = Path(path)
    with reading(path, what), Image.open(path) as opened:
        depth = file_depth(opened)  # before decoding: Pillow forgets how the file stored its samples then
        upright = ImageOps.exif_transpose(opened)
    if upright.mode in NUMERIC_MODES:
        return Still(numeric_pixels(upright, path, what), depth)
    return Still(srgb_pixels(upright, path), depth, bool(upright.info.get("icc_profile")))


def check_still(path: str | Path, what: str = "image") -> Path:
    """The path, once Pillow knows its format from the header (no decoding): a file that cannot be a still is
    refused before any work."""
    path = Path(path)
    with reading(path, what), Image.open(path):
        return path


@contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Whatever stops Pillow reading `path` as one line naming it and what to do."""
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give the image files in it, e.g. {path / '*.jpg'}")
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist; check the path")
    if not heif_opener() and path.suffix.lower() in HEIF_SUFFIXES:
        raise UserError(f"{what} {path}: HEIC photos need the [heic] extra: {HEIC_HINT}")
    try:
        with warnings.catch_warnings():  # 90-180 megapixel photos are real photos here, not an attack
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise UserError(f"{what} {path} is not an image Pillow reads; {GIVE}") from None
    except Image.DecompressionBombError as error:
        raise UserError(f"{what} {path} is too large to decode safely ({error}); give a smaller image") from None
    except Exception as error:  # a decoder meeting a damaged file may raise anything
        damaged = f"{what} {path} cannot be decoded ({error}); it is damaged or cut short"
        raise UserError(f"{damaged}: give a complete copy") from None


def heif_opener() -> bool:
    """Let Pillow open HEIC/HEIF photos when the [heic] extra is installed; whether it is."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@functools.cache
def srgb() -> ImageCms.ImageCmsProfile:
    """LittleCMS's sRGB profile, made once, when a still first needs it."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.cache
def srgb_bytes() -> bytes:
    """The sRGB profile as an output's ICC tag."""
    return srgb().tobytes()


def file_depth(opened: Image.Image) -> int:
    """16 when the file stores more than 8 bits a sample (Pillow holds 16-bit colour as 8), else 8."""
    deep = opened.mode in NUMERIC_MODES or any(";16" in str(tile.args) for tile in opened.tile)
    return 16 if deep else 8


def numeric_pixels(image: Image.Image, path: Path, what: str) -> np.ndarray:
    """One-channel integer pixels as 16-bit levels, float ones as [0,1]: 8-bit BGR."""
    values = np.asarray(image)
    if values.dtype.kind == "f":
        return to_bgr_uint8(values)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 0xFFFF:
        raise UserError(
            f"{what} {path} holds 32-bit integer pixels ({low} to {high}), beyond 16 bits; "
            "save it as an 8- or 16-bit image"
        )
    return cv2.cvtColor(np.round(values / 257).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def srgb_pixels(image: Image.Image, path: Path) -> np.ndarray:
    """8-bit BGR, or BGRA when the file has transparency, in sRGB: the file's ICC profile applied."""
    mode = "RGBA" if image.has_transparency_data else "RGB"
    if image.mode not in ("L", "RGB", "RGBA", "CMYK"):  # the modes LittleCMS converts from
        image = image.convert(mode)
    if profile := image.info.get("icc_profile"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            image = ImageCms.profileToProfile(image, source, srgb(), outputMode=mode)
        except (OSError, ImageCms.PyCMSError) as error:
            log.warning("%s: its ICC colour profile does not apply to its pixels (%s); read as sRGB", path, error)
    pixels = np.asarray(image if image.mode == mode else image.convert(mode))
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if mode == "RGBA" else cv2.COLOR_RGB2BGR)


def write_still(path: Path, stylized: np.ndarray, like: Still) -> None:
    """Write a stylized still (HxWx3 BGR uint8) keeping what its format holds of the input `like`."""
    image = with_alpha(stylized, like.image, path)
    if like.depth == 16 and path.suffix.lower() in DEEP_SUFFIXES:
        write_image(path, image.astype(np.uint16) * 257)  # Pillow holds no 16-bit colour; OpenCV writes it
    else:
        write_image(path, image, partial(save_with_pillow, tag_srgb=like.profiled))


def with_alpha(stylized: np.ndarray, original: np.ndarray, path: Path) -> np.ndarray:
    """The input's alpha put back (resized to the output) when it had one and the output's format keeps it."""
    if original.shape[-1] != 4 or path.suffix.lower() not in ALPHA_SUFFIXES:
        return stylized
    alpha = cv2.resize(original[..., 3], stylized.shape[1::-1], interpolation=cv2.INTER_AREA)
    return np.dstack([stylized, alpha])


def save_with_pillow(path: Path, image: np.ndarray, tag_srgb: bool) -> None:
    """An 8-bit BGR(A) image in the format its name says, tagged sRGB when asked."""
    rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[-1] == 4 else cv2.COLOR_BGR2RGB)
    tiff = path.suffix.lower() in (".tif", ".tiff")
    options = {"compression": "tiff_lzw"} if tiff else {"quality": QUALITY}  # LZW: as OpenCV wrote TIFFs
    if tag_srgb:
        options["icc_profile"] = srgb_bytes()
    Image.fromarray(rgb).save(path, **options)


def output_name(source: Path) -> str:
    """The input's own name when its format is written here; else a photo format's (HEIC) as NAME.jpg and any
    other (APNG, GIF, PPM, ...) as NAME.png, which keeps alpha and 16 bits."""
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return source.name
    photo = source.suffix.lower() in HEIF_SUFFIXES | {".jfif", ".jpe"}
    return f"{source.stem}{'.jpg' if photo else '.png'}"
