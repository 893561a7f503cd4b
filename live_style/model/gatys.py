"""Optimization-based style transfer (Gatys et al.), as the TensorFlow tutorials teach it.

The image itself is the variable: VGG19 features of it are pulled toward the content image's
(block5_conv2) and their Gram matrices toward the style image's (block1_conv1 ... block5_conv1),
with a total-variation term for smoothness. Slow but exact; the fast Magenta network is the
default everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from live_style.errors import UserError

CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)


@dataclass(frozen=True)
class LossWeights:
    """The tutorials' defaults."""

    style: float = 1e-2
    content: float = 1e4
    total_variation: float = 30.0


def vgg_extractor(weights: str) -> tf.keras.Model:
    """VGG19 (no top) returning the style and content layers; weights 'imagenet', 'none' or a file."""
    if weights not in ("imagenet", "none") and not Path(weights).is_file():
        raise UserError(
            f"--vgg-weights {weights} does not exist; give an .h5 file of VGG19 weights (no top), imagenet or none"
        )
    try:
        vgg = tf.keras.applications.VGG19(include_top=False, weights=None if weights == "none" else weights)
    except Exception:  # Keras raises a bare Exception when the download fails
        if weights == "imagenet":
            raise UserError(
                f"cannot download the VGG19 ImageNet weights (no network?); download {VGG_WEIGHTS_URL} into "
                "~/.keras/models/ (or anywhere, and give --vgg-weights PATH)"
            ) from None
        raise UserError(
            f"--vgg-weights {weights} is not a VGG19 (no top) weights file; give the .h5 Keras "
            "publishes, imagenet or none"
        ) from None
    vgg.trainable = False
    outputs = [vgg.get_layer(name).output for name in STYLE_LAYERS + CONTENT_LAYERS]
    return tf.keras.Model(vgg.input, outputs)


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations [B,C,C], averaged over the spatial positions."""
    height, width = tf.shape(features)[1], tf.shape(features)[2]
    return tf.linalg.einsum("bijc,bijd->bcd", features, features) / tf.cast(height * width, features.dtype)


class StyleContentLoss:
    """The weighted style, content and total-variation losses of an RGB image in [0, 1]."""

    def __init__(self, extractor: tf.keras.Model, content: tf.Tensor, style: tf.Tensor, weights: LossWeights):
        self.extractor, self.weights = extractor, weights
        self.style_targets = [gram_matrix(f) for f in self._features(style)[: len(STYLE_LAYERS)]]
        self.content_targets = self._features(content)[len(STYLE_LAYERS) :]

    def _features(self, image: tf.Tensor) -> list[tf.Tensor]:
        return self.extractor(tf.keras.applications.vgg19.preprocess_input(image * 255.0))

    def __call__(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """{'style', 'content', 'tv', 'total'} losses."""
        features = self._features(image)
        style = tf.add_n(
            [tf.reduce_mean((gram_matrix(f) - t) ** 2) for f, t in zip(features, self.style_targets, strict=False)]
        ) * (self.weights.style / len(STYLE_LAYERS))
        content = tf.add_n(
            [
                tf.reduce_mean((f - t) ** 2)
                for f, t in zip(features[len(STYLE_LAYERS) :], self.content_targets, strict=True)
            ]
        ) * (self.weights.content / len(CONTENT_LAYERS))
        tv = self.weights.total_variation * tf.reduce_sum(tf.image.total_variation(image))
        return {"style": style, "content": content, "tv": tv, "total": style + content + tv}


Progress = Callable[[int, dict[str, float], np.ndarray], None]


def optimize_adam(loss: StyleContentLoss, start: np.ndarray, steps: int, learning_rate: float, progress: Progress):
    """The tutorials' loop: Adam on the image, clipped to [0, 1] after each step (one tf.function step)."""
    image = tf.Variable(start)
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.99, epsilon=1e-1)

    @tf.function
    def train_step() -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = loss(image)
        optimizer.apply_gradients([(tape.gradient(losses["total"], image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return losses

    for step in range(1, steps + 1):
        losses = train_step()
        progress(step, {k: float(v) for k, v in losses.items()}, image)
    return image.numpy()


def optimize_lbfgs(loss: StyleContentLoss, start: np.ndarray, steps: int, progress: Progress) -> np.ndarray:
    """L-BFGS-B (scipy) on the flattened image, bounded to [0, 1], gradients from one tf.function."""
    from scipy.optimize import minimize

    shape = start.shape

    @tf.function
    def value_and_gradient(flat: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        image = tf.reshape(flat, shape)
        with tf.GradientTape() as tape:
            tape.watch(image)
            losses = loss(image)
        return losses, tf.reshape(tape.gradient(losses["total"], image), [-1])

    last: dict[str, float] = {}

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        losses, gradient = value_and_gradient(tf.constant(flat, tf.float32))
        last.update({k: float(v) for k, v in losses.items()})
        return last["total"], gradient.numpy().astype(np.float64)

    step = [0]

    def after_step(flat: np.ndarray) -> None:
        step[0] += 1
        progress(step[0], dict(last), flat.reshape(shape).astype(np.float32))

    result = minimize(
        objective,
        start.ravel().astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * start.size,
        callback=after_step,
        options={"maxiter": steps},
    )
    return result.x.reshape(shape).astype(np.float32)
