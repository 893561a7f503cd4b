"""Style images and what is done with their vectors: mixing several, and strength."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from live_style.errors import UserError

if TYPE_CHECKING:
    from live_style.model.stylizer import Stylizer
    from live_style.pipeline.controls import LiveControls

BUILTIN_FOLDER = Path(__file__).resolve().parent / "data" / "styles"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif"}  # written and read
READ_SUFFIXES = IMAGE_SUFFIXES | {".heic", ".heif"}  # read only (HEIC with the [heic] extra)


def normalized_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """Mix weights scaled to sum 1 (equal when not given), checked against the number of styles."""
    weights = np.ones(count) if weights is None else np.asarray(weights, np.float64)
    if len(weights) != count:
        raise UserError(f"--mix has {len(weights)} weights for {count} styles; give one weight per --style")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise UserError("--mix weights must be zero or more and not all zero, e.g. --mix 0.7,0.3")
    return weights / weights.sum()


def mix_vectors(vectors: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted sum of style vectors (see `normalized_weights`)."""
    weights = normalized_weights(weights, len(vectors))
    return sum(w * np.asarray(v, np.float64) for w, v in zip(weights, vectors, strict=True)).astype(np.float32)


def apply_strength(style: np.ndarray, content: np.ndarray, strength: float) -> np.ndarray:
    """Interpolate from the content's own style vector (0) to the style's (1)."""
    if not 0.0 <= strength <= 1.0:
        raise UserError(f"--strength {strength}: give a number from 0 (no style) to 1 (full style)")
    return (content + strength * (style - content)).astype(np.float32)


def parse_mix(text: str | None) -> list[float] | None:
    """'0.7,0.3' -> [0.7, 0.3]."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--mix {text}: give comma-separated numbers, one per --style, e.g. 0.7,0.3") from None


def builtin_styles() -> list[Path]:
    """The project's own paintings, shipped with the package (see live_style/paintings.py)."""
    return sorted(BUILTIN_FOLDER.glob("*.jpg"))


def builtin_style(name: str) -> Path | None:
    """A built-in style by its name ("wave", "wave.jpg"), or None."""
    return next((path for path in builtin_styles() if name in (path.stem, path.name)), None)


def style_files(paths: Sequence[str | Path]) -> list[Path]:
    """The style images named (a folder stands for every image in it; a built-in style's name for it), checked to
    exist."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists() and (builtin := builtin_style(str(path))) is not None:
            path = builtin
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in READ_SUFFIXES)
            if not found:
                raise UserError(f"--style {path} is a folder with no images in it; give an image or a folder of images")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            names = ", ".join(style.stem for style in builtin_styles())
            raise UserError(
                f"--style {path} does not exist; give a style image, a folder, or a built-in style ({names})"
            )
    return files


class StyleBank:
    """The styles a live session switches between, each vector computed once (then cached)."""

    def __init__(self, vector_of, files: Sequence[Path], weights: Sequence[float] | None = None):
        self.names = [f.stem for f in files]
        self.vectors = [vector_of(f) for f in files]
        if weights is not None:
            self.names.insert(0, "mix " + "+".join(self.names))
            self.vectors.insert(0, mix_vectors(self.vectors, weights))

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def of(cls, names: Sequence[str], vectors: Sequence[np.ndarray]) -> StyleBank:
        """A bank of vectors already computed (a browser session's own copy of the served styles)."""
        bank = cls(lambda _: None, [])
        bank.names, bank.vectors = list(names), list(vectors)
        return bank

    def add(self, name: str, vector: np.ndarray) -> int:
        """Add a style (an upload); returns its index."""
        self.names.append(name)
        self.vectors.append(vector)
        return len(self.names) - 1


def live_style_files(paths: Sequence[str | Path]) -> list[Path]:
    """Styles to switch between: those given, or for a single image every image beside it (it first)."""
    files = style_files(paths)
    if len(paths) != 1 or Path(paths[0]).is_dir():
        return files
    siblings = style_files([files[0].parent])
    start = siblings.index(files[0]) if files[0] in siblings else 0
    return siblings[start:] + siblings[:start]


class CrossFade:
    """The style vector in use, gliding to a newly chosen one over `seconds` (no jump when switching live)."""

    def __init__(self, vector: np.ndarray, seconds: float = 0.5):
        self.start = self.end = np.asarray(vector, np.float32)
        self.started = -np.inf
        self.seconds = seconds

    def to(self, vector: np.ndarray, now: float) -> None:
        """Start gliding from wherever the fade is now to `vector`."""
        self.start, self.end, self.started = self.at(now), np.asarray(vector, np.float32), now

    def at(self, now: float) -> np.ndarray:
        """The vector at time `now` (seconds, monotonic)."""
        progress = min(1.0, max(0.0, (now - self.started) / self.seconds))
        return (self.start + progress * (self.end - self.start)).astype(np.float32)


class StyleMixer:
    """The live style vector: the chosen style (cross-faded after a switch), mixed with a second one, at the
    chosen strength. The content's own vector, for strength below 1, comes from the first frame that needs it."""

    def __init__(self, bank: StyleBank, controls: LiveControls, own_vector: Callable[[np.ndarray], np.ndarray]):
        self.bank, self.controls, self.own_vector = bank, controls, own_vector
        self._fading_to = controls.style_index
        self._fade = CrossFade(bank.vectors[controls.style_index])
        self._content_vector: np.ndarray | None = None

    def vector(self, content: np.ndarray, now: float) -> np.ndarray:
        """The vector for a frame of `content` at time `now` (seconds, monotonic)."""
        controls = self.controls
        if controls.style_index != self._fading_to:
            self._fading_to = controls.style_index
            self._fade.to(self.bank.vectors[self._fading_to], now)
        vector = self._fade.at(now)
        second = controls.second_style
        if second is not None and second < len(self.bank):
            vector = mix_vectors([vector, self.bank.vectors[second]], [1.0 - controls.mix, controls.mix])
        if controls.strength >= 1.0:
            return vector
        if self._content_vector is None:
            self._content_vector = self.own_vector(content)
        return apply_strength(vector, self._content_vector, controls.strength)


def with_strength(model: Stylizer, vector: np.ndarray, content_bgr: np.ndarray, strength: float) -> np.ndarray:
    """`vector` pulled toward the content's own style vector when strength < 1."""
    if strength >= 1.0:
        return vector
    return apply_strength(vector, model.style_vector(content_bgr), strength)
