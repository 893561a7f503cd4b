"""`live-style bench`'s measurements: FPS end to end, per-stage times, MACs and GFLOP/s, the naive loop, live fps.

Each run pushes a clip through the video job (decode -> stylize in batches -> encode, overlapped)
and reports its frames per second and stage medians/p95. The naive loop the tutorials teach runs
in the same process as the baseline: per frame, the style network and the transfer network called
eagerly, one step after the other.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from live_style.commands.bench_person import find_segmenter, mask_costs
from live_style.commands.bench_runtimes import runtime_report
from live_style.commands.bench_temporal import check_clip, read_frames, temporal_report
from live_style.imaging import bgr_to_rgb01, resize_frames, rgb01_to_bgr, style_input
from live_style.media.decode import VideoFile
from live_style.media.encode import VideoFileWriter
from live_style.media.formats import even
from live_style.model.cpu import cpu_name
from live_style.model.int8 import nncf_available
from live_style.model.loading import load_model, torch_installed
from live_style.model.openvino_runtime import openvino_available
from live_style.model.stylizer import Stylizer
from live_style.pipeline.controls import LiveControls
from live_style.pipeline.job_folder import JobFolder
from live_style.pipeline.live import LiveOptions, LivePipeline
from live_style.pipeline.video_jobs import JobOptions, LocalRenderer, VideoRun, plan_video
from live_style.sinks import OutputFrame
from live_style.sinks.recording import Recording
from live_style.sources.capture import open_input
from live_style.styles import StyleBank
from live_style.synthetic_media import scene, style_painting, write_clip

SYNTHETIC_SIZE, SYNTHETIC_FPS = (640, 480), 30
MATMUL_N = 2048
NAIVE_FRAMES = 10
LIVE_SECONDS = 20.0


def device_name(model: Stylizer) -> str:
    """The CPU's model name and cores, or the GPU's name (torch's: with its memory and driver)."""
    if model.runtime == "torch" and model.on_gpu:
        from live_style.model.torch_runtime import device_report

        return f"GPU {device_report(model.torch_device)}"
    if "GPU" in model.device:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return f"GPU {details.get('device_name', 'unknown')}"
    return f"{cpu_name()}, {os.cpu_count()} cores"


def matmul_gflops(device: str) -> float:
    """The machine's float32 matmul speed, the practical limit for convolutions."""
    with tf.device(device):
        a = tf.random.normal([MATMUL_N, MATMUL_N])
        multiply = tf.function(lambda x: tf.matmul(x, x))
        multiply(a).numpy()
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.0 or runs < 3:
            multiply(a).numpy()
            runs += 1
        return 2 * MATMUL_N**3 * runs / (time.perf_counter() - started) / 1e9


def style_vector_ms(model: Stylizer, style: np.ndarray) -> float:
    """The one-off cost of a new style: the style network, cache bypassed."""
    model.style_vector(style, remember=False)
    started = time.perf_counter()
    model.style_vector(style, remember=False)
    return 1000 * (time.perf_counter() - started)


def naive_stylize(model: Stylizer, frame: np.ndarray, style: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The tutorials' loop body: style network and transfer network eagerly, for every frame."""
    network = model.network
    vector = network.predict_style(style_input(style))
    small = bgr_to_rgb01(resize_frames(frame[None], *shape))
    out = rgb01_to_bgr(np.asarray(network.transfer(tf.constant(small), tf.constant(vector, tf.float32))))
    return resize_frames(out, *frame.shape[:2])[0]


def naive_fps(model: Stylizer, clip: Path, style: np.ndarray, shape: tuple[int, int], out: Path) -> float:
    """Read, stylize naively, write; no batching, no overlap."""
    video = VideoFile(clip)
    writer = VideoFileWriter(
        out, (even(video.video.width), even(video.video.height)), video.rate, video.time_base, None
    )
    count, started = 0, time.perf_counter()
    for frame in itertools.islice(video.frames(), NAIVE_FRAMES):
        writer.write(OutputFrame(naive_stylize(model, frame.image, style, shape), frame.time))
        count += 1
    writer.close()
    video.close()
    return count / (time.perf_counter() - started)


def pipelined_run(
    model: Stylizer,
    clip: Path,
    vector: np.ndarray,
    size: int,
    batch: int,
    out: Path,
    audio: bool = False,
    stabilize: bool = True,
) -> dict:
    """`live-style video` over the clip as one segment (audio copied, steadied as asked): fps, stage times."""
    options = JobOptions(size, "input", batch, False, stabilize, 1.0, audio, float("inf"))
    plan = plan_video(model, vector, clip, out, options)
    renderer = LocalRenderer(model)
    started = time.perf_counter()
    folder = JobFolder(out)
    jobs_log = logging.getLogger(VideoRun.__module__)
    level = jobs_log.level
    jobs_log.setLevel(logging.WARNING)  # "wrote <a scratch file>" is not the bench's news
    try:
        VideoRun([plan], {out: folder}, renderer, quiet=True).run()
    finally:
        jobs_log.setLevel(level)
        folder.release()
    elapsed = time.perf_counter() - started
    return {"fps": plan.frames / elapsed, "stages_ms": renderer.times.summary()}


def peak_memory_mb() -> float:
    """The process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(model: Stylizer, clip: Path, style: np.ndarray, vector: np.ndarray, size: int, args, scratch: Path) -> dict:
    """Everything measured for one processing size."""
    pipelined_run(model, clip, vector, size, args.batch, scratch / "warm.mp4")  # compile for this shape
    measured = pipelined_run(model, clip, vector, size, args.batch, scratch / "run.mp4")
    height, width = model.last_shape  # what the network ran at, not what was asked
    macs = model.network.macs_per_frame(height, width)
    stylize_s = measured["stages_ms"]["stylize"]["median"] / 1000
    naive = naive_fps(model, clip, style, (height, width), scratch / "naive.mp4")
    return {
        "model": model.network.description,
        "size": size,
        "processing": f"{width}x{height}",
        "xla": model.xla,
        "batch": args.batch,
        "fps": measured["fps"],
        "stages_ms": measured["stages_ms"],
        "macs_per_frame": macs,
        "gflops": 2 * macs / stylize_s / 1e9,
        "naive_fps": naive,
        "speedup": measured["fps"] / naive,
        "peak_memory_mb": peak_memory_mb(),
    }


def source_clip(args: argparse.Namespace, scratch: Path) -> Path:
    """The clip to run: a synthetic 640x480 30 fps one, or the file given."""
    if args.source == "synthetic":
        return write_clip(scratch / "synthetic.mp4", args.frames, SYNTHETIC_FPS, SYNTHETIC_SIZE)
    path = Path(args.source)
    VideoFile(path).close()  # a clear error for a missing or unreadable file
    return path


def live_run(
    model: Stylizer,
    vector: np.ndarray,
    clip: Path,
    size: int,
    seconds: float,
    paced: bool,
    stabilize: bool = True,
    **options,
) -> tuple[LivePipeline, float]:
    """One headless live session over a clip, recording to a scratch file (LiveOptions as keywords): (run, seconds)."""
    source = open_input(str(clip), paced=paced, stall_timeout=10)
    bank = StyleBank(lambda _: vector, [Path("bench")])
    with tempfile.TemporaryDirectory() as scratch:
        recording = Path(scratch) / "live.mp4"
        options = LiveOptions(duration=seconds, **options)
        controls = LiveControls(style_count=1, size=size, stabilize=stabilize, recording=True)
        sinks = [Recording(recording, lambda: True, source)]
        pipeline = LivePipeline(model, source, bank, controls, options, sinks)
        started = time.perf_counter()
        pipeline.run()
        return pipeline, time.perf_counter() - started


def live_fps(model: Stylizer, vector: np.ndarray, clip: Path, size: int, seconds: float) -> dict[str, float]:
    """Live fps over the clip without and with steadying (every frame; best of two, alternated, as the machine is
    noisy), and with --interpolate (paced at the clip's rate)."""
    rates = {"plain": 0.0, "steadied": 0.0}
    for name, stabilize in (("plain", False), ("steadied", True)) * 2:
        run, elapsed = live_run(model, vector, clip, size, seconds, paced=False, stabilize=stabilize)
        rates[name] = max(rates[name], run.frames_done / elapsed)
    run, elapsed = live_run(model, vector, clip, size, seconds, paced=True, interpolate=True)
    rates["interpolated_shown"] = run.frames_shown / elapsed
    rates["interpolated_stylized"] = run.frames_done / elapsed
    return rates


def temporal_bench(args: argparse.Namespace, model: Stylizer, vector: np.ndarray, size: int) -> dict:
    """`bench --temporal CLIP`: steadiness figures and live fps for one clip."""
    clip = check_clip(args)
    report = temporal_report(model, read_frames(clip, args.frames), vector, size)
    report["live_fps"] = live_fps(model, vector, clip, size, seconds=LIVE_SECONDS)
    report["model"] = model.description
    return report


def cpu_runtimes(args: argparse.Namespace, model: Stylizer) -> dict[str, Stylizer]:
    """The model on each CPU runtime and precision that runs here, the benchmarked one first."""
    label = f"{model.runtime} {model.candidate}"
    models = {f"live-style ({label}{', the default' if args.runtime == args.precision == 'auto' else ''})": model}
    others = ("openvino", "int8"), ("openvino", "float32"), ("tensorflow", "float32"), ("torch", "float32")
    for runtime, precision in others:
        runnable = {
            "tensorflow": True,
            "torch": torch_installed(),
            "openvino": openvino_available() and (precision != "int8" or nncf_available()),
        }[runtime]
        if f"{runtime} {precision}" != label and runnable:
            other = load_model(args.model, device="cpu", runtime=runtime, precision=precision)
            models[f"live-style ({runtime} {precision})"] = other
    return models


def scene_content() -> np.ndarray:
    """Content for the runtime timings (pixels do not change the cost; a real-looking frame all the same)."""
    return scene(0, *SYNTHETIC_SIZE)


def measure(args: argparse.Namespace, model: Stylizer, sizes: list[int]) -> dict:
    """Every size measured through the video job and the naive loop, the precision choice, the person mask's
    cost and, on a CPU, every runtime: the report `live-style bench` prints."""
    style = style_painting()
    vector = model.style_vector(style)
    with tempfile.TemporaryDirectory() as scratch:
        clip = source_clip(args, Path(scratch))
        report = {
            "device": device_name(model),
            "tensorflow": tf.__version__,
            "model": model.description,
            "matmul_gflops": matmul_gflops(model.device),
            "style_vector_ms": style_vector_ms(model, style),
            "runs": [],
        }
        for size in sizes:
            report["runs"].append(one_run(model, clip, style, vector, size, args, Path(scratch)))
            print(f"measured size {size}", file=sys.stderr, flush=True)
        report["precision_choice"] = model.precision_decision
        segmenter = find_segmenter(args.segmenter)
        if isinstance(segmenter, str):
            report["person_mask"] = segmenter
        else:
            report["person_mask"] = mask_costs(segmenter, read_frames(clip, args.frames), sizes[0])
        if not model.on_gpu and hasattr(model.network, "transfer_path"):
            report["runtimes"] = runtime_report(
                cpu_runtimes(args, model), model.network.transfer_path, scene_content(), style
            )
    return report
