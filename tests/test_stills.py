"""Other people's stills read as Pillow, the reference reader, reports them (with what LittleCMS makes of their
colour profile), and outputs that keep what their format holds: real files from ../shared/media/real, and stills
made from real photographs for the cases it lacks."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import CHICAGO, SHARED
from other_stills import damaged_jpegs, p3_photo, pillow_in_srgb, pillow_upright, profile_name, ten_bit_avif
from PIL import Image

from live_style.errors import UserError
from live_style.stills import Still, read_image, read_still, write_still

REAL = SHARED / "media" / "real"


@pytest.mark.parametrize(
    ("name", "shape"),
    [("avif_rot3mir0.avif", (427, 640, 3)), ("hopper_orientation_6.webp", (128, 128, 3)), ("fixture.apng", None)],
)
def test_every_still_comes_upright_as_pillow_turns_it(name: str, shape: tuple | None) -> None:
    # AVIF's irot/imir (Pillow reports them as an EXIF orientation) and WebP's EXIF orientation were ignored
    image = read_image(REAL / name)
    assert np.array_equal(image, pillow_upright(REAL / name))
    assert shape is None or image.shape == shape  # the AVIF is a landscape photo: 640 wide


def test_16_bit_tiffs_are_read_as_pillow_reads_them_and_say_so() -> None:
    rgb = read_still(REAL / "tiff_16bit_RGB.tiff")
    assert rgb.depth == 16 and np.abs(rgb.image.astype(int) - pillow_upright(REAL / "tiff_16bit_RGB.tiff")).max() <= 1
    gray = read_still(REAL / "16_bit_binary_pgm.tiff")  # 16-bit levels in 32-bit integers: refused as int32 before
    levels = np.asarray(Image.open(REAL / "16_bit_binary_pgm.tiff"))
    assert gray.depth == 16 and np.array_equal(gray.image[..., 0], np.round(levels / 257))


def test_a_colour_profile_is_applied_as_littlecms_applies_it(tmp_path: Path) -> None:
    for path in (REAL / "icc_profile_big.jpg", p3_photo(CHICAGO, tmp_path / "iphone-p3.jpg")):
        still = read_still(path)
        assert still.profiled and np.array_equal(still.image, pillow_in_srgb(path)), path.name
        assert not np.array_equal(still.image, pillow_upright(path))  # the numbers as stored are not what is shown


def test_a_10_bit_avif_reads_as_pillow_reads_it(tmp_path: Path) -> None:
    try:
        avif = ten_bit_avif(CHICAGO, tmp_path / "ten.avif")
    except (ValueError, av.FFmpegError) as error:
        pytest.skip(f"no AV1 encoder in PyAV's FFmpeg: {error}")
    image = read_image(avif)
    assert np.array_equal(image, pillow_upright(avif))
    assert abs(image.mean() - cv2.imread(str(CHICAGO)).mean()) < 3  # the photo, not a near-black 10-bit misreading


def test_a_jpeg_with_stray_bytes_reads_as_pillow_shows_it_and_one_cut_short_names_itself(tmp_path: Path) -> None:
    stray, cut = damaged_jpegs(CHICAGO, tmp_path)
    assert np.array_equal(read_image(stray), pillow_upright(stray))
    with pytest.raises(UserError) as refused:
        read_image(cut, "input image")
    assert str(refused.value).startswith(f"input image {cut} cannot be decoded") and "cut short" in str(refused.value)


def test_what_cannot_be_read_names_itself_and_what_to_give(tmp_path: Path) -> None:
    notes, deep = tmp_path / "notes.jpg", tmp_path / "counts.tiff"
    notes.write_text("not an image")
    levels = np.asarray(Image.open(REAL / "16_bit_binary_pgm.tiff"))
    Image.fromarray(levels * 4).save(deep)  # 32-bit integers beyond 16 bits: no level meaning to take
    cases = {
        notes: "is not an image Pillow reads; give a JPEG",
        tmp_path: "is a folder; give the image files in it",
        deep: "beyond 16 bits; save it as an 8- or 16-bit image",
    }
    for path, says in cases.items():
        with pytest.raises(UserError) as refused:
            read_image(path, "input image")
        assert str(refused.value).startswith(f"input image {path} ") and says in str(refused.value)


def test_outputs_keep_16_bits_the_alpha_and_say_they_are_srgb(tmp_path: Path) -> None:
    stylized = cv2.imread(str(CHICAGO))[:100, :100]
    deep = read_still(REAL / "tiff_16bit_RGB.tiff")
    for suffix in (".png", ".tiff"):
        write_still(tmp_path / f"deep{suffix}", stylized, deep)
        back = cv2.imread(str(tmp_path / f"deep{suffix}"), cv2.IMREAD_UNCHANGED)
        assert back.dtype == np.uint16 and np.array_equal(back, stylized.astype(np.uint16) * 257)
    write_still(tmp_path / "deep.jpg", stylized, deep)  # JPEG holds 8 bits
    assert cv2.imread(str(tmp_path / "deep.jpg"), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    apng = read_still(REAL / "fixture.apng")
    write_still(tmp_path / "alpha.avif", stylized, apng)
    with Image.open(tmp_path / "alpha.avif") as written:
        assert written.mode == "RGBA"
        assert np.abs(np.asarray(written)[..., 3].astype(int) - apng.image[..., 3]).mean() < 2
    write_still(tmp_path / "tagged.jpg", stylized, Still(stylized, profiled=True))
    assert profile_name(tmp_path / "tagged.jpg") == "sRGB built-in"
