"""The folder beside OUT that makes a video job resumable: finished segments, their manifest, a lock.

`.OUT.job/` holds one file per finished segment and `manifest.json`, which names each with its
frame count and SHA-256 and is keyed by everything that shapes the output (input, model, style
vector, options). A rerun keeps the segments whose hash still matches; a different key starts the
job afresh. The lock (released by the kernel when its process dies) keeps a second run out.

Once OUT is written the folder goes, and a small record in the user's cache remembers which job
wrote it (`record_finished`), so a rerun of a multi-file job counts OUT as done, not as in the way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

from filelock import FileLock, Timeout

from live_style.atomic import partial_path, sha256_of, write_atomically
from live_style.errors import UserError
from live_style.model.style_cache import default_cache_dir
from live_style.pipeline.segments import Segment

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
OWNER = "owner.json"
FINISHED_KEPT = 1000  # records of written outputs kept in the cache (a few hundred bytes each)


def job_path(out: Path) -> Path:
    """The job folder of an output: hidden, beside it."""
    return out.with_name(f".{out.name}.job")


class JobFolder:
    """The segments of one output, locked to this run while it lives."""

    def __init__(self, out: Path):
        self.out = out
        self.path = job_path(out)
        self.removed = False
        try:
            self.path.mkdir(exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot write beside {out} ({error.strerror}); pick a folder you can write to") from None
        self._lock = FileLock(self.path / "lock", timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise UserError(f"{self._owner()} is already writing {out}; wait for it to finish or stop it") from None
        write_atomically(self.path / OWNER, json.dumps({"pid": os.getpid(), "started": time.time()}))
        self.key, self.suffix = "", ""
        self.manifest: dict = {}

    def load(self, key: str, suffix: str) -> None:
        """Read the manifest of the job with this key (segments stored as `suffix` files)."""
        self.key, self.suffix = key, suffix
        self.manifest = self._read_manifest()

    def _owner(self) -> str:
        """Who holds the lock, as a user would want to find it."""
        try:
            owner = json.loads((self.path / OWNER).read_text())
        except (OSError, ValueError):
            return "another live-style run"
        since = time.strftime("%H:%M:%S", time.localtime(owner["started"]))
        return f"another live-style run (pid {owner['pid']}, since {since})"

    def _read_manifest(self) -> dict:
        """The manifest of this key; a job with other settings is cleared away."""
        try:
            manifest = json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = None
        if manifest is not None and manifest.get("key") != self.key:
            log.info(f"{self.out}: the input or the options changed since the last run; starting afresh")
            manifest = None
        if manifest is None:
            for stale in self.path.glob(f"segment-*{self.suffix}"):
                stale.unlink()
            manifest = {"key": self.key, "segments": {}}
        return manifest

    def segment_file(self, segment: Segment) -> Path:
        return self.path / f"segment-{segment.number:05d}{self.suffix}"

    def partial_file(self, segment: Segment) -> Path:
        """Where a segment is written before it is committed."""
        return partial_path(self.segment_file(segment))

    def is_done(self, segment: Segment) -> bool:
        """Whether the segment is in the manifest and its file still has the recorded hash."""
        entry = self.manifest["segments"].get(str(segment.number))
        path = self.segment_file(segment)
        return entry is not None and path.is_file() and sha256_of(path) == entry["sha256"]

    def commit(self, segment: Segment, frames: int) -> None:
        """Move a rendered segment into place and record it; a crash before the manifest write only loses it."""
        path = self.segment_file(segment)
        self.partial_file(segment).replace(path)
        self.manifest["segments"][str(segment.number)] = {"frames": frames, "sha256": sha256_of(path)}
        write_atomically(self.path / MANIFEST, json.dumps(self.manifest, indent=1))

    def release(self) -> None:
        """Let another run in; finished segments stay for the next one, a folder without any goes."""
        if self.removed:
            return
        if not any(self.path.glob(f"segment-*{self.suffix or '.*'}")):
            self.remove()
            return
        self._lock.release()

    def remove(self) -> None:
        """OUT is complete (or nothing was done): the job folder goes, removed while still locked."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.release()
        self.removed = True


def finished_record(out: Path) -> Path:
    """Where the record of the job that wrote OUT is kept."""
    name = hashlib.sha256(str(out.resolve()).encode()).hexdigest()
    return default_cache_dir() / "finished-jobs" / f"{name}.json"


def record_finished(out: Path, key: str) -> None:
    """Remember that the job `key` wrote OUT as it is now (size and time); an unwritable cache only forgets."""
    try:
        stat = out.stat()
        record = finished_record(out)
        record.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(record, json.dumps({"key": key, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
        records = sorted(record.parent.glob("*.json"), key=lambda path: path.stat().st_mtime)
        for old in records[:-FINISHED_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def finished_key(out: Path) -> str | None:
    """The key of the job that wrote OUT, if OUT is still exactly what it wrote."""
    try:
        record = json.loads(finished_record(out).read_text())
        stat = out.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or [record.get("size"), record.get("mtime_ns")] != [stat.st_size, stat.st_mtime_ns]:
        return None
    return record.get("key")
