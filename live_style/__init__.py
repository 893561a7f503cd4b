"""live-style: real-time video style transfer with Magenta's arbitrary image stylization.

`from live_style import load_model` imports TensorFlow on first use only, so the command line can
start quietly and answer `--help` at once.
"""

from __future__ import annotations

__all__ = ["load_model"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "load_model":
        from live_style.model import load_model

        return load_model
    raise AttributeError(name)
