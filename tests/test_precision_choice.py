"""The CPU path's precision, measured on this machine: the choice among fakes of known cost and picture,
the stored decision and what invalidates it, --precision over it, and the real measurement here,
for stills, video and live use (which switches while frames keep coming)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import INT8_NETWORKS, LITE_DIR, psnr

from live_style import load_model
from live_style.model import precision_choice
from live_style.model.int8 import nncf_available
from live_style.model.precision_choice import QUALITY_FLOOR_DB, Measured, measure, offered, pick


def test_the_fastest_candidate_above_the_floor_is_picked() -> None:
    measured = [Measured("float32", 40.0, float("inf")), Measured("bfloat16", 20.0, 45.0), Measured("int8", 15.0, 25.0)]
    assert pick(measured) == "bfloat16"  # int8 is faster but below the floor
    assert pick(measured, floor_db=20.0) == "int8"
    assert pick([Measured("float32", 40.0, float("inf")), Measured("float16", 41.0, 60.0)]) == "float32"
    assert offered(["FP32", "BF16", "INT8"], int8=True) == ["float32", "bfloat16", "int8", "int8 bfloat16"]
    assert offered(["FP32", "FP16"], int8=False) == ["float32", "float16"]
    both = offered(["FP32", "BF16"], True, ("phased", "plain"))
    assert both == ["float32", "float32 plain", "bfloat16", "bfloat16 plain", "int8", "int8 bfloat16"]


@dataclass
class FakeTransfer:
    """Runners of known cost (ms of busy waiting) and known picture (noise added to float32's frame)."""

    cost_ms: dict[str, float]
    noise: dict[str, float]
    asked: list[str] = field(default_factory=list)

    def runner(self, name, vector, identity, int8_directory, shape):
        self.asked.append(name)
        rng = np.random.default_rng(len(self.asked))

        def run(frame: np.ndarray) -> np.ndarray:
            deadline = time.perf_counter() + self.cost_ms[name] / 1000
            while time.perf_counter() < deadline:  # a cost, not a wait: the measured time is the runner's own
                pass
            noisy = frame.astype(np.float32) + rng.normal(0, self.noise[name], frame.shape)
            return np.clip(noisy, 0, 255).astype(np.uint8)

        return run


@dataclass
class FakeModel:
    openvino: FakeTransfer
    identity: str = "fake"
    cache: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(directory=Path("unused/style-vectors")))

    def style_vector(self, style_bgr: np.ndarray, remember: bool = True) -> np.ndarray:
        return np.zeros((1, 1, 1, 100), np.float32)


def test_measuring_times_every_candidate_and_compares_its_picture_with_float32() -> None:
    transfer = FakeTransfer({"float32": 12, "bfloat16": 4, "int8": 2}, {"float32": 0, "bfloat16": 1, "int8": 20})
    measured = {m.name: m for m in measure(FakeModel(transfer), ["float32", "bfloat16", "int8"])}
    assert sorted(transfer.asked) == ["bfloat16", "float32", "int8"]
    assert measured["int8"].ms < measured["bfloat16"].ms < measured["float32"].ms
    assert measured["bfloat16"].psnr_db > 40 and measured["int8"].psnr_db < QUALITY_FLOOR_DB
    assert pick(list(measured.values())) == "bfloat16"


def test_a_stored_decision_is_reused_and_a_changed_key_measures_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = load_model(str(LITE_DIR), runtime="openvino", precision="float32", cache_dir=tmp_path)
    measured: list[str] = []

    def fake_measure(model, candidates):
        measured.append(model.identity)
        return [Measured(name, 10.0 + i, 50.0) for i, name in enumerate(candidates)]

    monkeypatch.setattr(precision_choice, "measure", fake_measure)
    lines: list[str] = []
    assert precision_choice.choose(model, False, lines.append) == "float32"
    assert len(measured) == 1 and any("picked float32" in line for line in lines)
    assert precision_choice.choose(model, False, lines.append) == "float32" and len(measured) == 1  # reused
    assert precision_choice.stored(model, False) == "float32"
    precision_choice.choose(model, True, lines.append)  # int8 among the candidates: another decision
    model.identity += " (another network)"
    precision_choice.choose(model, False, lines.append)
    assert len(measured) == 3
    assert len(list((tmp_path / "precision-choice").glob("*.json"))) == 3


def test_precision_forces_the_choice_and_bfloat16_stays_close_to_float32(tmp_path: Path, chicago, wave) -> None:
    forced = {name: load_model(str(LITE_DIR), precision=name, cache_dir=tmp_path) for name in ("float32", "bfloat16")}
    assert not (tmp_path / "precision-choice").exists()  # nothing measured when the precision is given
    vector = forced["float32"].style_vector(wave)
    frames = {name: model.stylize(chicago, vector, size=256) for name, model in forced.items()}
    assert "OpenVINO, bfloat16" in forced["bfloat16"].description
    assert psnr(frames["bfloat16"], frames["float32"]) > QUALITY_FLOOR_DB


def test_auto_measures_once_on_this_cpu_and_runs_what_it_picked(tmp_path: Path, chicago, wave) -> None:
    lines: list[str] = []
    model = load_model(str(LITE_DIR), cache_dir=tmp_path, workload="still", report=lines.append)
    decision = precision_choice.stored_decision(model, False)
    assert decision is not None
    names = [m["name"] for m in decision["measured"]]
    assert names[:2] == ["float32", "float32 plain"] and "int8" not in names  # a still does not pay for int8
    assert model.candidate == decision["picked"]
    picked = next(m for m in decision["measured"] if m["name"] == decision["picked"])
    assert picked["ms"] == min(m["ms"] for m in decision["measured"] if m["psnr_db"] >= QUALITY_FLOOR_DB)
    assert any("picked" in line for line in lines)
    again: list[str] = []
    load_model(str(LITE_DIR), cache_dir=tmp_path, workload="still", report=again.append)
    assert again == []  # the stored decision, at no cost


@pytest.mark.skipif(not nncf_available(), reason="live use measures int8 too, which needs NNCF")
def test_live_use_measures_before_its_first_frame_and_runs_the_pick(tmp_path: Path, chicago, wave) -> None:
    """Timed beside a running pipeline the candidates slow down unevenly (on the Intel Xeon with AMX that
    picked int8 bfloat16 at 31 dB over bfloat16 plain, 1.2x faster alone) and the pick is kept: so no frame runs
    before the measurement is in."""
    (tmp_path / "int8-transfer").symlink_to(INT8_NETWORKS, target_is_directory=True)  # the session's, as users' cache
    lines: list[str] = []
    model = load_model(str(LITE_DIR), cache_dir=tmp_path, workload="live", report=lines.append)
    assert precision_choice.stored(model, True) == model.candidate
    assert len(lines) == 2 and lines[0].startswith("precision: timing") and f"picked {model.candidate} " in lines[1]
    assert not [thread for thread in threading.enumerate() if thread.name == "precision-choice"]
    frame = cv2.resize(chicago, (320, 240))
    out = model.stylize(frame, model.style_vector(wave), size=128)  # int8: float until this style's network is made
    assert out.shape == frame.shape and out.std() > 5
