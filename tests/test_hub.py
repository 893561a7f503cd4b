"""The hub SavedModel split at its bottleneck reproduces the unsplit signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import psnr

from live_style import load_model
from live_style.model.hub import HubNetwork, ordered_image_inputs


def unsplit(network: HubNetwork, content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The SavedModel's own one-call signature, the style repeated over the content batch."""
    content_name, style_name = ordered_image_inputs(network.signature)
    styles = np.repeat(style, len(content), axis=0)
    outputs = network.signature(**{content_name: tf.constant(content), style_name: tf.constant(styles)})
    return next(iter(outputs.values())).numpy()


def split(network: HubNetwork, content: np.ndarray, style: np.ndarray) -> np.ndarray:
    return network.transfer(tf.constant(content), tf.constant(network.predict_style(style))).numpy()


@pytest.fixture(scope="module")
def hub_network(hub_model_dir: Path) -> HubNetwork:
    return HubNetwork(hub_model_dir)


def test_cut_is_the_768_d_bottleneck(hub_network: HubNetwork) -> None:
    style = np.random.default_rng(1).random((1, 256, 256, 3), np.float32)
    assert hub_network.predict_style(style).shape == (1, 1, 1, 768)
    assert hub_network.bottleneck == "bottleneck/Mean:0"


@pytest.mark.parametrize("shape", [(2, 128, 160, 3), (2, 96, 72, 3)])
def test_split_pair_reproduces_the_signature(hub_network: HubNetwork, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    content, style = rng.random(shape, np.float32), rng.random((1, 256, 256, 3), np.float32)
    expected = unsplit(hub_network, content, style)
    assert expected.std() > 1e-3  # the synthetic weights give a non-constant picture
    np.testing.assert_allclose(split(hub_network, content, style), expected, atol=1e-5)


def test_check_numerics_is_gone_from_the_transfer_part(hub_network: HubNetwork) -> None:
    graph = hub_network._transfer.graph
    assert not [op for op in graph.get_operations() if op.type == "CheckNumerics"]


def test_hub_model_through_load_model(hub_model_dir: Path, cache_dir: Path) -> None:
    model = load_model(str(hub_model_dir), cache_dir=cache_dir, runtime="tensorflow")  # the GPU path
    frame = np.random.default_rng(2).integers(0, 255, (100, 140, 3), np.uint8)
    out = model.stylize(frame, model.style_vector(frame), size=64)
    assert out.shape == frame.shape and model.compiled.experimental_get_tracing_count() == 1


def test_the_hub_model_on_openvino_gives_tensorflows_picture(hub_model_dir: Path, tmp_path: Path, chicago) -> None:
    """The real graph (synthetic weights): its transfer half frozen and converted by OpenVINO, in float32."""
    on_tensorflow = load_model(str(hub_model_dir), cache_dir=tmp_path, runtime="tensorflow")
    on_openvino = load_model(str(hub_model_dir), cache_dir=tmp_path, runtime="openvino", precision="float32")
    assert "(OpenVINO, float32)" in on_openvino.description
    vector = on_tensorflow.style_vector(chicago[::-1].copy())
    frames = [model.stylize(chicago, vector, size=128) for model in (on_tensorflow, on_openvino)]
    assert frames[0].std() > 5 and psnr(*frames) > 60


class RenamedMagenta(tf.Module):
    """A small model of Magenta's shape (style net -> pooled code -> conditional norms) with other names."""

    def __init__(self) -> None:
        rng = np.random.default_rng(3)
        self.look_kernel = tf.Variable(rng.normal(size=(3, 3, 3, 8)).astype(np.float32) * 0.3)
        self.to_shift = tf.Variable(rng.normal(size=(1, 1, 8, 4)).astype(np.float32) * 0.3)
        self.to_scale = tf.Variable(rng.normal(size=(1, 1, 8, 4)).astype(np.float32) * 0.3)
        self.frame_kernel = tf.Variable(rng.normal(size=(3, 3, 3, 4)).astype(np.float32) * 0.3)
        self.paint_kernel = tf.Variable(rng.normal(size=(3, 3, 4, 3)).astype(np.float32) * 0.3)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3])] * 2)
    def __call__(self, frame: tf.Tensor, look: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.nn.relu(tf.nn.conv2d(look, self.look_kernel, 2, "SAME"))
        features = tf.debugging.check_numerics(features, "look")
        code = tf.reduce_mean(features, axis=[1, 2], keepdims=True, name="look_code")
        shift = tf.nn.conv2d(code, self.to_shift, 1, "VALID")
        scale = tf.nn.conv2d(code, self.to_scale, 1, "VALID")
        hidden = tf.nn.conv2d(frame, self.frame_kernel, 1, "SAME")
        mean, variance = tf.nn.moments(hidden, axes=[1, 2], keepdims=True)
        hidden = tf.nn.relu((hidden - mean) * tf.math.rsqrt(variance + 1e-5) * scale + shift)
        return {"painted": tf.sigmoid(tf.nn.conv2d(hidden, self.paint_kernel, 1, "SAME"))}


def test_cut_is_found_by_structure_in_a_renamed_model(tmp_path: Path) -> None:
    module = RenamedMagenta()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.__call__.get_concrete_function()})
    network = HubNetwork(tmp_path)
    assert network.bottleneck.startswith("look_code")
    rng = np.random.default_rng(4)
    content, style = rng.random((2, 40, 56, 3), np.float32), rng.random((1, 64, 64, 3), np.float32)
    np.testing.assert_allclose(split(network, content, style), unsplit(network, content, style), atol=1e-5)
