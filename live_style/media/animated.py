"""Animated WebP, which FFmpeg's decoder bundled with PyAV cannot read, decoded by Pillow behind the same
interface as a video file; and `open_video`, which picks the reader for a path."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from live_style.media.decode import DecodedFrame, FrameIndex, VideoFile, measured_rate

ANIMATABLE_SUFFIXES = frozenset({".webp", ".avif", ".png", ".apng"})  # stills or animations, by their content


def is_animation(path: Path) -> bool:
    """Whether an image file holds more than one frame (an animated WebP, AVIF, APNG or GIF): a video to stylize."""
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError):
        return False


def open_video(path: Path) -> VideoFile | AnimatedImage:
    """The video at `path`: through PyAV, or Pillow for an animated WebP."""
    path = Path(path)
    if path.suffix.lower() == ".webp" and path.is_file():
        animated = AnimatedImage.of(path)
        if animated is not None:
            return animated
    return VideoFile(path)


class AnimatedImage:
    """An animated WebP read with Pillow: every frame (BGR) with its time, keyframes all, no audio."""

    time_base = Fraction(1, 1000)  # WebP frame durations are in milliseconds
    audio = None
    side_tracks = False
    captions = False

    def __init__(self, image: Image.Image, path: Path):
        self.image, self.path = image, path
        self._index: FrameIndex | None = None

    @functools.cached_property
    def pts(self) -> list[int]:
        """Every frame's time (ms), read when first asked: Pillow gives it only by decoding the frames."""
        stamps = []
        for number in range(self.image.n_frames):
            self.image.seek(number)
            self.image.load()
            stamps.append(int(self.image.info.get("timestamp", 100 * number)))
        return stamps

    @functools.cached_property
    def rate(self) -> Fraction:
        return measured_rate(self.pts, self.time_base, Fraction(0))

    @classmethod
    def of(cls, path: Path) -> AnimatedImage | None:
        """The file as an animated image, or None when it is a still (or not one Pillow reads)."""
        try:
            image = Image.open(path)
        except (OSError, ValueError):
            return None
        if getattr(image, "n_frames", 1) > 1:
            return cls(image, path)
        image.close()
        return None

    def index_frames(self) -> FrameIndex:
        if self._index is None:
            self._index = FrameIndex(list(self.pts), list(range(len(self.pts))), self.time_base)
        return self._index

    def use_index(self, index: FrameIndex) -> None:
        """Time frames by an index made before (a segment's), as `VideoFile.use_index`."""
        self._index = index

    def frames_at(self, pts: list[int], first_index: int) -> Iterator[DecodedFrame]:
        numbers = {stamp: number for number, stamp in enumerate(self.pts)}
        for offset, stamp in enumerate(pts):
            yield self._frame(numbers[stamp], first_index + offset)

    def damaged_between(self, first: Fraction, last: Fraction) -> bool:
        """Never: Pillow decodes every frame of an animation or refuses the file."""
        return False

    def frames(self) -> Iterator[DecodedFrame]:
        for number in range(len(self.pts)):
            yield self._frame(number, number)

    def _frame(self, number: int, index: int) -> DecodedFrame:
        self.image.seek(number)
        rgb = np.asarray(self.image.convert("RGB"))
        pts = self.pts[number]
        return DecodedFrame(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), index, pts, self.index_frames().time_of(pts))

    def close(self) -> None:
        self.image.close()
