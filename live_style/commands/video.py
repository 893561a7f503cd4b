"""`live-style video IN -o OUT --style S`: stylize every frame of a file, in order, audio kept.

OUT is written under a partial name and renamed only when complete, so an interrupted run never
leaves a file that looks finished. The work itself is `pipeline.file_job.VideoJob`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import av
from tqdm import tqdm

from live_style.atomic import partial_path
from live_style.commands.common import open_model, styles_vector
from live_style.errors import EXIT_INTERRUPTED, UserError
from live_style.model.stylizer import Stylizer
from live_style.pipeline.file_job import VideoJob
from live_style.sinks.video_file import CONTAINER_FORMATS, VideoFileWriter, even
from live_style.sources.video_file import VideoFile
from live_style.styles import style_files


def check_output(out: Path, source: Path, overwrite: bool) -> None:
    """Refuse outputs that cannot or should not be written, before any work starts."""
    if out.suffix.lower() not in CONTAINER_FORMATS:
        raise UserError(f"-o {out}: the extension picks the container; use one of {', '.join(CONTAINER_FORMATS)}")
    if not out.parent.is_dir():
        raise UserError(f"-o {out}: the folder {out.parent} does not exist; create it first")
    if out.exists() and out.resolve() == source.resolve():
        raise UserError(f"-o {out} is the input itself; give another name")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists; add --overwrite to replace it")


def output_size(model: Stylizer, video: VideoFile, first: tuple[int, int], args: argparse.Namespace) -> tuple:
    """(processing (h, w), output (w, h)): output at the input's size or the processing size, even."""
    height, width = first
    processing = model.processing_shape(height, width, args.size)
    if args.output_size == "processing":
        return processing, (processing[1], processing[0])
    return processing, (even(width), even(height))


def stylize_video(args: argparse.Namespace) -> int:
    """Check everything, open the model, run the job, rename the result into place."""
    source, out = Path(args.input), Path(args.output)
    check_output(out, source, args.overwrite)
    style_files(args.style)
    video = VideoFile(source)
    try:
        return run_job(args, video, out)
    finally:
        video.close()


def first_frame_shape(video: VideoFile) -> tuple[int, int]:
    """(height, width) of the first frame, upright (the stream is rewound afterwards)."""
    for item in video.demux(with_audio=False):
        video.container.seek(0)
        return item.image.shape[:2]
    raise UserError(f"{video.path} has no decodable video frame; re-encode the file")


def run_job(args: argparse.Namespace, video: VideoFile, out: Path) -> int:
    """Stylize into the partial file; rename it to OUT only when every frame is in."""
    model = open_model(args)
    vector = styles_vector(model, args)
    processing, size = output_size(model, video, first_frame_shape(video), args)
    with_audio = not args.no_audio and video.audio is not None
    partial = partial_path(out)
    writer = VideoFileWriter(partial, size, video.rate, video.time_base, video.audio if with_audio else None)
    job = VideoJob(model, video, writer, processing, size, args.batch, args.preserve_colors, args.stabilize)
    audio = "no audio" if not with_audio else ("audio copied" if writer.audio_copied else "audio re-encoded")
    print(
        f"{video.path} -> {out}: {size[0]}x{size[1]}, processing {processing[1]}x{processing[0]}, "
        f"{video.frame_count} frames at {float(video.rate):.3g} fps, {audio}",
        file=sys.stderr,
        flush=True,
    )
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    progress = tqdm(total=video.frame_count or None, unit="frame", disable=args.quiet, file=sys.stderr)
    try:
        job.run(vector, args.strength, progress, with_audio)
    except av.FFmpegError as error:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"cannot stylize {video.path} into {out} ({error}); check the file and free disk space"
        ) from None
    except KeyboardInterrupt:
        writer.close()
        print(
            f"\ninterrupted after {job.frames_done} of {video.frame_count} frames: {out} was not written; "
            f"the part done is in {partial}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        progress.close()
        signal.signal(signal.SIGTERM, previous)
    writer.close()
    partial.replace(out)
    print(f"wrote {out} ({job.frames_done} frames)", file=sys.stderr)
    return 0


def raise_interrupt(_signum: int, _frame) -> None:
    """SIGTERM stops a video job the way Ctrl+C does."""
    raise KeyboardInterrupt
