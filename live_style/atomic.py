"""Outputs are written under a temporary name and renamed when complete."""

from __future__ import annotations

from pathlib import Path


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: hidden, clearly partial, same extension."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")
