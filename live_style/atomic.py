"""Outputs are written under a temporary name and renamed when complete; files are checked by their hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: hidden, clearly partial, same extension."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old or the new content, never half of one."""
    partial = partial_path(path)
    with partial.open("w") as writing:
        writing.write(text)
        writing.flush()
        os.fsync(writing.fileno())
    partial.replace(path)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
