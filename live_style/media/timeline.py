"""The package's one representation of time: exact seconds (`Fraction`) on the source's timeline, 0 at its first
shown frame.

Timestamps are integers in a stream's time base inside containers; everything between modules is a `Fraction` of
seconds, so shifting and rescaling never rounds. Rounding happens once, where a time becomes a container's integer
(`ticks`), and a clock reading (a camera's frame, arriving) becomes a time at microsecond resolution (`from_clock`).
"""

from __future__ import annotations

from fractions import Fraction

Seconds = Fraction
CLOCK_RESOLUTION = 1_000_000  # a monotonic clock's reading kept to the microsecond


def seconds(ticks: int, time_base: Fraction) -> Seconds:
    """A container's timestamp as exact seconds."""
    return Fraction(ticks) * time_base


def ticks(time: Seconds, time_base: Fraction) -> int:
    """Exact seconds as the nearest timestamp in `time_base` (exact whenever the time base can hold the time)."""
    return round(Fraction(time) / time_base)


def from_clock(reading: float) -> Seconds:
    """A clock's reading in seconds (float) as a time, to the microsecond."""
    return Fraction(round(reading * CLOCK_RESOLUTION), CLOCK_RESOLUTION)
