"""`live-style image` end to end, as a user runs it: a subprocess, real files read back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CHICAGO, SHARED, psnr, run_cli, run_cli_here
from other_stills import chroma, damaged_jpegs, p3_photo, pillow_in_srgb, pillow_upright, profile_name
from PIL import Image

WAVE = SHARED / "styles" / "wave.jpg"
REAL = SHARED / "media" / "real"


def live_style(*args: str | Path, tmp_path: Path, **popen) -> subprocess.CompletedProcess:
    return run_cli(*args, cache=tmp_path / "cache", **popen)


def test_stylizes_a_photo_at_its_own_size(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    result = live_style("image", CHICAGO, "--style", WAVE, "-o", out, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    original, stylized = cv2.imread(str(CHICAGO)), cv2.imread(str(out))
    assert stylized.shape == original.shape
    assert psnr(stylized, original) < 20  # repainted, not copied
    assert not list(tmp_path.glob(".*partial*"))


def test_quiet_by_default_and_library_logs_with_verbose(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    quiet = live_style("image", CHICAGO, "--style", WAVE, "--size", "64", "-o", out, tmp_path=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["model:", "wrote"], quiet.stderr
    loud = live_style("image", CHICAGO, "--style", WAVE, "--size", "64", "-o", out, "-v", tmp_path=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "XNNPACK" in loud.stderr and len(loud.stderr.splitlines()) > len(lines)


def test_several_inputs_into_a_folder_with_processing_size(tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.imread(str(CHICAGO), cv2.IMREAD_GRAYSCALE))
    deep = tmp_path / "deep.tiff"
    cv2.imwrite(str(deep), cv2.imread(str(CHICAGO)).astype(np.uint16) * 257)
    result = live_style(
        "image",
        gray,
        deep,
        "--style",
        WAVE,
        "-o",
        tmp_path / "out",
        "--size",
        "128",
        "--output-size",
        "processing",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for name in ("gray.png", "deep.tiff"):
        assert cv2.imread(str(tmp_path / "out" / name)).shape == (128, 192, 3)


def test_alpha_channel_is_kept(tmp_path: Path) -> None:
    rgba = tmp_path / "rgba.png"
    image = cv2.cvtColor(cv2.imread(str(CHICAGO)), cv2.COLOR_BGR2BGRA)
    image[:, : image.shape[1] // 2, 3] = 0
    cv2.imwrite(str(rgba), image)
    result = live_style("image", rgba, "--style", WAVE, "-o", tmp_path / "o.png", "--size", "128", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == image.shape and out[:, :10, 3].max() == 0 and out[:, -10:, 3].min() == 255


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list, str]]:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = tmp_path / "o.png"
    return {
        "missing style": (["image", CHICAGO, "--style", tmp_path / "nope.jpg", "-o", out], "nope.jpg"),
        "unreadable style": (["image", CHICAGO, "--style", text, "-o", out], "notes.png"),
        "missing content": (["image", tmp_path / "gone.jpg", "--style", WAVE, "-o", out], "gone.jpg"),
        "empty content": (["image", empty, "--style", WAVE, "-o", out], "empty.jpg"),
        "model not a model": (["image", CHICAGO, "--style", WAVE, "-o", out, "--model", tmp_path], "--model"),
        "hub handle offline": (
            [
                "image",
                CHICAGO,
                "--style",
                WAVE,
                "-o",
                out,
                "--model",
                "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2",
            ],
            "LIVE_STYLE_MODEL",
        ),
        "bad output name": (["image", CHICAGO, "--style", WAVE, "-o", tmp_path / "o.txt"], "o.txt"),
    }


def test_a_bad_live_style_model_is_named_as_the_variable_the_user_set(tmp_path: Path) -> None:
    env = {"LIVE_STYLE_MODEL": str(tmp_path / "no-model-here")}
    result = run_cli_here("image", CHICAGO, "--style", WAVE, "-o", tmp_path / "o.png", cache=tmp_path, env=env)
    assert result.returncode == 2
    assert f"LIVE_STYLE_MODEL={tmp_path / 'no-model-here'} does not exist" in result.stderr
    assert "--model" not in result.stderr


@pytest.mark.parametrize("case", list(bad_inputs(Path("/tmp"))))
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    args, named = bad_inputs(tmp_path)[case]
    result = run_cli_here(*args, cache=tmp_path / "cache")
    lines = [line for line in result.stderr.splitlines() if line.startswith("live-style: error")]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(lines) == 1 and named in lines[0], result.stderr
    assert not (tmp_path / "o.png").exists()


def test_a_very_large_image_comes_back_at_its_size(tmp_path: Path) -> None:
    large = tmp_path / "large.png"
    photo = cv2.imread(str(CHICAGO), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(large), cv2.resize(photo, (6000, 4000), interpolation=cv2.INTER_LINEAR))
    out = tmp_path / "large-out.jpg"
    result = live_style("image", large, "--style", WAVE, "-o", out, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out)).shape == (4000, 6000, 3)


def test_a_phone_photo_comes_out_upright_as_viewers_show_it(tmp_path: Path) -> None:
    from PIL import Image

    photo = cv2.imread(str(CHICAGO))
    phone = tmp_path / "phone.jpg"
    stored = Image.fromarray(cv2.cvtColor(photo, cv2.COLOR_BGR2RGB))
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view": how phones store a portrait photo
    stored.save(phone, exif=exif, quality=95)
    out = tmp_path / "out.png"
    assert run_cli_here("image", phone, "--style", WAVE, "--size", "128", "-o", out, cache=tmp_path).returncode == 0
    written = cv2.imread(str(out))
    assert written.shape[:2] == photo.shape[1::-1]  # portrait, as every viewer shows the photo
    upright = cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE)
    gray = lambda image: cv2.cvtColor(cv2.resize(image, (64, 96)), cv2.COLOR_BGR2GRAY).astype(float)  # noqa: E731
    assert np.corrcoef(gray(written).ravel(), gray(upright).ravel())[0, 1] > 0.5  # the same way up


def test_a_batch_of_other_peoples_stills_each_as_viewers_show_it_and_the_bad_ones_named(tmp_path: Path) -> None:
    stray, cut = damaged_jpegs(CHICAGO, tmp_path)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    p3 = p3_photo(CHICAGO, tmp_path / "iphone-p3.jpg")
    names = ["avif_rot3mir0.avif", "hopper_orientation_6.webp", "tiff_16bit_RGB.tiff", "16_bit_binary_pgm.tiff"]
    real = [REAL / name for name in [*names, "icc_profile_big.jpg", "fixture.apng"]]
    out = tmp_path / "out"
    args = ("--style", WAVE, "--size", "128", "--preserve-colors", "-o", out)  # output chroma: the content's
    result = live_style("image", *real, p3, stray, cut, notes, *args, tmp_path=tmp_path)
    # a subprocess: libjpeg writes its warnings to file descriptor 2, which only a real process shows
    errors = [line for line in result.stderr.splitlines() if line.startswith("live-style: error:")]
    assert result.returncode == 1 and "8 of 10 images written; 2 failed" in result.stderr, result.stderr
    assert len(errors) == 2 and f"{notes} is not an image" in errors[0] and f"{cut} cannot be decoded" in errors[1]
    assert "Corrupt JPEG" not in result.stderr and "Premature end" not in result.stderr  # no line without its file
    for source, shown in [
        *((REAL / name, pillow_upright(REAL / name)) for name in names),
        (REAL / "icc_profile_big.jpg", pillow_in_srgb(REAL / "icc_profile_big.jpg")),
        (p3, pillow_in_srgb(p3)),
        (stray, pillow_upright(stray)),
    ]:
        written = cv2.imread(str(out / source.name), cv2.IMREAD_UNCHANGED)
        deep = source.suffix == ".tiff"
        assert written.dtype == (np.uint16 if deep else np.uint8) and written.shape[:2] == shown.shape[:2], source
        written = (written // 257).astype(np.uint8) if deep else written
        as_stored = cv2.resize(np.asarray(Image.open(source).convert("RGB"))[..., ::-1], shown.shape[1::-1])
        assert chroma_error(written, shown) < 0.75 * chroma_error(written, as_stored) or np.array_equal(
            shown, as_stored
        ), source  # turned and coloured as viewers show it, not as the numbers are stored
    for tagged in ("icc_profile_big.jpg", "iphone-p3.jpg"):
        assert profile_name(out / tagged) == "sRGB built-in"  # says it is sRGB
    with Image.open(out / "fixture.png") as apng_out:  # the APNG's alpha kept, in a format that holds it
        assert np.array_equal(np.asarray(apng_out)[..., 3], pillow_upright(REAL / "fixture.apng")[..., 3])


def chroma_error(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean difference of Cr and Cb at a small size."""
    return float(np.abs(chroma(image).astype(int) - chroma(reference).astype(int)).mean())


def test_a_folder_given_as_the_input_is_named_as_a_folder_not_blamed_on_the_output(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    result = run_cli_here(
        "image", tmp_path / "photos", "-o", f"{tmp_path / 'styled'}/", "--style", WAVE, cache=tmp_path
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{tmp_path / 'photos'} is a folder; give the image files in it" in result.stderr
    assert "-o " not in result.stderr  # not blamed on -o
