"""A fresh machine without Xvfb: the README's test command skips the window test with the package to
install, except under CI=true, where it fails (CI must run it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WINDOW_TEST = Path(__file__).with_name("test_window.py")


def run_window_test(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    """pytest on the window test with an empty PATH: no Xvfb to be found."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PATH"] = str(tmp_path)  # an empty folder
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(WINDOW_TEST)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=WINDOW_TEST.parent, timeout=300)


def test_without_xvfb_the_window_test_skips_naming_the_package(tmp_path: Path) -> None:
    result = run_window_test(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "skipped" in result.stdout and "apt-get install xvfb" in result.stdout


def test_under_ci_a_missing_xvfb_fails(tmp_path: Path) -> None:
    result = run_window_test(tmp_path, ci=True)
    assert result.returncode != 0
    assert "CI must run it" in result.stdout


@pytest.mark.parametrize("command", [["--help"], ["image", "--help"], ["video", "--help"], ["live", "--help"]])
def test_every_help_ends_with_examples(command: list[str], capsys: pytest.CaptureFixture) -> None:
    from live_style import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out.rstrip()
    examples = help_text.split("examples:\n", 1)[1].splitlines()
    assert 2 <= len(examples) <= 4 and all(line.strip().startswith("live-style") for line in examples)
