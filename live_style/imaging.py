"""Pre- and post-processing in one place: any image in, BGR uint8 frames, sizes the network takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from live_style.atomic import partial_path
from live_style.errors import UserError

STYLE_SIZE = 256
SIZE_MULTIPLE = 4  # two stride-2 convs down, two x2 upsamplings back
MIN_SIDE = 16
FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Grayscale, BGRA, 16-bit or float images as HxWx3 uint8 BGR (alpha dropped)."""
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = to_levels(image)
    elif image.dtype != np.uint8:
        raise UserError(f"images of type {image.dtype} are not supported; use 8- or 16-bit images")
    if image.ndim == 2 or image.shape[-1] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[-1] == 4:
        return np.ascontiguousarray(image[..., :3])
    return image


def to_levels(image: np.ndarray) -> np.ndarray:
    """A float image in [0,1] (any channels) as uint8 levels: rounded, clipped (OpenCV's saturating cast)."""
    return cv2.addWeighted(image, 255.0, image, 0.0, 0.0, dtype=cv2.CV_8U)


def bgr_to_rgb01(frames: np.ndarray) -> np.ndarray:
    """uint8 BGR frames [N,H,W,3] -> float32 RGB in [0,1], each level exactly level/255 (as networks take them)."""
    rgb01 = np.empty(frames.shape, np.float32)
    for frame, target in zip(frames, rgb01, strict=True):
        np.divide(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), np.float32(255), out=target)
    return rgb01


def rgb01_to_bgr(frames: np.ndarray) -> np.ndarray:
    """float RGB frames [N,H,W,3] in [0,1] -> uint8 BGR, rounded and clipped."""
    bgr = np.empty(frames.shape, np.uint8)
    for frame, target in zip(frames, bgr, strict=True):
        cv2.cvtColor(to_levels(frame), cv2.COLOR_RGB2BGR, dst=target)
    return bgr


def write_image(path: str | Path, image: np.ndarray, save: Callable[[Path, np.ndarray], None] | None = None) -> None:
    """Write an image through a temporary name, so a half-written file never looks complete (`save`: OpenCV's)."""
    path = Path(path)
    partial = partial_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        (save or save_with_opencv)(partial, image)
        partial.replace(path)
    except (cv2.error, OSError, ValueError, KeyError):  # what OpenCV and Pillow raise for a name or folder they refuse
        partial.unlink(missing_ok=True)
        raise UserError(
            f"cannot write {path}; use a .png, .jpg, .avif, .bmp, .tiff or .webp name in a writable folder"
        ) from None


def save_with_opencv(path: Path, image: np.ndarray) -> None:
    """cv2.imwrite, its False as an OSError."""
    if not cv2.imwrite(str(path), image):
        raise OSError(f"OpenCV did not write {path}")


def style_input(style_bgr: np.ndarray) -> np.ndarray:
    """The style image as the style network takes it: central square crop, 256x256, RGB in [0,1].

    Cropping (not squeezing) keeps the painting's brush strokes at their own aspect ratio.
    """
    square = center_square(to_bgr_uint8(style_bgr), STYLE_SIZE)
    return bgr_to_rgb01(square[None])


def center_square(image: np.ndarray, side: int) -> np.ndarray:
    """The central square of an image, resized to side x side."""
    height, width = image.shape[:2]
    crop = min(height, width)
    top, left = (height - crop) // 2, (width - crop) // 2
    interpolation = cv2.INTER_AREA if crop > side else cv2.INTER_CUBIC
    return cv2.resize(image[top : top + crop, left : left + crop], (side, side), interpolation=interpolation)


def round_to_multiple(value: float, multiple: int = SIZE_MULTIPLE) -> int:
    """Nearest multiple of `multiple`, at least MIN_SIDE."""
    return max(MIN_SIDE, round(value / multiple) * multiple)


def processing_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) with the short side at `short_side` (never upscaling), as the network needs."""
    scale = min(1.0, short_side / min(height, width))
    return round_to_multiple(height * scale), round_to_multiple(width * scale)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize NxHxWx3 frames: area averaging for shrinks past 2x (no aliasing), else bilinear (4x cheaper)."""
    if frames.shape[1:3] == (height, width):
        return frames
    if 2 * height >= frames.shape[1]:
        return resize_each(frames, height, width, cv2.INTER_LINEAR)
    factor = whole_shrink(frames.shape[1], frames.shape[2], height, width)
    if factor > 1:  # OpenCV averages whole blocks fast; the general area path is 2-4x slower
        frames = resize_each(frames, frames.shape[1] // factor, frames.shape[2] // factor, cv2.INTER_AREA)
    return resize_each(frames, height, width, cv2.INTER_AREA)


def resize_each(frames: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    """Every frame resized straight into one new array (stacking them after would copy every frame again)."""
    resized = np.empty((len(frames), height, width, *frames.shape[3:]), frames.dtype)
    for frame, target in zip(frames, resized, strict=True):
        cv2.resize(frame, (width, height), dst=target, interpolation=interpolation)
    return resized


def whole_shrink(height: int, width: int, to_height: int, to_width: int) -> int:
    """The largest whole factor that divides both sides and does not shrink past the target (1 if none)."""
    factor = min(height // to_height, width // to_width)
    while factor > 1 and (height % factor or width % factor):
        factor -= 1
    return factor


def as_batch(frames: np.ndarray) -> tuple[np.ndarray, bool]:
    """(NxHxWx3 BGR uint8 frames, whether the input was a single frame)."""
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8:
        return frames, False
    if frames.ndim == 4:
        return np.stack([to_bgr_uint8(f) for f in frames]), False
    return to_bgr_uint8(frames)[None], True


def preserve_colors(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance-only transfer (Gatys et al., "Preserving color in neural artistic style transfer").

    The stylized frame gives the luminance, the content its chroma (YCrCb); both are HxWx3 BGR.
    """
    luminance = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)[..., :1]
    chroma = cv2.cvtColor(content, cv2.COLOR_BGR2YCrCb)[..., 1:]
    return cv2.cvtColor(np.concatenate([luminance, chroma], axis=-1), cv2.COLOR_YCrCb2BGR)


def resize_longest_side(image: np.ndarray, longest: int) -> np.ndarray:
    """Scale so the longest side is `longest` (down or up), keeping the aspect ratio."""
    height, width = image.shape[:2]
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def draw_text_block(image: np.ndarray, lines: list[str] | tuple[str, ...], top: int = 0) -> np.ndarray:
    """White text on a darkened band, scaled to the frame's width."""
    scale = max(0.4, image.shape[1] / 1400)
    line_height = int(30 * scale) + 6
    bottom = min(image.shape[0], top + line_height * len(lines) + 8)
    image[top:bottom] = (image[top:bottom] * 0.35).astype(np.uint8)
    for row, line in enumerate(lines):
        origin = (8, top + line_height * (row + 1))
        cv2.putText(image, line, origin, FONT, scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return image
