"""The live window on a real X server (Xvfb): a frame with the HUD is shown, m keeps the person real, q quits."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SEGMENTER_DIR, SHARED, cli_argv, cli_env
from handheld import handheld_clip, photos, write_frames
from Xlib import XK, X, display
from Xlib.ext import xtest
from Xlib.protocol import event

WAVE = SHARED / "styles" / "wave.jpg"
DEADLINE_S = 120
BLACK_S = 40  # a window that stays all black this long is the Qt/Xvfb paint bug below, not a slow start
LAUNCHES = 2
SIZE = (480, 360)
KERNEL = np.ones((21, 21), np.uint8)  # keeps a region's core away from its soft outline


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private X server; -displayfd reports its display once it accepts clients."""
    if shutil.which("Xvfb") is None:
        missing = "Xvfb is not installed: the window test needs Debian's xvfb package (sudo apt-get install xvfb)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}; CI must run it")
        pytest.skip(missing)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=[write_end],
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        number = reader.readline().strip()
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def find_window(screen: display.Display, title: str):
    """The top-level window with this title, if it is mapped."""
    pending = [screen.screen().root]
    while pending:
        window = pending.pop()
        if window.get_wm_name() == title and window.get_attributes().map_state == X.IsViewable:
            return window
        pending.extend(window.query_tree().children)
    return None


def grab(screen: display.Display, window) -> np.ndarray:
    """What the window shows, as a BGR image."""
    geometry = window.get_geometry()
    raw = window.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
    return np.frombuffer(raw.data, np.uint8).reshape(geometry.height, geometry.width, 4)[..., :3]


def shows_hud_over_picture(picture: np.ndarray) -> bool:
    """A painted frame: a busy lower half under a darkened top band that carries bright HUD text."""
    band, lower = picture[: max(8, picture.shape[0] // 14)], picture[picture.shape[0] // 2 :]
    return lower.std() > 10 and band.max() > 200 and band.mean() < lower.mean()


def wait_for_picture(screen: display.Display, process: subprocess.Popen, size: tuple[int, int]) -> tuple | None:
    """Poll until the window, at the frame's size, shows the stylized picture with its HUD (or the program ends).

    Qt maps the window before it is resized and painted, and a grab can catch a paint half done (top rows still
    Qt's grey), so the whole finished picture is awaited, not its first pixels. None when the window stays all
    black: about 1 launch in 10 under load, Qt under Xvfb never paints the window while live-style keeps showing
    frames (an open bug, see docs/testing.md's known issues); the caller launches once more.
    """
    started = time.monotonic()
    picture = None
    while time.monotonic() < started + DEADLINE_S and process.poll() is None:
        window = find_window(screen, "live-style")
        if window is not None:
            picture = grab(screen, window)
            if picture.shape[1::-1] == size and shows_hud_over_picture(picture):
                return window, picture
            if picture.max() == 0 and time.monotonic() > started + BLACK_S:
                return None
        time.sleep(0.2)
    seen = "nothing" if picture is None else f"a {picture.shape[1]}x{picture.shape[0]} picture without its HUD band"
    code = process.poll()
    process.kill()  # a failed look leaves no live-style running (it would take the cores from every later test)
    process.wait()
    pytest.fail(
        f"no {size[0]}x{size[1]} stylized picture with a HUD in a live-style window, saw {seen} (exit code {code})"
    )


def launch(clip: Path, env: dict, *args: str) -> subprocess.Popen:
    """live-style on the clip, in a window."""
    command = cli_argv("--input", clip, "--style", WAVE, *args)
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def press(screen: display.Display, window, key: str) -> None:
    """Type a key into the window, as a user would."""
    window.set_input_focus(X.RevertToParent, X.CurrentTime)
    code = screen.keysym_to_keycode(XK.string_to_keysym(key))
    xtest.fake_input(screen, X.KeyPress, code)
    xtest.fake_input(screen, X.KeyRelease, code)
    screen.sync()


def close(screen: display.Display, window) -> None:
    """Ask the window to close, as a window manager's close button does."""
    protocols, delete = screen.intern_atom("WM_PROTOCOLS"), screen.intern_atom("WM_DELETE_WINDOW")
    message = event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(message)
    screen.sync()


def open_window(screen: display.Display, clip: Path, env: dict, size: tuple[int, int], *args: str) -> tuple:
    """live-style on the clip in a window showing its stylized picture: (process, window, picture).

    Relaunched when Qt leaves the window black (the known Qt/Xvfb paint bug)."""
    for attempt in range(1, LAUNCHES + 1):
        process = launch(clip, env, *args)
        shown = wait_for_picture(screen, process, size)
        if shown is not None:
            return process, *shown
        process.kill()
        process.wait()
        print(f"launch {attempt}: the window stayed black for {BLACK_S} s (the known Qt/Xvfb paint bug)")
    pytest.fail(f"the window stayed black in all {LAUNCHES} launches")


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A minute of the astronaut holding still at 480x360: (the clip, its frame decoded, where she is inside)."""
    from live_style.model.segmenter import Segmenter, locate_segmenter

    picture = handheld_clip(photos(SHARED)["astronaut"], "pan", 1, SIZE, noise=0.0)[0]
    clip = write_frames(tmp_path_factory.mktemp("window") / "still.mp4", [picture] * 1500, fps=25)
    seen = av_first_frame(clip)
    person = cv2.erode((Segmenter(locate_segmenter(str(SEGMENTER_DIR)))(seen) >= 128).astype(np.uint8), KERNEL) > 0
    person[: SIZE[1] // 6] = False  # under the HUD band
    return clip, seen, person


@pytest.mark.parametrize(("quit_by", "reason"), [("q", "stopped: quit"), ("close", "stopped: window closed")])
def test_window_shows_the_stylized_stream_with_a_hud_and_quits(
    xvfb: str, tmp_path: Path, still: tuple, quit_by: str, reason: str
) -> None:
    clip, seen, person = still
    env = {**cli_env(tmp_path), "DISPLAY": xvfb}
    screen = display.Display(xvfb)
    process = None
    try:
        process, window, picture = open_window(screen, clip, env, SIZE)
        cv2.imwrite(str(tmp_path / "window.png"), picture)  # kept with pytest's temporary files
        if quit_by == "q":
            press_m_and_see_the_person_real(screen, window, seen, person, tmp_path)
            press(screen, window, "q")
        else:
            close(screen, window)
        assert process.wait(timeout=60) == 0
        assert reason in process.stderr.read()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        screen.close()


def press_m_and_see_the_person_real(screen: display.Display, window, seen: np.ndarray, person, folder: Path) -> None:
    """m keeps the person real and the room painted (checked on what the window shows)."""
    difference = lambda image, where: float(cv2.absdiff(image, seen).mean(axis=2)[where].mean())  # noqa: E731
    assert difference(grab(screen, window), person) > 25  # the person painted like the room
    press(screen, window, "m")
    deadline = time.monotonic() + 60
    while difference(grab(screen, window), person) > 6:
        assert time.monotonic() < deadline, "m did not bring the real person back within 60 s"
        time.sleep(0.2)
    shown = grab(screen, window)
    cv2.imwrite(str(folder / "person-kept.png"), shown)
    room = cv2.erode((~person).astype(np.uint8), KERNEL) > 0
    room[: SIZE[1] // 6] = False
    assert difference(shown, room) > 25  # the room still painted


def av_first_frame(path: Path) -> np.ndarray:
    """The first frame of a video as a player decodes it."""
    capture = cv2.VideoCapture(str(path))
    _, image = capture.read()
    capture.release()
    return image
