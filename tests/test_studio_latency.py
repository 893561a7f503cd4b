"""The studio's latency figure is what a viewer sees: camera capture to stylized frame on screen, checked against
flash frames in Chromium's fake camera, found by their picture on both panels (not by the page's own reasoning)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import CHROMIUM, SHARED
from handheld import write_y4m
from playwright.sync_api import Browser, Page, Playwright
from studio import Server

FPS = 10
LOOP = 20  # frames in the camera's loop: one flash every 2 s
WAVE = SHARED / "styles" / "wave.jpg"
# Each presented frame of both panels: its capture time (camera) or display time (stylized), and the left half's
# brightness minus the right half's, which a flash (the picture mirrored) turns over on both sides of the model.
PROBE = """
window.flashProbe = { camera: [], stylized: [] };
const canvas = document.createElement("canvas");
canvas.width = 16;
canvas.height = 12;
const context = canvas.getContext("2d", { willReadFrequently: true });
function balance(video) {
  context.drawImage(video, 0, 0, 16, 12);
  const pixels = context.getImageData(0, 0, 16, 12).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    sum += ((i / 4) % 16 < 8 ? 1 : -1) * (pixels[i] + pixels[i + 1] + pixels[i + 2]);
  }
  return sum / (3 * 8 * 12);
}
const panels = [["original", "camera", "captureTime"], ["stylized", "stylized", "expectedDisplayTime"]];
for (const [id, key, field] of panels) {
  const video = document.getElementById(id);
  const next = (now, metadata) => {
    window.flashProbe[key].push([metadata[field], balance(video)]);
    video.requestVideoFrameCallback(next);
  };
  video.requestVideoFrameCallback(next);
}
"""


@pytest.fixture(scope="module")
def flashing_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Left half dark, right half light; every LOOP frames one frame the other way round. Not the first frame:
    Chromium shows a file's first frame twice each time it loops, and a flash two frames long has no one capture
    time to measure from."""
    frame = np.full((240, 320, 3), 40, np.uint8)
    frame[:, 160:] = 215
    frames = [frame[:, ::-1].copy() if index == LOOP // 2 else frame for index in range(LOOP)]
    return write_y4m(tmp_path_factory.mktemp("camera") / "flashes.y4m", frames, fps=FPS)


@pytest.fixture(scope="module")
def browser(playwright: Playwright, flashing_camera: Path) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={flashing_camera}",
        ],
    )
    yield chromium
    chromium.close()


def wait_for_figure(page: Page, server: Server, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not page.evaluate("document.getElementById('latency').textContent").isdigit():
        assert time.monotonic() < deadline, f"no latency figure within {seconds} s; server log:\n{server.errors()}"
        time.sleep(0.2)


def flashes_seen(probe: dict) -> list[tuple[float, float]]:
    """(display time, capture to display) of each flash: its first camera capture, and the first stylized frame
    after it that differs from the stylized frames just before it."""
    camera, stylized = probe["camera"], probe["stylized"]
    found = []
    for index, (captured, balance) in enumerate(camera):
        if balance <= 0 or (index and camera[index - 1][1] > 0):
            continue
        before = [value for shown, value in stylized if captured - 500 < shown <= captured]
        after = [(shown, value) for shown, value in stylized if captured < shown < captured + 1500]
        if len(before) < 2 or not after:
            continue
        usual = statistics.median(before)
        flash = next((shown for shown, value in after if abs(value - usual) > 25), None)
        if flash is not None:
            found.append((flash, flash - captured))
    return found


def test_the_latency_shown_is_the_camera_to_screen_time_of_the_frames_shown(
    browser: Browser, cache_dir: Path, tmp_path: Path
) -> None:
    args = ("--style", str(WAVE), "--no-stabilize", "--size", "96", "--precision", "float32")
    server = Server(*args, cache=cache_dir, log=tmp_path / "serve.log")
    try:
        page = browser.new_page()
        page.goto(server.url)
        page.uncheck("#side-by-side")  # the camera's own picture small in the corner: still timed
        page.evaluate("window.scrollTo(0, 0)")
        wait_for_figure(page, server)
        page.evaluate(PROBE)
        samples = []
        for _ in range(28):  # 14 s: six or seven flashes
            time.sleep(0.5)
            samples.append(page.evaluate("[performance.now(), Latency.measure('camera')]"))
        probe = page.evaluate("window.flashProbe")
        title = page.evaluate("document.getElementById('latency-figure').title")
        page.close()
    finally:
        server.stop()
    # the probe runs on after the last figure was read: a flash shown in the last 1.8 s has no figure to check
    flashes = [flash for flash in flashes_seen(probe) if flash[0] + 1800 < samples[-1][0]]
    assert len(flashes) >= 3, (len(probe["camera"]), len(probe["stylized"]))
    assert "from your camera to this screen" in title and "camera to server" in title
    for shown, seen in flashes:
        # a figure taken within 2 s after the flash was on screen covers that very frame: its latency is in range
        covering = [figure for at, figure in samples if figure and shown + 100 < at < shown + 1800]
        assert covering, (shown, samples)
        assert any(f["fastest"] - 1 <= seen <= f["slowest"] + 1 for f in covering), (seen, covering)
    median_seen = statistics.median(seen for _, seen in flashes)
    shown_figures = [figure["total"] for _, figure in samples if figure]
    # the figure is the median of every frame shown: within a frame interval of the flashes' own
    assert abs(statistics.median(shown_figures) - median_seen) < 1000 / FPS, (shown_figures, flashes)
