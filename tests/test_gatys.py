"""The optimization method (Gatys et al.): its pieces, and the image command using it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf
from conftest import CHICAGO, LITE_DIR, cli_argv, run_cli_here, share_precision_choices

from live_style.model.gatys import LossWeights, StyleContentLoss, gram_matrix, optimize_adam, vgg_extractor
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES
from live_style.synthetic_media import scene, style_painting

WAVE = BUILTIN_STYLES / "wave.jpg"


@pytest.fixture(scope="module")
def random_vgg() -> tf.keras.Model:
    return vgg_extractor("none")


def rgb01(image: np.ndarray) -> tf.Tensor:
    return tf.constant((image[None, ..., ::-1] / 255.0).astype(np.float32))


def test_gram_matrix_matches_numpy() -> None:
    features = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype(np.float32)
    flat = features.reshape(2, 20, 3)
    expected = np.einsum("bnc,bnd->bcd", flat, flat) / 20
    np.testing.assert_allclose(gram_matrix(tf.constant(features)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_content_loss_is_zero_for_the_content_itself(random_vgg) -> None:
    content, style = rgb01(scene(0, 64, 64)), rgb01(style_painting(64))
    loss = StyleContentLoss(random_vgg, content, style, LossWeights())
    losses = loss(content)
    assert float(losses["content"]) == 0.0 and float(losses["style"]) > 0.0
    assert float(loss(style)["content"]) > 0.0


def test_total_loss_decreases_over_20_steps(random_vgg) -> None:
    content, style = rgb01(scene(0, 64, 64)), rgb01(style_painting(64))
    loss = StyleContentLoss(random_vgg, content, style, LossWeights())
    totals: list[float] = []
    noise = np.random.default_rng(0).random(content.shape, np.float32)  # from the content, Adam's first steps
    record = lambda step, losses, image: totals.append(losses["total"])  # noqa: E731  (roughen it before it descends)
    result = optimize_adam(loss, noise, 20, 0.02, record)
    assert len(totals) == 20 and totals[-1] < 0.9 * totals[0]
    assert result.shape == (1, 64, 64, 3) and result.min() >= 0.0 and result.max() <= 1.0


def run_image(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess:
    cache = share_precision_choices(tmp_path / "cache")
    env = {**os.environ, "LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_CACHE": str(cache)}
    return subprocess.run(
        cli_argv("image", CHICAGO, "--style", WAVE, "--method", "optimize", *args),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_image_command_optimizes_and_keeps_the_size(tmp_path: Path, optimizer: str) -> None:
    out = tmp_path / "out.png"
    result = run_image(
        tmp_path,
        "-o",
        out,
        "--vgg-weights",
        "none",
        "--steps",
        "6",
        "--size",
        "64",
        "--optimizer",
        optimizer,
        "--save-every",
        "3",
    )
    assert result.returncode == 0, result.stderr
    original, written = cv2.imread(str(CHICAGO)), cv2.imread(str(out))
    assert written.shape == original.shape
    assert (tmp_path / "out-step00003.png").is_file() and (tmp_path / "out-step00006.png").is_file()
    small = cv2.imread(str(tmp_path / "out-step00006.png"))
    assert max(small.shape[:2]) == 64 and not np.array_equal(small, cv2.resize(original, small.shape[1::-1]))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--vgg-weights", "missing.h5"], "missing.h5"),
        (["--vgg-weights", "imagenet"], "~/.keras/models/"),  # no network here: the download fails
        (["--style", "other.jpg"], "other.jpg"),
        (["--strength", "0.5"], "--method optimize"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    image = ["image", CHICAGO, "--style", WAVE, "-o", tmp_path / "o.png", "--method", "optimize"]
    result = run_cli_here(*image, "--steps", "1", "--size", "32", *args, cache=tmp_path / "cache")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("live-style: error")]
    assert len(errors) == 1 and named in errors[0] and "Traceback" not in result.stderr
