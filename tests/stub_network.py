"""A network with no weights behind the real `Stylizer`: the fast tier's stand-in for Magenta's, which records the
shape of every batch it really runs at (from inside the compiled function, as the runtime calls it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from live_style.model.style_cache import StyleCache
from live_style.model.stylizer import Stylizer

VECTOR_SIZE = 6


class ShapeRecordingNetwork:
    """The `Network` protocol: the style vector is the style image's mean colour and spread; the transfer tints
    the content with it, so pictures change with the style, and every run's (height, width) lands in `shapes`."""

    vector_size = VECTOR_SIZE
    fixed_size = None
    description = "stub network (no weights)"

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def predict_style(self, style_rgb: np.ndarray) -> np.ndarray:
        pixels = np.asarray(style_rgb, np.float32).reshape(-1, 3)
        return np.concatenate([pixels.mean(0), pixels.std(0)]).reshape(1, 1, 1, VECTOR_SIZE)

    def transfer(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        seen = tf.numpy_function(self._record, [content], tf.float32, stateful=True)
        seen.set_shape(content.shape)
        tint = tf.reshape(style[..., :3], [1, 1, 1, 3])
        return tf.clip_by_value(0.5 * seen + 0.5 * tint, 0.0, 1.0)

    def _record(self, content: np.ndarray) -> np.ndarray:
        self.shapes.append(tuple(content.shape[1:3]))
        return content

    def macs_per_frame(self, height: int, width: int) -> int:
        return 6 * height * width

    def openvino_source(self):
        raise NotImplementedError("the stub runs on TensorFlow only")


def stub_stylizer(cache: Path) -> tuple[Stylizer, ShapeRecordingNetwork]:
    """The real Stylizer (TensorFlow runtime, CPU) over a fresh stub network, and the network to read shapes from."""
    network = ShapeRecordingNetwork()
    return Stylizer(network, "stub", "/CPU:0", cache=StyleCache(cache), runtime="tensorflow"), network
