"""`live-style video IN... -o OUT`: every frame of one or many files, in order, audio kept, resumable.

The work is `pipeline.video_jobs`: here the inputs and outputs are checked, the renderer (this
process, or Ray actors with `--ray`) is picked, and what happened is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import av

from live_style.commands.options import (
    add_command,
    add_model_options,
    add_person_options,
    add_stabilize_option,
    add_style_options,
    positive_float,
    positive_int,
)
from live_style.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, UserError
from live_style.media.animated import ANIMATABLE_SUFFIXES, is_animation, open_video
from live_style.media.formats import CONTAINER_FORMATS, VIDEO_SUFFIXES, check_output_suffix, container_accepts
from live_style.pipeline.threads import stop_signals_call

if TYPE_CHECKING:
    from live_style.pipeline.job_folder import JobFolder
    from live_style.pipeline.video_jobs import JobOptions, VideoPlan

EXAMPLES = (
    "live-style video holiday.mp4 -o holiday-wave.mp4 --style wave",
    "live-style video talk.mp4 -o talk-ink.mkv --style ink --preserve-colors --size 512",
)
DEFAULT_SUFFIX = ".mp4"  # a folder's inputs in containers not written here come out as MP4
SEGMENT_SECONDS = 20.0  # long enough to amortize the warm-up, short enough to lose little to a crash


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`video`: every frame of a file, audio kept."""
    video = add_command(
        commands, "video", "stylize every frame of video files, keeping their audio; resumable", EXAMPLES
    )
    video.add_argument("inputs", nargs="+", metavar="IN", help="video file(s), or a folder of them")
    video.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output video (.mp4, .mkv, .mov, ...), or a folder"
    )
    video.add_argument("--batch", type=positive_int, default=4, metavar="B", help="frames per model call (default 4)")
    video.add_argument(
        "--output-size",
        choices=("input", "processing"),
        default="input",
        help="write at the input's size (default) or at the processing size",
    )
    video.add_argument("--no-audio", action="store_true", help="leave the audio out")
    video.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    video.add_argument(
        "--segment-seconds",
        type=positive_float,
        default=SEGMENT_SECONDS,
        metavar="S",
        help=f"cut inputs at keyframes into segments of about S seconds, the unit of resuming and of --ray "
        f"(default {SEGMENT_SECONDS:g})",
    )
    video.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="render segments on a Ray cluster (ADDRESS, else $RAY_ADDRESS, else a local Ray); needs .[ray]",
    )
    video.add_argument(
        "--ray-workers",
        type=positive_int,
        metavar="N",
        help="model-holding Ray workers (default: as many as the nodes hold: one per GPU, else one per 4 of a "
        "node's CPUs, at least one per node with CPUs)",
    )
    video.add_argument(
        "--ray-cpus-per-worker",
        type=positive_int,
        metavar="N",
        help="CPUs each Ray worker asks of its node (default: a node's CPUs shared out, 4 each at most)",
    )
    video.add_argument(
        "--ray-worker-memory",
        type=positive_float,
        metavar="GB",
        help="memory Ray reserves for each worker on its node (default: none reserved; see docs/video-jobs.md)",
    )
    add_stabilize_option(video, "past and future frames")
    add_person_options(video, "the mask steadied with past and future frames")
    add_style_options(video, "processing short side in pixels (default: 384 on CPU, 512 on GPU)")
    add_model_options(video)
    video.set_defaults(run=run)


def check_output(out: Path, source: Path, overwrite: bool) -> None:
    """Refuse inputs that are not there and outputs that cannot or should not be written, before any work."""
    if not source.is_file():
        raise UserError(f"input {source} does not exist; check the path")
    open_video(source).close()  # a file that is no video, or cannot be read, is said before the model loads
    check_output_suffix(out, "-o")
    if not out.parent.is_dir():
        raise UserError(f"-o {out}: the folder {out.parent} does not exist; create it first")
    if out.exists() and out.resolve() == source.resolve():
        raise UserError(f"-o {out} is the input itself; give another name")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists; add --overwrite to replace it")


def is_video_file(path: Path) -> bool:
    """A file a folder is searched for: a video by its extension, or an animated image (WebP, AVIF, APNG)."""
    suffix = path.suffix.lower()
    return suffix in VIDEO_SUFFIXES or (suffix in ANIMATABLE_SUFFIXES and is_animation(path))


def expand_inputs(names: list[str]) -> list[Path]:
    """The files named, with a folder standing for the video files in it (the others are named as skipped)."""
    inputs: list[Path] = []
    for name in map(Path, names):
        if not name.is_dir():
            inputs.append(name)
            continue
        entries = sorted(p for p in name.iterdir() if not p.name.startswith("."))
        found = [p for p in entries if p.is_file() and is_video_file(p)]
        if not found:
            raise UserError(f"{name} holds no video file (.mp4, .mov, .mkv, .ts, ...); give files or a folder")
        skipped = [
            f"{p.name}/ (a folder: give it on its own)" if p.is_dir() else p.name for p in entries if p not in found
        ]
        if skipped:
            print(f"{name}: skipped, not video files: {', '.join(skipped)}", file=sys.stderr)
        inputs.extend(found)
    return inputs


def output_pairs(inputs: list[Path], output: Path, from_folder: bool = False) -> list[tuple[Path, Path]]:
    """(input, output) for each input: OUT itself for one file, OUTDIR/NAME for several, a folder of inputs
    (even of one) or a folder OUT (created when missing)."""
    if len(inputs) == 1 and not output.is_dir() and not from_folder:
        return [(inputs[0], output)]
    if output.suffix.lower() in CONTAINER_FORMATS and not output.is_dir():
        raise UserError(
            f"-o {output}: several inputs, or a folder of them, need an output folder; give one (it is created)"
        )
    output.mkdir(parents=True, exist_ok=True)
    short = [output_name(source) for source in inputs]
    names = [
        name if short.count(name) == 1 else unique_name(source) for source, name in zip(inputs, short, strict=True)
    ]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise UserError(f"two inputs would both be written to {output / twice}; stylize them into separate -o folders")
    return [(source, output / name) for source, name in zip(inputs, names, strict=True)]


def output_name(source: Path) -> str:
    """The input's own name, in MP4 when its container is not one written here (clip.ts -> clip.mp4)."""
    return source.name if source.suffix.lower() in CONTAINER_FORMATS else f"{source.stem}{DEFAULT_SUFFIX}"


def unique_name(source: Path) -> str:
    """The name when another input would take the short one: the whole input name kept (clip.ts -> clip.ts.mp4)."""
    return source.name if source.suffix.lower() in CONTAINER_FORMATS else f"{source.name}{DEFAULT_SUFFIX}"


def job_options(args: argparse.Namespace) -> JobOptions:
    """The video job's options; the segmenter is read now when a person option asks for it."""
    from live_style.commands.common import person_mode
    from live_style.model.segmenter import locate_segmenter
    from live_style.pipeline.video_jobs import JobOptions
    from live_style.temporal.masks import PersonLook

    look = PersonLook.of(*person_mode(args))
    return JobOptions(
        args.size,
        args.output_size,
        args.batch,
        args.preserve_colors,
        args.stabilize,
        args.strength,
        not args.no_audio,
        args.segment_seconds,
        look,
        locate_segmenter(args.segmenter) if look is not None else None,
    )


def describe(plan: VideoPlan) -> str:
    """One line on what will be made of an input."""
    (height, width), (out_w, out_h) = plan.settings.processing, plan.settings.output
    audio = "no audio"
    if plan.with_audio:
        with av.open(str(plan.source)) as container:
            tracks = container.streams.audio
            copied = sum(container_accepts(plan.out.suffix.lower(), track) for track in tracks)
        audio = f"{len(tracks)} audio tracks ({copied} copied)" if len(tracks) > 1 else "no audio"
        if len(tracks) == 1:
            audio = "audio copied" if copied else "audio re-encoded"
    return (
        f"{plan.source} -> {plan.out}: {out_w}x{out_h}, processing {width}x{height}, {plan.frames} frames at "
        f"{float(plan.settings.rate):.3g} fps in {len(plan.segments)} segment(s), {audio}"
    )


def run(args: argparse.Namespace) -> int:
    """Check everything, open the model, plan every input, render and join; report per input."""
    from live_style.commands.common import each_or_report, open_model, styles_vector
    from live_style.pipeline.job_folder import JobFolder, finished_key
    from live_style.pipeline.video_jobs import plan_video
    from live_style.styles import style_files

    single = len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir() and not Path(args.output).is_dir()
    from_folder = any(Path(name).is_dir() for name in args.inputs)
    pairs = output_pairs(expand_inputs(args.inputs), Path(args.output), from_folder)
    style_files(args.style)
    ray = ray_options(args) if args.ray is not None else None  # before any work: a silent cluster is said at once
    options = job_options(args)
    folders: dict[Path, JobFolder] = {}
    finished: dict[Path, str] = {}  # outputs already there, by the key of the job that wrote them

    def lock_output(pair: tuple[Path, Path]) -> tuple[Path, Path]:
        source, out = pair
        key = finished_key(out) if out.exists() and not args.overwrite else None
        if key:
            finished[out] = key
        check_output(out, source, args.overwrite or key is not None)
        folders[out] = JobFolder(out)  # a second run on the same OUT stops here
        return pair

    def plan(pair: tuple[Path, Path]) -> VideoPlan | None:
        """The input's plan, or None when this very job already wrote its output (a resumed run)."""
        made = plan_video(model, vector, *pair, options)
        if made.out not in finished:
            return made
        if finished[made.out] != made.key:
            raise UserError(f"{made.out} already exists; add --overwrite to replace it")
        print(f"{made.out}: already written by this job (same input, model, style and options)", file=sys.stderr)
        return None

    try:
        checked, refused = each_or_report(pairs, lock_output, single)
        model = open_model(args)
        vector = styles_vector(model, args)
        if ray is None:  # Ray workers make their own
            model.prepare(vector)
        plans, unplanned = each_or_report(checked, plan, single)
        plans = [made for made in plans if made is not None]
        for plan in plans:
            print(describe(plan), file=sys.stderr, flush=True)
        return run_plans(args, model, ray, plans, folders, single, refused + unplanned)
    finally:
        for folder in folders.values():
            folder.release()


def ray_options(args: argparse.Namespace):
    """--ray's settings, the cluster address checked to answer (a missing Ray is one line)."""
    from live_style.commands.common import model_options
    from live_style.pipeline.ray_cluster import RayOptions, cluster_address, import_ray

    address = cluster_address(args.ray)
    import_ray(address)
    model = model_options(args)
    return RayOptions(address, args.ray_workers, args.ray_cpus_per_worker, args.ray_worker_memory, model)


def run_plans(
    args: argparse.Namespace, model, ray, plans: list[VideoPlan], folders: dict, single: bool, failures: int
) -> int:
    """Render with the renderer asked for (`ray`: RayOptions, or None for this process); Ctrl+C and SIGTERM
    leave every job resumable."""
    from live_style.commands.common import outcome
    from live_style.pipeline.video_jobs import LocalRenderer, VideoRun

    with contextlib.ExitStack() as stack:
        if ray is not None:
            from live_style.pipeline.ray_renderer import RayRenderer

            same_precision = {**ray.model, "precision": model.candidate}  # this machine's measured one, everywhere
            renderer = stack.enter_context(RayRenderer(dataclasses.replace(ray, model=same_precision)))
        else:
            renderer = LocalRenderer(model)
        video_run = VideoRun(plans, folders, renderer, args.quiet)
        try:
            with stop_signals_call(raise_interrupt):
                video_run.run()
        except KeyboardInterrupt:
            print("\ninterrupted: " + "; ".join(video_run.interrupted_summary()), file=sys.stderr)
            return EXIT_INTERRUPTED
    if single and video_run.failed:
        return EXIT_BAD_INPUT
    return outcome(len(video_run.finished), failures + len(video_run.failed), single, "videos")


def raise_interrupt(_signum: int, _frame) -> None:
    """SIGINT and SIGTERM stop a video job as Ctrl+C does."""
    raise KeyboardInterrupt
