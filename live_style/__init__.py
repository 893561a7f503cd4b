"""live-style: real-time video style transfer with Magenta's arbitrary image stylization.

`from live_style import load_model` imports TensorFlow on first use only, so the command line can
start quietly and answer `--help` at once.
"""

from __future__ import annotations

# OpenCV before PyAV, always: PyAV's wheels bundle their own X11 (xcb) libraries, and when they load first
# OpenCV's Qt window hangs in namedWindow (reproduced: `import av, cv2; cv2.namedWindow(...)` never returns).
import cv2  # noqa: F401

__all__ = ["load_model"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "load_model":
        from live_style.model.loading import load_model

        return load_model
    raise AttributeError(name)
