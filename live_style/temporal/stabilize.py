"""Steadier video: frame-by-frame stylization flickers; blend with the previous output where the
content did not change, so still areas settle and moving ones are never smeared.

The flicker figure is the mean absolute change between consecutive stylized frames divided by the
content's own mean change: 1 means the style changes exactly as much as the scene does.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

KEEP = 0.85  # how much of the previous output a fully still pixel keeps
CHANGE_SCALE = 12.0  # content change (0-255) at which a pixel counts as moving
MOTION_MARGIN = 0.25  # of the short side: the network's reach, so the halo around moving things refreshes too
MASK_SCALE = 4  # the change map is computed at a quarter of the size (cheaper, and averages sensor noise away)


class Stabilizer:
    """Per-pixel temporal blending of one stream, guided by how much the content changed."""

    def __init__(self) -> None:
        self._content: np.ndarray | None = None
        self._output: np.ndarray | None = None

    def __call__(self, content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The steadied frame for `stylized` (BGR uint8, the same size as `content`)."""
        smooth = smoothed_gray(content)
        if self._content is None or self._content.shape != smooth.shape or self._output.shape != stylized.shape:
            steady = stylized.astype(np.float32)
        else:
            keep = KEEP * self._stillness(smooth, stylized.shape[:2])[..., None]
            steady = keep * self._output + (1.0 - keep) * stylized
        self._content, self._output = smooth, steady
        return (steady + 0.5).astype(np.uint8)

    def _stillness(self, smooth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """1 where the content (and everything within the network's reach of it) did not change, else 0."""
        margin = 2 * round(MOTION_MARGIN * min(smooth.shape) / 2) + 1
        change = cv2.dilate(cv2.absdiff(smooth, self._content), np.ones((margin, margin), np.uint8))
        still = np.exp(-((change / CHANGE_SCALE) ** 2))
        return cv2.resize(still, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def smoothed_gray(frame: np.ndarray) -> np.ndarray:
    """Luminance at a quarter of the size, area-averaged."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    size = (max(1, gray.shape[1] // MASK_SCALE), max(1, gray.shape[0] // MASK_SCALE))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def mean_change(frames: list[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames."""
    return float(np.mean([cv2.absdiff(a, b).mean() for a, b in itertools.pairwise(frames)]))


def flicker(contents: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """How much the output changes per frame, relative to the content's own change."""
    return mean_change(outputs) / max(mean_change(contents), 1e-6)
