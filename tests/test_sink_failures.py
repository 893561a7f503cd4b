"""What stops an output is kept in its `error`: a real full disk (a tiny tmpfs) under a video file."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from live_style.media.encode import VideoFileWriter
from live_style.sinks import OutputFrame

FULL = "No space left on device"
NOISE = np.random.default_rng(0)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 1 MiB tmpfs: a recording there fills it within seconds."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mounted, which needs root here ({mounted.stderr.decode().strip()})")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def noisy(image: np.ndarray, rows: int = 40) -> np.ndarray:
    """The image with a band of fresh noise along its top, which no encoder shrinks (about 10 kB a frame at
    320x240)."""
    noisy = image.copy()
    noisy[:rows] = NOISE.integers(0, 256, noisy[:rows].shape, np.uint8)
    return noisy


def test_a_video_file_writer_keeps_what_stopped_it(small_disk: Path) -> None:
    writer = VideoFileWriter(small_disk / "out.mp4", (320, 240), Fraction(25), Fraction(1, 25), None)
    black = np.zeros((240, 320, 3), np.uint8)
    with pytest.raises(OSError, match=FULL) as raised:
        for index in range(500):
            writer.write(OutputFrame(noisy(black, 240), Fraction(index, 25)))
    assert writer.error is raised.value
    with contextlib.suppress(OSError):
        writer.close()
