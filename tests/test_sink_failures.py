"""What stops an output is kept in its `error`, from the moment it does: a real full disk (a tiny tmpfs) under a
video file and a recording."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media import video_facts, write_clip

from live_style.media.encode import VideoFileWriter
from live_style.media.recovery import repair
from live_style.sinks import OutputFrame
from live_style.sinks.recording import Recording, RecordingFailed
from live_style.sources.capture import open_input

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


def test_a_recording_that_fills_the_disk_says_so_at_once_and_keeps_what_it_wrote(
    small_disk: Path, tmp_path: Path
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=250, fps=25)
    source = open_input(str(clip), paced=False, stall_timeout=10)
    said: list[str] = []
    recording = Recording(small_disk / "rec.mp4", lambda: True, source, said.append)
    source.start()
    written = 0
    try:
        while recording.error is None and (frame := source.next_frame()) is not None:
            recording.write(OutputFrame(noisy(frame.image), frame.pts))
            written += 1
    finally:
        source.close()
    partial = small_disk / ".rec.mp4.partial.mp4"
    assert isinstance(recording.error, RecordingFailed) and written < 250  # known while the source still runs
    assert recording.error.reason == FULL
    assert f"what was written is in {partial}: free some disk space, then run live-style repair" in str(recording.error)
    # let go of at once: the user can rescue it while the session goes on
    rescued, kept = repair(partial, tmp_path / "rescued.mp4")
    recording.close()  # the failure stays said in `error`, for the session
    assert kept.frames >= 25 and video_facts(rescued)["frames"] == kept.frames
    assert said == [f"recording to {small_disk / 'rec.mp4'}"] and not (small_disk / "rec.mp4").exists()
