"""Synthetic clips written by tests (nothing is committed): a moving disc over a coloured scene."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def scene(index: int, width: int, height: int) -> np.ndarray:
    """Frame `index` of the clip: sky, ground, and a disc moving left to right."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (160, 110, 50)
    image[height * 3 // 4 :] = (40, 120, 30)
    x = int(width * 0.1 + index * width * 0.8 / 60) % width
    cv2.circle(image, (x, height // 2), height // 6, (220, 230, 240), -1)
    return image


def write_clip(path: Path, frames: int, fps: float, size: tuple[int, int] = (320, 240)) -> Path:
    """An mp4 of `frames` frames at `fps`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(frames):
        writer.write(scene(index, *size))
    writer.release()
    return path


def video_facts(path: Path) -> dict:
    """Frame count (by decoding every frame), fps, size and the first frame of a video file."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} does not open"
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    height, width = frames[0].shape[:2] if frames else (0, 0)
    return {"frames": len(frames), "fps": fps, "size": (width, height), "first": frames[0] if frames else None}
