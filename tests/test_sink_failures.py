"""A sink that fails is seen within a frame and said at once; the frames go on to the other sinks, and a session
left with none ends with the error. A real full disk (a tiny tmpfs) under recordings, and outputs that go away."""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED, run_cli
from media import video_facts, write_clip

from live_style.errors import UserError
from live_style.media.encode import VideoFileWriter
from live_style.media.recovery import repair
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live import LiveOptions, LivePipeline, StopReason
from live_style.pipeline.live_window import WindowFrontEnd
from live_style.sinks import OutputFrame
from live_style.sinks.recording import Recording, RecordingFailed
from live_style.sources.capture import VideoSource, open_input
from live_style.styles import StyleBank

WAVE = SHARED / "styles" / "wave.jpg"
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


def fill(disk: Path, free: int = 256 * 1024) -> None:
    """Leave `free` bytes on the disk: a few seconds of stylized 320x240 frames."""
    (disk / "other files").write_bytes(bytes(shutil.disk_usage(disk).free - free))


def noisy(image: np.ndarray, rows: int = 40) -> np.ndarray:
    """The image with a band of fresh noise along its top, which no encoder shrinks (about 10 kB a frame at
    320x240)."""
    noisy = image.copy()
    noisy[:rows] = NOISE.integers(0, 256, noisy[:rows].shape, np.uint8)
    return noisy


class FailingSink:
    """An output that goes away at its `fail_at`-th frame, as an unplugged device does: it says so in `error`."""

    def __init__(self, fail_at: int):
        self.name, self.error, self.frames, self.fail_at = "test output", None, 0, fail_at

    def write(self, frame: OutputFrame) -> None:
        self.frames += 1
        if self.frames == self.fail_at:
            self.error = OSError(errno.ENODEV, "No such device")

    def close(self) -> None:
        pass


class CountingSink:
    """An output that keeps working, counting what it is given."""

    def __init__(self):
        self.name, self.error, self.frames = "counter", None, 0

    def write(self, frame: OutputFrame) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def live_session(model, source: VideoSource, sinks: list, report: Callable[[str], None]) -> LivePipeline:
    """A headless live session in the wave style over the source."""
    bank = StyleBank(lambda f: model.style_vector(cv2.imread(str(f))), [WAVE])
    controls = LiveControls(style_count=1, size=256)
    return LivePipeline(model, source, bank, controls, LiveOptions(), sinks, None, report)


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
    # frames come unpaced, as fast as they decode: on a busy machine the writer rightly falls behind too
    behind = f"warning: the recording to {small_disk / 'rec.mp4'} is falling behind; dropping frames"
    assert [line for line in said if line != behind] == [f"recording to {small_disk / 'rec.mp4'}"]
    assert not (small_disk / "rec.mp4").exists()


def test_a_failed_recording_is_said_at_once_and_the_window_goes_on(
    lite_model, small_disk: Path, tmp_path: Path
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=200, fps=25)
    fill(small_disk)
    said: list[str] = []
    source = open_input(str(clip), paced=False, stall_timeout=10)
    recording = Recording(small_disk / "rec.mp4", lambda: True, source, said.append)
    window = WindowFrontEnd(tmp_path, recording, said.append)  # the window's sink; its loop needs a screen
    session = live_session(lite_model, source, [window, recording], said.append)
    with pytest.raises(RecordingFailed) as raised:  # at the end, the failure is the session's error ...
        session.run()
    assert session.stop_reason is StopReason.END_OF_INPUT and session.frames_shown == 200  # ... which went on
    assert set(said) == {f"recording to {small_disk / 'rec.mp4'}", f"{raised.value}; going on without the recording"}
    assert session.failed == [recording] and f"REC FAILED: {FULL}" in window.hud(session)


@pytest.mark.parametrize("others", [0, 1])
def test_a_failing_sink_is_written_no_more_after_the_frame_it_failed_on(
    lite_model, tmp_path: Path, others: int
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=30, fps=25)
    failing, counting = FailingSink(fail_at=5), CountingSink()
    said: list[tuple[str, int]] = []  # each line, with the frames the working sink had by then
    source = open_input(str(clip), paced=False, stall_timeout=10)
    sinks = [counting, failing] if others else [failing]
    session = live_session(lite_model, source, sinks, lambda line: said.append((line, counting.frames)))
    with pytest.raises(UserError, match=r"the test output stopped \(\[Errno 19\] No such device\)"):
        session.run()
    assert failing.frames == 5 and session.failed == [failing]
    if others:  # said at once, as the frame it failed on was handed out; the others get every frame
        assert said == [("the test output stopped ([Errno 19] No such device); going on without the test output", 5)]
        assert counting.frames == 30 and session.stop_reason is StopReason.END_OF_INPUT
    else:  # nothing left to take the frames: the session ends with the error
        assert said == [] and session.stop_reason is StopReason.FAILED and session.exit_code == 2


def test_a_headless_recording_that_fills_the_disk_stops_the_session_with_the_error(
    small_disk: Path, tmp_path: Path
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=200, fps=25)
    fill(small_disk)
    out = small_disk / "rec.mp4"
    result = run_cli(
        "--input", clip, "--style", WAVE, "--no-window", "--as-fast-as-possible", "--record", out, cache=tmp_path
    )  # fmt: skip
    partial = small_disk / ".rec.mp4.partial.mp4"
    assert result.returncode == 2, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("live-style: error: ")]
    assert error.startswith(f"live-style: error: the recording to {out} failed ([Errno 28] {FULL}")
    assert error.endswith(f"free some disk space, then run live-style repair {partial}")
    stopped = re.search(r"\nstopped: the recording to .*; (\d+) frames stylized", result.stderr)
    assert stopped and int(stopped[1]) < 200, result.stderr  # stopped when the disk filled, not at the clip's end
