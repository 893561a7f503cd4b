"""The CPU runtimes side by side, in one run: our default path against the TF Lite interpreter and
OpenVINO reading Magenta's own int8 and fp16 transfer files (which run at 384x384 only).

Each peer is timed in interleaved rounds (the machine is noisy), best round's median kept; the
fixed-size peers are compared per pixel at the other sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from live_style.imaging import bgr_to_rgb01
from live_style.model.lite import run_interpreter, tflite_interpreter
from live_style.model.openvino_runtime import openvino_available
from live_style.model.precision_choice import best_median_ms
from live_style.model.stylizer import Stylizer

PEER_SIZE = (384, 384)
SIZES = ((256, 340), (384, 384), (480, 640))
ROUNDS, CALLS = 3, 5


def magenta_transfer_files(transfer: Path) -> dict[str, Path]:
    """Magenta's int8 and fp16 transfer files beside the model's transfer file, by precision."""
    found = {}
    for path in sorted(transfer.parent.glob("*transfer*.tflite")):
        for tag in ("int8", "fp16"):
            if tag in path.name and "dynamic" not in path.name:
                found.setdefault(tag, path)
    return found


def peers(transfer: Path, content: np.ndarray, vector: np.ndarray) -> dict[str, Callable[[], None]]:
    """Name -> one call, for every fixed-size peer that can run here."""
    rgb = bgr_to_rgb01(cv2.resize(content, PEER_SIZE[::-1])[None])
    calls: dict[str, Callable[[], None]] = {}
    files = magenta_transfer_files(transfer)
    for path in files.values():
        interpreter = tflite_interpreter(path)
        calls[f"TF Lite interpreter, {path.name}"] = lambda i=interpreter: run_interpreter(i, rgb, vector)
    if openvino_available():
        import openvino as ov

        core = ov.Core()
        for path in files.values():
            compiled = core.compile_model(core.read_model(str(path)), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
            feed = {port: (rgb if port.get_partial_shape()[-1] == 3 else vector) for port in compiled.inputs}
            calls[f"OpenVINO, {path.name}"] = lambda c=compiled, f=feed: c(f)
    return calls


def one_frame_a_call(model: Stylizer) -> Stylizer:
    """The model as live use runs it and the peers run: one frame a call on every core (OpenVINO's LATENCY mode;
    a video job's THROUGHPUT mode runs a lone frame on one core of its streams)."""
    if model.runtime == "openvino":
        model.openvino.mode = "LATENCY"
    return model


def runtime_report(models: dict[str, Stylizer], transfer: Path, content: np.ndarray, style: np.ndarray) -> dict:
    """ms per frame of each of our runtimes at every size and of each peer at 384x384, one frame a call, with
    ratios."""
    calls = {}
    for label, model in models.items():
        one_frame_a_call(model)
        vector = model.style_vector(style)
        for height, width in SIZES:
            frames = cv2.resize(content, (width, height))[None]  # SIZES are processing shapes: run as they are
            calls[f"{label}@{height}x{width}"] = lambda m=model, f=frames, v=vector: m.transfer(f, v)
    any_model = next(iter(models.values()))
    calls.update(peers(transfer, content, any_model.style_vector(style)))
    timings = best_median_ms(calls, ROUNDS, CALLS)
    fastest_peer = min((ms for name, ms in timings.items() if "@" not in name), default=None)
    return {"ms": timings, "fastest_peer_ms": fastest_peer, "peer_pixels": PEER_SIZE[0] * PEER_SIZE[1]}


def print_runtimes(report: dict) -> None:
    """Our runtimes per size, the peers at 384x384, and the ratio to the fastest peer (per pixel)."""
    fastest = report["fastest_peer_ms"]
    print(
        "runtimes, ms per frame (best of interleaved rounds); ratio: per pixel against the fastest peer (<1 = faster)"
    )
    for name, ms in report["ms"].items():
        label, _, size = name.partition("@")
        height, width = (int(v) for v in size.split("x")) if size else PEER_SIZE
        ratio = (ms / (height * width)) / (fastest / report["peer_pixels"]) if fastest else float("nan")
        print(f"  {label:<52} {width:>4}x{height:<4} {ms:7.1f} ms   ratio {ratio:4.2f}")
