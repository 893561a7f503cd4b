"""MediaPipe's selfie segmentation: how much of each pixel is a person, from a 250 KB TF Lite file.

Found like the Magenta model: `--segmenter` / `LIVE_STYLE_SEGMENTER` (the file or a folder holding
it), else the user's cache, else downloaded once and verified (remote.SEGMENTER). It runs in TF
Lite's interpreter (XNNPACK) on one core, beside the transfer network on the others: OpenVINO cannot
read the file (MediaPipe's custom op Convolution2DTransposeBias) and TensorFlow runs TF Lite files
only through that interpreter. `live-style bench` measures its cost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live_style.errors import UserError
from live_style.imaging import bgr_to_rgb01, to_levels
from live_style.model.download import fetch
from live_style.model.lite import run_interpreter, tflite_interpreter
from live_style.model.remote import SEGMENTER
from live_style.model.style_cache import default_cache_dir
from live_style.model.verify import BadModel, check_model

SEGMENTER_ENV = "LIVE_STYLE_SEGMENTER"
FILE_NAMES = ("selfie_segmentation.tflite", "selfie_segmenter.tflite")  # looked for in a --segmenter folder
log = logging.getLogger(__name__)
THREADS = 1  # the transfer network has the other cores; 2 threads save 0.7 of 3.8 ms here (bench)


@dataclass(frozen=True)
class SegmenterFile:
    """A verified segmenter's bytes (picklable: every pipeline, session and Ray worker opens its own)."""

    name: str
    content: bytes


def locate_segmenter(spec: str | None = None, cache_root: Path | None = None) -> SegmenterFile:
    """The segmenter named by `spec` (else LIVE_STYLE_SEGMENTER), else the cached download (fetched once)."""
    option = "--segmenter" if spec else SEGMENTER_ENV
    spec = spec or os.environ.get(SEGMENTER_ENV)
    path = file_in(Path(spec).expanduser(), option) if spec else fetch(SEGMENTER, cache_root or default_cache_dir())
    try:
        check_model(path, "segmenter")
    except BadModel as problem:
        raise UserError(
            f"{option} {path}: {problem}; give MediaPipe's selfie_segmentation.tflite (docs/person.md)"
        ) from None
    return SegmenterFile(str(path), path.read_bytes())


def file_in(path: Path, option: str) -> Path:
    """The .tflite file itself, or the segmenter file inside a folder."""
    if path.is_dir():
        named = [path / name for name in FILE_NAMES if (path / name).is_file()]
        files = named[:1] or sorted(path.glob("*.tflite"))
        if len(files) != 1:
            raise UserError(f"{option} {path}: no selfie_segmentation.tflite in this folder; give the file itself")
        return files[0]
    if not path.is_file():
        raise UserError(f"{option} {path}: no such file; give MediaPipe's selfie_segmentation.tflite or its folder")
    return path


class Segmenter:
    """One interpreter over a segmenter file (an interpreter is not thread-safe: each user opens its own)."""

    def __init__(self, file: SegmenterFile):
        self.interpreter = tflite_interpreter(Path(file.name), file.content, THREADS)
        _, self.height, self.width, _ = (int(n) for n in self.interpreter.get_input_details()[0]["shape"])

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """The person mask of a BGR uint8 frame: uint8, 255 = person, at the frame's size.

        The frame is stretched to the model's input, as MediaPipe does for this model.
        """
        height, width = frame.shape[:2]
        small = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        mask = run_interpreter(self.interpreter, bgr_to_rgb01(small[None]))[0, :, :, 0]
        return to_levels(cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR))


class SegmenterSupply:
    """The segmenter file for a live session, located once, in the background, when first wanted.

    A live loop must not stall on a first download: until the file is there (or if it cannot be had,
    which is logged once) `file()` says None and frames go on without a mask.
    """

    def __init__(self, locate: Callable[[], SegmenterFile] = locate_segmenter, ready: SegmenterFile | None = None):
        self._locate, self._file = locate, ready
        self.error: str | None = None
        self._started = threading.Event()

    def file(self) -> SegmenterFile | None:
        """The file once located; starts locating it on the first call."""
        if self._file is None and not self._started.is_set():
            self._started.set()
            threading.Thread(target=self._fetch, name="segmenter", daemon=True).start()
        return self._file

    def state(self, mode: str) -> str:
        """The person mode as it is: 'off', 'keep', 'only', or why there is no mask yet ('loading', 'unavailable')."""
        if mode == "off":
            return "off"
        if self.error:
            return "unavailable"
        return mode if self.file() is not None else "loading"

    def _fetch(self) -> None:
        try:
            self._file = self._locate()
        except Exception as error:  # a thread's traceback helps nobody: say it once, go on without
            self.error = str(error)
            log.warning("no person mask: %s", error)


class PersonMasker:
    """Person masks for one pipeline: its own interpreter, opened when the supply has the file."""

    def __init__(self, supply: SegmenterSupply):
        self.supply = supply
        self._segmenter: Segmenter | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """The frame's mask (see Segmenter), or None while the segmenter is not there yet."""
        if self._segmenter is None:
            file = self.supply.file()
            if file is None:
                return None
            self._segmenter = Segmenter(file)
        return self._segmenter(frame)
