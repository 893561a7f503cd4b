"""Video jobs: each input cut into segments, the segments rendered (here or on Ray), joined into OUT.

Every finished segment is kept in the job folder beside OUT, so a run that dies (Ctrl+C, SIGTERM,
SIGKILL, a lost node) is resumed by running the same command again. The join copies the encoded
segments end to end and the source's audio over the whole; OUT appears only when complete.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
from tqdm import tqdm

from live_style import __version__
from live_style.errors import UserError
from live_style.media.animated import open_video
from live_style.media.decode import FrameIndex, VideoFile, holes
from live_style.media.formats import CONTAINER_FORMATS, VIDEO_CODECS, even
from live_style.media.remux import remux
from live_style.model.segmenter import SegmenterFile
from live_style.model.stylizer import Stylizer
from live_style.pipeline.file_job import RenderSettings, SegmentTask, render_segment
from live_style.pipeline.job_folder import JobFolder, job_path, record_finished
from live_style.pipeline.segments import Segment, plan_segments
from live_style.pipeline.stats import StageTimes
from live_style.styles import with_strength
from live_style.temporal.masks import PersonLook

log = logging.getLogger(__name__)
CAPTIONS_NOTE = (
    "its closed captions (CEA-608/708, carried inside the video) do not survive re-encoding the picture and are "
    "left out; keep the original for them"
)
MERGED_GAP_S = 1.0  # damaged stretches closer than this are named as one
SAME_TIME_S = 1e-3  # an output frame within this of an input frame's time is that frame


@dataclass(frozen=True)
class JobOptions:
    """What the user chose for every input of a `live-style video` run."""

    size: int | None
    output_size: str
    batch: int
    preserve_colors: bool
    stabilize: bool
    strength: float
    audio: bool
    segment_seconds: float
    person: PersonLook | None = None
    segmenter: SegmenterFile | None = None


@dataclass
class VideoPlan:
    """One input: its segments, how they are rendered, and where the result goes."""

    source: Path
    out: Path
    index: FrameIndex
    segments: list[Segment]
    settings: RenderSettings
    key: str
    with_audio: bool
    tagged: bool  # FFmpeg reads the file: its chapters and tags go to the output (not an animated WebP's)
    notes: list[str]  # what the output cannot keep of the input, said when it is written
    written: dict[int, int] = field(default_factory=dict)  # segment number -> frames it holds

    @property
    def frames(self) -> int:
        return len(self.index.pts)

    def task(self, segment: Segment) -> SegmentTask:
        index = self.index.stretch(segment.warm_first, segment.warm_stop, segment.first)
        # an absolute path: a Ray worker on another node has another working directory
        return SegmentTask(self.source.resolve(), segment, index, self.settings, segment_suffix(self.out))


def segment_suffix(out: Path) -> str:
    """Segments are stored in a container that carries OUT's codec and the source's exact timestamps."""
    return ".webm" if out.suffix.lower() in VIDEO_CODECS else ".mp4"


def plan_video(model: Stylizer, vector, source: Path, out: Path, options: JobOptions) -> VideoPlan:
    """Read the input's frame times, cut it into segments, and fix how every frame is rendered."""
    video = open_video(source)
    try:
        index = video.index_frames()
        first = next(video.frames_at(index.pts[:1], 0), None) if index.pts else None
        if first is None:
            raise UserError(f"{source} has no decodable video frame; re-encode the file")
        height, width = first.image.shape[:2]
        processing = model.processing_shape(height, width, options.size)
        output = (processing[1], processing[0]) if options.output_size == "processing" else (even(width), even(height))
        settings = RenderSettings(
            processing,
            output,
            with_strength(model, vector, first.image, options.strength),  # the content's own style: first frame
            options.batch,
            options.preserve_colors,
            options.stabilize,
            video.rate,
            video.time_base,
            options.person,
            options.segmenter,
        )
        segments = plan_segments(index, float(video.rate), options.segment_seconds)
        with_audio = options.audio and video.side_tracks
        key = job_key(source, out, model, settings, options.segment_seconds)
        notes = [CAPTIONS_NOTE] if video.captions else []
        return VideoPlan(source, out, index, segments, settings, key, with_audio, isinstance(video, VideoFile), notes)
    finally:
        video.close()


def job_key(source: Path, out: Path, model: Stylizer, settings: RenderSettings, segment_seconds: float) -> str:
    """A digest of everything that shapes the segments: the input file, the model, the vector, the options."""
    stat = source.stat()
    facts = {
        "input": [str(source.resolve()), stat.st_size, stat.st_mtime_ns],
        "model": [model.identity, model.description],
        "settings": {k: str(v) for k, v in asdict(settings).items() if k not in ("vector", "segmenter")},
        "vector": hashlib.sha256(settings.vector.tobytes()).hexdigest(),
        "segmenter": settings.segmenter and hashlib.sha256(settings.segmenter.content).hexdigest(),
        "segments": [segment_seconds, segment_suffix(out)],
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def missing_stretches(plan: VideoPlan, written: list[float]) -> list[tuple[float, float, int]]:
    """(first, last, frames) of each stretch of the input's frames missing from the output (they did not decode);
    gaps under a second between them are one stretch. A cut file's missing tail is not one."""
    wanted = [float(plan.index.time_of(pts)) for pts in plan.index.pts]
    found = set()
    for seconds in written:  # the output keeps every frame's time, to its time base's rounding
        after = bisect.bisect_left(wanted, seconds)
        nearest = min((i for i in (after - 1, after) if 0 <= i < len(wanted)), key=lambda i: abs(wanted[i] - seconds))
        if abs(wanted[nearest] - seconds) <= SAME_TIME_S:
            found.add(nearest)
    stretches: list[tuple[float, float, int]] = []
    last = max(found, default=-1)
    cut = plan.index.cut_at is not None  # frames after the last one written are the cut's, said apart
    for seconds in (wanted[i] for i in range(len(wanted)) if i not in found and not (cut and i > last)):
        if stretches and seconds - stretches[-1][1] < MERGED_GAP_S:
            stretches[-1] = (stretches[-1][0], seconds, stretches[-1][2] + 1)
        else:
            stretches.append((seconds, seconds, 1))
    return stretches


def damaged_stretches(plan: VideoPlan, stretches: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """The missing stretches where the input is damaged (a packet fails to decode), not those whose packets decode
    to no picture of their own (hidden frames, second fields): those were never frames."""
    if not stretches:
        return []
    video = open_video(plan.source)
    try:
        return [(a, b, n) for a, b, n in stretches if video.damaged_between(Fraction(a), Fraction(b))]
    finally:
        video.close()


class Renderer(Protocol):
    """Renders segment tasks somewhere; yields each task with its frame count, or the error it failed with."""

    def run(
        self, tasks: list[SegmentTask], destination: Callable[[SegmentTask], Path], progress: Callable[[int], None]
    ) -> Iterator[tuple[SegmentTask, int | Exception]]: ...


class LocalRenderer:
    """In this process, one segment after another, with the model already open."""

    def __init__(self, model: Stylizer):
        self.model = model
        self.times = StageTimes()

    def run(self, tasks, destination, progress):
        for task in tasks:
            try:
                job = render_segment(self.model, task, destination(task), progress, self.times)
            except (UserError, av.FFmpegError) as error:
                yield task, error
                continue
            yield task, job.frames_done


class VideoRun:
    """Several inputs through one renderer: resume what is done, render the rest, join each as it completes."""

    def __init__(self, plans: list[VideoPlan], folders: dict[Path, JobFolder], renderer: Renderer, quiet: bool):
        self.plans, self.folders, self.renderer, self.quiet = plans, folders, renderer, quiet
        self.failed: dict[Path, str] = {}
        self.finished: list[Path] = []
        self._owner: dict[int, VideoPlan] = {}  # id(task) -> its input's plan

    def run(self) -> None:
        """Everything to the end; failures are collected per input, an interrupt leaves the folders to resume."""
        pending = [task for plan in self.plans for task in self._resume(plan)]
        total = sum(plan.frames for plan in self.plans)
        reused = sum(sum(plan.written.values()) for plan in self.plans)
        # leave=False: the bar goes when done, the "wrote" lines stay (not a last redraw below them); no bar
        # where stderr is no terminal (disable=None): a log file would get every redraw and its carriage returns
        hidden = True if self.quiet else None  # tqdm: True hides it, None hides it off a terminal
        progress = tqdm(total=total, initial=reused, unit="frame", disable=hidden, file=sys.stderr, leave=False)
        try:
            for plan in self.plans:
                if len(plan.written) == len(plan.segments):
                    self._join(plan)
            for task, outcome in self.renderer.run(pending, self._destination, progress.update):
                self._settle(self._owner[id(task)], task.segment, outcome, progress)
        finally:
            progress.close()

    def _destination(self, task: SegmentTask) -> Path:
        return self.folders[self._owner[id(task)].out].partial_file(task.segment)

    def _resume(self, plan: VideoPlan) -> list[SegmentTask]:
        """Keep the verified segments of the job folder, say what is reused, and list the rest."""
        folder = self.folders[plan.out]
        folder.load(plan.key, segment_suffix(plan.out))
        for segment in plan.segments:
            if folder.is_done(segment):
                plan.written[segment.number] = folder.manifest["segments"][str(segment.number)]["frames"]
        if plan.written:
            log.info(
                f"{plan.out}: resuming: {len(plan.written)} of {len(plan.segments)} segments already done "
                f"(verified), computing {len(plan.segments) - len(plan.written)}"
            )
        tasks = [plan.task(segment) for segment in plan.segments if segment.number not in plan.written]
        self._owner.update({id(task): plan for task in tasks})
        return tasks

    def _settle(self, plan: VideoPlan, segment: Segment, outcome: int | Exception, progress: tqdm) -> None:
        """Commit a rendered segment, or fail its input; join the input once all its segments are in."""
        if plan.out in self.failed:
            return
        if isinstance(outcome, Exception):
            self._fail(plan, f"cannot stylize {plan.source} ({outcome})")
            return
        if outcome == 0:
            self._fail(plan, f"cannot stylize {plan.source}: no frame of its {segment.name} decodes")
            return
        try:
            self.folders[plan.out].commit(segment, outcome)
        except OSError as error:
            self._fail(plan, f"cannot keep a finished segment of {plan.out} ({error.strerror}); free disk space")
            return
        plan.written[segment.number] = outcome
        if len(plan.written) == len(plan.segments):
            progress.clear()
            self._join(plan)

    def _join(self, plan: VideoPlan) -> None:
        folder = self.folders[plan.out]
        parts = [folder.segment_file(segment) for segment in plan.segments]
        tagged = plan.source if plan.tagged else None
        offsets = [plan.index.time_at(segment.first) for segment in plan.segments]
        span = (plan.index.origin, None)  # the output's timeline is the index's: its first shown frame at 0
        try:
            result = remux(
                parts, plan.out, CONTAINER_FORMATS[plan.out.suffix.lower()], tagged, span, offsets, plan.with_audio
            )
        except (av.FFmpegError, OSError) as error:
            disk = "; check free disk space" if isinstance(error, OSError) else ""
            self._fail(plan, f"cannot write {plan.out} ({error}){disk}")
            return
        folder.remove()
        record_finished(plan.out, plan.key)
        self.finished.append(plan.out)
        log.info(f"wrote {plan.out} ({result.frames} frames, {result.seconds:.1f} s)")
        for line in [*result.dropped, *plan.notes]:
            log.warning(f"note: {plan.source}: {line}")
        if plan.index.cut_at is not None:
            log.warning(
                f"warning: {plan.source} stops at {plan.index.cut_at:.1f} s, before the end its header gives: it was "
                f"cut short, and {plan.out} holds the {result.frames} frames there are"
            )
        for first, last, count in holes(plan.index):
            log.warning(
                f"note: {plan.source} has no frames from {first:.2f} s to {last:.2f} s ({count} missing at its "
                f"steady rate; a dropped or damaged stretch): {plan.out} holds the frame before for that time, as "
                "players do"
            )
        for first, last, count in damaged_stretches(plan, missing_stretches(plan, result.times)):
            log.warning(
                f"warning: {plan.source} is damaged from {first:.2f} s to {last:.2f} s: {count} frame(s) there do "
                f"not decode and are left out of {plan.out} (the frame before them is held)"
            )

    def _fail(self, plan: VideoPlan, message: str) -> None:
        self.failed[plan.out] = message
        log.warning(f"live-style: error: {message}")

    def interrupted_summary(self) -> list[str]:
        """What an interrupted run leaves, per unfinished input."""
        return [
            f"{plan.out} was not written yet, {len(plan.written)} of {len(plan.segments)} segments are done "
            f"and kept in {job_path(plan.out)}; run the same command again to resume"
            for plan in self.plans
            if plan.out not in self.finished and plan.out not in self.failed
        ]
