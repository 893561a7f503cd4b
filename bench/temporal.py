"""Steadiness on handheld clips made from real photographs: the README's table, frame strip and plot.

    python bench/temporal.py [--shared ../shared] [--size 256] [--frames 30] [--out docs]

Each clip (pan, zoom, a moving object, a cut; see tests/handheld.py) over each photo (chicago.jpg
from ../shared and scikit-image's) is stylized frame by frame and steadied as live (causal) and as a
file (two-way); `live-style bench --temporal`'s figures are printed per clip and on average, and
`--out` writes `temporal-strip.jpg` (consecutive frames, per-frame above steadied) and
`temporal-error.png` (warping error per frame pair over time).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from handheld import KINDS, handheld_clip, photos

from live_style import load_model
from live_style.commands.bench_temporal import MODES, temporal_report
from live_style.imaging import resize_frames
from live_style.styles import BUILTIN_FOLDER
from live_style.temporal.coherence import steady_clip


def strip(model, clip: list[np.ndarray], vector: np.ndarray, size: int, count: int = 5) -> np.ndarray:
    """Consecutive frames: per-frame output above, steadied (file) output below."""
    shape = model.processing_shape(*clip[0].shape[:2], size)
    contents = [resize_frames(f[None], *shape)[0] for f in clip]
    plain = [model.stylize(c, vector) for c in contents]
    steady = steady_clip(contents, plain)
    picked = range(len(clip) // 2, len(clip) // 2 + count)
    rows = [np.hstack([frames[i] for i in picked]) for frames in (plain, steady)]
    for row, label in zip(rows, ("per-frame", "steadied"), strict=True):
        cv2.putText(row, label, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    return np.vstack(rows)


def plot(reports: dict[str, dict], path: Path) -> None:
    """Warping error per frame pair, per-frame vs steadied, for a few clips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(reports), figsize=(4.2 * len(reports), 3.2), sharey=True)
    for axis, (name, report) in zip(np.atleast_1d(axes), reports.items(), strict=True):
        axis.plot(1e3 * np.asarray(report["per_frame_errors"]), label="per-frame", color="tab:red")
        for mode, color in zip(MODES, ("tab:blue", "tab:green"), strict=True):
            axis.plot(1e3 * np.asarray(report[mode]["errors"]), label=f"steadied ({mode})", color=color)
        axis.set_title(name)
        axis.set_xlabel("frame pair")
    np.atleast_1d(axes)[0].set_ylabel("warping error x1e3")
    np.atleast_1d(axes)[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--style", type=Path, default=BUILTIN_FOLDER / "wave.jpg")
    parser.add_argument("--out", type=Path, help="write the strip and the plot into this folder")
    args = parser.parse_args()
    model = load_model(str(args.shared / "models" / "magenta-lite"))
    vector = model.style_vector(cv2.imread(str(args.style)))
    pictures = photos(args.shared)
    names = list(pictures)
    reports: dict[str, dict] = {}
    print(
        f"{'clip':<18} {'source':>7} {'per-frame':>9} {'live':>6} {'ratio':>6} {'SSIM':>5} {'file':>6} {'ratio':>6} "
        f"{'SSIM':>5} {'live ms':>8} {'file ms':>8}   (warping error x1e3)"
    )
    for index, name in enumerate(names):
        for kind in KINDS:
            other = pictures[names[(index + 1) % len(names)]]
            clip = handheld_clip(pictures[name], kind, frames=args.frames, size=(640, 480), other=other, seed=index)
            report = reports[f"{name} {kind}"] = temporal_report(model, clip, vector, args.size)
            live, file = report["live"], report["file"]
            print(
                f"{name + ' ' + kind:<18} {1e3 * report['source_error']:7.2f} {1e3 * report['per_frame_error']:9.2f} "
                f"{1e3 * live['error']:6.2f} {live['ratio']:6.2f} {live['ssim']:5.2f} {1e3 * file['error']:6.2f} "
                f"{file['ratio']:6.2f} {file['ssim']:5.2f} {live['ms_per_frame']:8.1f} {file['ms_per_frame']:8.1f}",
                flush=True,
            )
    for kind in KINDS:
        rows = [r for key, r in reports.items() if key.endswith(kind)]
        means = {m: (np.mean([r[m]["ratio"] for r in rows]), np.min([r[m]["ssim"] for r in rows])) for m in MODES}
        print(
            f"mean over photos, {kind:<7}: "
            + ", ".join(f"{m} ratio {ratio:.2f} (SSIM min {low:.2f})" for m, (ratio, low) in means.items())
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        clip = handheld_clip(pictures[names[0]], "pan", frames=args.frames, size=(640, 480))
        cv2.imwrite(
            str(args.out / "temporal-strip.jpg"), strip(model, clip, vector, args.size), [cv2.IMWRITE_JPEG_QUALITY, 88]
        )
        plot(
            {k: reports[k] for k in (f"{names[0]} pan", f"{names[-1]} object", f"{names[1]} cut")},
            args.out / "temporal-error.png",
        )
        print(f"wrote {args.out / 'temporal-strip.jpg'} and {args.out / 'temporal-error.png'}")


if __name__ == "__main__":
    main()
