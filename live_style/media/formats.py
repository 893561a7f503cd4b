"""Output containers and codecs: which extension means which container, what each can carry."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import av

from live_style.errors import UserError

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# what a folder given to `video` is searched for: the extensions of the video files FFmpeg reads
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".qt",
        ".mkv",
        ".webm",
        ".avi",
        ".ts",
        ".mts",
        ".m2ts",
        ".m2t",
        ".mpg",
        ".mpeg",
        ".m2v",
        ".vob",
        ".3gp",
        ".3g2",
        ".flv",
        ".f4v",
        ".wmv",
        ".asf",
        ".ogv",
        ".ogg",
        ".mxf",
        ".dv",
        ".y4m",
        ".gif",
        ".nut",
        ".rm",
        ".rmvb",
        ".divx",
        ".h264",
        ".264",
        ".hevc",
        ".265",
    }
)
# AVI counts time in frames at one fixed rate: a video's own timestamps (variable rate, a live recording's)
# cannot be kept in it, so it is refused up front rather than written wrong
REFUSED_OUTPUTS = {".avi": "AVI keeps no timestamps of its own (it counts frames at one fixed rate)"}
VIDEO_CODECS = {".webm": "libvpx-vp9"}  # everything else: H.264
AUDIO_FALLBACK = {".webm": "libopus"}  # for audio a container cannot carry as it is; else AAC
OPUS_RATE = 48000  # the one rate every Opus decoder takes
# no B-frames: segments then join end to end with rising decode times, however the frame rate varies.
# superfast at CRF 17 keeps veryfast's CRF 18 picture (SSIM 0.9764 against the frames encoded, both) in
# 0.60-0.67 of its time at 1080p, for 8% more bytes: bench/encoder.py, docs/performance.md
H264_OPTIONS = {"crf": "17", "preset": "superfast", "bf": "0"}
# a fixed count: left to itself an encoder counts the CPUs its thread may run on (OpenVINO pins threads
# to CPUs), and x264's slices, so its pixels, follow that count from one segment to the next
ENCODER_THREADS = {"threads": str(os.cpu_count() or 1)}


RECORD_SUFFIXES = tuple(suffix for suffix in CONTAINER_FORMATS if suffix not in VIDEO_CODECS)  # H.264 carriers


def check_output_suffix(path: Path, option: str, suffixes: tuple[str, ...] | dict = CONTAINER_FORMATS) -> None:
    """Refuse an output name whose extension is not a container written here, saying why for AVI."""
    suffix = path.suffix.lower()
    if suffix in suffixes:
        return
    choices = ", ".join(suffixes)
    if suffix in REFUSED_OUTPUTS:
        raise UserError(f"{option} {path}: {REFUSED_OUTPUTS[suffix]}; use one of {choices}")
    raise UserError(f"{option} {path}: the extension picks the container; use one of {choices}")


def container_accepts(suffix: str, audio: av.audio.stream.AudioStream) -> bool:
    """Whether a container of this kind can carry the audio stream copied as it is."""
    probe = av.open(io.BytesIO(), "w", format=CONTAINER_FORMATS[suffix])
    try:
        probe.add_stream_from_template(audio)
        probe.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False
    finally:
        with contextlib.suppress(av.FFmpegError):
            probe.close()


def even(value: int) -> int:
    """H.264 with 4:2:0 chroma needs even dimensions."""
    return max(2, value - value % 2)
