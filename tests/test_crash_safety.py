"""Nothing is lost to a SIGKILL: recordings play up to their last fragment and are repaired."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import SHARED, cli_argv, cli_env, run_cli
from media import video_facts, write_clip

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
