"""Style vectors: cached once per image; strength and mixing do what they say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import LITE_DIR, STYLES

from live_style import load_model
from live_style.errors import UserError
from live_style.stills import read_image
from live_style.styles import apply_strength, mix_vectors


def style_network_runs(model, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the model's style network runs from now on (one entry per run)."""
    runs: list[int] = []
    predict = model.network.predict_style
    monkeypatch.setattr(model.network, "predict_style", lambda prepared: runs.append(1) or predict(prepared))
    return runs


def test_second_style_vector_does_not_run_the_style_network(
    tmp_path: Path, wave: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a precision given: nothing is measured, so every style network run below is the test's own
    model = load_model(str(LITE_DIR), cache_dir=tmp_path, precision="float32")
    runs = style_network_runs(model, monkeypatch)
    first = model.style_vector(wave)
    second = model.style_vector(wave.copy())
    assert len(runs) == 1
    np.testing.assert_array_equal(first, second)


def test_the_disk_cache_survives_a_restart(tmp_path: Path, wave: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_model(str(LITE_DIR), cache_dir=tmp_path, precision="float32")
    vector = first.style_vector(wave)
    restarted = load_model(str(LITE_DIR), cache_dir=tmp_path, precision="float32")
    runs = style_network_runs(restarted, monkeypatch)
    np.testing.assert_array_equal(restarted.style_vector(wave), vector)
    assert len(runs) == 0


def test_a_different_image_or_model_is_a_cache_miss(
    tmp_path: Path, wave: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model(str(LITE_DIR), cache_dir=tmp_path, precision="float32")
    runs = style_network_runs(model, monkeypatch)
    model.style_vector(wave)
    model.style_vector(wave[::-1].copy())
    assert len(runs) == 2


def test_strength_zero_is_the_contents_own_style_and_one_the_style(lite_model, chicago, wave) -> None:
    style, content = lite_model.style_vector(wave), lite_model.style_vector(chicago)
    np.testing.assert_allclose(apply_strength(style, content, 0.0), content, atol=1e-6)
    np.testing.assert_allclose(apply_strength(style, content, 1.0), style, atol=1e-6)
    half = lite_model.stylize(chicago, apply_strength(style, content, 0.5), size=128)
    full = lite_model.stylize(chicago, style, size=128)
    none = lite_model.stylize(chicago, content, size=128)
    distance = lambda a, b: np.abs(a.astype(int) - b.astype(int)).mean()  # noqa: E731
    assert distance(half, full) < distance(none, full)


def test_mix_weights_select_and_blend(lite_model) -> None:
    a, b = (lite_model.style_vector(read_image(p)) for p in STYLES[:2])
    np.testing.assert_allclose(mix_vectors([a, b], [1, 0]), a, atol=1e-6)
    np.testing.assert_allclose(mix_vectors([a, b], [0, 1]), b, atol=1e-6)
    np.testing.assert_allclose(mix_vectors([a, b], [2, 2]), (a + b) / 2, atol=1e-6)


@pytest.mark.parametrize("weights", [[1.0], [-1.0, 2.0], [0.0, 0.0]])
def test_bad_mix_weights_are_refused(weights: list[float]) -> None:
    with pytest.raises(UserError):
        mix_vectors([np.zeros((1, 1, 1, 4))] * 2, weights)


def test_built_in_styles_are_named_listed_and_explained(tmp_path: Path) -> None:
    from conftest import CHICAGO, run_cli_here

    from live_style.styles import builtin_styles, style_files

    assert style_files(["wave"]) == style_files(["wave.jpg"]) == [p for p in builtin_styles() if p.stem == "wave"]
    names = ["cubist", "flow", "ink", "mosaic", "pointillism", "wave"]
    listed = run_cli_here("styles", cache=tmp_path)
    assert listed.returncode == 0 and listed.stdout.split() == names
    refused = run_cli_here("image", CHICAGO, "--style", "wavy", "-o", tmp_path / "o.png", cache=tmp_path)
    assert refused.returncode == 2 and f"a built-in style ({', '.join(names)})" in refused.stderr
