"""`live-style video` end to end: real files written with PyAV, stylized, read back and checked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from conftest import cli_argv, cli_env, psnr, run_cli, run_cli_here
from jobs import segments_done, wait_until
from media import av_facts, scene, write_av_clip

from live_style.commands.bench_temporal import read_frames
from live_style.media.encode import VideoFileWriter
from live_style.sinks import OutputFrame
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

ROOT = Path(__file__).resolve().parents[1]
WAVE = BUILTIN_STYLES / "wave.jpg"


def live_style(*args: str | Path, tmp_path: Path, **popen) -> subprocess.CompletedProcess:
    return run_cli("video", *args, cache=tmp_path / "cache", **popen)


def test_every_frame_is_stylized_with_rate_size_and_audio_kept(tmp_path: Path) -> None:
    clip = write_av_clip(tmp_path / "in.mp4", frames=40, fps=25)
    out = tmp_path / "out.mp4"
    result = live_style(clip, "-o", out, "--style", WAVE, "--size", "128", "--batch", "3", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    before, after = av_facts(clip), av_facts(out)
    assert (after["frames"], after["fps"], after["size"]) == (40, 25.0, (320, 240))
    assert after["times"] == before["times"]
    assert after["audio"] == "aac" and abs(after["audio_seconds"] - before["audio_seconds"]) < 0.03
    assert "audio copied" in result.stderr
    assert psnr(after["first"], scene(0, 320, 240)) < 22  # repainted
    assert not list(tmp_path.glob(".*partial*"))


def test_processing_size_output_without_audio(tmp_path: Path) -> None:
    clip = write_av_clip(tmp_path / "in.mp4", frames=10)
    out = tmp_path / "out.mkv"
    result = live_style(
        clip, "-o", out, "--style", WAVE, "--size", "96", "--output-size", "processing", "--no-audio", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    facts = av_facts(out)
    assert facts["size"] == (128, 96) and facts["audio"] is None and facts["frames"] == 10


def test_audio_a_container_cannot_carry_is_re_encoded(tmp_path: Path) -> None:
    clip = write_av_clip(tmp_path / "in.mp4", frames=20)
    out = tmp_path / "out.webm"  # WebM takes Opus or Vorbis, not AAC
    result = live_style(clip, "-o", out, "--style", WAVE, "--size", "96", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "audio re-encoded" in result.stderr
    facts = av_facts(out)
    assert facts["audio"] == "opus" and abs(facts["audio_seconds"] - 20 / 25) < 0.06


def segments_in(stderr: str) -> int:
    """How many segments the job said it cut the input into."""
    return int(re.search(r"in (\d+) segment", stderr)[1])


def test_variable_frame_rate_keeps_each_frames_time(tmp_path: Path) -> None:
    times = [0.0, 0.04, 0.2, 0.24, 0.5, 0.52, 0.9, 1.0]
    clip = write_av_clip(tmp_path / "vfr.mp4", frames=len(times), frame_times=times, keyframe_every=2)
    out = tmp_path / "out.mp4"
    result = live_style(clip, "-o", out, "--style", WAVE, "--size", "96", "--segment-seconds", "0.2", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert segments_in(result.stderr) > 1  # cut, B-frames and all, with no frame lost or doubled:
    assert av_facts(out)["times"] == pytest.approx(times, abs=1e-3)


def test_a_rotated_phone_video_comes_out_upright(tmp_path: Path) -> None:
    plain = write_av_clip(tmp_path / "plain.mp4", frames=8, size=(320, 240), audio=None, keyframe_every=2)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(plain),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    assert av_facts(rotated)["rotation"] == 90
    out = tmp_path / "out.mp4"
    result = live_style(
        rotated, "-o", out, "--style", WAVE, "--size", "96", "--segment-seconds", "0.1", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert segments_in(result.stderr) > 1
    facts = av_facts(out)
    assert facts["size"] == (240, 320) and facts["rotation"] == 0 and facts["times"] == av_facts(rotated)["times"]


@pytest.mark.parametrize(
    ("size", "pix_fmt", "codec", "expected"),
    [
        ((161, 121), "yuv444p", "libx264", (160, 120)),
        ((160, 120), "gray", "ffv1", (160, 120)),
    ],
)
def test_odd_sizes_and_grayscale(tmp_path: Path, size, pix_fmt: str, codec: str, expected) -> None:
    clip = write_av_clip(tmp_path / "in.mkv", frames=6, size=size, pix_fmt=pix_fmt, codec=codec, audio=None)
    out = tmp_path / "out.mp4"
    result = live_style(clip, "-o", out, "--style", WAVE, "--size", "64", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    facts = av_facts(out)
    assert facts["size"] == expected and facts["frames"] == 6


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2, reason="needs 2 CPUs to narrow (Linux)")
def test_encoded_pixels_do_not_depend_on_the_cpus_the_writing_thread_may_use(tmp_path: Path) -> None:
    """A segment encoded on a thread pinned to one CPU equals one encoded on a free thread (resumed jobs)."""
    frames = [scene(index, 240, 160) for index in range(12)]
    every_cpu = os.sched_getaffinity(0)
    decoded = []
    for cpus in (every_cpu, {min(every_cpu)}):
        path = tmp_path / f"{len(cpus)}-cpus.mp4"
        os.sched_setaffinity(0, cpus)
        try:
            writer = VideoFileWriter(path, (240, 160), Fraction(10), Fraction(1, 10), None)
            for pts, frame in enumerate(frames):
                writer.write(OutputFrame(frame, pts / 10))
            writer.close()
        finally:
            os.sched_setaffinity(0, every_cpu)
        decoded.append(read_frames(path, limit=100))
    assert len(decoded[0]) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(*decoded, strict=True))


def test_an_interrupted_run_leaves_no_output(tmp_path: Path) -> None:
    # long enough that the job is still running when the interrupt lands (at size 96 a frame takes a few ms)
    clip = write_av_clip(tmp_path / "long.mp4", frames=1000, size=(320, 240))
    out = tmp_path / "out.mp4"
    env = cli_env(tmp_path / "cache")
    process = subprocess.Popen(
        cli_argv("video", clip, "-o", out, "--style", WAVE, "--size", "96", "--segment-seconds", "4"),
        stderr=subprocess.PIPE,
        env=env,
    )
    wait_until(lambda: segments_done(tmp_path / ".out.mp4.job") >= 1, process, "a first segment")
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read().decode()
    assert process.wait(timeout=60) == 130
    assert not out.exists()
    assert "was not written yet" in rest and "run the same command again to resume" in rest


def bad_cases(tmp_path: Path) -> dict[str, tuple[list, str]]:
    clip = write_av_clip(tmp_path / "in.mp4", frames=4)
    audio_only = tmp_path / "tone.m4a"
    import av
    from media import encode_tone

    with av.open(str(audio_only), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        encode_tone(container, stream, scene(0, 4, 4).astype("float32").ravel()[:4410] / 255)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    return {
        "no video stream": ([audio_only, "-o", tmp_path / "o.mp4"], "no video stream"),
        "unreadable": ([text, "-o", tmp_path / "o.mp4"], "not a readable video"),
        "missing input": ([tmp_path / "gone.mp4", "-o", tmp_path / "o.mp4"], "gone.mp4"),
        "missing output folder": ([clip, "-o", tmp_path / "nowhere" / "o.mp4"], "create it first"),
        "existing output": ([clip, "-o", existing], "--overwrite"),
        "unknown container": ([clip, "-o", tmp_path / "o.gif"], "o.gif"),
        "silent ray cluster": ([clip, "-o", tmp_path / "o.mp4", "--ray", "127.0.0.1:1"], "nothing answers there"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "no video stream",
        "unreadable",
        "missing input",
        "missing output folder",
        "existing output",
        "unknown container",
        "silent ray cluster",
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    args, named = bad_cases(tmp_path)[case]
    result = run_cli_here("video", *args, "--style", WAVE, cache=tmp_path / "cache")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("live-style: error")]
    assert len(errors) == 1 and named in errors[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_a_folder_of_one_video_goes_into_the_output_folder_it_creates(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    write_av_clip(clips / "b.mp4", frames=8, fps=25, audio=None)
    styled = tmp_path / "styled_b"  # as the README's `clips/ -o styled/`, the folder not made yet
    result = run_cli_here("video", clips, "-o", styled, "--style", WAVE, "--size", "64", cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert av_facts(styled / "b.mp4")["frames"] == 8
