"""In-between frames for a live source faster than the model: the last stylized frame (the key),
warped along the optical flow from each newer content frame to the key's content.

Motion then runs at the source's frame rate while the style updates at the model's.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from live_style.temporal.flow import FlowEstimator, resize_flow, warp

INTERPOLATION_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST  # one flow per shown frame: the cheapest preset


class Interpolator:
    """Holds the newest key (content + stylized output, processing size); warps it onto newer content."""

    def __init__(self, flow: FlowEstimator | None = None):
        self.flow = flow or FlowEstimator(INTERPOLATION_PRESET, finest_scale=None)
        self._key: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def set_key(self, content: np.ndarray, stylized: np.ndarray) -> None:
        """A new stylized frame and the content it was made from (same size, BGR uint8)."""
        key = (self.flow.small(content), stylized)
        with self._lock:
            self._key = key

    def between(self, content: np.ndarray) -> np.ndarray | None:
        """The key's output moved to where `content` shows the scene; None before the first key or on a size change."""
        with self._lock:
            key = self._key
        if key is None or key[1].shape[:2] != content.shape[:2]:
            return None
        key_small, stylized = key
        small = self.flow.small(content)
        flow = self.flow.calc(small, key_small)  # current -> key
        return warp(stylized, resize_flow(flow, *content.shape[:2]))
