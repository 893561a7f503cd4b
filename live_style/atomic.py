"""Outputs are written under a temporary name and renamed when complete; files are checked by their hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20
PARTIAL = "partial"  # the name part that marks a file as still being written


def partial_path(path: Path, per_process: bool = False) -> Path:
    """Where `path` is written until it is complete: hidden, clearly partial, same extension (`.NAME.partial.ext`);
    `per_process` gives each process its own (`.NAME.PID.partial.ext`) where several may write `path` at once."""
    writer = f".{os.getpid()}" if per_process else ""
    return path.with_name(f".{path.stem}{writer}.{PARTIAL}{path.suffix}")


def is_partial(path: Path) -> bool:
    """Whether `path` is a file still being written, or left by a writer that died: `partial_path`'s names and
    earlier versions' `NAME.PID.partial[.ext]`."""
    return PARTIAL in path.name.split(".")[1:]


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
