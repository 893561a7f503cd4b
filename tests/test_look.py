"""The look controls: the project's styles, colour preservation, stabilization, cross-fade, contact sheet."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import LITE_DIR

from live_style.imaging import read_image
from live_style.styles import CrossFade
from live_style.synthetic_media import scene
from live_style.temporal.stabilize import Stabilizer, flicker

PROJECT_STYLES = sorted((Path(__file__).resolve().parents[1] / "styles").glob("*.jpg"))


def test_the_projects_styles_are_far_apart(lite_model) -> None:
    assert len(PROJECT_STYLES) >= 6 and "wave" in [p.stem for p in PROJECT_STYLES]
    images = [read_image(p) for p in PROJECT_STYLES]
    vectors = [lite_model.style_vector(image) for image in images]
    apart = min(np.linalg.norm(a - b) for a, b in itertools.combinations(vectors, 2))
    # the same painting seen differently (mirrored) is the yardstick for "the same style"
    same = max(
        np.linalg.norm(v - lite_model.style_vector(i[:, ::-1].copy())) for v, i in zip(vectors, images, strict=True)
    )
    assert apart > 3 * same, (apart, same)


def chroma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(np.float64)


def test_preserve_colors_keeps_the_contents_chroma(lite_model, chicago, wave) -> None:
    vector = lite_model.style_vector(wave)
    plain = lite_model.stylize(chicago, vector, size=256)
    kept = lite_model.stylize(chicago, vector, size=256, preserve_colors=True)
    kept_error, plain_error = (np.abs(chroma(img) - chroma(chicago)).mean() for img in (kept, plain))
    assert kept_error < 3 and plain_error > 3 * kept_error
    luminance = lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(int)  # noqa: E731
    assert np.abs(luminance(kept) - luminance(plain)).mean() < 8  # the style's light and shade stay


def stylized_stream(model, frames: list[np.ndarray], vector: np.ndarray) -> tuple[list, list]:
    plain = [model.stylize(f, vector, size=240) for f in frames]
    stabilizer = Stabilizer()
    return plain, [stabilizer(f, o) for f, o in zip(frames, plain, strict=True)]


def test_stabilize_at_least_halves_flicker_on_a_still_noisy_scene(lite_model, wave) -> None:
    rng = np.random.default_rng(0)
    still = scene(0, 320, 240)
    frames = [np.clip(still + rng.normal(0, 6, still.shape), 0, 255).astype(np.uint8) for _ in range(16)]
    plain, steady = stylized_stream(lite_model, frames, lite_model.style_vector(wave))
    assert flicker(frames, steady) < flicker(frames, plain) / 2


def test_stabilize_leaves_no_trail_behind_a_moving_object(lite_model, wave) -> None:
    frames = [scene(3 * i, 320, 240) for i in range(20)]
    plain, steady = stylized_stream(lite_model, frames, lite_model.style_vector(wave))
    disc = lambda frame: frame.min(axis=2) > 200  # noqa: E731
    behind = disc(frames[14]) & ~disc(frames[19])  # where the disc was five frames ago and is no more
    full_trail = np.abs(plain[14].astype(int) - plain[19].astype(int))[behind].mean()
    left = np.abs(steady[19].astype(int) - plain[19].astype(int))[behind].mean()
    assert behind.sum() > 1000 and left < 0.1 * full_trail, (left, full_trail)


def test_cross_fade_glides_over_half_a_second() -> None:
    fade = CrossFade(np.zeros(4))
    fade.to(np.ones(4), now=10.0)
    assert fade.at(10.0).tolist() == [0] * 4 and fade.at(10.25) == pytest.approx([0.5] * 4)
    assert fade.at(10.5).tolist() == [1] * 4 and fade.at(99.0).tolist() == [1] * 4
    fade.to(np.zeros(4), now=10.25 + 100)  # a switch mid-way starts from where the fade is
    assert fade.at(10.5 + 100) == pytest.approx([0.5] * 4)


def test_contact_sheet_shows_every_style_and_caches_their_vectors(tmp_path: Path) -> None:
    env = {**os.environ, "LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_CACHE": str(tmp_path / "cache")}
    sheet = tmp_path / "sheet.png"
    result = subprocess.run(
        [sys.executable, "-m", "live_style", "styles", str(PROJECT_STYLES[0].parent), "-o", str(sheet)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = -(-len(PROJECT_STYLES) // 3)
    assert cv2.imread(str(sheet)).shape == (360 * rows, 480 * 3, 3)
    assert len(list((tmp_path / "cache" / "style-vectors").glob("*.npy"))) == len(PROJECT_STYLES)
