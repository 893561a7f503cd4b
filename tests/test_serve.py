"""`live-style serve` as a user meets it: a real server process, a real Chromium with a fake camera
fed from a clip of a real photo, WebRTC over 127.0.0.1, pixels read back from the page's videos."""

from __future__ import annotations

import base64
import json
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CHROMIUM, SEGMENTER_DIR, SHARED, run_cli_here
from handheld import handheld_clip, photos, write_frames, write_y4m
from playwright.sync_api import Browser, Page, Playwright
from studio import Server, http

from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

GRAB = """id => {
  const video = document.getElementById(id);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
}"""


def until(page: Page, condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` (every 250 ms of the page's clock) until it holds; fail naming `what` after `seconds`."""
    for _ in range(int(seconds * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{what} did not happen within {seconds:g} s; page says: {page.inner_text('#message')}")


def grab(page: Page, video: str) -> np.ndarray:
    """The frame a <video> shows now, drawn to a canvas and read back (BGR)."""
    data = base64.b64decode(page.evaluate(GRAB, video).split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def distance_to_clip(image: np.ndarray, clip: list[np.ndarray]) -> float:
    """Mean absolute difference to the nearest frame of the fake camera's clip (at the image's size)."""
    size = image.shape[1], image.shape[0]
    return min(
        float(cv2.absdiff(image, cv2.resize(frame, size, interpolation=cv2.INTER_AREA)).mean()) for frame in clip
    )


def settled(message: str) -> bool:
    """The page has its answer: connected, busy or an error."""
    return "stylized" in message or "busy" in message or "refused" in message


def playing(page: Page, video: str = "stylized", seconds: float = 60) -> None:
    until(
        page,
        lambda: page.evaluate(f"document.getElementById('{video}').currentTime") > 1.0,
        seconds,
        f"{video} playing",
    )


@pytest.fixture(scope="module")
def camera_clip() -> list[np.ndarray]:
    """A slow handheld pan over the real Chicago photo (what the fake camera shows)."""
    photo = cv2.imread(str(SHARED / "media" / "chicago.jpg"))
    return handheld_clip(photo, "pan", frames=60, size=(640, 480), noise=2.0)


def fake_camera(y4m: Path) -> list[str]:
    """Chromium's flags for a fake camera playing `y4m` (and no permission prompt)."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


@pytest.fixture(scope="module")
def browser(
    playwright: Playwright, camera_clip: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium with a fake camera playing the clip (and no permission prompt)."""
    y4m = write_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m", camera_clip)
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=fake_camera(y4m))
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def pages_closed_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every tab a test opened in the shared browser is closed after it, passed or failed, so a failed test's
    session never holds a slot the next test needs."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


@pytest.fixture(scope="module")
def studio(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The studio in camera mode on 127.0.0.1 with the project's styles, two sessions at most."""
    server = Server(
        "--style",
        str(BUILTIN_STYLES),
        "--max-sessions",
        "2",
        cache=cache_dir,
        log=tmp_path_factory.mktemp("serve") / "serve.log",
    )
    yield server
    server.stop()


def open_page(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(url)
    return page


def test_the_page_shows_the_camera_stylized_and_its_controls_change_it(
    browser: Browser, studio: Server, camera_clip: list[np.ndarray], tmp_path: Path
) -> None:
    page = open_page(browser, studio.url)
    playing(page)
    original, stylized = grab(page, "original"), grab(page, "stylized")
    assert distance_to_clip(original, camera_clip) < 8, "the page's own camera view should be the clip"
    first_style = distance_to_clip(stylized, camera_clip)
    assert first_style > 35, f"the returned video is not stylized (mean difference {first_style:.1f})"
    assert page.locator("#styles > *").count() == len(list(BUILTIN_STYLES.glob("*.jpg")))

    page.locator("#styles > *").last.click()  # another style
    until(page, lambda: cv2.absdiff(grab(page, "stylized"), stylized).mean() > 25, 20, "the style switch")

    page.eval_on_selector("#strength", "e => { e.value = 0; e.dispatchEvent(new Event('input')); }")
    until(page, lambda: distance_to_clip(grab(page, "stylized"), camera_clip) < 0.6 * first_style, 20, "strength 0")
    assert float(page.inner_text("#fps")) > 0
    assert page.inner_text("#size") == "340x256"  # --size default on a CPU: 256, 4:3 camera
    page.select_option("#size-select", "128")
    until(page, lambda: page.inner_text("#size").endswith("x128"), 10, "the new processing size")
    screenshot = page.screenshot(path=tmp_path / "studio.png")
    assert len(screenshot) > 50_000
    print(f"screenshot: {tmp_path / 'studio.png'}")
    page.close()


def test_the_person_control_keeps_the_person_real(playwright: Playwright, studio: Server, tmp_path: Path) -> None:
    from live_style.model.segmenter import Segmenter, locate_segmenter

    picture = handheld_clip(photos(SHARED)["astronaut"], "pan", 1, (640, 480), noise=0.0)[0]
    camera = write_y4m(tmp_path / "person.y4m", [picture] * 30)
    person = (Segmenter(locate_segmenter(str(SEGMENTER_DIR)))(picture) >= 128).astype(np.uint8)
    core = np.ones((31, 31), np.uint8)
    inside, outside = cv2.erode(person, core) > 0, cv2.erode(1 - person, core) > 0

    def painted(where: np.ndarray) -> float:
        stylized = cv2.resize(grab(page, "stylized"), (640, 480), interpolation=cv2.INTER_AREA)
        return float(cv2.absdiff(stylized, picture).mean(axis=2)[where].mean())

    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=fake_camera(camera))
    try:
        page = open_page(chromium, studio.url)
        playing(page)
        assert painted(inside) > 25
        page.select_option("#person", "keep")
        until(page, lambda: painted(inside) < 10, 60, "the person shown real")
        assert painted(outside) > 25  # the room still painted
        page.screenshot(path=tmp_path / "studio-person.png")
        print(f"screenshot: {tmp_path / 'studio-person.png'}")
        page.close()
    finally:
        chromium.close()


def test_latency_stays_bounded_over_20_seconds(browser: Browser, studio: Server) -> None:
    page = open_page(browser, studio.url)
    playing(page)
    until(page, lambda: page.inner_text("#latency").isdigit(), 10, "a latency figure")
    latencies, times = [], []
    for _ in range(20):
        page.wait_for_timeout(1000)
        shown = page.inner_text("#latency")  # a dash while no stylized frame was shown for 2 s
        latencies.extend([int(shown)] if shown.isdigit() else [])
        times.append(page.evaluate("document.getElementById('stylized').currentTime"))
    assert times[-1] - times[0] > 15, f"the stylized video stalled: {times}"
    assert len(latencies) >= 15, latencies
    first, last = np.median(latencies[:5]), np.median(latencies[-5:])
    assert max(latencies) < 1500, latencies
    assert last < 1.5 * first + 100, f"latency grew from {first} to {last} ms: {latencies}"
    page.close()


def test_an_upload_adds_a_style_and_a_bad_one_is_refused_while_the_session_goes_on(
    browser: Browser, studio: Server
) -> None:
    page = open_page(browser, studio.url)
    playing(page)
    before = page.locator("#styles > *").count()
    page.set_input_files(
        "#upload", files=[{"name": "../../evil.png", "mimeType": "image/png", "buffer": b"<html>no</html>"}]
    )
    until(page, lambda: "refused" in page.inner_text("#message"), 10, "the refusal")
    assert "not an image" in page.inner_text("#message")
    huge = cv2.imencode(".png", np.zeros((8000, 6000), np.uint8))[1].tobytes()  # 48 MP in a small file
    page.set_input_files("#upload", files=[{"name": "huge.png", "mimeType": "image/png", "buffer": huge}])
    until(page, lambda: "megapixels" in page.inner_text("#message"), 20, "the pixel cap")
    shown = page.evaluate("document.getElementById('stylized').currentTime")
    until(
        page,
        lambda: page.evaluate("document.getElementById('stylized').currentTime") > shown + 2,
        10,
        "the stream going on",
    )

    painting = (SHARED / "styles" / "wave.jpg").read_bytes()
    stylized = grab(page, "stylized")
    page.set_input_files("#upload", files=[{"name": "my painting.jpg", "mimeType": "image/jpeg", "buffer": painting}])
    until(page, lambda: page.locator("#styles > *").count() == before + 1, 20, "the new style in the gallery")
    assert page.locator("#styles > *").last.get_attribute("aria-selected") == "true"
    assert page.locator("#styles > *").last.inner_text() == "upload 1"  # the server's name, never the client's
    until(page, lambda: cv2.absdiff(grab(page, "stylized"), stylized).mean() > 20, 20, "the upload's style shown")
    page.close()


def test_past_the_session_cap_the_page_says_busy_and_a_closed_tab_frees_its_slot(
    browser: Browser, studio: Server
) -> None:
    pages = [open_page(browser, studio.url) for _ in range(2)]
    for page in pages:
        playing(page)
    third = open_page(browser, studio.url)
    until(third, lambda: "busy" in third.inner_text("#message"), 20, "the busy answer")
    pages[0].close()
    for _ in range(20):
        third.reload()
        until(third, lambda: settled(third.inner_text("#message")), 30, "an answer to the new offer")
        if "busy" not in third.inner_text("#message"):
            break
        third.wait_for_timeout(1000)
    playing(third)
    for page in (pages[1], third):
        page.close()


def test_a_browser_that_refuses_the_camera_says_so_on_the_page(playwright: Playwright, studio: Server) -> None:
    refusing = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    )
    try:
        page = open_page(refusing, studio.url)
        until(page, lambda: "refused the camera" in page.inner_text("#message"), 20, "the refusal message")
        assert "NotAllowedError" in page.inner_text("#message")
    finally:
        refusing.close()


def test_sigterm_closes_every_peer_connection_and_exits_0(browser: Browser, studio: Server) -> None:
    page = open_page(browser, studio.url)
    playing(page)
    assert studio.stop(signal.SIGTERM) == 0
    log = studio.errors()
    assert "stopping: closing" in log and "Traceback" not in log
    until(page, lambda: "connection to the server ended" in page.inner_text("#message"), 30, "the page seeing the end")
    page.close()


def test_a_non_local_bind_asks_every_request_for_the_printed_token(cache_dir: Path, tmp_path: Path) -> None:
    server = Server("--host", "0.0.0.0", "--style", str(BUILTIN_STYLES), cache=cache_dir, log=tmp_path / "serve.log")
    try:
        token = server.url.split("?token=", 1)[1]
        assert len(token) >= 20
        base = f"http://127.0.0.1:{server.port}"
        offer = json.dumps({"sdp": "v=0", "type": "offer"}).encode()
        for path, method, body in (("/", "GET", None), ("/api/config", "GET", None), ("/api/offer", "POST", offer)):
            assert http(base + path, method, body=body)[0] == 401
            assert http(base + path + "?token=wrong", method, body=body)[0] == 401
            assert http(base + path, method, headers={"X-Live-Style-Token": "\xff\xfe"}, body=body)[0] == 401
        status, page, headers = http(f"{base}/?token={token}")
        assert status == 200 and 'id="stylized"' in page
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert "HttpOnly" in headers["Set-Cookie"]
        status, config, _ = http(base + "/api/config", headers={"Cookie": cookie})
        assert status == 200 and json.loads(config)["mode"] == "camera"
        assert http(base + "/static/studio.js", headers={"X-Live-Style-Token": token})[0] == 200
    finally:
        assert server.stop() == 0


def test_watch_mode_shows_and_steers_the_servers_own_source(browser: Browser, cache_dir: Path, tmp_path: Path) -> None:
    photo = cv2.imread(str(SHARED / "media" / "chicago.jpg"))
    clip = handheld_clip(photo, "zoom", frames=300, size=(480, 360), noise=2.0, seed=3)
    video = write_frames(tmp_path / "server-camera.mp4", clip)
    args = ("--input", str(video), "--token", "let-me-in", "--style", str(BUILTIN_STYLES))
    server = Server(*args, cache=cache_dir, log=tmp_path / "serve.log")
    try:
        assert server.url.endswith("?token=let-me-in")
        # another site's page never gets the original stream: its offer is refused before any session
        secret = server.page_secret({"X-Live-Style-Token": "let-me-in"})
        offer = json.dumps({"sdp": "v=0", "type": "offer"}).encode()
        headers = {"X-Live-Style-Token": "let-me-in", "X-Live-Style-Page": secret, "Content-Type": "application/json"}
        for foreign in ({"Origin": "http://evil.example"}, {"Host": "evil.example"}):
            status, _, _ = http(server.base + "/api/offer", "POST", {**headers, **foreign}, offer)
            assert status in (403, 421)
        assert "session 1 started" not in server.errors()
        page = open_page(browser, server.url)
        playing(page, "stylized", 60)
        playing(page, "original", 30)
        assert "server's camera" in page.inner_text("#message")
        # the latency from the server's camera's capture to this screen
        until(page, lambda: page.inner_text("#latency").isdigit(), 30, "a latency figure")
        title = page.get_attribute("#latency-figure", "title")
        assert title.startswith("from the server's camera to this screen") and "camera to server" not in title
        assert 0 < int(page.inner_text("#latency")) < 2000
        assert distance_to_clip(grab(page, "original"), clip) < 10
        stylized = grab(page, "stylized")
        assert distance_to_clip(stylized, clip) > 35
        page.locator("#styles > *").nth(2).click()
        until(page, lambda: cv2.absdiff(grab(page, "stylized"), stylized).mean() > 25, 20, "the style switch")
        page.close()
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--style", "{empty}"), "is a folder with no images"),
        (("--model", "{missing}"), "{missing}"),
        (("--port", "{taken}"), "cannot listen on 127.0.0.1:{taken}"),
        (("--input", "{missing}"), "does not exist"),
        (("--allow-host", "https://studio.example/app"), "is not a host name"),
        (("--allow-host", "[::1"), "is not a host name"),
    ],
)
def test_bad_setups_are_one_line_and_exit_2(args: tuple[str, ...], named: str, cache_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        values = {"empty": tmp_path / "empty", "missing": tmp_path / "nothing-here", "taken": taken.getsockname()[1]}
        argv = [part.format(**values) for part in args]
        argv += [] if "--style" in argv else ["--style", str(BUILTIN_STYLES)]
        argv += [] if "--port" in argv else ["--port", "0"]
        result = run_cli_here("serve", *argv, cache=cache_dir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("live-style: error: ") and named.format(**values) in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


def test_controls_from_the_page_are_checked_before_they_apply() -> None:
    from live_style.errors import UserError
    from live_style.pipeline.controls import LiveControls
    from live_style.server.session import apply_settings

    controls = LiveControls(style_count=3, size=256)
    apply_settings(controls, {"style": 2, "second": 0, "mix": 0.25, "strength": 0.5, "stabilize": False}, 3)
    assert (controls.style_index, controls.second_style, controls.mix, controls.strength) == (2, 0, 0.25, 0.5)
    assert controls.stabilize is False
    for bad, named in (
        ({"style": 3}, "style"),
        ({"style": 1.5}, "style"),
        ({"strength": "max"}, "strength"),
        ({"size": 10_000}, "size"),
        ({"preserve_colors": "yes"}, "preserve_colors"),
    ):
        with pytest.raises(UserError, match=named):
            apply_settings(controls, bad, 3)
    assert controls.style_index == 2 and controls.size == 256  # nothing refused was applied
