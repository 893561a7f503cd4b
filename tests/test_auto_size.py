"""--size auto: the controller on a simulated machine, steadiness across a size change, and a live run."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import LITE_DIR, SHARED
from handheld import handheld_clip, photos, write_frames

from live_style import cli
from live_style.imaging import processing_shape
from live_style.pipeline.auto_size import DOWN_AT, SIZES, AutoSize
from live_style.pipeline.controls import LiveControls
from live_style.temporal.coherence import Steadier

FPS = 30.0
SOURCE = (480, 640)  # height, width


def pixels(size: int) -> int:
    return int(np.prod(processing_shape(*SOURCE, size)))


def run_machine(auto: AutoSize, ms_per_megapixel: float, seconds: float, start: float = 0.0) -> list[int]:
    """Frames at the source's rate on a machine whose model costs `ms_per_megapixel`: the size after each."""
    sizes = []
    for frame in range(int(seconds * FPS)):
        model_ms = ms_per_megapixel * pixels(auto.size) / 1e6
        auto.observe(model_ms, 0.5 * model_ms, start + frame / FPS)
        sizes.append(auto.size)
    return sizes


def test_auto_size_finds_the_largest_size_that_keeps_the_rate_and_stays_there() -> None:
    auto = AutoSize(256, FPS, pixels)
    sizes = run_machine(auto, 200.0, 60)
    settled = sizes[-1]
    assert 200.0 * pixels(settled) / 1e6 <= 1000 / FPS * DOWN_AT  # the rate is kept at the size it settled on
    assert settled < SIZES[-1] and 200.0 * pixels(SIZES[SIZES.index(settled) + 1]) / 1e6 > 0.6 * 1000 / FPS
    assert len(set(sizes[len(sizes) // 2 :])) == 1  # no back and forth once settled
    steps = np.diff([SIZES.index(s) for s in sizes])
    assert set(steps) <= {0, 1}  # going up, one step at a time


def test_a_busier_machine_gets_a_smaller_size_and_a_freer_one_a_larger_again() -> None:
    auto = AutoSize(256, FPS, pixels)
    calm = run_machine(auto, 200.0, 40)[-1]
    busy = run_machine(auto, 600.0, 10, start=40)  # something else takes two thirds of the CPU
    assert busy[-1] < calm and busy.index(busy[-1]) < 5 * FPS  # down within a few seconds
    again = run_machine(auto, 200.0, 60, start=50)
    assert again[-1] == calm


def test_steadiness_goes_on_across_a_size_change() -> None:
    clip = handheld_clip(photos(SHARED)["chicago"], "pan", 12, (640, 480))
    steadier = Steadier()
    for index, frame in enumerate(clip):
        height, width = processing_shape(480, 640, 256 if index < 6 else 320)
        small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        stylized = cv2.bitwise_not(small)  # a stand-in for the stylized frame
        steadied = steadier(small, stylized)
        if index == 6:  # the first frame at the new size is blended with the last at the old one
            assert steadied.shape == stylized.shape and not np.array_equal(steadied, stylized)
            assert cv2.absdiff(steadied, stylized).mean() < 20  # and carried along the flow, not smeared


@pytest.mark.parametrize("keys", ["[", "]"])
def test_a_size_key_hands_the_size_back_to_the_user(keys: str) -> None:
    controls = LiveControls(style_count=1, size=256, auto_size=True)
    controls.handle_key(keys)
    assert not controls.auto_size and controls.size != 256


def test_a_live_run_with_size_auto_shows_the_size_it_runs_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LIVE_STYLE_MODEL", str(LITE_DIR))
    monkeypatch.setenv("LIVE_STYLE_CACHE", str(cache_dir))
    clip = write_frames(tmp_path / "pan.mp4", handheld_clip(photos(SHARED)["chicago"], "pan", 150, (640, 480)))
    args = ["--input", str(clip), "--style", str(SHARED / "styles" / "wave.jpg"), "--no-window"]
    assert cli.main([*args, "--size", "auto"]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("frames ")]
    assert progress and all(line.endswith(" auto") and "| size " in line for line in progress)
    with pytest.raises(SystemExit) as refused:
        cli.main([*args, "--size", "big"])
    assert refused.value.code == 2
    assert "--size: 'big' is neither a whole number above 0 nor auto" in capsys.readouterr().err
