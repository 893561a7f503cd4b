"""The CPU path's precision, measured on this machine instead of a fixed rule, and remembered.

Which precision is fastest depends on the CPU: int8 wins where bf16 is emulated (AVX2, AVX-512 VNNI),
bf16 where the CPU has it in silicon (AMX: 1.3-1.4x faster than the former int8 recipe, and 49 dB
against float32 where it gave 32). So on first use of a network on a machine, every precision OpenVINO
offers here (float32; bfloat16 and float16 where the CPU reports them; int8, quantized for a painting
of the project's own, its unquantized rest in each of those) is timed on the project's paintings,
interleaved; any whose picture falls below
QUALITY_FLOOR_DB against float32 is dropped, and the fastest of the rest is picked. The decision is
stored in the user's cache under a key of everything that makes it valid (the CPU's name and
features, OpenVINO's version, the network, the shape), so later runs reuse it at no cost.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from live_style.atomic import write_atomically
from live_style.model.cpu import cpu_flags
from live_style.model.openvino_runtime import int8_candidate
from live_style.temporal.metrics import psnr

if TYPE_CHECKING:
    from live_style.model.stylizer import Stylizer

QUALITY_FLOOR_DB = 30.0  # a candidate's picture against float32's, on the project's paintings
SHAPE = (384, 384)  # the CPU default size (on the AMX Xeon the order held at 256x340 and 480x640 too)
ROUNDS, CALLS = 3, 3
STYLE_PAINTING = "wave"  # the style the int8 candidate is quantized for (its ranges are per style)
CONTENT_PAINTINGS = ("flow", "mosaic", "cubist")
# v2: each float precision in both layouts; v3: int8's new recipe, its rest in each; v4: int8 keeps the floor per style
VERSION = "v4"
CAPABILITY = {"bfloat16": "BF16", "float16": "FP16"}


@dataclass(frozen=True)
class Measured:
    """One candidate: ms per frame (best round's median) and PSNR against float32 (inf for float32 itself)."""

    name: str
    ms: float
    psnr_db: float


def offered(capabilities: list[str], int8: bool, layouts: tuple[str, ...] = ("phased",)) -> list[str]:
    """The candidates OpenVINO offers on this CPU, float32 first: each float precision in each layout of the
    network (the default layout's name left out), then int8 with the rest in each float precision."""
    floats = ["float32", *(name for name, flag in CAPABILITY.items() if flag in capabilities)]
    named = [name if layout == layouts[0] else f"{name} {layout}" for name in floats for layout in layouts]
    return [*named, *([int8_candidate(rest) for rest in floats] if int8 else [])]


def pick(measured: list[Measured], floor_db: float = QUALITY_FLOOR_DB) -> str:
    """The fastest candidate whose picture stays at or above the floor (float32 always qualifies)."""
    good = [m for m in measured if m.name == "float32" or m.psnr_db >= floor_db]
    return min(good, key=lambda m: m.ms).name


def machine(core) -> str:
    """The CPU as OpenVINO and numpy see it: its name, OpenVINO's capabilities, the instruction sets on."""
    flags = " ".join(sorted(cpu_flags()))
    name = core.get_property("CPU", "FULL_DEVICE_NAME")
    return f"{name} [{' '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}] {flags}"


def decision_key(core, network_identity: str, int8: bool) -> str:
    """Everything a decision holds for: the CPU, OpenVINO's version, the network, the candidates, the shape,
    the floor."""
    import openvino

    facts = [machine(core), openvino.__version__, network_identity, int8, SHAPE, QUALITY_FLOOR_DB, VERSION]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


class Decisions:
    """Stored decisions, one small JSON file each, in the user's cache."""

    def __init__(self, directory: Path):
        self.directory = directory / "precision-choice"

    def get(self, key: str) -> dict | None:
        try:
            stored = json.loads((self.directory / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return stored if isinstance(stored, dict) and isinstance(stored.get("picked"), str) else None

    def put(self, key: str, decision: dict) -> None:
        """Store it; an unwritable cache only means measuring again next time."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / f"{key}.json", json.dumps(decision, indent=1))
        except OSError:
            pass


def paintings(shape: tuple[int, int]) -> list[np.ndarray]:
    """The project's paintings as content frames (BGR) of `shape`."""
    from live_style.paintings import paint

    height, width = shape
    return [cv2.resize(paint(name, 512, seed), (width, height)) for seed, name in enumerate(CONTENT_PAINTINGS)]


def best_median_ms(calls: dict[str, Callable[[], object]], rounds: int, per_round: int) -> dict[str, float]:
    """Interleaved rounds of `per_round` calls each (the host is noisy); the best round's median per name."""
    for call in calls.values():
        call()  # warm up (first-call compilation)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            times = []
            for _ in range(per_round):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            best[name] = min(best[name], 1000 * float(np.median(times)))
    return best


def measure(model: Stylizer, candidates: list[str]) -> list[Measured]:
    """Time every candidate on the paintings in interleaved rounds, on infer requests of its own (the model's
    own precision and requests are left alone, so a live loop can go on meanwhile)."""
    from live_style.paintings import paint

    transfer = model.openvino
    vector = model.style_vector(paint(STYLE_PAINTING, 512, 0), remember=False)  # not a style of the user's
    int8_directory = model.cache.directory.parent / "int8-transfer"
    runners = {name: transfer.runner(name, vector, model.identity, int8_directory, SHAPE) for name in candidates}
    return timed_against(runners, paintings(SHAPE), "float32")


def timed_against(runs: dict[str, Callable[[np.ndarray], np.ndarray]], frames: list, reference: str) -> list[Measured]:
    """Each run's ms per frame (interleaved rounds) and its worst picture over `frames` against `reference`'s."""
    outputs = {name: [run(frame) for frame in frames] for name, run in runs.items()}
    best = best_median_ms({name: functools.partial(run, frames[0]) for name, run in runs.items()}, ROUNDS, CALLS)
    return [
        Measured(
            name, best[name], min(psnr(out, ref) for out, ref in zip(outputs[name], outputs[reference], strict=True))
        )
        for name in runs
    ]


def stored_decision(model: Stylizer, int8: bool) -> dict | None:
    """The decision stored for this machine and network (picked, cpu, measured), if it was measured before."""
    return Decisions(model.cache.directory.parent).get(decision_key(model.openvino.core, model.identity, int8))


def stored(model: Stylizer, int8: bool) -> str | None:
    """The precision stored for this machine and network, if it was measured before."""
    decision = stored_decision(model, int8)
    return decision["picked"] if decision else None


def choose(model: Stylizer, int8: bool, report: Callable[[str], None]) -> str:
    """The stored decision for this machine and network, or a new measurement (stored for next time)."""
    transfer = model.openvino
    key = decision_key(transfer.core, model.identity, int8)
    decisions = Decisions(model.cache.directory.parent)
    model.precision_decision = decisions.get(key)
    if model.precision_decision is not None:
        return model.precision_decision["picked"]
    capabilities = transfer.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    candidates = offered(capabilities, int8, tuple(transfer.layouts()))
    kept_for = "runs that can use int8: video, live, the studio" if int8 else "runs without int8: stills, the hub model"
    timing = ", ".join(candidates)
    report(f"precision: timing {timing} on this CPU before the first frame (once for {kept_for}; the choice is kept)")
    measured = measure(model, candidates)
    picked = pick(measured)
    model.precision_decision = {
        "picked": picked,
        "cpu": machine(transfer.core),
        "measured": [asdict(m) for m in measured],
    }
    decisions.put(key, model.precision_decision)
    report(f"precision: {describe(measured, picked)}")
    return picked


def describe(measured: list[Measured], picked: str) -> str:
    """One line: each candidate's time and picture, and the pick."""
    parts = [
        f"{m.name} {m.ms:.1f} ms" + ("" if m.name == "float32" else f" ({m.psnr_db:.0f} dB)")
        for m in sorted(measured, key=lambda m: m.ms)
    ]
    return f"{', '.join(parts)} at {SHAPE[1]}x{SHAPE[0]}; picked {picked} (floor {QUALITY_FLOOR_DB:g} dB)"
