"""Handheld-like clips made from real photographs (tests and bench/): pans, zoom, jitter, noise, a moving object, a cut.

A virtual camera looks at a photo through an affine transform that drifts (pan or zoom) and
shakes (a small random walk in position and rotation); every frame gets sensor noise. `object`
moves a textured disc (cut from another photo) across the scene; `cut` jumps to another photo
half way. Everything is seeded, so a clip is the same on every run.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

KINDS = ("pan", "zoom", "object", "cut")


def photos(shared: Path) -> dict[str, np.ndarray]:
    """The real photographs: chicago.jpg from ../shared, and scikit-image's when it is installed."""
    found = {"chicago": cv2.imread(str(shared / "media" / "chicago.jpg"))}
    try:
        from skimage import data
    except ImportError:
        return found
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        found[name] = cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)
    return found


def camera(
    photo: np.ndarray, size: tuple[int, int], zoom: float, angle: float, center: tuple[float, float]
) -> np.ndarray:
    """The view of `photo` (width, height = `size`) centred on `center`, magnified `zoom`, turned `angle` degrees."""
    width, height = size
    cover = max(width / photo.shape[1], height / photo.shape[0]) * 1.35  # room to pan and shake without borders
    matrix = cv2.getRotationMatrix2D(center, angle, zoom * cover)
    matrix[:, 2] += np.array([width / 2, height / 2]) - np.array(center)
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def handheld_clip(
    photo: np.ndarray,
    kind: str,
    frames: int = 30,
    size: tuple[int, int] = (320, 240),
    other: np.ndarray | None = None,
    noise: float = 4.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """`frames` BGR frames of a handheld camera over `photo`: 'pan', 'zoom', 'object' or 'cut'."""
    rng = np.random.default_rng(seed)
    other = photo[::-1, ::-1] if other is None else other
    height, width = photo.shape[:2]
    shake = np.cumsum(rng.normal(0, 0.6, (frames, 3)), axis=0) * [1.0, 1.0, 0.15]  # px, px, degrees
    clip = []
    for t in range(frames):
        pan = 1.6 * t if kind in ("pan", "cut", "object") else 0.0
        zoom = 1.0 + (0.012 * t if kind == "zoom" else 0.0)
        center = (width / 2 + pan / 2 + shake[t, 0], height / 2 + shake[t, 1])
        source = other if kind == "cut" and t >= frames // 2 else photo
        frame = camera(source, size, zoom, shake[t, 2], center)
        if kind == "object":
            frame = with_moving_disc(frame, other, t, frames)
        clip.append(np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8))
    return clip


def disc_position(shape: tuple[int, int], t: int, frames: int) -> tuple[int, int, int]:
    """(x, y, radius) of the moving disc in frame t: left to right over the clip, bobbing a little."""
    height, width = shape[:2]
    x = int(width * 0.15 + (width * 0.7) * t / max(1, frames - 1))
    return x, int(height / 2 + height * 0.1 * math.sin(t / 5)), height // 5


def with_moving_disc(frame: np.ndarray, texture: np.ndarray, t: int, frames: int) -> np.ndarray:
    """A textured disc crossing the frame left to right over the clip."""
    height, width = frame.shape[:2]
    x, y, radius = disc_position(frame.shape, t, frames)
    patch = cv2.resize(texture, (2 * radius, 2 * radius), interpolation=cv2.INTER_AREA)
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (x, y), radius, 255, -1)
    placed = np.zeros_like(frame)
    top, left = y - radius, x - radius
    rows = slice(max(0, top), min(height, top + 2 * radius))
    cols = slice(max(0, left), min(width, left + 2 * radius))
    placed[rows, cols] = patch[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    out = frame.copy()
    out[mask > 0] = placed[mask > 0]
    return out


def disc_mask(shape: tuple[int, int], t: int, frames: int, margin: int = 0) -> np.ndarray:
    """Where the moving disc of frame t is (grown by `margin` pixels)."""
    x, y, radius = disc_position(shape, t, frames)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.circle(mask, (x, y), radius + margin, 1, -1)
    return mask.astype(bool)


def write_frames(path: Path, frames: list[np.ndarray], fps: float = 30.0, keyframe_every: int | None = None) -> Path:
    """An mp4 (H.264 through PyAV) of the frames, for the commands that read files (keyframes every N if given)."""
    import av

    with av.open(str(path), "w") as container:
        options = {"crf": "12", **({"g": str(keyframe_every)} if keyframe_every else {})}
        stream = container.add_stream("libx264", rate=int(fps), options=options)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        container.mux(stream.encode(None))
    return path


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """A raw YUV 4:2:0 .y4m of the frames: what Chromium's fake camera plays (--use-file-for-fake-video-capture)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def person_walk(
    person: np.ndarray, mask: np.ndarray, background: np.ndarray, frames: int = 40, size: tuple[int, int] = (640, 480)
) -> list[np.ndarray]:
    """A person (cut out of a photo by `mask`, 0/1) walking left to right before a handheld pan over `background`."""
    room = handheld_clip(background, "pan", frames, size)
    height, width = person.shape[:2]
    alpha = mask.astype(np.float32)[..., None]
    clip = []
    for t, frame in enumerate(room):
        left, top = int((size[0] - width) * t / max(1, frames - 1)), size[1] - height
        out = frame.astype(np.float32)
        spot = out[top : top + height, left : left + width]
        out[top : top + height, left : left + width] = spot * (1 - alpha) + person * alpha
        clip.append(out.astype(np.uint8))
    return clip
