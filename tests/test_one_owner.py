"""One owner for each decision (#37), checked from outside over many inputs: the network runs at the shape that is
reported, and every input frame comes out once, at its time, none before 0, with its sound beside it.

The fast tier: a weightless network behind the real Stylizer, through the real live loop, video job and studio
model thread, on clips PyAV writes with the start times, rates, B-frames and containers Hypothesis picks (and
the real files of other people's devices in ../shared/media/real), judged by what FFmpeg's decoder reads back.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import encode_tone, scene, with_a_repeated_audio_packet, write_av_clip, write_clip
from stub_network import stub_stylizer

from live_style.imaging import processing_shape
from live_style.media.decode import VideoFile
from live_style.model.shared import ModelThread
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.job_folder import JobFolder
from live_style.pipeline.live import LiveOptions, LivePipeline
from live_style.pipeline.video_jobs import JobOptions, LocalRenderer, VideoRun, plan_video
from live_style.sources.capture import open_input
from live_style.styles import StyleBank

REAL = SHARED / "media" / "real"
REAL_VIDEOS = sorted(
    path
    for path in REAL.glob("*")
    if path.suffix.lower() in {".mp4", ".mov", ".ts", ".avi", ".ogm", ".asf", ".mkv", ".webm", ".3gp", ".mxf"}
)
PRIMING_UNMARKED = {".mkv", ".webm", ".ts", ".ogm"}  # containers with no edit list to trim an encoder's priming
EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory):
    model, network = stub_stylizer(tmp_path_factory.mktemp("stub-cache"))
    return model, network, model.style_vector(scene(0, 64, 64))


# --- size: the shape the network runs at is the one decided, and the one reported ---------------------------------


@EXAMPLES
@given(height=st.integers(16, 700), width=st.integers(16, 700), size=st.integers(16, 1024))
def test_a_still_runs_the_network_at_the_processing_shape(stub, height: int, width: int, size: int) -> None:
    model, network, vector = stub
    network.shapes.clear()
    out = model.stylize(np.zeros((height, width, 3), np.uint8), vector, size=size)
    assert network.shapes == [processing_shape(height, width, size)] and out.shape == (height, width, 3)


@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("shared", [False, True], ids=["live", "studio's model thread"])
def test_the_live_loop_runs_the_network_at_the_size_it_shows(stub, tmp_path: Path, size: int, shared: bool) -> None:
    model, network, vector = stub
    clip = write_clip(tmp_path / "clip.mp4", frames=4, fps=30, size=(1280, 720))
    source = open_input(str(clip), paced=False, stall_timeout=10)
    controls = LiveControls(style_count=1, size=size)
    runner = ModelThread(model) if shared else model
    pipeline = LivePipeline(runner, source, StyleBank(lambda _: vector, [Path("stub")]), controls, LiveOptions())
    network.shapes.clear()
    assert pipeline.run() == 0
    assert set(network.shapes) == {processing_shape(720, 1280, size)} == {pipeline.processing}


def run_video_job(model, vector, source: Path, out: Path, size: int | None = None):
    """`live-style video SOURCE -o OUT` in this process, steadied, audio kept: the plan it made."""
    plan = plan_video(model, vector, source, out, JobOptions(size, "input", 4, False, True, 1.0, True, 1.0))
    folder = JobFolder(out)
    try:
        VideoRun([plan], {out: folder}, LocalRenderer(model), quiet=True).run()
    finally:
        folder.release()
    return plan


def test_a_video_job_runs_the_network_at_the_size_it_reports(stub, tmp_path: Path) -> None:
    model, network, vector = stub
    clip = write_clip(tmp_path / "clip.mp4", frames=3, fps=30, size=(1280, 720))
    network.shapes.clear()
    plan = run_video_job(model, vector, clip, tmp_path / "out.mp4", size=512)
    assert set(network.shapes) == {processing_shape(720, 1280, 512)} == {plan.settings.processing}


@pytest.mark.parametrize("name", ["sample_with_srt.mkv", "sample_with_pgs_subtitles.mkv"])
def test_real_subtitle_tracks_are_kept(stub, tmp_path: Path, name: str) -> None:
    model, _network, vector = stub
    out = run_video_job(model, vector, REAL / name, tmp_path / "out.mkv", size=64).out
    with av.open(str(REAL / name)) as source, av.open(str(out)) as output:
        kinds = [
            (stream.type, stream.codec_context.name if stream.codec_context else None) for stream in source.streams
        ]
        assert [(s.type, s.codec_context.name if s.codec_context else None) for s in output.streams] == kinds


# --- time: every frame once, at its time, none before 0, the sound beside it ---------------------------------------


def reference(path: Path) -> dict:
    """What FFmpeg reads: the video's frame times from its first (presentation order, decoded), where the sound
    starts on that timeline (decoded, so an edit list's trim counts), and whether any video packet is flagged for
    discarding or comes before 0."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        stamps = sorted(frame.pts * video.time_base for frame in container.decode(video))
        first = stamps[0]
        container.seek(0)
        packets = [
            (packet.stream.type, packet.pts * packet.time_base, packet.is_discard)
            for packet in container.demux()
            if packet.size
        ]
        heard = sound_start(container, first)
    video_packets = [(pts, discard) for kind, pts, discard in packets if kind == "video"]
    return {
        "times": [stamp - first for stamp in stamps],
        "heard_from": heard,
        "discarded": sum(discard for _, discard in video_packets),
        "before_zero": sum(pts < 0 for pts, _ in video_packets),
    }


def sound_start(container: av.container.InputContainer, first: Fraction) -> tuple[Fraction, str, int] | None:
    """Where the first decoded audio sample is, from the first video frame, and the codec (None without audio, or
    when FFmpeg cannot decode it); a frame without a time takes its packet's, as ffprobe's best-effort time does."""
    if not container.streams.audio:
        return None
    container.seek(0)
    audio = container.streams.audio[0]
    try:
        for packet in container.demux(audio):
            for frame in packet.decode():
                stamp = frame.pts if frame.pts is not None else packet.pts
                if stamp is not None:
                    return stamp * packet.time_base - first, audio.codec_context.name, audio.rate
    except av.FFmpegError:
        return None
    return None


def assert_sound_beside_the_picture(source: Path, given: dict, made: dict, tolerance: float) -> None:
    """The output's sound starts where the input's does on the timeline (cut at 0). Re-encoded AAC may begin with
    its encoder's 1024 samples of priming before that; in a container that cannot mark priming (MKV, MPEG-TS)
    FFmpeg's AAC decoder drops up to two frames at the start, where an MP4's edit list trims to the sample; and
    FFmpeg 8 (PyAV 19) drops one AAC frame more or less than FFmpeg 7 after an edit list's trim (the same file
    reads 1024 samples apart): decoders' priming, not the file's timing, which is checked to the sample on FFmpeg 7.
    """
    if given["heard_from"] is None:
        return
    (was, codec, _), (now, out_codec, out_rate) = given["heard_from"], made["heard_from"]
    expected = max(0.0, float(was))
    early = 1024 / 8000 if out_codec != codec else 0.0  # at most one AAC frame, at the lowest rate here
    if source.suffix.lower() in PRIMING_UNMARKED and codec == "aac":
        early = 2048 / 44100
    late = 1024 / out_rate if out_codec == "aac" and int(av.__version__.split(".")[0]) >= 19 else 0.0
    early = max(early, late)
    assert expected - early - tolerance <= float(now) <= expected + late + tolerance, (was, now, codec, out_codec)


def write_timed_clip(path: Path, rate: Fraction, start: Fraction, frames: int, bframes: int, audio_lead: Fraction):
    """A 64x48 H.264 clip whose first frame is at `start` s, at `rate`, with `bframes` B-frames, and AAC beginning
    `audio_lead` s before the picture."""
    time_base = Fraction(1, 90_000)
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=rate, options={"bf": str(bframes), "g": "6"})
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    video.codec_context.time_base = time_base
    tone = container.add_stream("aac", rate=44100)
    tone.layout = "mono"
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(scene(index, 64, 48), format="bgr24")
        frame.pts, frame.time_base = round((start + index / rate) / time_base), time_base
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    samples = int(44100 * (frames / rate + audio_lead))
    encode_tone(container, tone, (0.3 * np.sin(np.arange(samples) / 7)).astype(np.float32), start - audio_lead)
    container.close()
    return path


@EXAMPLES
@given(
    container=st.sampled_from([".mp4", ".mov", ".mkv", ".ts"]),
    rate=st.sampled_from([Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(60)]),
    start=st.one_of(
        st.integers(0, 3000).map(lambda ms: Fraction(ms, 1000)), st.fractions(0, 3, max_denominator=90_000)
    ),
    frames=st.integers(2, 14),
    bframes=st.sampled_from([0, 2]),
    audio_lead=st.sampled_from([Fraction(0), Fraction(1, 100), Fraction(-1, 20)]),
)
def test_every_frame_comes_out_once_at_its_time_with_its_sound(
    stub, tmp_path: Path, container: str, rate: Fraction, start: Fraction, frames: int, bframes: int, audio_lead
) -> None:
    model, _network, vector = stub
    source = write_timed_clip(tmp_path / f"in{container}", rate, start, frames, bframes, max(audio_lead, -start))
    out = tmp_path / "out.mp4"
    out.unlink(missing_ok=True)
    run_video_job(model, vector, source, out)
    given_, made = reference(source), reference(out)
    assert made["discarded"] == made["before_zero"] == 0
    assert [float(t) for t in made["times"]] == pytest.approx([float(t) for t in given_["times"]], abs=2e-4)
    assert_sound_beside_the_picture(source, given_, made, 1.5 / 44100)


def test_an_audio_packet_a_broadcast_repeats_is_copied_once(stub, tmp_path: Path) -> None:
    """The MP4 muxer refuses a packet timed like the one before it (the whole output failed: 'Invalid argument');
    a player skips it, and so does the copy."""
    model, _network, vector = stub
    plain = write_av_clip(tmp_path / "plain.ts", frames=50, fps=25, size=(64, 48), audio="mp2")
    source = with_a_repeated_audio_packet(plain, tmp_path / "repeated.ts")
    with av.open(str(source)) as container:
        sent = [packet.pts for packet in container.demux(container.streams.audio[0]) if packet.size]
    assert len(sent) == len(set(sent)) + 1  # the repeat is there, as FFmpeg reads it
    out = run_video_job(model, vector, source, tmp_path / "out.mp4").out
    with av.open(str(out)) as container:
        copied = [packet.pts for packet in container.demux(container.streams.audio[0]) if packet.size]
    assert len(copied) == len(set(sent)) and copied == sorted(copied)
    assert_sound_beside_the_picture(source, reference(source), reference(out), 1.5 / 44100)


def played_shape(path: Path, folder: Path) -> tuple[int, int]:
    """(height, width) of the first frame as FFmpeg's player shows it (turned as its metadata says)."""
    still = folder / f"{path.stem}-played.png"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-frames:v", "1", str(still)]
    )
    return cv2.imread(str(still)).shape[:2]


@pytest.mark.parametrize("path", REAL_VIDEOS, ids=lambda path: path.name)
def test_real_files_keep_every_frame_at_its_time(stub, tmp_path: Path, path: Path) -> None:
    model, _network, vector = stub
    out = run_video_job(model, vector, path, tmp_path / "out.mp4", size=64).out
    given_, made = reference(path), reference(out)
    assert made["discarded"] == made["before_zero"] == 0
    assert len(made["times"]) == len(given_["times"])
    with av.open(str(path)) as source, av.open(str(out)) as output:
        assert len(output.streams.audio) == len(source.streams.audio)  # every audio track
        height, width = output.streams.video[0].height, output.streams.video[0].width
    played = played_shape(path, tmp_path)
    assert (height > width) == (played[0] > played[1]) or abs(height - width) < 4  # upright as players show it
    assert [float(t) for t in made["times"]] == pytest.approx([float(t) for t in given_["times"]], abs=1e-3)
    assert_sound_beside_the_picture(path, given_, made, 0.0015)


def frames_from(video: VideoFile, index, first: int, count: int = 24) -> dict[int, np.ndarray]:
    """The frames a segment starting at position `first` decodes (a seek, then decoding), by stamp."""
    return {frame.pts: frame.image for frame in video.frames_at(index.pts[first : first + count], first)}


@pytest.mark.parametrize("path", [path for path in REAL_VIDEOS if path.stat().st_size], ids=lambda path: path.name)
def test_a_segment_decodes_the_frames_a_player_shows_wherever_it_starts(path: Path) -> None:
    """Starting at a keyframe, just before or just after one, every frame is the one decoding from the file's start
    gives at that time: an MXF's seeks label packets frames off, an OGM's open GOPs shift stamps after a seek."""
    video = VideoFile(path)
    try:
        index = video.index_frames()
        whole = {frame.pts: frame.image for frame in video.frames()}
        starts = sorted({max(0, start + shift) for start in index.keyframes[1:] for shift in (-1, 0, 1)} - {0})
        for first in starts:
            decoded = frames_from(video, index, first)
            # a hidden VP9 frame shows nothing, and its packet may share its stamp with the frame it becomes
            wanted = list(dict.fromkeys(pts for pts in index.pts[first : first + 24] if pts in whole))
            assert sorted(decoded) == wanted, (first, sorted(decoded), wanted)
            wrong = [pts for pts in wanted if not np.array_equal(decoded[pts], whole[pts])]
            assert not wrong, (first, wrong)
    finally:
        video.close()
