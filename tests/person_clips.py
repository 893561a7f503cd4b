"""Clips with a real person in them (tests and bench/person.py), and their masks as the live loop makes them.

The person is scikit-image's astronaut: the photo panned and zoomed, and her head and shoulders
(cut out by the segmenter itself, hard-edged) walking across other real photos.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from handheld import handheld_clip, person_walk, photos

from live_style.imaging import processing_shape
from live_style.model.segmenter import Segmenter
from live_style.temporal.coherence import Steadier
from live_style.temporal.masks import guided_upsample, split_mask, with_mask
from live_style.temporal.metrics import outline_flicker

SIZE = (640, 480)
SHORT_SIDE = 256  # the live default on a CPU


def person_clips(shared: Path, segmenter: Segmenter, frames: int = 40) -> dict[str, list[np.ndarray]]:
    """Named clips: the astronaut panned and zoomed; her head and shoulders walking over two other photos."""
    found = photos(shared)
    astronaut = found["astronaut"]
    bust = cv2.resize(astronaut[:320, 40:440], (300, 240), interpolation=cv2.INTER_AREA)
    cutout = segmenter(bust) >= 128
    clips = {f"astronaut {kind}": handheld_clip(astronaut, kind, frames, SIZE) for kind in ("pan", "zoom")}
    for room in ("chicago", "rocket"):
        clips[f"walk over {room}"] = person_walk(bust, cutout, found[room], frames, SIZE)
    return clips


def live_masks(clip: list[np.ndarray], segmenter: Segmenter, steady: bool = True) -> list[np.ndarray]:
    """Each frame's person mask (float 0..1, full size) as the live loop makes it: segmented at the processing
    size, steadied along the flow (or not), upsampled with the frame as the guide."""
    steadier = Steadier()
    masks = []
    for frame in clip:
        height, width = processing_shape(*frame.shape[:2], SHORT_SIDE)
        small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        layered = with_mask(small, segmenter(small))  # the frame stands in for its stylized picture
        _, mask = split_mask(steadier(small, layered) if steady else layered)
        masks.append(guided_upsample(mask, frame))
    return masks


def outline_bands(references: list[np.ndarray], width: int = 9) -> list[np.ndarray]:
    """Where each reference mask's outline runs, `width` pixels wide."""
    kernel = np.ones((width, width), np.uint8)
    return [cv2.morphologyEx((r >= 128).astype(np.uint8), cv2.MORPH_GRADIENT, kernel) > 0 for r in references]


def halved(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames (or masks, or bands) at half size: the outline flicker's flow costs a quarter."""
    return [cv2.resize(f.astype(np.uint8) if f.dtype == bool else f, None, fx=0.5, fy=0.5) for f in frames]


def outline_flicker_ratio(clip: list[np.ndarray], references: list[np.ndarray], steady: list, alone: list) -> float:
    """The steady masks' flicker along the outline over the per-frame masks' (metrics.outline_flicker, half size)."""
    bands = [band > 0 for band in halved(outline_bands(references))]
    steadied, per_frame = outline_flicker(halved(clip), bands, halved(steady), halved(alone))
    return steadied / per_frame
