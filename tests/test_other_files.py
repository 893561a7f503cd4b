"""Other people's files: every common container, damaged and cut files, odd geometry, several tracks, folders,
stills from phones, and live recordings of a file (its timing and its audio). Each is stylized for real (the
TF Lite model, in this process) and the output read back with PyAV."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import psnr, run_cli_here
from media import av_facts, scene, write_av_clip
from other_files import (
    FPS,
    FRAMES,
    SIZE,
    anamorphic,
    containers,
    cut_at,
    damaged_in_the_middle,
    faststart,
    ffmpeg,
    full_range,
    hevc_10_bit_rotated,
    lost_in_the_middle,
    odd_ones,
    plain_clip,
    two_audio_tracks_and_subtitles,
)

from live_style.media.decode import VideoFile
from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

ROOT = Path(__file__).resolve().parents[1]
WAVE = BUILTIN_STYLES / "wave.jpg"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of file, made once for the module."""
    folder = tmp_path_factory.mktemp("files")
    plain = plain_clip(folder)
    files = {"plain": plain, **containers(folder, plain)}
    ffmpeg("-i", plain, "-c", "copy", folder / "whole.mkv")
    files["cut mkv"] = cut_at(folder / "whole.mkv", folder / "cut.mkv")
    files["cut mp4"] = cut_at(faststart(plain, folder / "fast.mp4"), folder / "cut.mp4")
    files["damaged"] = damaged_in_the_middle(plain, folder / "damaged.mp4")
    files["anamorphic"] = anamorphic(plain, folder / "pal.mp4")
    files["hevc"] = hevc_10_bit_rotated(plain, folder / "phone.mov")
    files["full range"] = full_range(plain, folder / "screen.mp4")
    files["tracks"] = two_audio_tracks_and_subtitles(plain, folder)
    files["lost middle"] = lost_in_the_middle(folder / "whole.mkv", folder / "lost.mkv")
    files["cut at 80%"] = cut_at(folder / "whole.mkv", folder / "cut80.mkv", 0.8)
    return {**files, **odd_ones(folder, plain)}


def stylize(source: Path, out: Path, *extra: str | Path) -> tuple[int, str]:
    """`live-style video SOURCE -o OUT` in this process: (exit code, what it printed)."""
    args = ("video", source, "-o", out, "--style", WAVE, "--size", "64", "--quiet", "--segment-seconds", "0.5")
    result = run_cli_here(*args, *extra, cache=out.parent / "cache")
    return result.returncode, result.stderr


def relative(times: list[float]) -> list[float]:
    return [round(t - times[0], 4) for t in times]


# (FLV and 3GP go through the folder test)
@pytest.mark.parametrize("kind", ["mpeg-ts", "m2ts (AC-3)", "mpeg-ps (MPEG-2)", "own mkv"])
def test_every_common_container_is_stylized_with_its_timing_and_audio(
    made: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    source = made.get(kind)
    if kind == "own mkv":  # what live-style wrote, given back to it: a header with no frame count
        source = tmp_path / "own.mkv"
        assert stylize(made["plain"], source)[0] == 0
    out = tmp_path / "out.mp4"
    code, said = stylize(source, out)
    assert code == 0, said
    assert "warning" not in said and "Traceback" not in said
    assert f"{FRAMES} frames at {FPS} fps" in said
    before, after = av_facts(source), av_facts(out)
    assert after["frames"] == before["frames"] == FRAMES
    assert after["times"][0] == 0 and relative(after["times"]) == relative(before["times"])
    assert psnr(after["first"], cv2.resize(scene(0, *SIZE), after["size"])) < 22  # repainted
    assert after["audio"] is not None and abs(after["audio_seconds"] - before["audio_seconds"]) < 0.15


@pytest.mark.parametrize("kind", ["cut mkv", "cut mp4", "cut at 80%"])
def test_a_file_cut_short_is_finished_with_the_frames_there_are(made: dict[str, Path], kind: str, tmp_path: Path):
    out = tmp_path / "out.mkv"
    code, said = stylize(made[kind], out)
    assert code == 0, said
    decodable = VideoFile(made[kind]).index_frames().pts
    assert 0 < len(decodable) < FRAMES
    assert av_facts(out)["frames"] == len(decodable)
    warnings = [line for line in said.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and "cut short" in warnings[0], said


def test_a_damaged_stretch_is_left_out_and_named_and_the_rest_is_stylized(made: dict[str, Path], tmp_path: Path):
    out = tmp_path / "out.mp4"
    code, said = stylize(made["damaged"], out)
    assert code == 0, said
    written = av_facts(out)
    assert FRAMES * 0.8 < written["frames"] < FRAMES
    warning = next(line for line in said.splitlines() if "is damaged from" in line)
    first, last = (float(word) for word in warning.split("from ")[1].split(" s:")[0].split(" s to "))
    missing = sorted(set(av_facts(made["plain"])["times"]) - set(written["times"]))
    assert missing and (first, last) == (missing[0], missing[-1])
    assert f"{len(missing)} frame(s)" in warning


def test_an_mp4_cut_before_its_index_was_written_is_refused_saying_why(made: dict[str, Path], tmp_path: Path):
    cut = cut_at(made["plain"], tmp_path / "recording.mp4")  # the index ('moov') comes last in this one
    code, said = stylize(cut, tmp_path / "out.mp4")
    assert code == 2 and said.count("\n") == 1
    assert "has no index" in said and "moov" in said


def test_anamorphic_video_comes_out_with_square_pixels(made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    code, said = stylize(made["anamorphic"], out)
    assert code == 0, said
    width, height = av_facts(out)["size"]
    assert (width, height) == (round(SIZE[0] * 64 / 45) // 2 * 2, SIZE[1])  # 16:9 as the player showed it


def test_a_rotated_10_bit_hevc_phone_video_comes_out_upright(made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    code, said = stylize(made["hevc"], out)
    assert code == 0, said
    facts = av_facts(out)
    assert facts["size"] == SIZE[::-1] and facts["rotation"] == 0 and facts["frames"] == FRAMES


@pytest.mark.parametrize("kind", ["full range", "hevc"])
def test_full_range_and_10_bit_pixels_decode_to_the_right_colours(made: dict[str, Path], kind: str) -> None:
    video = VideoFile(made[kind])
    first = next(video.frames()).image
    video.close()
    expected = scene(0, *SIZE)
    if kind == "hevc":
        expected = np.ascontiguousarray(np.rot90(expected))
    assert psnr(first, expected) > 30


def test_every_audio_track_is_kept_and_subtitles_where_the_container_takes_them(
    made: dict[str, Path], tmp_path: Path
) -> None:
    import av

    for out, subtitles in ((tmp_path / "out.mkv", 1), (tmp_path / "out.mp4", 0)):
        code, said = stylize(made["tracks"], out)
        assert code == 0, said
        with av.open(str(out)) as container:
            assert len(container.streams.audio) == 2 and len(container.streams.subtitles) == subtitles
        assert ("subtitle track 1" in said) == (subtitles == 0)


def test_a_folder_takes_every_video_file_and_names_what_it_skips(made: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for kind, name in (("mpeg-ts", "a.ts"), ("3gp", "b.3gp"), ("flv", "c.flv"), ("plain", "c.mp4")):
        (folder / name).write_bytes(made[kind].read_bytes())
    (folder / "notes.txt").write_text("not a video")
    code, said = stylize(folder, tmp_path / "styled")
    assert code == 0, said
    assert "skipped, not video files: notes.txt" in said
    written = sorted(p.name for p in (tmp_path / "styled").iterdir() if p.is_file())
    assert written == ["a.mp4", "b.mp4", "c.flv.mp4", "c.mp4"]
    assert all(av_facts(tmp_path / "styled" / name)["frames"] == FRAMES for name in written)


def test_avi_is_refused_up_front_and_nothing_is_left_behind(made: dict[str, Path], tmp_path: Path) -> None:
    code, said = stylize(made["plain"], tmp_path / "out.avi")
    assert code == 2 and said.count("\n") == 1 and "AVI keeps no timestamps" in said
    live = run_cli_here("--input", made["plain"], "--style", WAVE, "--no-window", "--record", tmp_path / "r.avi",
                        cache=tmp_path / "cache")  # fmt: skip
    assert live.returncode == 2 and "AVI keeps no timestamps" in live.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_an_animated_webp_is_stylized_frame_by_frame_with_its_timing(tmp_path: Path) -> None:
    from PIL import Image

    durations = [80] * 6 + [40] * 6
    frames = [Image.fromarray(scene(index, 96, 64)[..., ::-1]) for index in range(len(durations))]
    source = tmp_path / "sticker.webp"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    out = tmp_path / "out.mp4"
    code, said = stylize(source, out)
    assert code == 0, said
    facts = av_facts(out)
    assert facts["frames"] == len(durations)
    assert facts["times"] == pytest.approx(list(np.cumsum([0, *durations[:-1]]) / 1000), abs=1e-3)


def test_a_live_recording_of_a_file_keeps_its_frame_times_and_its_audio(tmp_path: Path) -> None:
    times = [index / 24 for index in range(24)] + [1 + index / 60 for index in range(60)]  # 24 then 60 fps
    source = write_av_clip(tmp_path / "talk.mp4", frames=len(times), fps=24, size=SIZE, frame_times=times)
    out = tmp_path / "rec.mp4"
    result = run_cli_here(
        "--input", source, "--style", WAVE, "--no-window", "--size", "64", "--as-fast-as-possible", "--record", out,
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recorded, before = av_facts(out), av_facts(source)
    assert recorded["times"] == pytest.approx(before["times"], abs=1e-3)  # frame 36 at 1.2 s, not at its mean rate
    assert recorded["audio"] == "aac" and abs(recorded["audio_seconds"] - before["audio_seconds"]) < 0.1
    assert "with the source's audio" in result.stderr


def test_phone_photos_in_heic_come_out_upright(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pillow_heif", reason="the [heic] extra (pip install pillow-heif)")
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    photo = scene(3, 120, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as a phone held upright writes it
    Image.fromarray(photo[..., ::-1]).save(tmp_path / "IMG_0001.heic", exif=exif.tobytes())
    (tmp_path / "photos").mkdir()
    (tmp_path / "IMG_0001.heic").rename(tmp_path / "photos" / "IMG_0001.heic")
    result = run_cli_here(
        "image", tmp_path / "photos" / "IMG_0001.heic", tmp_path / "photos" / "IMG_0001.heic", "-o", tmp_path / "out",
        "--style", WAVE, "--size", "64", cache=tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 2 and "same file name" in result.stderr  # two of the same: refused, nothing lost
    result = run_cli_here(
        "image", tmp_path / "photos" / "IMG_0001.heic", "-o", tmp_path / "out.jpg", "--style", WAVE, "--size", "64",
        "--strength", "0", cache=tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = cv2.imread(str(tmp_path / "out.jpg"))
    assert written.shape[:2] == (120, 80)  # upright: portrait, as the phone showed it
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # without the extra
    result = run_cli_here(
        "image", tmp_path / "photos" / "IMG_0001.heic", "-o", tmp_path / "again.jpg", "--style", WAVE,
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "[heic]" in result.stderr


@pytest.mark.parametrize("kind", ["raw.h264", "old.wmv", "late.mkv", "long-audio.mp4"])
def test_files_whose_headers_mislead_are_stylized_whole_without_a_false_warning(
    made: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    code, said = stylize(made[kind], out)
    assert code == 0, said
    assert "warning" not in said
    after = av_facts(out)
    assert after["frames"] == FRAMES and after["times"] == pytest.approx([n / FPS for n in range(FRAMES)], abs=1e-3)
    if kind != "raw.h264":  # (a raw stream has no timestamps to compare with: its rate gives them)
        before = av_facts(made[kind])
        assert relative(after["times"]) == pytest.approx(
            relative(before["times"]), abs=1e-3
        )  # WMA's unordered channels re-encoded as AAC; the longer audio kept whole
        assert after["audio"] is not None and abs(after["audio_seconds"] - before["audio_seconds"]) < 0.15


def test_a_stretch_the_container_lost_is_named(made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    code, said = stylize(made["lost middle"], out)
    assert code == 0, said
    written = av_facts(out)
    gap = max(later - earlier for earlier, later in zip(written["times"], written["times"][1:], strict=False))
    assert written["frames"] < FRAMES and gap > 2 / FPS
    said_so = next(line for line in said.splitlines() if "has no frames from" in line or "is damaged from" in line)
    assert said_so.startswith(("note:", "warning:")) and " s to " in said_so and "holds the frame before" in said_so


def test_inputs_that_would_share_an_output_name_each_get_their_own(made: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "card"
    (folder / "day2").mkdir(parents=True)
    for kind, name in (("mpeg-ts", "a.ts"), ("m2ts (AC-3)", "a.m2ts"), ("plain", "a.mp4"), ("plain", "day2/b.mp4")):
        (folder / name).write_bytes(made[kind].read_bytes())
    code, said = stylize(folder, tmp_path / "styled")
    assert code == 0, said
    assert sorted(p.name for p in (tmp_path / "styled").iterdir()) == ["a.m2ts.mp4", "a.mp4", "a.ts.mp4"]
    assert "day2/ (a folder: give it on its own)" in said
    twice = run_cli_here(
        "video", folder / "a.mp4", folder / "day2" / "b.mp4", tmp_path / "a.mp4", "-o", tmp_path / "two",
        "--style", WAVE, cache=tmp_path / "cache",
    )  # fmt: skip
    assert twice.returncode == 2 and "two inputs would both be written to" in twice.stderr


@pytest.fixture
def http_folder(made: dict[str, Path]):
    """The files, served over HTTP on 127.0.0.1 (an MPEG-TS over HTTP is how many live streams come)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(made["plain"].parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_live_recording_of_a_stream_keeps_its_audio_and_ends_with_it(
    made: dict[str, Path], http_folder: str, tmp_path: Path
) -> None:
    out = tmp_path / "rec.mp4"
    url = f"{http_folder}/{made['mpeg-ts'].name}"
    args = ("--input", url, "--style", WAVE, "--no-window", "--size", "64", "--record", out)
    result = run_cli_here(*args, cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr  # the sender ended the stream: the end of input, not a lost source
    assert "stopped: end of input" in result.stderr and "with the source's audio" in result.stderr
    recorded = av_facts(out)
    assert recorded["frames"] == FRAMES and recorded["times"][0] == 0
    assert recorded["audio"] == "aac" and abs(recorded["audio_seconds"] - FRAMES / FPS) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "rec.mp4"]  # the audio kept beside it is gone
