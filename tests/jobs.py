"""Video jobs under test: the command line at a small size, and watching a job folder fill."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from conftest import SHARED

WAVE = SHARED / "styles" / "wave.jpg"
FPS = 10  # few frames per 2 s segment: the tests are about segments, not frames


def stylize_args(inputs: list[Path], out: Path, *extra: str) -> list:
    """`live-style video` at a small size, cut into 2 s segments."""
    return ["video", *inputs, "-o", out, "--style", WAVE, "--size", "96", "--segment-seconds", "2", *extra]


def segments_done(job: Path) -> int:
    """How many segments the job folder's manifest records."""
    try:
        return len(json.loads((job / "manifest.json").read_text())["segments"])
    except (OSError, ValueError):
        return 0


def wait_until(condition, process: subprocess.Popen, what: str, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in {deadline_s} s"
        time.sleep(0.1)
