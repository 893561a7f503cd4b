"""CPU runtimes: OpenVINO against the TensorFlow float reference at three sizes; the automatic choice
and its fallback; a runtime that is not installed."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from conftest import CHICAGO, LITE_DIR, SHARED, psnr

from live_style import cli, load_model
from live_style.errors import UserError
from live_style.model.openvino_runtime import INSTALL_HINT

pytest.importorskip("openvino", reason="the [openvino] extra is not installed")

SAME_NETWORK_DB = 60  # the same float network on two runtimes: only rounding differs (Google's int8 gives 27)
WAVE = SHARED / "styles" / "wave.jpg"


@pytest.mark.parametrize(("height", "width"), [(256, 340), (384, 384), (480, 640)])
def test_openvino_matches_the_float_reference(lite_model, chicago, wave, height: int, width: int) -> None:
    openvino = load_model(str(LITE_DIR), runtime="openvino", cache_dir=lite_model.cache.directory.parent)
    assert openvino.runtime == "openvino" and "OpenVINO" in openvino.description
    frame = cv2.resize(chicago, (width, height), interpolation=cv2.INTER_AREA)
    frames = np.stack([frame, frame[::-1, ::-1]])  # a batch of two
    vector = lite_model.style_vector(wave)
    reference = lite_model.stylize(frames, vector, size=height)
    result = openvino.stylize(frames, vector, size=height)
    assert result.shape == reference.shape == (2, height, width, 3)
    assert psnr(result, reference) > SAME_NETWORK_DB


def test_auto_picks_openvino_on_a_cpu(cache_dir) -> None:
    assert load_model(str(LITE_DIR), cache_dir=cache_dir).runtime == "openvino"
    assert load_model(str(LITE_DIR), cache_dir=cache_dir, xla=True).runtime == "tensorflow"  # a TF-only option


def test_auto_falls_back_to_tensorflow_with_a_note(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the [openvino] extra were not installed
    monkeypatch.setenv("LIVE_STYLE_MODEL", str(LITE_DIR))
    monkeypatch.setenv("LIVE_STYLE_CACHE", str(tmp_path))
    assert cli.main(["image", str(CHICAGO), "--style", str(WAVE), "--size", "64", "-o", str(tmp_path / "o.png")]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "pip install -e '.[openvino]'" in notes[0] and "(TF ops" in err


def test_runtime_openvino_not_installed_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setenv("LIVE_STYLE_MODEL", str(LITE_DIR))
    out = str(tmp_path / "o.png")
    code = cli.main(["image", str(CHICAGO), "--style", str(WAVE), "-o", out, "--runtime", "openvino"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert line == f"live-style: error: --runtime openvino needs OpenVINO: {INSTALL_HINT}"


def test_runtime_openvino_refuses_tensorflow_only_options(tmp_path) -> None:
    with pytest.raises(UserError, match="--xla: TensorFlow only"):
        load_model(str(LITE_DIR), runtime="openvino", xla=True, cache_dir=tmp_path)
