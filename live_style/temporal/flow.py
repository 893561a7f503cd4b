"""Dense optical flow between content frames, warping along it, and where the flow can be trusted.

Flow is computed with OpenCV's DIS (Kroeger et al. 2016) on frames at half the processing size,
forward and backward. Confidence follows Ruder et al. 2016's forward-backward test: a pixel is
occluded where the two flows do not cancel; a photometric check also rejects pixels whose warped
colour disagrees (lighting changes, flow errors, an object as bright as what it covers). Ruder's
motion-boundary test is left to the metric (`metrics.py`): on DIS's patch-based flow it fires along
every patch seam and over whole moving objects, which then flicker unsteadied (measured on
bench/temporal.py's clips).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

MIN_FLOW_SIDE = 16  # DIS refuses frames under 12 pixels a side: tiny videos are upscaled for the flow
FLOW_SCALE = 0.5  # flow at half the processing size: smooth fields, a quarter of the cost
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST  # picked by measurement: bench/temporal.py --presets
DIS_FINEST_SCALE = 1  # the preset stops at 1/4 of the flow size; 1/2 follows small moving objects (+1.4 ms)
SUM_CHANNELS = np.ones((1, 2), np.float32)
MEAN_OF_CHANNELS = np.full((1, 3), 1 / 3, np.float32)
PHOTOMETRIC_SIGMA = 30.0  # levels (0-255, RMS over B, G, R): a warped pixel this far off keeps 37% confidence


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
    scale = (width / flow.shape[1], height / flow.shape[0], 0.0, 0.0)  # per channel (x, y), as OpenCV's Scalar
    return cv2.multiply(cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR), scale)


def squared_norm(field: np.ndarray) -> np.ndarray:
    """|v|^2 of every vector of an HxWx2 float32 field (OpenCV: no temporaries per channel)."""
    return cv2.transform(cv2.multiply(field, field), SUM_CHANNELS)


def occlusion(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s forward-backward test: True where following `forward` then `backward` does not return."""
    back_at_target = warp(backward, forward)
    magnitude = squared_norm(forward) + squared_norm(back_at_target)
    return squared_norm(cv2.add(forward, back_at_target)) > 0.01 * magnitude + 0.5


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
    """DIS flow between consecutive frames (reusing one DIS instance, as OpenCV recommends).

    `finest_scale` is the finest pyramid level DIS refines (None: the preset's own).
    """

    def __init__(self, preset: int = DIS_PRESET, finest_scale: int | None = DIS_FINEST_SCALE):
        self.dis = cv2.DISOpticalFlow_create(preset)
        if finest_scale is not None:
            self.dis.setFinestScale(finest_scale)

    def small(self, frame: np.ndarray) -> np.ndarray:
        """The frame flow is computed on (BGR, FLOW_SCALE of the size)."""
        height, width = frame.shape[:2]
        size = (max(MIN_FLOW_SIDE, round(width * FLOW_SCALE)), max(MIN_FLOW_SIDE, round(height * FLOW_SCALE)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def calc(self, current_small: np.ndarray, previous_small: np.ndarray) -> np.ndarray:
        """The flow from `current_small` to `previous_small` (both from `small`), at their size."""
        return self.dis.calc(gray(current_small), gray(previous_small), None)

    def align(
        self, current_small: np.ndarray, previous_small: np.ndarray, shape: tuple[int, int], both: bool = False
    ) -> tuple[Alignment, Alignment | None]:
        """(current -> previous on the current grid, and with `both` previous -> current on the previous grid).

        `current_small` and `previous_small` come from `small`; the alignments are brought to `shape` (h, w).
        """
        backward = self.calc(current_small, previous_small)
        forward = self.calc(previous_small, current_small)
        back = self._alignment(backward, forward, current_small, previous_small, shape)
        return back, self._alignment(forward, backward, previous_small, current_small, shape) if both else None

    @staticmethod
    def _alignment(
        flow: np.ndarray, reverse: np.ndarray, here: np.ndarray, there: np.ndarray, shape: tuple[int, int]
    ) -> Alignment:
        """How far `there` warped onto `here` along `flow` is trusted: not occluded, same colour."""
        reliable = ~occlusion(flow, reverse)
        difference = cv2.absdiff(warp(there, flow), here).astype(np.float32)
        distance = cv2.transform(cv2.multiply(difference, difference), MEAN_OF_CHANNELS)
        photometric = np.exp(distance * (-1.0 / PHOTOMETRIC_SIGMA**2))
        confidence = cv2.GaussianBlur(reliable.astype(np.float32) * photometric, (5, 5), 0)
        height, width = shape
        confidence = cv2.resize(confidence, (width, height), interpolation=cv2.INTER_LINEAR)
        return Alignment(resize_flow(flow, height, width), confidence)
