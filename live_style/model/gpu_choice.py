"""Where TensorFlow and PyTorch both see a GPU, which of them runs the transfer network: measured once, remembered.

The same way as the CPU's precision (`precision_choice`): both time the project's paintings at the default
size, interleaved; PyTorch in half precision must keep its picture within the quality floor of TensorFlow's float32;
the faster is picked and the decision stored under the GPU's name, both libraries' versions and the network.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from live_style.model.precision_choice import (
    QUALITY_FLOOR_DB,
    STYLE_PAINTING,
    Decisions,
    Measured,
    paintings,
    timed_against,
)

if TYPE_CHECKING:
    from live_style.model.stylizer import Stylizer

SHAPE = (512, 512)  # the GPU default size
VERSION = "v1"


def decision_key(models: dict[str, Stylizer]) -> str:
    """Everything the decision holds for: each runtime's device and version, the network, shape and floor."""
    import tensorflow as tf
    import torch

    from live_style.model.torch_runtime import device_report

    torch_model = models["torch"]
    facts = [
        device_report(torch_model.torch_device),
        torch_model.precision,
        tf.__version__,
        str(tf.config.list_physical_devices("GPU")),
        torch.__version__,
        torch_model.transfer_identity,
        SHAPE,
        QUALITY_FLOOR_DB,
        VERSION,
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def measure(models: dict[str, Stylizer]) -> list[Measured]:
    """Each runtime's ms per frame at SHAPE (interleaved rounds) and picture against TensorFlow's."""
    from live_style.paintings import paint

    vector = models["tensorflow"].style_vector(paint(STYLE_PAINTING, 512, 0), remember=False)
    runs = {name: functools.partial(one_frame, model, vector) for name, model in models.items()}
    return timed_against(runs, paintings(SHAPE), "tensorflow")


def one_frame(model: Stylizer, vector: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """One BGR frame through a model's transfer."""
    return model.transfer(frame[None], vector)[0]


def choose(models: dict[str, Stylizer], report: Callable[[str], None]) -> str:
    """ "tensorflow" or "torch": the stored decision, or a new measurement (stored for next time)."""
    key = decision_key(models)
    decisions = Decisions(models["torch"].cache.directory.parent)
    stored = decisions.get(key)
    if stored is not None:
        return stored["picked"]
    report("runtime: TensorFlow and PyTorch both see a GPU; timing both once (the choice is kept)")
    measured = measure(models)
    good = [m for m in measured if m.name == "tensorflow" or m.psnr_db >= QUALITY_FLOOR_DB]
    picked = min(good, key=lambda m: m.ms).name
    decisions.put(key, {"picked": picked, "measured": [asdict(m) for m in measured]})
    times = ", ".join(f"{m.name} {m.ms:.1f} ms" for m in measured)
    report(f"runtime: {times} at {SHAPE[1]}x{SHAPE[0]}; picked {picked}")
    return picked
