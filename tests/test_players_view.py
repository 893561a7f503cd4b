"""Other people's files, round 2 (#38), the video side: what players show (mirror images, an animated AVIF's
sequence), every track and tag kept (subtitles already showing, WebVTT, languages, chapters, place and time), and
no misleading lines (a VP9 file's hidden frames, captions that cannot be kept). The references are FFmpeg's own
command-line player output and PyAV reading the real files; the network is the weightless stub."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from conftest import SHARED
from stub_network import stub_stylizer
from test_one_owner import run_video_job

from live_style.commands.video import expand_inputs
from live_style.media.decode import upright_image

REAL = SHARED / "media" / "real"


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory):
    model, _network = stub_stylizer(tmp_path_factory.mktemp("stub-cache"))
    return model, model.style_vector(np.full((64, 64, 3), 128, np.uint8))


@pytest.fixture(scope="module")
def test_pattern(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pattern")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=25", "-t", "0.2", "-c:v", "libx264", folder / "plain.mp4")
    return folder / "plain.mp4"


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", [[], ["-display_hflip"], ["-display_vflip"]], ids=["", "hflip", "vflip"])
def test_turned_and_mirrored_video_comes_out_as_ffmpeg_plays_it(
    test_pattern: Path, tmp_path: Path, rotation: int, flip: list[str]
) -> None:
    phone = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", str(rotation), *flip, "-i", test_pattern, "-c", "copy", phone)
    ffmpeg("-i", phone, "-frames:v", "1", tmp_path / "player.png")  # FFmpeg's player turns it as its matrix says
    shown = cv2.imread(str(tmp_path / "player.png"))
    with av.open(str(phone)) as container:
        ours = upright_image(next(container.decode(video=0)), None)
    assert ours.shape == shown.shape and np.abs(ours.astype(int) - shown).mean() < 3


def test_an_animated_avif_gives_its_sequence_not_its_still(stub, tmp_path: Path) -> None:
    model, vector = stub
    animation = tmp_path / "sticker.avif"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-t", "1", "-c:v", "libaom-av1", "-cpu-used", "8", animation
    )
    with av.open(str(animation)) as container:
        frames = max(stream.frames for stream in container.streams.video)
    out = run_video_job(model, vector, animation, tmp_path / "out.mp4").out
    with av.open(str(out)) as container:
        assert len(list(container.decode(video=0))) == frames == 10


def test_a_folder_takes_animated_images_and_skips_stills(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("fixture.apng", "hopper_orientation_6.webp"):
        (folder / name).write_bytes((REAL / name).read_bytes())
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-t", "0.5", "-loop", "0", folder / "moving.webp")
    assert [path.name for path in expand_inputs([str(folder)])] == ["fixture.apng", "moving.webp"]
    assert "skipped, not video files: hopper_orientation_6.webp" in capsys.readouterr().err


def tracks(path: Path) -> list[tuple[str, dict]]:
    with av.open(str(path)) as container:
        return [
            (stream.type, {k: v for k, v in stream.metadata.items() if k in ("language", "title")})
            for stream in container.streams
        ]


def test_subtitles_keep_their_language_title_and_the_event_already_showing(stub, tmp_path: Path) -> None:
    model, vector = stub
    (tmp_path / "s.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,000\nWorld\n"
    )
    ffmpeg("-i", tmp_path / "s.srt", tmp_path / "s.ass")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=15", "-t", "2", "-c:v", "libx264", tmp_path / "v.mkv")
    source = tmp_path / "film.mkv"  # the picture starts at 0.067 s, the first subtitle at 0.000 s
    ffmpeg(
        "-itsoffset", "0.067", "-i", tmp_path / "v.mkv", "-i", tmp_path / "s.srt", "-i", tmp_path / "s.ass",
        "-map", "0", "-map", "1", "-map", "2", "-c:v", "copy", "-c:s:0", "webvtt", "-c:s:1", "ass",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=Subs Label", "-metadata:s:s:1", "language=fra",
        source,
    )  # fmt: skip
    out = run_video_job(model, vector, source, tmp_path / "out.mkv").out
    assert tracks(out) == [
        ("video", {}),
        ("subtitle", {"language": "eng", "title": "Subs Label"}),
        ("subtitle", {"language": "fra"}),
    ]
    with av.open(str(out)) as container:
        events = [
            (packet.stream.index, packet.pts, packet.duration)
            for packet in container.demux()
            if packet.size and packet.stream.type == "subtitle"
        ]
    assert (1, 0, 933) in events and (2, 0, 933) in events  # "Hello" from 0, for what is left of its second


@pytest.mark.parametrize("name", ["sample_with_chapters.mp4", "sample_with_chapters.mkv"])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_chapters_and_the_place_are_kept(stub, tmp_path: Path, name: str, suffix: str) -> None:
    model, vector = stub
    out = run_video_job(model, vector, REAL / name, tmp_path / f"out{suffix}", size=64).out
    with av.open(str(REAL / name)) as given, av.open(str(out)) as made:

        def titled(container) -> list[tuple[int, str]]:  # start in milliseconds, title
            return [(round(1000 * c["start"] * c["time_base"]), c["metadata"]["title"]) for c in container.chapters()]

        assert titled(made) == titled(given) and titled(made)
        place = {k.lower(): v for k, v in given.metadata.items()}.get("location")
        assert place is None or {k.lower(): v for k, v in made.metadata.items()}.get("location") == place


def test_hidden_vp9_frames_are_not_called_damage(stub, tmp_path: Path, caplog) -> None:
    model, vector = stub
    with caplog.at_level(logging.WARNING):
        out = run_video_job(model, vector, REAL / "roadtrip-vp92-10bit.webm", tmp_path / "out.mp4", size=64).out
    with av.open(str(REAL / "roadtrip-vp92-10bit.webm")) as given, av.open(str(out)) as made:
        assert len(list(made.decode(video=0))) == len(list(given.decode(video=0))) == 72
    assert "damaged" not in caplog.text


def test_captions_inside_the_video_are_named_when_they_cannot_be_kept(stub, tmp_path: Path, caplog) -> None:
    model, vector = stub
    with caplog.at_level(logging.WARNING):
        run_video_job(model, vector, REAL / "sd-hls0000000000.ts", tmp_path / "out.mp4", size=64)
    assert "closed captions (CEA-608/708" in caplog.text
