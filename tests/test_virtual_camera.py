"""--virtual-camera: the real pyvirtualcam library, with a recording backend registered through its own
`register_backend` in place of the kernel device (there is no v4l2loopback device here)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from conftest import LITE_DIR, SHARED, cli_argv, run_cli, share_precision_choices
from handheld import handheld_clip, photos, write_frames

from live_style import cli
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.live import LiveOptions, LivePipeline
from live_style.sinks.virtual_camera import VirtualCamera
from live_style.sources.capture import open_input
from live_style.styles import StyleBank

pyvirtualcam = pytest.importorskip("pyvirtualcam", reason="the [vcam] extra (pyvirtualcam) is not installed")

WAVE, UDNIE = SHARED / "styles" / "wave.jpg", SHARED / "styles" / "udnie.jpg"
MAX_SIZE = 1920 * 1080


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent (and refuses sizes a device would)."""

    opened: ClassVar[list[RecordingBackend]] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        if width * height > MAX_SIZE:
            raise ValueError(f"{width}x{height} is not supported by the device")
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.name = device or "recording"
        self.frames: list[np.ndarray] = []
        self.closed = 0
        self.sent = threading.Condition()
        RecordingBackend.opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        with self.sent:
            self.frames.append(frame.reshape(self.height, self.width, 3).copy())
            self.sent.notify_all()

    def close(self) -> None:
        self.closed += 1

    def device(self) -> str:
        return self.name

    def native_fourcc(self) -> int | None:
        return self.fourcc


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, cache_dir: Path):
    """Only the recording backend is registered for the test; yields a function giving the opened one."""
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {})
    pyvirtualcam.register_backend("recording", RecordingBackend)
    monkeypatch.setenv("LIVE_STYLE_MODEL", str(LITE_DIR))
    monkeypatch.setenv("LIVE_STYLE_CACHE", str(cache_dir))
    RecordingBackend.opened.clear()
    yield lambda: RecordingBackend.opened[-1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a 640x480 30 fps handheld pan: faster than the model at --size 384."""
    frames = handheld_clip(photos(SHARED)["chicago"], "pan", frames=60, size=(640, 480))
    return write_frames(tmp_path_factory.mktemp("vcam") / "pan.mp4", frames, fps=30)


def test_a_headless_run_feeds_the_virtual_camera_at_the_source_rate_and_a_fixed_size(backend, clip: Path) -> None:
    args = ["--input", str(clip), "--style", str(WAVE), "--no-window", "--size", "384", "--virtual-camera"]
    assert cli.main([*args, "--virtual-camera-size", "320x240"]) == 0
    camera = backend()
    assert camera.fourcc == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.BGR.value)
    assert camera.closed == 1 and camera.fps == 30
    assert {frame.shape for frame in camera.frames} == {(240, 320, 3)}
    # the clip plays for 2 s at 30 fps; the model is slower (about 10 fps here), yet the device is fed at the
    # source's rate by pyvirtualcam's frame clock: far more frames than the model made
    assert 36 <= len(camera.frames) <= 75
    assert np.abs(camera.frames[-1].astype(int) - cv2.resize(read_first(clip), (320, 240))).mean() > 20  # stylized


def read_first(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    _, image = capture.read()
    capture.release()
    return image


def test_a_style_switch_reaches_the_virtual_camera(backend, clip: Path, lite_model) -> None:
    bank = StyleBank(lambda f: lite_model.style_vector(cv2.imread(str(f))), [WAVE, UDNIE])
    controls = LiveControls(style_count=2, size=256)
    camera = VirtualCamera((320, 240), 30.0)
    device = backend()
    source = open_input(str(clip), paced=True, stall_timeout=5)
    pipeline = LivePipeline(lite_model, source, bank, controls, LiveOptions(), [camera])
    switched_at: list[int] = []

    def switch_after_15_frames() -> None:
        with device.sent:
            device.sent.wait_for(lambda: len(device.frames) >= 15, timeout=60)
            switched_at.append(len(device.frames))
        controls.style_index = 1  # what n does in the window

    threading.Thread(target=switch_after_15_frames, daemon=True).start()
    assert pipeline.run() == 0  # to the end of the clip
    assert device.closed == 1
    assert switched_at, "the clip ended before the virtual camera got 15 frames"
    before = switched_at[0]
    early, late = np.mean(device.frames[5:before], axis=0), np.mean(device.frames[-5:], axis=0)
    wave_late = lite_model.stylize(cv2.resize(read_first(clip), (320, 240)), bank.vectors[0])
    udnie_late = lite_model.stylize(cv2.resize(read_first(clip), (320, 240)), bank.vectors[1])
    colour = lambda image: image.reshape(-1, 3).mean(0)  # noqa: E731
    assert np.linalg.norm(colour(late) - colour(udnie_late)) < np.linalg.norm(colour(late) - colour(wave_late))
    assert np.linalg.norm(colour(early) - colour(wave_late)) < np.linalg.norm(colour(early) - colour(udnie_late))


def test_a_size_the_device_refuses_is_one_line_and_exit_2(backend, clip: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--input", str(clip), "--style", str(WAVE), "--no-window", "--virtual-camera"]
    assert cli.main([*args, "--virtual-camera-size", "4000x3000"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("live-style: error: cannot open a 4000x3000 virtual camera") and "not supported" in line


def test_without_pyvirtualcam_the_flag_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if the [vcam] extra were not installed
    assert cli.main(["--input", "x.mp4", "--style", str(WAVE), "--no-window", "--virtual-camera"]) == 2
    assert "pip install -e '.[vcam]'" in capsys.readouterr().err


@pytest.mark.parametrize(("device", "named"), [(None, "modprobe v4l2loopback"), ("/dev/null", "/dev/null")])
def test_no_loopback_device_is_one_line_with_the_fix(clip: Path, tmp_path: Path, device, named: str) -> None:
    if glob.glob("/sys/devices/virtual/video4linux/video*"):
        pytest.skip("a v4l2loopback device exists here; the no-device case cannot be produced")
    flag = ["--virtual-camera", *([device] if device else [])]
    result = run_cli("--input", clip, "--style", WAVE, "--no-window", *flag, cache=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("live-style: error")]
    assert named in line and "exclusive_caps=1" in line


def test_frames_read_back_from_a_real_v4l2loopback_device(clip: Path, tmp_path: Path) -> None:
    devices = sorted(glob.glob("/sys/devices/virtual/video4linux/video*"))
    if not devices:
        pytest.skip("no v4l2loopback device here (sudo modprobe v4l2loopback exclusive_caps=1); no kernel module")
    device = f"/dev/{Path(devices[0]).name}"
    command = ["--input", clip, "--style", WAVE, "--no-window", "--virtual-camera", device]
    env = {**os.environ, "LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_CACHE": str(share_precision_choices(tmp_path))}
    process = subprocess.Popen(cli_argv(*command), env=env)
    capture = cv2.VideoCapture(device)
    frames = [capture.read()[1] for _ in range(10)]
    capture.release()
    process.wait(timeout=120)
    assert all(f is not None and f.shape == (480, 640, 3) for f in frames)  # the clip's size
