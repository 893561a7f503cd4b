"""Half-written files: one naming (`atomic.partial_path`), recognised by what prunes and what recovers them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from live_style.atomic import is_partial, partial_path
from live_style.media.recovery import final_name, recording_partial, rescue_orphans
from live_style.pipeline.job_folder import JobFolder
from live_style.pipeline.segments import Segment


def test_a_partial_is_hidden_and_keeps_its_extension_and_may_be_the_process_own(tmp_path: Path) -> None:
    path = tmp_path / "KEY.npy"
    assert partial_path(path) == tmp_path / ".KEY.partial.npy"
    assert partial_path(path, per_process=True) == tmp_path / f".KEY.{os.getpid()}.partial.npy"


@pytest.mark.parametrize(
    "name",
    [
        ".KEY.partial.npy",
        ".KEY.123.partial.xml",
        "KEY.123.partial.xml",  # int8 networks, as earlier versions left them
        "KEY.123.partial",  # style vectors, likewise
        ".talk.mp4.partial.mp4",  # a recording
        ".segment-00001.partial.mkv",  # a job's segment
    ],
)
def test_every_half_written_name_is_recognised(name: str) -> None:
    assert is_partial(Path(name))


@pytest.mark.parametrize(
    "name", ["KEY.npy", "KEY.xml", "talk.mp4", "segment-00001.mkv", "partial.mp4", "my-partial.mp4"]
)
def test_finished_files_are_not_taken_for_half_written_ones(name: str) -> None:
    assert not is_partial(Path(name))


def test_recordings_and_segments_are_named_by_the_same_rule(tmp_path: Path) -> None:
    """Their names (on users' disks already) are `partial_path`'s: a recording as its whole name in fragmented MP4."""
    recording = tmp_path / "talk.mkv"
    assert recording_partial(recording) == partial_path(tmp_path / "talk.mkv.mp4")
    assert final_name(partial_path(tmp_path / "talk.mkv.mp4")) == recording
    assert rescue_orphans(tmp_path) == []  # nothing there: nothing taken for an orphan
    folder = JobFolder(tmp_path / "out.mkv")
    try:
        folder.load("key", ".mkv")
        segment = Segment(number=7, first=0, stop=1, warm_first=0, warm_stop=1)
        assert folder.partial_file(segment) == partial_path(folder.segment_file(segment))
    finally:
        folder.release()
