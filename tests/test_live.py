"""The live loop, headless and windowed, with the real lite model over real video files."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import LITE_DIR, SHARED, cli_argv, psnr, run_cli_here
from hypothesis import given
from hypothesis import strategies as st
from media import scene, video_facts, write_clip

from live_style import cli
from live_style.commands.bench_temporal import read_frames
from live_style.errors import EXIT_INTERRUPTED, EXIT_SOURCE_LOST, EXIT_TERMINATED
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.stats import RateMeter
from live_style.sinks import OutputFrame
from live_style.sinks.recording import Recording, VideoRecorder
from live_style.sources import capture as sources

WAVE = SHARED / "styles" / "wave.jpg"


def command(*args: str | Path) -> list[str]:
    return cli_argv(*args)


@pytest.fixture(autouse=True)
def lite_model_env(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    monkeypatch.setenv("LIVE_STYLE_MODEL", str(LITE_DIR))
    monkeypatch.setenv("LIVE_STYLE_CACHE", str(cache_dir))


def test_headless_run_over_a_file_records_every_frame_with_its_timing(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=30, fps=10)
    out = tmp_path / "rec.mp4"
    result = subprocess.run(
        command("--input", clip, "--style", WAVE, "--no-window", "--as-fast-as-possible", "--record", out),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    facts = video_facts(out)
    assert facts["frames"] == 30 and facts["fps"] == 10 and facts["size"] == (320, 240)
    assert psnr(facts["first"], scene(0, 320, 240)) < 22  # stylized, not the input
    assert "stopped: end of input" in result.stderr


def test_recording_keeps_real_time_when_the_model_is_slower_than_the_source(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "fast.mp4", frames=60, fps=60, size=(480, 360))
    out = tmp_path / "rec.mov"
    result = subprocess.run(
        command("--input", clip, "--style", WAVE, "--no-window", "--size", "360", "--record", out),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    dropped = int(result.stderr.rsplit(" dropped;", 1)[0].rsplit(" ", 1)[-1])
    assert dropped > 0  # the model could not keep up with 60 fps ...
    facts = video_facts(out)
    assert facts["frames"] == 60 and facts["fps"] == 60  # ... yet the recording lasts the clip's 1 s


def test_a_recording_spans_the_source_from_its_first_frame_even_when_the_model_skipped_it(tmp_path: Path) -> None:
    recorder = VideoRecorder(tmp_path / "rec.mp4", fps=10, size=(64, 48), origin=0.0)
    first, second = np.full((48, 64, 3), 40, np.uint8), np.full((48, 64, 3), 200, np.uint8)
    for number in range(10):  # the source's frames, as its capture thread reports them
        recorder.tick(number / 10)
    recorder.write(OutputFrame(first, 0.3))  # the model's first result is the source's fourth frame
    recorder.write(OutputFrame(second, 0.6))
    assert recorder.close(end_pts=1.0) == tmp_path / "rec.mp4"
    levels = [int(frame.mean()) for frame in read_frames(tmp_path / "rec.mp4", limit=100)]
    assert len(levels) == 10  # 0.0 to 1.0 s at 10 fps
    assert all(abs(level - 40) < 8 for level in levels[:6]) and all(abs(level - 200) < 8 for level in levels[6:])


def test_pressing_r_again_records_beside_the_first_file_not_over_it(tmp_path: Path) -> None:
    source = sources.open_input(str(write_clip(tmp_path / "clip.mp4", frames=40, fps=10)), False, 10)
    pressed = [True]
    said: list[str] = []
    recording = Recording(tmp_path / "rec.mp4", lambda: pressed[0], source, said.append)
    source.start()
    for frame in iter(source.next_frame, None):
        pressed[0] = frame.index < 10 or frame.index >= 20  # r at 1 s, r again at 2 s
        recording.write(OutputFrame(frame.image, frame.pts))
    source.close()
    recording.close()
    assert video_facts(tmp_path / "rec.mp4")["frames"] == 10 and video_facts(tmp_path / "rec-2.mp4")["frames"] == 20
    assert [line.split(":")[0] for line in said if line.startswith("saved")] == [
        f"saved {tmp_path / 'rec.mp4'}",
        f"saved {tmp_path / 'rec-2.mp4'}",
    ]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED)])
def test_a_signal_leaves_a_finished_recording(tmp_path: Path, signum: int, code: int) -> None:
    clip = write_clip(tmp_path / "long.mp4", frames=600, fps=20)
    out = tmp_path / "rec.mp4"
    process = subprocess.Popen(
        command("--input", clip, "--style", WAVE, "--no-window", "--record", out), stderr=subprocess.PIPE, text=True
    )
    for line in process.stderr:  # the recorder has its first frame once it says so
        if line.startswith("recording to"):
            break
    process.send_signal(signum)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == code, rest
    facts = video_facts(out)
    assert facts["frames"] >= 1 and facts["size"] == (320, 240)
    assert "saved" in rest and not list(tmp_path.glob(".*partial*"))


class StoppingCamera:
    """Stands in for a webcam (none exists here): delivers `frames` frames, then nothing, like an unplugged one."""

    def __init__(self, frames: int):
        self.remaining = frames
        self.index = 0

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.remaining <= 0:
            return False, None
        self.remaining -= 1
        self.index += 1
        return True, scene(self.index, 320, 240)

    def get(self, prop: int) -> float:
        return {
            sources.cv2.CAP_PROP_FPS: 15.0,
            sources.cv2.CAP_PROP_FRAME_WIDTH: 320,
            sources.cv2.CAP_PROP_FRAME_HEIGHT: 240,
        }.get(prop, 0.0)

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        pass


def test_a_camera_that_stops_leaves_a_playable_file_and_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda index: StoppingCamera(frames=20))
    out = tmp_path / "cam.mp4"
    code = cli.main(
        ["--camera", "0", "--style", str(WAVE), "--no-window", "--record", str(out), "--stall-timeout", "1"]
    )
    error = capsys.readouterr().err
    assert code == EXIT_SOURCE_LOST
    assert "live-style: error: camera 0 stopped delivering frames for 1 s" in error
    facts = video_facts(out)
    assert facts["frames"] >= 1 and facts["size"] == (320, 240) and facts["fps"] == 15


def test_a_missing_camera_is_one_line_with_hints(cache_dir: Path) -> None:
    result = run_cli_here("--camera", "9", "--style", WAVE, "--no-window", cache=cache_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("live-style: error: camera 9 did not open")
    assert "--list-cameras" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--input", "missing.mp4"], "missing.mp4"), (["--record", "out.gif"], "out.gif"), ([], "--style")],
)
def test_bad_live_options_are_refused_before_anything_opens(args: list[str], named: str, cache_dir: Path) -> None:
    style = [] if named == "--style" else ["--style", WAVE]
    result = run_cli_here("--no-window", *style, *args, cache=cache_dir)
    assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr


def test_hotkeys_change_the_controls() -> None:
    controls = LiveControls(style_count=3, size=256)
    assert [controls.handle_key(k) for k in "npp"] == [None] * 3 and controls.style_index == 2
    controls.handle_key("1")
    controls.handle_key("-")
    controls.handle_key("]")
    controls.handle_key("o")
    assert (controls.style_index, controls.strength, controls.size, controls.view) == (0, 0.9, 320, "original")
    assert controls.handle_key("q") == "quit" and controls.handle_key("esc") == "quit"
    assert controls.handle_key("s") == "snapshot"
    controls.handle_key("r")
    assert controls.recording


def test_a_headless_box_without_a_camera_hears_of_both_at_once_before_any_model(
    cache_dir: Path, tmp_path: Path
) -> None:
    headless = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    result = run_cli_here("--camera", "9", "--style", WAVE, cache=cache_dir, env=headless)
    assert result.returncode == 2 and "model:" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("live-style: error: there is no display to open a window on; run with --no-window")
    assert "; and camera 9 did not open" in line
    clip = write_clip(tmp_path / "clip.mp4", frames=5, fps=10)
    with_a_file = run_cli_here("--input", clip, "--style", WAVE, cache=cache_dir, env=headless)
    assert with_a_file.returncode == 2
    assert with_a_file.stderr.strip().splitlines() == [
        "live-style: error: there is no display to open a window on; run with --no-window, or set DISPLAY"
    ]


@given(
    fps=st.floats(1, 240),
    seconds=st.floats(2.5, 30),
    read_after=st.floats(0, 0.999),
    pause=st.floats(2.01, 60),
)
def test_the_fps_shown_is_the_rate_of_the_last_seconds_after_a_pause_too(
    fps: float, seconds: float, read_after: float, pause: float
) -> None:
    meter = RateMeter(span_s=2.0)
    ticks = np.arange(int(seconds * fps) + 1) / fps
    for at in ticks:
        meter.tick(at)
    steady = meter.rate_at(ticks[-1] + read_after / fps)
    assert abs(steady - fps) <= 2 * fps / (fps * 2.0) + 1e-9 * fps, (steady, fps)
    meter.tick(ticks[-1] + pause)  # one frame after a long stall: a slow rate, never none
    assert meter.rate_at(ticks[-1] + pause) == pytest.approx(1 / pause)
    assert meter.rate_at(ticks[-1] + pause + 2.5) == 0.0  # nothing for longer than the span: 0, not the rate before
