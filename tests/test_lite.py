"""The TF-graph lite network against the TF Lite interpreter on the real weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf
from conftest import LITE_DIR, STYLES, psnr

from live_style import load_model
from live_style.model.lite import (
    ConvWeights,
    padded_conv,
    space_to_depth_conv,
    space_to_depth_phases,
    upsampled_conv,
    upsampling_phases,
)

MIN_PSNR_DB = 25.0


@pytest.fixture(scope="module")
def content_384(chicago: np.ndarray) -> np.ndarray:
    return cv2.resize(chicago, (384, 384), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("transfer", ["style_transfer_fp16.tflite", "style_transfer_int8.tflite"])
def test_tf_graph_matches_interpreter_for_every_painting(transfer: str, content_384: np.ndarray, cache_dir) -> None:
    spec = f"{LITE_DIR / 'style_predict_int8.tflite'},{LITE_DIR / transfer}"
    graph = load_model(spec, cache_dir=cache_dir, runtime="tensorflow")
    reference = load_model(spec, cache_dir=cache_dir, lite_interpreter=True)
    scores = {}
    for style in STYLES:
        vector = graph.style_vector(cv2.imread(str(style)))
        ours, theirs = graph.stylize(content_384, vector), reference.stylize(content_384, vector)
        scores[style.stem] = psnr(ours, theirs)
        assert not np.array_equal(ours, content_384)
    print(f"\nPSNR TF graph vs interpreter, {transfer}: " + ", ".join(f"{k} {v:.1f} dB" for k, v in scores.items()))
    assert min(scores.values()) >= MIN_PSNR_DB, scores


@pytest.mark.parametrize(("height", "width"), [(240, 320), (481, 641), (384, 384)])
def test_any_frame_size_gives_output_of_that_size(lite_model, chicago, wave, height: int, width: int) -> None:
    frame = cv2.resize(chicago, (width, height))
    out = lite_model.stylize(frame, lite_model.style_vector(wave))
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


def test_batch_layout_is_kept_and_matches_single_frames(lite_model, chicago, wave) -> None:
    vector = lite_model.style_vector(wave)
    frames = np.stack([chicago, chicago[:, ::-1].copy()])
    batch = lite_model.stylize(frames, vector, size=128)
    assert batch.shape == frames.shape
    single = lite_model.stylize(frames[1], vector, size=128)
    assert psnr(batch[1], single) > 40


def test_a_stream_of_frames_traces_the_transfer_once(cache_dir, chicago, wave) -> None:
    model = load_model(str(LITE_DIR), cache_dir=cache_dir, runtime="tensorflow")
    vector = model.style_vector(wave)
    frame = cv2.resize(chicago, (320, 240))
    for _ in range(5):
        model.stylize(frame, vector)
    model.stylize(np.stack([frame] * 3), vector)
    assert model.compiled.experimental_get_tracing_count() == 1


def test_xla_compiles_and_agrees(cache_dir, chicago, wave) -> None:
    plain = load_model(str(LITE_DIR), cache_dir=cache_dir, runtime="tensorflow")
    xla = load_model(str(LITE_DIR), cache_dir=cache_dir, xla=True)
    frame = cv2.resize(chicago, (160, 120))
    vector = plain.style_vector(wave)
    assert psnr(xla.stylize(frame, vector), plain.stylize(frame, vector)) > 35


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_half_precision_stays_close_to_float32(cache_dir, lite_model, chicago, wave, precision: str) -> None:
    half = load_model(str(LITE_DIR), cache_dir=cache_dir, precision=precision, runtime="tensorflow")  # the GPU path
    vector = lite_model.style_vector(wave)
    assert precision in half.description
    assert psnr(half.stylize(chicago, vector, size=128), lite_model.stylize(chicago, vector, size=128)) > 25


@pytest.mark.parametrize(("height", "width"), [(6, 6), (10, 14), (22, 30)])
def test_phased_expand_convs_equal_the_plain_ones(height: int, width: int) -> None:
    """Upsample-then-conv and the 9x9 conv, rearranged into 2x2 phases, give Magenta's plain ops' result."""
    rng = np.random.default_rng(height)
    x = rng.standard_normal((1, height, width, 8)).astype(np.float32)
    for phased, size, upsample in ((upsampling_phases, 3, True), (space_to_depth_phases, 9, False)):
        weights = {"w/weights": rng.standard_normal((5, size, size, 8)).astype(np.float32)}
        weights["w/Conv2D_bias"] = rng.standard_normal(5).astype(np.float32)
        plain, rearranged = (ConvWeights.from_lite(weights, "w", tf.float32, p) for p in (None, phased))
        if upsample:
            expected = padded_conv(tf.image.resize(x, (2 * height, 2 * width), method="nearest"), plain, 1)
            got = upsampled_conv(x, rearranged)
        else:
            expected, got = padded_conv(x, plain, 1), space_to_depth_conv(x, rearranged, size)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=2e-4)
