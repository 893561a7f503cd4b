"""This machine's CPU as the code tuned to it sees it: its model name and the instruction sets it has."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The instruction sets numpy's dispatcher found on this CPU (e.g. "AVX2", "AVX512VNNI")."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return frozenset(name for name, on in __cpu_features__.items() if on)


@functools.cache
def cpu_name() -> str:
    """The CPU's model name: /proc/cpuinfo's where there is one, else what the platform says."""
    lines = CPUINFO.read_text().splitlines() if CPUINFO.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "CPU"
