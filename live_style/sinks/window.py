"""The live window (OpenCV highgui): the stylized stream, a HUD line, a help overlay, hotkeys."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np

from live_style.imaging import draw_text_block

TITLE = "live-style"
HELP = (
    "n / p     next / previous style",
    "1 - 9     pick a style",
    "+ / -     strength up / down",
    "o         original / side by side / stylized",
    "[ / ]     processing size down / up",
    "m         person: off / kept real / only painted",
    "s         snapshot (PNG)",
    "r         start / stop recording",
    "h         this help",
    "q / Esc   quit",
)
ESCAPE = 27


def compose_view(original: np.ndarray, stylized: np.ndarray, view: str) -> np.ndarray:
    """The picture for a view mode: 'stylized', 'original' or 'side' (both, halved)."""
    if view == "original":
        return original.copy()
    if view == "side":
        height, width = stylized.shape[:2]
        halves = [
            cv2.resize(img, (width // 2, height // 2), interpolation=cv2.INTER_AREA) for img in (original, stylized)
        ]
        canvas = np.zeros_like(stylized)
        canvas[height // 4 : height // 4 + halves[0].shape[0], : 2 * halves[0].shape[1]] = np.hstack(halves)
        return canvas
    return stylized.copy()


class Window:
    """A resizable highgui window; knows when the user closed it."""

    def __init__(self, title: str = TITLE):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self._shown = False

    def show(self, image: np.ndarray, hud: str, show_help: bool) -> None:
        """Draw the HUD (and help) on `image` and show it."""
        draw_text_block(image, [hud])
        if show_help:
            draw_text_block(image, HELP, top=image.shape[0] // 4)
        if not self._shown:
            cv2.resizeWindow(self.title, image.shape[1], image.shape[0])
        cv2.imshow(self.title, image)
        self._shown = True

    def key(self, wait_ms: int = 1) -> str | None:
        """The key pressed since the last call ('esc' for Escape), pumping the window's events."""
        code = cv2.waitKey(wait_ms)
        if code < 0:
            return None
        code &= 0xFF
        return "esc" if code == ESCAPE else chr(code)

    def closed(self) -> bool:
        """True once the user closed the window."""
        if not self._shown:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        """Remove the window (if the user has not closed it already)."""
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
