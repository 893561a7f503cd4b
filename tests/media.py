"""Clips written by tests (nothing is committed) and what a player reads back from them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from live_style.synthetic_media import scene, write_clip

__all__ = ["av_facts", "scene", "video_facts", "with_a_repeated_audio_packet", "write_av_clip", "write_clip"]


def video_facts(path: Path) -> dict:
    """Frame count (by decoding every frame), fps, size and the first frame of a video file."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} does not open"
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    height, width = frames[0].shape[:2] if frames else (0, 0)
    return {"frames": len(frames), "fps": fps, "size": (width, height), "first": frames[0] if frames else None}


def write_av_clip(
    path: Path,
    frames: int = 30,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    audio: str | None = "aac",
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    frame_times: list[float] | None = None,
    keyframe_every: int | None = None,
) -> Path:
    """A clip written with PyAV: the moving disc, and (unless audio=None) a 440 Hz tone as long as the video.

    `frame_times` (seconds) gives a variable frame rate; `codec`/`pix_fmt` make other kinds of file;
    `keyframe_every` N frames gives a video that can be cut into segments.
    """
    import av

    container = av.open(str(path), "w")
    video = container.add_stream(codec, rate=fps, options={"g": str(keyframe_every)} if keyframe_every else {})
    video.width, video.height, video.pix_fmt = *size, pix_fmt
    time_base = Fraction(1, 1000) if frame_times else Fraction(1, fps)
    video.codec_context.time_base = time_base
    tone = container.add_stream(audio, rate=44100) if audio else None
    if tone is not None:
        tone.layout = "mono"
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(scene(index, *size), format="bgr24")
        frame.pts = round(frame_times[index] * 1000) if frame_times else index
        frame.time_base = time_base
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    if tone is not None:
        seconds = frame_times[-1] + 1 / fps if frame_times else frames / fps
        samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(44100 * seconds)) / 44100)).astype(np.float32)
        encode_tone(container, tone, samples)
    container.close()
    return path


def encode_tone(container, stream, samples: np.ndarray, start: Fraction = Fraction(0)) -> None:
    """Encode mono float samples into an audio stream, in the encoder's own sample format, from `start` seconds."""
    import av

    resampler = av.AudioResampler(format=stream.format, layout="mono", rate=44100)
    first = round(start * 44100)
    for offset in range(0, len(samples), 1024):
        frame = av.AudioFrame.from_ndarray(samples[None, offset : offset + 1024], format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 44100, first + offset, Fraction(1, 44100)
        for resampled in resampler.resample(frame):
            container.mux(stream.encode(resampled))
    container.mux(stream.encode(None))


def av_facts(path: Path) -> dict:
    """What a player sees: frames (decoded), their times, fps, size, audio codec and duration."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = list(container.decode(video=0))
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_seconds = 0.0
        if audio is not None:
            container.seek(0)
            packets = [p for p in container.demux(audio) if p.dts is not None]
            audio_seconds = float((packets[-1].pts + packets[-1].duration) * audio.time_base) - float(
                packets[0].pts * audio.time_base
            )
        return {
            "frames": len(frames),
            "times": [float(f.pts * f.time_base) for f in frames],
            "fps": float(video.average_rate),
            "size": (frames[0].width, frames[0].height),
            "rotation": frames[0].rotation,
            "first": frames[0].to_ndarray(format="bgr24"),
            "audio": audio.codec_context.name if audio is not None else None,
            "audio_seconds": audio_seconds,
        }


def with_a_repeated_audio_packet(source: Path, target: Path, which: int = 10) -> Path:
    """The MPEG-TS `source` with its audio PES number `which` sent twice, as broadcast streams now and then do: its
    188-byte TS packets repeated, the continuity counters of that PID renumbered after it (so no demuxer drops it)."""
    import av

    data = source.read_bytes()
    packets = [bytearray(data[i : i + 188]) for i in range(0, len(data), 188)]
    with av.open(str(source)) as container:
        audio_pid = container.streams.audio[0].id

    def pid(packet: bytearray) -> int:
        return ((packet[1] & 0x1F) << 8) | packet[2]

    starts = [i for i, packet in enumerate(packets) if pid(packet) == audio_pid and packet[1] & 0x40]
    first, stop = starts[which], starts[which + 1]
    packets[stop:stop] = [bytearray(packet) for packet in packets[first:stop] if pid(packet) == audio_pid]
    counter = 0
    for packet in packets:
        if pid(packet) == audio_pid and packet[3] & 0x10:  # a packet with payload counts
            packet[3] = (packet[3] & 0xF0) | counter
            counter = (counter + 1) % 16
    target.write_bytes(b"".join(packets))
    return target
