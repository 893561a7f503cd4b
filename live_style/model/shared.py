"""One model for many live sessions (the browser studio): every call runs on the model's own thread.

Sessions call it from their own threads; the calls queue up in the order made, so no session can
starve another and the runtime (an OpenVINO infer request, a TF function) is never entered twice.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from live_style.model.stylizer import Stylizer


class LiveModel(Protocol):
    """What a live session needs of a model: a `Stylizer`, or the studio's `ModelThread` around one."""

    description: str
    device: str

    def transfer(self, frames: np.ndarray, vector: np.ndarray, preserve_colors: bool = False) -> np.ndarray: ...

    def style_vector(self, style_bgr: np.ndarray, remember: bool = True) -> np.ndarray: ...

    def processing_shape(self, height: int, width: int, size: int | None = None) -> tuple[int, int]: ...


class ModelThread:
    """The parts of a Stylizer a live pipeline uses, each model call run on one dedicated thread."""

    def __init__(self, model: Stylizer):
        self.model = model
        self.description = model.description
        self.device = model.device
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    def transfer(self, frames: np.ndarray, vector: np.ndarray, preserve_colors: bool = False) -> np.ndarray:
        """Stylizer.transfer on the model's thread (blocks the caller until done)."""
        return self._thread.submit(self.model.transfer, frames, vector, preserve_colors).result()

    def style_vector(self, style_bgr: np.ndarray, remember: bool = True) -> np.ndarray:
        """Stylizer.style_vector on the model's thread."""
        return self._thread.submit(self.model.style_vector, style_bgr, remember).result()

    def processing_shape(self, height: int, width: int, size: int | None = None) -> tuple[int, int]:
        """Stylizer.processing_shape (no model call)."""
        return self.model.processing_shape(height, width, size)

    def close(self) -> None:
        """Finish the calls under way; refuse new ones."""
        self._thread.shutdown(wait=True, cancel_futures=True)
