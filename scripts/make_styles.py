"""Write the project's own style images (painted procedurally by `live_style.paintings`).

    python scripts/make_styles.py [--out live_style/data/styles] [--size 512]

The random seed is fixed, so the files are the same every time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from live_style.paintings import PAINTERS, paint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "live_style" / "data" / "styles"
    )
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    for seed, name in enumerate(PAINTERS):
        path = args.out / f"{name}.jpg"
        cv2.imwrite(str(path), paint(name, args.size, seed), [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
