"""`live-style bench`: FPS end to end, per-stage times, MACs and GFLOP/s against the naive loop, steadiness
(--temporal), the person mask's cost and the CPU runtimes; the measuring is in the bench_* modules."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from live_style.commands.options import add_command, add_model_options, positive_int
from live_style.errors import UserError

EXAMPLES = (
    "live-style bench",
    "live-style bench --source my-clip.mp4 --sizes 256,384,512 --json bench.json",
    "live-style bench --temporal handheld.mp4 --sizes 256 --frames 90",
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """`bench`: how fast, where the time goes, how close to the machine's limit."""
    bench = add_command(commands, "bench", "measure FPS, stage times and GFLOP/s against the naive loop", EXAMPLES)
    bench.add_argument(
        "--source",
        default="synthetic",
        metavar="synthetic|PATH",
        help="a synthetic 640x480 30 fps clip (default) or a video file",
    )
    bench.add_argument("--sizes", default="256,384", metavar="N,N", help="processing short sides (default 256,384)")
    bench.add_argument(
        "--frames", type=positive_int, default=120, metavar="N", help="frames of the synthetic clip (default 120)"
    )
    bench.add_argument("--batch", type=positive_int, default=4, metavar="B", help="frames per model call (default 4)")
    bench.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    bench.add_argument(
        "--segmenter",
        metavar="PATH",
        help="the person mask's model, to measure its cost (default: $LIVE_STYLE_SEGMENTER, else downloaded once)",
    )
    bench.add_argument(
        "--temporal",
        metavar="CLIP",
        help="measure steadiness on a clip instead: warping error, SSIM, cost and live fps (first of --sizes, "
        "first --frames frames)",
    )
    add_model_options(bench)
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Measure every size (or, with --temporal, steadiness) and print the table (and write the JSON)."""
    from live_style.commands.bench_person import print_mask_costs
    from live_style.commands.bench_runtimes import print_runtimes
    from live_style.commands.bench_speed import measure, temporal_bench
    from live_style.commands.bench_temporal import print_temporal
    from live_style.commands.common import open_model
    from live_style.synthetic_media import style_painting

    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        raise UserError(f"--sizes {args.sizes}: give comma-separated short sides, e.g. 256,384") from None
    model = open_model(args)
    if args.temporal:
        report = temporal_bench(args, model, model.style_vector(style_painting()), sizes[0])
        print_temporal(report)
    else:
        report = measure(args, model, sizes)
        print_table(report)
        if report.get("precision_choice"):
            print_precision_choice(report["precision_choice"])
        print_mask_costs(report["person_mask"])
        if "runtimes" in report:
            print_runtimes(report["runtimes"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def print_table(report: dict) -> None:
    """The human-readable report."""
    print(
        f"device: {report['device']} | TensorFlow {report['tensorflow']} | matmul {report['matmul_gflops']:.0f} "
        f"GFLOP/s | style vector {report['style_vector_ms']:.0f} ms once per style\nmodel: {report['model']}"
    )
    stages = ("decode", "preprocess", "stylize", "temporal", "postprocess", "encode")
    print(
        f"{'size':>5} {'px':>9} {'xla':>4} {'batch':>5} {'fps':>6} {'naive':>6} {'speed-up':>8} {'GMAC/frame':>10} "
        f"{'GFLOP/s':>8} {'of matmul':>9} {'peak MB':>8}  " + "  ".join(f"{s} (med/p95 ms)" for s in stages)
    )
    for run in report["runs"]:
        times = "  ".join(f"{run['stages_ms'][s]['median']:6.1f}/{run['stages_ms'][s]['p95']:<6.1f}" for s in stages)
        print(
            f"{run['size']:>5} {run['processing']:>9} {'yes' if run['xla'] else 'no':>4} {run['batch']:>5} "
            f"{run['fps']:6.1f} {run['naive_fps']:6.1f} {run['speedup']:7.2f}x {run['macs_per_frame'] / 1e9:10.2f} "
            f"{run['gflops']:8.1f} {run['gflops'] / report['matmul_gflops']:9.0%} {run['peak_memory_mb']:8.0f}  {times}"
        )
    print("steadiness: live-style bench --temporal CLIP (warping error, SSIM, cost, live fps)")


def print_precision_choice(decision: dict) -> None:
    """The measured precisions of this CPU: each candidate's time and picture against float32, and the pick."""
    from live_style.model.precision_choice import QUALITY_FLOOR_DB, SHAPE

    print(f"precision choice on {decision['cpu']}")
    for measured in sorted(decision["measured"], key=lambda m: m["ms"]):
        picture = "reference" if measured["name"] == "float32" else f"{measured['psnr_db']:.1f} dB"
        print(f"  {measured['name']:<15} {measured['ms']:7.1f} ms at {SHAPE[1]}x{SHAPE[0]}   {picture}")
    print(f"  picked {decision['picked']}: the fastest at {QUALITY_FLOOR_DB:g} dB or more against float32")
