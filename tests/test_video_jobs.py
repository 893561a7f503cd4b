"""Video jobs in segments: a SIGKILLed run resumes and equals an uninterrupted one; one run per OUT;
many files in one command, on a real local Ray whose worker is killed, with a truncated and a broken
input among them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
from conftest import cli_argv, cli_env, psnr, run_cli
from jobs import FPS, segments_done, stylize_args, wait_until
from media import av_facts, scene, write_av_clip

from live_style.commands.bench_temporal import read_frames

ENCODER_NOISE_DB = 50  # a seam or a missed warm-up moves whole frames far more


def test_a_killed_job_resumes_where_it_stopped_and_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    slow_enough = ("--size", "160")  # at 96 the int8 job once finished between two polls of the manifest
    clip = write_av_clip(tmp_path / "in.mp4", frames=16 * FPS, fps=FPS, size=(240, 160), keyframe_every=FPS)
    out, job = tmp_path / "out.mp4", tmp_path / ".out.mp4.job"
    first = subprocess.Popen(
        cli_argv(*stylize_args([clip], out, *slow_enough)),
        env=cli_env(tmp_path),
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: (job / "owner.json").exists(), first, "job folder")
        second = run_cli(*stylize_args([clip], out, *slow_enough), cache=tmp_path)
        assert second.returncode == 2 and f"(pid {first.pid}," in second.stderr and "already writing" in second.stderr
        wait_until(lambda: segments_done(job) >= 5, first, "5 of 8 segments")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    assert not out.exists()  # nothing that looks complete
    kept = segments_done(job)

    resumed = run_cli(*stylize_args([clip], out, *slow_enough), cache=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    said = re.search(r"resuming: (\d+) of 8 segments already done \(verified\), computing (\d+)", resumed.stderr)
    assert said and int(said[1]) == kept >= 5 and int(said[2]) == 8 - kept, resumed.stderr
    assert not job.exists()

    whole = run_cli(*stylize_args([clip], tmp_path / "whole.mp4", *slow_enough), cache=tmp_path)
    assert whole.returncode == 0, whole.stderr
    facts, reference, source = av_facts(out), av_facts(tmp_path / "whole.mp4"), av_facts(clip)
    assert facts["frames"] == reference["frames"] == 16 * FPS
    assert facts["times"] == reference["times"] == source["times"]
    assert abs(facts["audio_seconds"] - source["audio_seconds"]) < 0.03
    resumed_frames, whole_frames = read_frames(out, 1000), read_frames(tmp_path / "whole.mp4", 1000)
    pairs = list(zip(resumed_frames, whole_frames, strict=True))
    # mostly bit-identical, but not always under load: CI once saw 35 of 160 frames a level or two apart
    # (57-65 dB, around one segment boundary), so equality is the PSNR floor, which a seam or a missed
    # warm-up breaks by far
    assert min(psnr(a, b) for a, b in pairs) > ENCODER_NOISE_DB


def truncated_mkv(path: Path) -> tuple[Path, int]:
    """A Matroska clip cut short after writing: its header still promises every frame. Returns it and that count."""
    whole = write_av_clip(path.with_name("whole.mkv"), frames=4 * FPS, fps=FPS, audio=None, keyframe_every=FPS)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, 4 * FPS


def ray_workers() -> list[int]:
    """The pids of the live Ray actor processes that render segments (Ray titles them ray::SegmentWorker)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::SegmentWorker"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # the process ended meanwhile
    return found


def test_many_files_on_a_local_ray_survive_a_killed_worker_and_match_the_in_process_run(tmp_path: Path) -> None:
    clip = write_av_clip(tmp_path / "a.mp4", frames=8 * FPS, fps=FPS, size=(240, 160), keyframe_every=FPS)
    truncated, promised = truncated_mkv(tmp_path / "cut.mkv")
    broken = tmp_path / "notes.mp4"
    broken.write_text("not a video")
    outdir = tmp_path / "out"
    process = subprocess.Popen(
        cli_argv(*stylize_args([clip, truncated, broken], outdir, "--ray")),
        env=cli_env(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # a worker dies (as on a lost node) once it has delivered a segment: Ray restarts it and retries
        wait_until(lambda: segments_done(outdir / ".a.mp4.job") >= 1, process, "a first segment from Ray")
        victims = ray_workers()
        assert victims, "no Ray worker process found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        stderr = process.communicate(timeout=300)[1]
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    assert "worker(s) on 1 node(s) of the local Ray" in stderr
    assert [line for line in stderr.splitlines() if "error" in line and "notes.mp4" in line]
    assert "2 of 3 videos written; 1 failed" in stderr

    decodable = av_facts(truncated)["frames"]
    assert 0 < decodable < promised
    assert (
        f"{truncated} stops at" in stderr
        and f"cut short, and {outdir / 'cut.mkv'} holds the {decodable} frames" in stderr
    )
    assert av_facts(outdir / "cut.mkv")["frames"] == decodable

    made = av_facts(outdir / "a.mp4")
    assert made["frames"] == 8 * FPS and made["times"] == av_facts(clip)["times"]
    assert psnr(made["first"], scene(0, 240, 160)) < 22  # repainted
    local = run_cli(*stylize_args([clip], tmp_path / "local.mp4"), cache=tmp_path)
    assert local.returncode == 0, local.stderr
    ray_frames, local_frames = read_frames(outdir / "a.mp4", 1000), read_frames(tmp_path / "local.mp4", 1000)
    assert all(np.array_equal(a, b) for a, b in zip(ray_frames, local_frames, strict=True))
