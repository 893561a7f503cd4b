"""Live recordings' partial files: fragmented MP4 while recording, locked by their writer; a killed
run's partial turned into a finished file (`repair`, and `rescue_orphans` for a whole folder).

A fragmented MP4 is playable up to its last complete fragment however its writer died.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import av
from filelock import FileLock, Timeout

from live_style.atomic import PARTIAL, partial_path
from live_style.errors import UserError
from live_style.media.formats import CONTAINER_FORMATS, RECORD_SUFFIXES, check_output_suffix
from live_style.media.remux import Remuxed, remux

PARTIAL_SUFFIX = f".{PARTIAL}.mp4"  # .NAME.ext.partial.mp4: the target's whole name kept, written as MP4


def check_record_path(path: Path, option: str = "--record") -> None:
    """Refuse a recording name whose extension cannot carry H.264 with each frame's own time."""
    check_output_suffix(Path(path), option, RECORD_SUFFIXES)


def recording_partial(path: Path) -> Path:
    """Where a recording to `path` is written while it runs: hidden, clearly partial, fragmented MP4."""
    return partial_path(path.with_name(f"{path.name}.mp4"))  # its whole name kept, written as fragmented MP4


def final_name(partial: Path) -> Path | None:
    """The recording a partial was meant to become, or None if the name is not a recording's partial."""
    name = partial.name
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        return None
    final = partial.with_name(name[1 : -len(PARTIAL_SUFFIX)])
    return final if final.suffix.lower() in RECORD_SUFFIXES else None


def owner_lock(partial: Path) -> FileLock:
    """The lock a running recorder holds on its partial; the kernel frees it when the process dies."""
    return FileLock(partial.with_name(partial.name + ".lock"), timeout=0)


def held_lock(partial: Path, taken: str) -> FileLock:
    """The owner lock of `partial`, held; a UserError saying `taken` while a running live-style holds it."""
    lock = owner_lock(partial)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(taken) from None
    return lock


def repair(partial: Path, target: Path | None = None) -> tuple[Path, Remuxed]:
    """Turn a killed recording's partial into a finished file (beside it, never over an existing one)."""
    final = target or final_name(partial)
    if final is None:
        raise UserError(f"{partial} is not a live-style recording's partial (.NAME.ext{PARTIAL_SUFFIX}); give one")
    final = free_name(final) if target is None else final
    lock = held_lock(partial, f"{partial} is still being recorded by a running live-style; stop it first")
    try:
        try:
            result = remux([partial], final, CONTAINER_FORMATS[final.suffix.lower()])
        except (av.FFmpegError, IndexError):
            raise UserError(f"{partial} is not a readable recording (no video in it); nothing to repair") from None
        if result.frames == 0:
            final.unlink(missing_ok=True)
            raise UserError(f"{partial} holds no complete frame; nothing to rescue (delete it)")
        partial.unlink()
        return final, result
    finally:
        drop_lock(lock)


def drop_lock(lock: FileLock) -> None:
    """Remove the lock file while still holding it, then let go (a contender then retries on a fresh file)."""
    Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()


def free_name(path: Path) -> Path:
    """`path`, or `NAME-recovered[-N].ext` beside it if that name is taken."""
    return next(name for name in itertools.chain([path], recovered_names(path)) if not name.exists())


def recovered_names(path: Path) -> Iterator[Path]:
    """NAME-recovered.ext, NAME-recovered-2.ext, ... beside `path`."""
    for number in itertools.count(1):
        suffix = "-recovered" if number == 1 else f"-recovered-{number}"
        yield path.with_name(f"{path.stem}{suffix}{path.suffix}")


def claim(path: Path) -> FileLock:
    """Lock the partial of a new recording to `path`; a killed run's partial of that name is moved aside to a
    NAME-recovered one (rescued from there), so neither recording is written over the other."""
    partial = recording_partial(path)
    lock = held_lock(partial, f"another live-style is recording to {path}; pick another name")
    try:
        if partial.exists():
            aside = (name for name in recovered_names(path) if not (name.exists() or recording_partial(name).exists()))
            partial.rename(recording_partial(next(aside)))
    except OSError:
        drop_lock(lock)
        raise
    return lock


def rescue_orphans(folder: Path) -> list[str]:
    """Repair every recording partial in `folder` whose recorder is gone; one line per file rescued."""
    said = []
    for partial in sorted(Path(folder).glob(f".*{PARTIAL_SUFFIX}")):
        if final_name(partial) is None:
            continue
        try:
            final, result = repair(partial)
        except UserError:
            continue  # still recording, or nothing in it
        except (av.FFmpegError, OSError) as error:  # a full disk, a folder it may not write: the new recording goes on
            said.append(
                f"warning: could not rescue the unfinished recording {partial} ({error}); try later with "
                f"live-style repair {partial}"
            )
            continue
        said.append(f"rescued {result.frames} frames ({result.seconds:.1f} s) of an unfinished recording into {final}")
    return said
