"""Synthetic frames and clips (benchmarks and tests): a disc moving over a coloured scene."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def scene(index: int, width: int, height: int) -> np.ndarray:
    """Frame `index`: sky, ground, and a disc moving left to right."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (160, 110, 50)
    image[height * 3 // 4 :] = (40, 120, 30)
    x = int(width * 0.1 + index * width * 0.8 / 60) % width
    cv2.circle(image, (x, height // 2), height // 6, (220, 230, 240), -1)
    return image


def write_clip(path: Path, frames: int, fps: float, size: tuple[int, int] = (320, 240)) -> Path:
    """An mp4 (OpenCV, mp4v) of `frames` scene frames at `fps`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(frames):
        writer.write(scene(index, *size))
    writer.release()
    return path


def style_painting(size: int = 256, seed: int = 0) -> np.ndarray:
    """A stand-in style image: random coloured strokes."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 200, np.uint8)
    for _ in range(300):
        start, end = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(image, tuple(map(int, start)), tuple(map(int, end)), rng.integers(0, 255, 3).tolist(), 4)
    return image
