"""live-style: real-time video style transfer with Magenta's arbitrary image stylization."""

from live_style.model import load_model

__all__ = ["load_model"]
__version__ = "0.1.0"
