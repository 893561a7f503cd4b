"""The project's own paintings, painted procedurally (no photo or painting goes in).

Each is a different kind of mark-making, so the style network sees different textures: wave
(layered breakers with foam), flow (brush strokes along a flow field), mosaic (tesserae with grout),
ink (ink wash with dry-brush edges), pointillism (dots of pure colour) and cubist (hard-edged
facets). `scripts/make_styles.py` writes them as the built-in styles (live_style/data/styles); int8 calibration
paints them as content frames. Seeds are fixed, so the pictures are the same every time.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Painter = Callable[[int, np.random.Generator], np.ndarray]


def blend(base: np.ndarray, layer: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Lay `layer` over `base` where `mask` (0..1, HxW) says."""
    return (base * (1 - mask[..., None]) + layer * mask[..., None]).astype(np.float32)


def wave(size: int, rng: np.random.Generator) -> np.ndarray:
    """Prussian-blue breakers with curling white foam, over a pale sky."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.empty((size, size, 3), np.float32)
    image[:] = (200, 225, 235)  # BGR sky
    blues = [(110, 60, 20), (150, 90, 35), (190, 130, 60), (120, 70, 25)]
    for band in range(14):
        phase, freq = rng.uniform(0, 6.28), rng.uniform(5, 11)
        crest = 0.25 + band * 0.055 + 0.05 * np.sin(x * freq + phase) + 0.02 * np.sin(x * freq * 3.1 + phase)
        water = y > crest
        image = blend(image, np.array(blues[band % len(blues)], np.float32), water.astype(np.float32))
        foam = np.abs(y - crest) < 0.006 + 0.004 * np.sin(x * 90 + band)
        image[foam] = (245, 245, 240)
    for _ in range(900):  # spray
        cx, cy = rng.integers(0, size, 2)
        cv2.circle(image, (int(cx), int(cy)), int(rng.integers(1, 4)), (250, 250, 245), -1)
    return image


def flow(size: int, rng: np.random.Generator) -> np.ndarray:
    """Short curved brush strokes following a smooth swirling field, in warm and cool pairs."""
    image = np.full((size, size, 3), (40, 60, 90), np.float32)
    palette = np.array([(40, 140, 230), (30, 90, 200), (160, 120, 40), (90, 200, 240), (60, 60, 160)], np.float32)
    for _ in range(5000):
        px, py = rng.uniform(0, size, 2)
        colour = palette[rng.integers(len(palette))] + rng.normal(0, 12, 3)
        points = []
        for _ in range(12):
            angle = 3.0 * np.sin(px / size * 6.0) + 2.5 * np.cos(py / size * 5.0)
            px, py = px + 3 * np.cos(angle), py + 3 * np.sin(angle)
            points.append((int(px), int(py)))
        cv2.polylines(image, [np.array(points, np.int32)], False, colour.tolist(), int(rng.integers(2, 6)), cv2.LINE_AA)
    return image


def mosaic(size: int, rng: np.random.Generator) -> np.ndarray:
    """Irregular square tesserae in a Byzantine palette, set in pale grout."""
    image = np.full((size, size, 3), (190, 200, 205), np.float32)
    palette = np.array([(40, 170, 210), (120, 60, 20), (60, 120, 40), (30, 40, 150), (200, 190, 170)], np.float32)
    tile = size // 32
    for ty in range(0, size, tile):
        for tx in range(0, size, tile):
            jitter = rng.integers(-2, 3, 4)
            colour = palette[(tx // tile + 2 * (ty // tile) + rng.integers(0, 2)) % len(palette)] + rng.normal(0, 15, 3)
            cv2.rectangle(
                image,
                (tx + 2 + jitter[0], ty + 2 + jitter[1]),
                (tx + tile - 3 + jitter[2], ty + tile - 3 + jitter[3]),
                colour.tolist(),
                -1,
            )
    return image


def ink(size: int, rng: np.random.Generator) -> np.ndarray:
    """Sumi-e: graded ink washes and dry-brush strokes on rice paper."""
    paper = np.full((size, size, 3), (215, 230, 238), np.float32) + rng.normal(0, 4, (size, size, 1))
    wash = np.zeros((size, size), np.float32)
    for _ in range(40):
        cx, cy = rng.integers(0, size, 2)
        cv2.ellipse(
            wash,
            (int(cx), int(cy)),
            tuple(int(v) for v in rng.integers(10, size // 4, 2)),
            float(rng.uniform(0, 180)),
            0,
            360,
            float(rng.uniform(0.2, 0.6)),
            -1,
        )
    wash = cv2.GaussianBlur(wash, (0, 0), size / 60)
    image = blend(paper, np.array((25, 25, 30), np.float32), np.clip(wash, 0, 0.9))
    for _ in range(60):
        start = rng.integers(0, size, 2)
        end = start + rng.integers(-size // 3, size // 3, 2)
        cv2.line(
            image,
            tuple(int(v) for v in start),
            tuple(int(v) for v in end),
            (20, 20, 25),
            int(rng.integers(2, 9)),
            cv2.LINE_AA,
        )
    return image


def pointillism(size: int, rng: np.random.Generator) -> np.ndarray:
    """Seurat-like dots of pure colour whose mix suggests a sunny park."""
    image = np.full((size, size, 3), (235, 240, 240), np.float32)
    sky = [(230, 180, 90), (250, 220, 160), (200, 230, 250)]
    park = [(40, 160, 60), (60, 200, 230), (30, 110, 40), (200, 120, 60)]
    for _ in range(14000):
        cx, cy = rng.integers(0, size, 2)
        choices = sky if cy < size * 0.45 else park
        colour = choices[rng.integers(len(choices))]
        cv2.circle(image, (int(cx), int(cy)), int(rng.integers(2, 5)), colour, -1, cv2.LINE_AA)
    return image


def cubist(size: int, rng: np.random.Generator) -> np.ndarray:
    """Hard-edged overlapping facets in vermilion, ochre, ultramarine and plum, with dark contours."""
    image = np.full((size, size, 3), (60, 150, 210), np.float32)
    palette = [(40, 90, 210), (160, 90, 30), (60, 180, 230), (70, 50, 140), (200, 210, 220)]
    for _ in range(70):
        points = rng.integers(-size // 8, size + size // 8, (int(rng.integers(3, 6)), 2)).astype(np.int32)
        colour = np.array(palette[rng.integers(len(palette))], np.float32) + rng.normal(0, 10, 3)
        cv2.fillPoly(image, [points], colour.tolist())
        cv2.polylines(image, [points], True, (30, 30, 35), 3, cv2.LINE_AA)
    return image


PAINTERS: dict[str, Painter] = {
    "wave": wave,
    "flow": flow,
    "mosaic": mosaic,
    "ink": ink,
    "pointillism": pointillism,
    "cubist": cubist,
}


def paint(name: str, size: int, seed: int) -> np.ndarray:
    """One painting as a uint8 BGR image, size x size."""
    return np.clip(PAINTERS[name](size, np.random.default_rng(seed)), 0, 255).astype(np.uint8)
