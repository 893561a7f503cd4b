"""Dense optical flow between content frames, warping along it, and where the flow can be trusted.

Flow is computed with OpenCV's DIS (Kroeger et al. 2016) on grey frames at half the processing
size, forward and backward. Confidence follows Ruder et al. 2016: a pixel is occluded where the
forward and backward flows do not cancel, and unreliable on motion boundaries; a photometric check
also rejects pixels whose warped brightness disagrees (lighting changes, flow errors).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

FLOW_SCALE = 0.5  # flow at half the processing size: smooth fields, a quarter of the cost
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST  # picked by measurement: bench/temporal.py --presets
SUM_CHANNELS = np.ones((1, 2), np.float32)
PHOTOMETRIC_SIGMA = 18.0  # grey levels (0-255): a warped pixel this far off in brightness keeps 37% confidence


def gray(frame: np.ndarray) -> np.ndarray:
    """Luminance of a BGR uint8 frame (uint8)."""
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


@functools.lru_cache(maxsize=8)
def pixel_grid(height: int, width: int) -> np.ndarray:
    """The (x, y) coordinates of every pixel, HxWx2 float32 (cached: frames keep their size)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.dstack([xs, ys])


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` sampled at x + flow(x): brings a frame onto the frame the flow was computed from."""
    coordinates = pixel_grid(*flow.shape[:2]) + flow
    return cv2.remap(image, coordinates, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """A flow field at another resolution, its vectors scaled with it."""
    if flow.shape[:2] == (height, width):
        return flow
    scale = np.array([width / flow.shape[1], height / flow.shape[0]], np.float32)
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * scale


def squared_norm(field: np.ndarray) -> np.ndarray:
    """|v|^2 of every vector of an HxWx2 float32 field (OpenCV: no temporaries per channel)."""
    return cv2.transform(cv2.multiply(field, field), SUM_CHANNELS)


def occlusion(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s forward-backward test: True where following `forward` then `backward` does not return."""
    back_at_target = warp(backward, forward)
    magnitude = squared_norm(forward) + squared_norm(back_at_target)
    return squared_norm(cv2.add(forward, back_at_target)) > 0.01 * magnitude + 0.5


def motion_boundary(flow: np.ndarray) -> np.ndarray:
    """Ruder et al.'s motion-boundary test: True where the flow's gradient is large for its size."""
    d_x = cv2.Sobel(flow, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)  # central differences, as np.gradient
    d_y = cv2.Sobel(flow, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    return squared_norm(d_x) + squared_norm(d_y) > 0.01 * squared_norm(flow) + 0.002


@dataclass
class Alignment:
    """How the current frame relates to the previous one, at the processing size."""

    flow: np.ndarray  # current -> previous: previous frame sampled at x + flow(x) lands on the current one
    confidence: np.ndarray  # 0..1 per pixel: how far the warped previous frame can be trusted

    @property
    def coverage(self) -> float:
        """Share of the frame that is confidently the same scene (near 0 after a cut or a whip pan)."""
        return float(np.mean(self.confidence > 0.5))


class FlowEstimator:
    """DIS flow between consecutive grey frames (reusing one DIS instance, as OpenCV recommends)."""

    def __init__(self, preset: int = DIS_PRESET):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def small(self, frame: np.ndarray) -> np.ndarray:
        """The grey frame flow is computed on."""
        height, width = frame.shape[:2]
        size = (max(8, round(width * FLOW_SCALE)), max(8, round(height * FLOW_SCALE)))
        return cv2.resize(gray(frame), size, interpolation=cv2.INTER_AREA)

    def align(
        self, current_small: np.ndarray, previous_small: np.ndarray, shape: tuple[int, int], both: bool = False
    ) -> tuple[Alignment, Alignment | None]:
        """(current -> previous on the current grid, and with `both` previous -> current on the previous grid).

        `current_small` and `previous_small` come from `small`; the alignments are brought to `shape` (h, w).
        """
        backward = self.dis.calc(current_small, previous_small, None)
        forward = self.dis.calc(previous_small, current_small, None)
        back = self._alignment(backward, forward, current_small, previous_small, shape)
        return back, self._alignment(forward, backward, previous_small, current_small, shape) if both else None

    @staticmethod
    def _alignment(
        flow: np.ndarray, reverse: np.ndarray, here: np.ndarray, there: np.ndarray, shape: tuple[int, int]
    ) -> Alignment:
        """How far `there` warped onto `here` along `flow` is trusted: not occluded, no motion edge, same brightness."""
        reliable = ~(occlusion(flow, reverse) | motion_boundary(flow))
        warped = warp(there, flow).astype(np.float32)
        photometric = np.exp(-(((warped - here) / PHOTOMETRIC_SIGMA) ** 2))
        confidence = cv2.GaussianBlur(reliable.astype(np.float32) * photometric, (5, 5), 0)
        height, width = shape
        confidence = cv2.resize(confidence, (width, height), interpolation=cv2.INTER_LINEAR)
        return Alignment(resize_flow(flow, height, width), confidence)
