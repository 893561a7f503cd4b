"""Style vectors cached in memory and on disk, keyed by image content and model identity."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import platformdirs

from live_style.atomic import partial_path

PREPROCESSING_VERSION = b"crop-256-v1"


def default_cache_dir() -> Path:
    """`LIVE_STYLE_CACHE`, else the user's cache folder (e.g. ~/.cache/live-style)."""
    return Path(os.environ.get("LIVE_STYLE_CACHE") or platformdirs.user_cache_dir("live-style"))


def style_key(model_identity: str, style_input: np.ndarray) -> str:
    """A digest of the model and the exact pixels the style network sees."""
    digest = hashlib.sha256(model_identity.encode())
    digest.update(PREPROCESSING_VERSION)
    digest.update(str(style_input.shape).encode())
    digest.update(np.ascontiguousarray(style_input).tobytes())
    return digest.hexdigest()


class StyleCache:
    """Remembers style vectors so each style image goes through the style network once, ever."""

    def __init__(self, directory: Path | None = None):
        self.directory = (directory or default_cache_dir()) / "style-vectors"
        self._memory: dict[str, np.ndarray] = {}

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached vector for `key`, computing and storing it on a miss."""
        if key in self._memory:
            return self._memory[key]
        path = self.directory / f"{key}.npy"
        vector = self._load(path)
        if vector is None:
            vector = np.asarray(compute(), np.float32)
            self._store(path, vector)
        self._memory[key] = vector
        return vector

    @staticmethod
    def _load(path: Path) -> np.ndarray | None:
        """A stored vector, or None if absent or unreadable (a damaged file is recomputed)."""
        try:
            return np.load(path)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _store(path: Path, vector: np.ndarray) -> None:
        """Write atomically; an unwritable cache only costs a recomputation next time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = partial_path(path, per_process=True)
            with open(partial, "wb") as handle:
                np.save(handle, vector)
            partial.replace(path)
        except OSError:
            pass
