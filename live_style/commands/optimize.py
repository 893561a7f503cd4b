"""`live-style image ... --method optimize`: the Gatys et al. optimization for stills."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from live_style.errors import UserError
from live_style.imaging import resize_longest_side, write_image
from live_style.model.gatys import LossWeights, StyleContentLoss, optimize_adam, optimize_lbfgs, vgg_extractor

OPTIMIZE_SIZE = 512  # longest side, as the tutorials


def bgr_to_rgb01(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 -> RGB float32 in [0, 1], as VGG's preprocessing expects."""
    return (bgr[..., ::-1] / 255.0).astype(np.float32)


def rgb01_to_bgr(rgb01: np.ndarray) -> np.ndarray:
    """RGB float in [0, 1] -> BGR uint8."""
    return (np.clip(rgb01, 0, 1)[..., ::-1] * 255 + 0.5).astype(np.uint8)


def check_optimize_options(args: argparse.Namespace) -> None:
    """The optimization takes one style, at full strength."""
    if len(args.style) != 1 or args.mix or args.strength != 1.0:
        raise UserError(
            "--method optimize takes one --style at full strength; drop --mix/--strength or use --method fast"
        )


class Optimizer:
    """Stylizes stills by optimization; the VGG19 extractor is built once for every image."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.extractor = vgg_extractor(args.vgg_weights)
        self.weights = LossWeights(args.style_weight, args.content_weight, args.tv_weight)

    def stylize(self, content_bgr: np.ndarray, style_bgr: np.ndarray, out_path: Path) -> np.ndarray:
        """The optimized image (BGR uint8) at the processing size (longest side --size, default 512)."""
        size = self.args.size or OPTIMIZE_SIZE
        content = bgr_to_rgb01(resize_longest_side(content_bgr, size))[None]
        style = bgr_to_rgb01(resize_longest_side(style_bgr, size))[None]
        loss = StyleContentLoss(self.extractor, tf.constant(content), tf.constant(style), self.weights)
        start = content if self.args.init == "content" else np.random.default_rng(0).random(content.shape, np.float32)
        with tqdm(total=self.args.steps, unit="step", disable=self.args.quiet) as bar:
            progress = self._progress(bar, out_path)
            if self.args.optimizer == "lbfgs":
                result = optimize_lbfgs(loss, start, self.args.steps, progress)
            else:
                result = optimize_adam(loss, start, self.args.steps, self.args.learning_rate, progress)
        return rgb01_to_bgr(result[0])

    def _progress(self, bar: tqdm, out_path: Path):
        every = self.args.save_every

        def show(step: int, losses: dict[str, float], image) -> None:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
            if every and step % every == 0:
                pixels = image.numpy() if hasattr(image, "numpy") else image
                write_image(
                    out_path.with_name(f"{out_path.stem}-step{step:05d}{out_path.suffix}"), rgb01_to_bgr(pixels[0])
                )

        return show
