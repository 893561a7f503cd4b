"""The look controls: the project's styles, colour preservation, stabilization, cross-fade, contact sheet."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import LITE_DIR, cli_argv, share_precision_choices

from live_style.stills import read_image
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES
from live_style.styles import CrossFade

PROJECT_STYLES = sorted(BUILTIN_STYLES.glob("*.jpg"))


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


def test_cross_fade_glides_over_half_a_second() -> None:
    fade = CrossFade(np.zeros(4))
    fade.to(np.ones(4), now=10.0)
    assert fade.at(10.0).tolist() == [0] * 4 and fade.at(10.25) == pytest.approx([0.5] * 4)
    assert fade.at(10.5).tolist() == [1] * 4 and fade.at(99.0).tolist() == [1] * 4
    fade.to(np.zeros(4), now=10.25 + 100)  # a switch mid-way starts from where the fade is
    assert fade.at(10.5 + 100) == pytest.approx([0.5] * 4)


def test_contact_sheet_shows_every_style_and_caches_their_vectors(tmp_path: Path) -> None:
    cache = share_precision_choices(tmp_path / "cache")
    env = {**os.environ, "LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_CACHE": str(cache)}
    sheet = tmp_path / "sheet.png"
    result = subprocess.run(
        cli_argv("styles", PROJECT_STYLES[0].parent, "-o", sheet),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = -(-len(PROJECT_STYLES) // 3)
    assert cv2.imread(str(sheet)).shape == (360 * rows, 480 * 3, 3)
    assert len(list((tmp_path / "cache" / "style-vectors").glob("*.npy"))) == len(PROJECT_STYLES)
