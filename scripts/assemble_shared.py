"""Assemble the test data the suite reads from ../shared, where you have a network (an outside contributor has
no ../shared). The models come through live-style's own verified downloads; the paintings, the photo and the
real media files from the public repositories they were copied from (commits pinned).

    python scripts/assemble_shared.py [--out ../shared]

Not fetched: the TF Hub model's graph is taken from the full SavedModel (the tests only read its structure); the
landscape variant of the segmenter, which no test reads.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import requests

from live_style.model.download import fetch
from live_style.model.remote import HUB, SEGMENTER, lite_piece

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
PAINTINGS = "https://raw.githubusercontent.com/lengstrom/fast-style-transfer/master/examples/{kind}/{name}"
LITE = {
    "style_predict_int8.tflite": ("int8", "prediction"),
    "style_transfer_int8.tflite": ("int8", "transfer"),
    "style_transfer_fp16.tflite": ("fp16", "transfer"),
}
REAL = {  # (repository, commit): [(file name, path)], as media/real/SOURCES.txt lists them
    ("androidx/media", "2bc207851df311340767e913931ca7b28cab1794"): [
        ("sample_h265.ts", "ts/sample_h265.ts"),
        ("sample_h262_mpeg_audio.ts", "ts/sample_h262_mpeg_audio.ts"),
        ("sample_scte35.ts", "ts/sample_scte35.ts"),
        ("sd-hls0000000000.ts", "hls/cea608/sd-hls0000000000.ts"),
        ("sample_fragmented.mp4", "mp4/sample_fragmented.mp4"),
        ("sample.avi", "avi/sample.avi"),
        ("sample_with_srt.mkv", "mkv/sample_with_srt.mkv"),
        ("sample_with_pgs_subtitles.mkv", "mkv/sample_with_pgs_subtitles.mkv"),
        ("sample_with_chapters.mp4", "mp4/sample_with_chapters.mp4"),
        ("sample_with_chapters.mkv", "mkv/sample_with_chapters.mkv"),
        ("sample_edit_list_only_preroll_sync_sample.mp4", "mp4/sample_edit_list_only_preroll_sync_sample.mp4"),
        ("dolbyVision-hdr.MOV", "mp4/dolbyVision-hdr.MOV"),
        ("sample_12_5fps_720p_1s.mp4", "mp4/sample_12_5fps_720p_1s.mp4"),
        ("roadtrip-vp92-10bit.webm", "vp9/roadtrip-vp92-10bit.webm"),
        ("h265_bframes.mp4", "mp4/h265_bframes.mp4"),
        ("edit_list_positive_shift.mp4", "mp4/edit_list_positive_shift.mp4"),
        ("bbb_800x640_768kbps_30fps_avc_pyramid_3b.mp4", "mp4/bbb_800x640_768kbps_30fps_avc_pyramid_3b.mp4"),
        ("sample_portrait.mp4", "mp4/sample_portrait.mp4"),
        ("sample_sef_slow_motion.mp4", "mp4/sample_sef_slow_motion.mp4"),
    ],
    ("sindresorhus/file-type", "2c54d066efdf7511e42fa9f5e4cd160b67fb51e9"): [
        ("fixture.ogm", "fixture/fixture.ogm"),
        ("fixture.asf", "fixture/fixture.asf"),
        ("fixture.wmv.asf", "fixture/fixture.wmv.asf"),
        ("fixture.3gp", "fixture/fixture.3gp"),
        ("fixture.mxf", "fixture/fixture.mxf"),
        ("fixture.apng", "fixture/fixture.apng"),
        ("fixture-yuv420-8bit.avif", "fixture/fixture-yuv420-8bit.avif"),
    ],
    ("python-pillow/Pillow", "4e5f09f533dbd0d87d39951f48b62f4d1a421cba"): [
        ("avif_rot3mir0.avif", "Tests/images/avif/rot3mir0.avif"),
        ("hopper_orientation_6.webp", "Tests/images/hopper_orientation_6.webp"),
        ("tiff_16bit_RGB.tiff", "Tests/images/tiff_16bit_RGB.tiff"),
        ("icc_profile_big.jpg", "Tests/images/icc_profile_big.jpg"),
        ("16_bit_binary_pgm.tiff", "Tests/images/16_bit_binary_pgm.tiff"),
    ],
}
PREFIX = {"androidx/media": "libraries/test_data/src/test/assets/media/"}  # their test data folder


def download(url: str, target: Path) -> None:
    """One file, or a clear failure naming it."""
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(response.content)
    print(f"wrote {target}")


def models(out: Path, cache: Path) -> None:
    """Magenta's TF Lite files, the hub SavedModel and MediaPipe's segmenter, through live-style's own downloads."""
    for name, (quant, part) in LITE.items():
        target = out / "models" / "magenta-lite" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fetch(lite_piece(quant, part), cache), target)
    shutil.copytree(fetch(HUB, cache), out / "models" / "magenta-hub-graph", dirs_exist_ok=True)
    segmenter = out / "models" / "selfie-segmentation" / "selfie_segmentation.tflite"
    segmenter.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fetch(SEGMENTER, cache), segmenter)


def media(out: Path) -> None:
    """The paintings, the city photograph and the real files made by other people's devices."""
    for name in ("wave.jpg", "the_scream.jpg", "udnie.jpg", "the_shipwreck_of_the_minotaur.jpg"):
        download(PAINTINGS.format(kind="style", name=name), out / "styles" / name)
    download(PAINTINGS.format(kind="content", name="chicago.jpg"), out / "media" / "chicago.jpg")
    for (repo, commit), files in REAL.items():
        for name, path in files:
            url = RAW.format(repo=repo, commit=commit, path=PREFIX.get(repo, "") + path)
            download(url, out / "media" / "real" / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    models(args.out, args.out / ".download-cache")
    media(args.out)
    shutil.rmtree(args.out / ".download-cache", ignore_errors=True)


if __name__ == "__main__":
    main()
