"""Files made the way phones, camcorders, DVDs, broadcasts and the web make them (by FFmpeg's own tools, as
`.ci/run` installs them with imageio-ffmpeg), and damaged ones, built from one plain clip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
from media import write_av_clip

FPS = 25
FRAMES = 50  # 2 s: two keyframes a second, so the files can be cut into segments
SIZE = (176, 144)


def ffmpeg(*args: str | Path) -> None:
    """FFmpeg's command line, quiet unless it fails."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *map(str, args)]
    subprocess.run(command, check=True, capture_output=True)


def plain_clip(folder: Path) -> Path:
    """The source of every other file: H.264 + AAC in MP4, 2 s at 25 fps, a keyframe every half second."""
    return write_av_clip(folder / "plain.mp4", frames=FRAMES, fps=FPS, size=SIZE, keyframe_every=FPS // 2)


def containers(folder: Path, plain: Path) -> dict[str, Path]:
    """The same clip as a broadcast, a camcorder, a DVD, a Flash-era web page and an old phone carry it."""
    made = {
        "mpeg-ts": (["-c", "copy"], "clip.ts"),
        "m2ts (AC-3)": (["-c:v", "copy", "-c:a", "ac3", "-mpegts_m2ts_mode", "1"], "clip.m2ts"),
        "mpeg-ps (MPEG-2)": (["-c:v", "mpeg2video", "-g", "12", "-c:a", "mp2", "-f", "vob"], "clip.mpg"),
        "flv": (["-c", "copy"], "clip.flv"),
        "3gp": (["-c:v", "copy", "-c:a", "aac", "-ar", "16000"], "clip.3gp"),
    }
    for args, name in made.values():
        ffmpeg("-i", plain, *args, folder / name)
    return {kind: folder / name for kind, (_, name) in made.items()}


def cut_at(source: Path, target: Path, share: float = 0.5) -> Path:
    """The first `share` of a file's bytes: a download or a copy that stopped."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * share)])
    return target


def damaged_in_the_middle(source: Path, target: Path) -> Path:
    """A file whose bytes in one stretch of the middle are noise (a bad sector, a broken transfer)."""
    data = bytearray(source.read_bytes())
    start = len(data) // 2
    for offset in range(start, start + len(data) // 30):
        data[offset] = (offset * 131 + 7) % 256
    target.write_bytes(bytes(data))
    return target


def faststart(source: Path, target: Path) -> Path:
    """The MP4 with its index ('moov') first, as a web server delivers it."""
    ffmpeg("-i", source, "-c", "copy", "-movflags", "+faststart", target)
    return target


def anamorphic(source: Path, target: Path) -> Path:
    """PAL 16:9 the DVD way: pixels 64:45 wide."""
    ffmpeg("-i", source, "-vf", "setsar=64/45", "-c:v", "libx264", "-c:a", "copy", target)
    return target


def hevc_10_bit_rotated(source: Path, target: Path) -> Path:
    """A phone's HDR-era video: HEVC, 10 bits, stored sideways with a display rotation."""
    sideways = target.with_name("sideways.mov")
    ffmpeg("-i", source, "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-c:a", "copy", sideways)
    ffmpeg("-display_rotation", "90", "-i", sideways, "-c", "copy", target)
    return target


def full_range(source: Path, target: Path) -> Path:
    """Full-range (0-255, 'pc') H.264, as many phones and screen recorders write it."""
    ffmpeg("-i", source, "-c:v", "libx264", "-pix_fmt", "yuvj420p", "-color_range", "pc", "-c:a", "copy", target)
    return target


def two_audio_tracks_and_subtitles(source: Path, folder: Path) -> Path:
    """An MKV with a second (microphone) audio track and a subtitle track."""
    subtitles = folder / "captions.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:01,500\nhello\n")
    target = folder / "tracks.mkv"
    ffmpeg(
        "-i", source, "-i", source, "-i", subtitles,
        "-map", "0:v", "-map", "0:a", "-map", "1:a", "-map", "2:s",
        "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "libopus", "-c:s", "srt", target,
    )  # fmt: skip
    return target


def odd_ones(folder: Path, plain: Path) -> dict[str, Path]:
    """Files whose headers or streams mislead: a raw H.264 stream (no timestamps), WMV with WMA audio (channels
    with no order), an MKV whose timestamps start at 10 s, an MP4 whose audio runs 2 s past its video."""
    ffmpeg("-i", plain, "-c:v", "copy", "-an", "-bsf:v", "h264_mp4toannexb", folder / "raw.h264")
    ffmpeg("-i", plain, "-c:v", "wmv2", "-c:a", "wmav2", folder / "old.wmv")
    ffmpeg("-i", plain, "-c", "copy", "-output_ts_offset", "10", folder / "late.mkv")
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=4"]
    ffmpeg("-i", plain, *tone, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", folder / "long-audio.mp4")
    return {name: folder / name for name in ("raw.h264", "old.wmv", "late.mkv", "long-audio.mp4")}


def lost_in_the_middle(source: Path, target: Path) -> Path:
    """An MKV whose clusters in one stretch of the middle are gone (a broken copy): its demuxer skips them."""
    data = source.read_bytes()
    start = len(data) * 2 // 5
    target.write_bytes(data[:start] + bytes(len(data) // 5) + data[start + len(data) // 5 :])
    return target
