"""Pre/post-processing: any image type in, sizes the network takes."""

from __future__ import annotations

import numpy as np
import pytest

from live_style.imaging import processing_shape, style_input, to_bgr_uint8


@pytest.mark.parametrize(
    ("shape", "short_side", "expected"),
    [
        ((480, 640), 256, (256, 340)),
        ((1080, 1920), 384, (384, 684)),
        ((481, 641), 1000, (480, 640)),
        ((10, 12), 256, (16, 16)),
    ],
)
def test_processing_shape_scales_the_short_side_and_rounds_to_4(shape, short_side, expected) -> None:
    assert processing_shape(*shape, short_side) == expected


@pytest.mark.parametrize(
    "image",
    [
        np.full((5, 7), 200, np.uint8),
        np.full((5, 7, 1), 200, np.uint8),
        np.full((5, 7, 4), 200, np.uint8),
        np.full((5, 7, 3), 200 * 257, np.uint16),
        np.full((5, 7, 3), 200 / 255, np.float32),
    ],
)
def test_every_image_kind_becomes_bgr_uint8(image: np.ndarray) -> None:
    bgr = to_bgr_uint8(image)
    assert bgr.shape == (5, 7, 3) and bgr.dtype == np.uint8 and int(bgr.mean()) == 200


def test_style_input_is_a_central_square_at_256() -> None:
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, 100:200] = 255  # only the central square is white
    prepared = style_input(wide)
    assert prepared.shape == (1, 256, 256, 3) and prepared.min() > 0.99
