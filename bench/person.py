"""Person masks on clips of a real person: the README's figures and picture.

    python bench/person.py [--shared ../shared] [--out docs] [--json person.json]

For each clip of tests/person_clips.py (the astronaut panned and zoomed; her head and shoulders
walking over two other photos) the mask as the live loop makes it (processing size 256, steadied,
guided upsampling) is compared with the mask of each frame computed alone at full resolution: IoU
(min and mean over frames), the flicker along the outline against per-frame masks, and how much
mask stays behind the walking person (over the per-frame mask, worst frame). Then the mask's cost a
640x480 frame, step by step (what `live-style bench` prints), and `--out` writes `person.jpg`: the
photo, plainly stylized, with the person kept real, and with only the person painted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import cv2
import numpy as np
from handheld import photos
from person_clips import live_masks, outline_flicker_ratio, person_clips

from live_style import load_model
from live_style.commands.bench_person import mask_costs, print_mask_costs
from live_style.commands.image import with_person
from live_style.model.cpu import cpu_name
from live_style.model.segmenter import Segmenter, locate_segmenter
from live_style.styles import BUILTIN_FOLDER
from live_style.temporal.masks import PersonLook
from live_style.temporal.metrics import mask_iou

BEHIND_FRAMES = 4  # how far back "where the person was" looks
MARGIN = 15  # pixels around the person now that do not count as behind her


def left_behind(steady: list[np.ndarray], alone: list[np.ndarray], references: list[np.ndarray]) -> float:
    """Worst frame: mean mask where the person was BEHIND_FRAMES ago and is not now, over the per-frame mask's."""
    grown = np.ones((2 * MARGIN + 1,) * 2, np.uint8)
    worst = 0.0
    for t in range(BEHIND_FRAMES, len(steady)):
        now = cv2.dilate((references[t] >= 128).astype(np.uint8), grown) > 0
        behind = (references[t - BEHIND_FRAMES] >= 128) & ~now
        if behind.sum() > 500:
            worst = max(worst, float(steady[t][behind].mean() - alone[t][behind].mean()))
    return worst


def clip_figures(name: str, clip: list[np.ndarray], segmenter: Segmenter) -> dict:
    references = [segmenter(frame) for frame in clip]
    steady, alone = live_masks(clip, segmenter), live_masks(clip, segmenter, steady=False)
    agreement = [mask_iou(mask, reference) for mask, reference in zip(steady, references, strict=True)]
    return {
        "clip": name,
        "iou_min": min(agreement),
        "iou_mean": float(np.mean(agreement)),
        "flicker_ratio": outline_flicker_ratio(clip, references, steady, alone),
        "left_behind": left_behind(steady, alone, references) if name.startswith("walk") else None,
    }


def picture(segmenter: Segmenter, shared: Path, out: Path) -> None:
    """The photo | plainly stylized | person kept real | only the person painted, side by side."""
    model = load_model(str(shared / "models" / "magenta-lite"), workload="still")
    photo = photos(shared)["astronaut"]
    vector = model.style_vector(cv2.imread(str(BUILTIN_FOLDER / "wave.jpg")))
    plain = model.stylize(photo, vector, 384)
    panels = [photo, plain]
    for mode in ("keep", "only"):
        panels.append(with_person(model, segmenter, photo, plain, 384, PersonLook.of(mode)))
    row = np.hstack([cv2.resize(p, (384, 384), interpolation=cv2.INTER_AREA) for p in panels])
    cv2.imwrite(str(out / "person.jpg"), row, [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {out / 'person.jpg'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    parser.add_argument("--out", help="folder for person.jpg")
    parser.add_argument("--json", help="also write the figures as JSON")
    args = parser.parse_args()
    shared = Path(args.shared)
    file = locate_segmenter(str(shared / "models" / "selfie-segmentation"))
    segmenter = Segmenter(file)
    clips = person_clips(shared, segmenter)
    figures = [clip_figures(name, clip, segmenter) for name, clip in clips.items()]
    print(f"person masks at 256, steadied as live, against each frame's own mask at full size ({cpu_name()})")
    print(f"{'clip':<20} {'IoU min':>8} {'IoU mean':>9} {'outline flicker':>16} {'left behind':>12}")
    for row in figures:
        behind = "" if row["left_behind"] is None else f"{row['left_behind']:+.3f}"
        print(
            f"{row['clip']:<20} {row['iou_min']:8.3f} {row['iou_mean']:9.3f} {row['flicker_ratio']:15.2f}x {behind:>12}"
        )
    costs = mask_costs(file, clips["astronaut pan"], 256)
    print_mask_costs(costs)
    if args.out:
        picture(segmenter, shared, Path(args.out))
    if args.json:
        Path(args.json).write_text(json.dumps({"clips": figures, "cost": costs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
