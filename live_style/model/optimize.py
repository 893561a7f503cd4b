"""Stills by optimization (Gatys et al., the tutorials' method) on VGG19 features, with its settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from live_style.imaging import bgr_to_rgb01, resize_longest_side, rgb01_to_bgr, write_image
from live_style.model.gatys import LossWeights, StyleContentLoss, optimize_adam, optimize_lbfgs, vgg_extractor

OPTIMIZE_SIZE = 512  # longest side, as the tutorials


@dataclass(frozen=True)
class OptimizeOptions:
    """How the optimization runs."""

    size: int | None  # longest side (default OPTIMIZE_SIZE)
    steps: int
    optimizer: str  # "adam" or "lbfgs"
    learning_rate: float
    weights: LossWeights
    init: str  # "content" or "noise"
    save_every: int | None  # write OUT-stepNNNNN every this many steps
    vgg_weights: str  # "imagenet", "none" or a file
    quiet: bool  # no progress bar


class Optimizer:
    """Stylizes stills by optimization; the VGG19 extractor is built once for every image."""

    def __init__(self, options: OptimizeOptions):
        self.options = options
        self.extractor = vgg_extractor(options.vgg_weights)
        self.weights = options.weights

    def stylize(self, content_bgr: np.ndarray, style_bgr: np.ndarray, out_path: Path) -> np.ndarray:
        """The optimized image (BGR uint8) at the processing size (longest side --size, default 512)."""
        size = self.options.size or OPTIMIZE_SIZE
        content = bgr_to_rgb01(resize_longest_side(content_bgr, size)[None])
        style = bgr_to_rgb01(resize_longest_side(style_bgr, size)[None])
        loss = StyleContentLoss(self.extractor, tf.constant(content), tf.constant(style), self.weights)
        start = (
            content if self.options.init == "content" else np.random.default_rng(0).random(content.shape, np.float32)
        )
        with tqdm(total=self.options.steps, unit="step", disable=self.options.quiet) as bar:
            progress = self._progress(bar, out_path)
            if self.options.optimizer == "lbfgs":
                result = optimize_lbfgs(loss, start, self.options.steps, progress)
            else:
                result = optimize_adam(loss, start, self.options.steps, self.options.learning_rate, progress)
        return rgb01_to_bgr(result)[0]

    def _progress(self, bar: tqdm, out_path: Path):
        every = self.options.save_every

        def show(step: int, losses: dict[str, float], image) -> None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
            if every and step % every == 0:
                pixels = image.numpy() if hasattr(image, "numpy") else image
                write_image(
                    out_path.with_name(f"{out_path.stem}-step{step:05d}{out_path.suffix}"), rgb01_to_bgr(pixels)[0]
                )

        return show
