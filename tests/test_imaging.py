"""Pre/post-processing: any image type in, sizes the network takes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import SHARED, psnr

from live_style.imaging import (
    bgr_to_rgb01,
    processing_shape,
    resize_frames,
    rgb01_to_bgr,
    style_input,
    to_bgr_uint8,
)
from live_style.media.encode import yuv420_frame


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


def test_frames_go_to_the_network_and_back_unchanged() -> None:
    bgr = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), np.uint8)
    rgb01 = bgr_to_rgb01(bgr)
    assert rgb01.dtype == np.float32 and np.array_equal(rgb01, bgr[..., ::-1] / np.float32(255))
    # each level exactly level/255 as float32: the style cache's keys (hashes of these pixels) stay as stored
    assert np.array_equal(rgb01, (bgr[..., ::-1] / 255.0).astype(np.float32))
    assert np.array_equal(rgb01_to_bgr(rgb01), bgr)


def test_network_output_is_rounded_and_clipped_to_levels() -> None:
    rgb01 = np.random.default_rng(0).uniform(-0.2, 1.2, (2, 64, 64, 3)).astype(np.float32)
    expected = (np.clip(rgb01, 0, 1)[..., ::-1] * 255 + 0.5).astype(np.uint8)  # the textbook rounding
    assert np.abs(rgb01_to_bgr(rgb01).astype(int) - expected).max() <= 1  # halves may round to even
    assert rgb01_to_bgr(np.full((1, 1, 1, 3), -0.5, np.float32)).max() == 0  # clipped, not mirrored


def test_style_input_is_a_central_square_at_256() -> None:
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, 100:200] = 255  # only the central square is white
    prepared = style_input(wide)
    assert prepared.shape == (1, 256, 256, 3) and prepared.min() > 0.99


@pytest.mark.parametrize(
    ("source", "target"), [((720, 1280), (256, 456)), ((1080, 1920), (384, 684)), ((721, 1283), (240, 428))]
)
def test_shrinking_a_large_frame_stays_an_area_average(source: tuple[int, int], target: tuple[int, int]) -> None:
    photo = cv2.resize(cv2.imread(str(SHARED / "media" / "chicago.jpg")), source[::-1])
    shrunk = resize_frames(photo[None], *target)[0]
    assert shrunk.shape == (*target, 3)
    # the fast whole-block first step gives what one area average gives, to the eye
    assert psnr(shrunk, cv2.resize(photo, target[::-1], interpolation=cv2.INTER_AREA)) > 35


def test_a_recorded_frame_keeps_its_colours_and_drops_odd_edges() -> None:
    photo = cv2.imread(str(SHARED / "media" / "chicago.jpg"))[:301, :401]
    frame = yuv420_frame(photo)
    assert (frame.width, frame.height) == (400, 300)
    back = frame.to_ndarray(format="bgr24")
    assert psnr(back, photo[:300, :400]) > 33  # 4:2:0 chroma costs a little; swapped channels would cost far more
    assert psnr(back, photo[:300, :400, ::-1]) < 25
