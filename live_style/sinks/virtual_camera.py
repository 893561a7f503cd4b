"""The virtual camera: the stylized stream as a webcam that Zoom, Meet, Teams or OBS can pick.

pyvirtualcam drives the platform's device (v4l2loopback on Linux, the OBS 30+ virtual camera on
Windows and macOS). Frames are sent from a thread of their own at the source's frame rate, paced by
pyvirtualcam's frame clock, always the newest stylized frame (repeated while the model is slower),
at one fixed size, so a meeting app sees a steady format even when the processing size changes.
"""

from __future__ import annotations

import platform
import threading

import cv2
import numpy as np

from live_style.errors import UserError
from live_style.sinks import OutputFrame

LINUX_FIX = (
    "load v4l2loopback (sudo modprobe v4l2loopback exclusive_caps=1 card_label=live-style; Chrome-based apps need "
    "exclusive_caps=1), make sure you are in the 'video' group, and give a free device (--virtual-camera /dev/videoN)"
)
OBS_FIX = "install OBS Studio 30 or newer and start and stop its virtual camera once (Start Virtual Camera)"


def platform_fix() -> str:
    """How to get a virtual camera device on this OS."""
    return LINUX_FIX if platform.system() == "Linux" else OBS_FIX


def import_pyvirtualcam():
    """pyvirtualcam, or a one-line error naming the extra to install."""
    try:
        import pyvirtualcam
    except ImportError:
        raise UserError(
            "--virtual-camera needs pyvirtualcam: pip install -e '.[vcam]' (or pip install pyvirtualcam)"
        ) from None
    return pyvirtualcam


def device_error(error: Exception, size: tuple[int, int]) -> UserError:
    """pyvirtualcam's reasons (one per backend tried) as one line with the fix for this OS."""
    reasons = "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    return UserError(f"cannot open a {size[0]}x{size[1]} virtual camera ({reasons}); {platform_fix()}")


class VirtualCamera:
    """Publishes frames to a virtual camera device; `submit` never blocks the caller."""

    name = "virtual camera"

    def __init__(self, size: tuple[int, int], fps: float, device: str | None = None):
        pyvirtualcam = import_pyvirtualcam()
        self.size, self.fps = size, fps
        try:
            self.camera = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR, device=device)
        except Exception as error:  # the backends raise RuntimeError, ValueError or their own kinds
            raise device_error(error, size) from None
        self.device = self.camera.device
        self.error: Exception | None = None
        self._latest: np.ndarray | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_loop, name="virtual camera", daemon=True)
        self._thread.start()

    def write(self, frame: OutputFrame) -> None:
        """Make the frame the one to send (the newest wins; its time is not needed: the device runs on its clock)."""
        with self._changed:
            self._latest = frame.image
            self._changed.notify_all()

    def _send_loop(self) -> None:
        """Send the newest frame at the device's rate, resized once per new frame."""
        with self._changed:
            self._changed.wait_for(lambda: self._latest is not None or self._stop.is_set())
        source, fitted = None, None
        try:
            while not self._stop.is_set():
                latest = self._latest
                if latest is not source:
                    source, fitted = latest, self._fit(latest)
                self.camera.send(fitted)
                self.camera.sleep_until_next_frame()
        except Exception as error:  # the device went away: the session sees it after its next write
            self.error = UserError(f"the virtual camera {self.device} stopped ({error}); {platform_fix()}")

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """The frame at the device's fixed size."""
        width, height = self.size
        if image.shape[:2] == (height, width):
            return image
        shrink = width < image.shape[1]
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def close(self) -> None:
        """Stop sending and release the device, so it can be opened again at once."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout=5)
        if not self._thread.is_alive():  # never pull the device from under a send still in the driver
            self.camera.close()
