"""How steady a video is: the warping error of Lai et al. 2018, SSIM/PSNR against a reference, and for
person masks their agreement (IoU) and their flicker along the outline.

The warping error follows `evaluate_WarpError.py` of Lai et al. ("Learning Blind Video Temporal
Consistency"): flow on the *source* frames from t to t-1, occlusion and motion-boundary masks as
Ruder et al., then the squared RGB error (in [0,1], summed over channels) between output t and
output t-1 warped onto it, averaged over the non-occluded pixels, then over frame pairs. The flow
here is Farneback's, not the DIS flow the stabilizer uses, so the metric does not reward the
stabilizer's own flow mistakes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import cv2
import numpy as np

from live_style.temporal.flow import gray, occlusion, squared_norm, warp

FARNEBACK = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 21,
    "iterations": 5,
    "poly_n": 7,
    "poly_sigma": 1.5,
    "flags": cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
}
SSIM_C1, SSIM_C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def farneback(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense flow from `first` to `second` (grey uint8)."""
    return cv2.calcOpticalFlowFarneback(first, second, None, **FARNEBACK)


def motion_boundary(flow: np.ndarray) -> np.ndarray:
    """Ruder et al.'s motion-boundary test: True where the flow's gradient is large for its size."""
    d_x = cv2.Sobel(flow, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)  # central differences, as np.gradient
    d_y = cv2.Sobel(flow, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    return squared_norm(d_x) + squared_norm(d_y) > 0.01 * squared_norm(flow) + 0.002


def valid_mask(current: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flow current -> previous, mask of non-occluded, non-boundary pixels) from two source frames."""
    a, b = gray(current), gray(previous)
    backward, forward = farneback(a, b), farneback(b, a)
    return backward, ~(occlusion(backward, forward) | motion_boundary(backward))


def pair_warping_error(out_current: np.ndarray, out_previous: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Lai et al.'s error of one frame pair."""
    warped = warp(out_previous, flow).astype(np.float64) / 255.0
    diff = ((warped - out_current.astype(np.float64) / 255.0) ** 2).sum(-1)
    count = mask.sum()
    return float((diff * mask).sum() / count) if count else float(diff.mean())


def warping_errors(sources: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> np.ndarray:
    """The warping error of every consecutive pair of `outputs`, with flow and masks from `sources`."""
    errors = []
    for (previous_src, current_src), (previous_out, current_out) in zip(
        itertools.pairwise(sources), itertools.pairwise(outputs), strict=True
    ):
        if previous_out.shape != previous_src.shape:
            height, width = previous_src.shape[:2]
            previous_out, current_out = (cv2.resize(o, (width, height)) for o in (previous_out, current_out))
        flow, mask = valid_mask(current_src, previous_src)
        errors.append(pair_warping_error(current_out, previous_out, flow, mask))
    return np.asarray(errors)


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004: Gaussian window of `sigma`, 11x11 at 1.5) over grey frames."""
    x, y = (gray(i).astype(np.float32) if i.ndim == 3 else i.astype(np.float32) for i in (a, b))
    side = 2 * math.ceil(3 * sigma) + 1

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (side, side), sigma)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    score = ((2 * mx * my + SSIM_C1) * (2 * cxy + SSIM_C2)) / ((mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2))
    return float(score.mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two person masks, each cut at its half (uint8 at 128, float at 0.5)."""
    a, b = (m >= (128 if m.dtype == np.uint8 else 0.5) for m in (a, b))
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def outline_flicker(
    sources: Sequence[np.ndarray], outlines: Sequence[np.ndarray], *mask_sets: Sequence[np.ndarray]
) -> list[float]:
    """How much each set of masks (float 0..1) changes along the person's outline between frames, motion removed:
    the mean of |mask t - mask t-1 warped onto t| over frame t's `outlines` band, occluded pixels left out
    (Farneback flow on the sources, as the warping error; computed once for every set)."""
    changes: list[list[float]] = [[] for _ in mask_sets]
    for t, (previous_src, current_src) in enumerate(itertools.pairwise(sources), start=1):
        a, b = gray(current_src), gray(previous_src)
        backward, forward = farneback(a, b), farneback(b, a)
        seen = outlines[t] & ~occlusion(backward, forward)
        for masks, found in zip(mask_sets, changes, strict=True):
            found.append(float(np.abs(masks[t] - warp(masks[t - 1], backward))[seen].mean()) if seen.any() else 0.0)
    return [float(np.mean(found)) for found in changes]
