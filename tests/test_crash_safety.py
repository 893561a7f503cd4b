"""Nothing is lost to a SIGKILL: recordings play up to their last fragment and are repaired, beside the next
recording, without holding up its frames."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path

from conftest import SHARED, cli_argv, cli_env, run_cli
from media import scene, video_facts, write_clip

from live_style.media.encode import VideoFileWriter
from live_style.media.remux import FRAGMENTED
from live_style.sinks import OutputFrame
from live_style.sinks.recording import Recording
from live_style.sources.capture import open_input

WAVE = SHARED / "styles" / "wave.jpg"
FPS = 25


def playable_frames(path: Path) -> int:
    """How many frames a player decodes from the file as it is now."""
    return video_facts(path)["frames"] if path.stat().st_size else 0


def wait_for_frames(process: subprocess.Popen, partial: Path, frames: int, deadline_s: float = 120) -> int:
    """Poll the partial a running recorder writes until a player decodes `frames` from it; return the count seen."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and (seen := playable_frames(partial)) >= frames:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"{partial} never held {frames} playable frames (exit code {process.poll()})")


def test_a_killed_recording_plays_up_to_its_last_second_and_is_repaired(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "long.mp4", frames=60 * FPS, fps=FPS)
    out = tmp_path / "rec.mp4"
    partial = tmp_path / ".rec.mp4.partial.mp4"
    process = subprocess.Popen(
        cli_argv("--input", clip, "--style", WAVE, "--no-window", "--record", out),
        env=cli_env(tmp_path),
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_frames(process, partial, 3 * FPS)  # readable while it is written: fragments reach the disk
        busy = run_cli("repair", partial, cache=tmp_path)
        assert busy.returncode == 2 and "still being recorded" in busy.stderr  # the lock tells a live one apart
        seen = wait_for_frames(process, partial, playable_frames(partial) + 2 * FPS)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
    assert not out.exists()  # a partial never looks complete
    kept = playable_frames(partial)
    assert kept >= seen  # everything a player saw before the kill is still there

    shutil.copy(partial, tmp_path / ".second.mp4.partial.mp4")  # an orphan for the next run to find
    repaired = run_cli("repair", partial, cache=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert f"into {out}: {kept} frames" in repaired.stdout and not partial.exists()
    data = out.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat") and b"moof" not in data  # a normal, faststart MP4
    assert playable_frames(out) == kept

    again = run_cli(
        "--input", clip, "--style", WAVE, "--no-window", "--record", tmp_path / "next.mp4", "--max-frames", "3",
        cache=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"rescued {kept} frames" in again.stderr and f"into {tmp_path / 'second.mp4'}" in again.stderr
    assert playable_frames(tmp_path / "second.mp4") == kept
    assert not list(tmp_path.glob(".*partial*"))


def killed_partial(path: Path, frames: int) -> Path:
    """What a killed recording leaves behind: fragmented MP4 up to its last fragment."""
    writer = VideoFileWriter(path, (320, 240), Fraction(FPS), Fraction(1, FPS), None, FRAGMENTED)
    for index in range(frames):
        writer.write(OutputFrame(scene(index, 320, 240), Fraction(index, FPS)))
    writer.close()
    return path


def feed(fifo: Path, data: bytes, deadline_s: float = 60) -> None:
    """Hand `data` to the reader of a FIFO once it opens it (at once if it is waiting already)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:  # ENXIO: no reader yet
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "wb") as writing:
        writing.write(data)


def test_pressing_r_beside_orphans_does_not_wait_for_their_rescue(tmp_path: Path) -> None:
    orphan = killed_partial(tmp_path / "orphan.mp4", 2 * FPS).read_bytes()
    folder = tmp_path / "recordings"
    folder.mkdir()
    slow = folder / ".old.mp4.partial.mp4"
    os.mkfifo(slow)  # an orphan whose rescue waits until the test feeds it: as slow as a huge one, for as long
    source = open_input(str(write_clip(tmp_path / "clip.mp4", frames=FPS, fps=FPS)), paced=False, stall_timeout=10)
    said: list[str] = []
    recording = Recording(folder / "new.mp4", lambda: True, source, said.append)  # r pressed
    source.start()
    frames = [OutputFrame(frame.image, frame.pts) for frame in iter(source.next_frame, None)]
    try:
        first = threading.Thread(target=recording.write, args=frames[:1])
        first.start()
        first.join(timeout=30)
        assert not first.is_alive(), "the first frame waited for the folder's orphans to be rescued"
        for frame in frames[1:]:
            recording.write(frame)
        assert not (folder / "old.mp4").exists()  # the rescue is still waiting for its orphan
    finally:
        feed(slow, orphan)
        source.close()
    recording.close()  # waits for the rescue and the new file
    assert playable_frames(folder / "old.mp4") == 2 * FPS and playable_frames(folder / "new.mp4") == FPS
    assert f"rescued {2 * FPS} frames (2.0 s) of an unfinished recording into {folder / 'old.mp4'}" in said
    assert not list(folder.glob(".*"))


def test_a_killed_recording_of_the_same_name_is_rescued_beside_the_new_one(tmp_path: Path) -> None:
    killed_partial(tmp_path / ".rec.mp4.partial.mp4", 2 * FPS)
    source = open_input(str(write_clip(tmp_path / "clip.mp4", frames=FPS, fps=FPS)), paced=False, stall_timeout=10)
    said: list[str] = []
    recording = Recording(tmp_path / "rec.mp4", lambda: True, source, said.append)
    source.start()
    for frame in iter(source.next_frame, None):
        recording.write(OutputFrame(frame.image, frame.pts))
    source.close()
    recording.close()
    assert playable_frames(tmp_path / "rec.mp4") == FPS  # the new recording ...
    assert playable_frames(tmp_path / "rec-recovered.mp4") == 2 * FPS  # ... not written over the killed one
    assert f"rescued {2 * FPS} frames (2.0 s) of an unfinished recording into {tmp_path / 'rec-recovered.mp4'}" in said
