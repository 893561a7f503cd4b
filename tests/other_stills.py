"""Other people's stills: what Pillow, the reference reader, reports of one (with LittleCMS for its colour
profile), and stills made from real photographs for the cases ../shared/media/real lacks: a Display P3 photo (as
iPhones write them), a 10-bit AVIF (as phones and cameras write HDR stills), JPEGs damaged or cut short."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps

P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))  # red, green, blue (SMPTE EG 432-1)
D65 = (0.3127, 0.3290)


def display_p3_profile() -> bytes:
    """Display P3: LittleCMS's sRGB profile (the same D65 white and transfer curve) with P3's primaries."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    tags = {signature: offset for signature, offset, _ in tag_table(profile)}
    adapt = np.array(struct.unpack(">9i", profile[tags[b"chad"] + 8 : tags[b"chad"] + 44])).reshape(3, 3) / 65536
    colorants = adapt @ rgb_to_xyz(P3_PRIMARIES, D65)  # the ICC's D50 connection space, as the profile adapts sRGB
    for column, signature in enumerate((b"rXYZ", b"gXYZ", b"bXYZ")):
        fixed = [round(v * 65536) for v in colorants[:, column]]  # s15Fixed16
        profile[tags[signature] + 8 : tags[signature] + 20] = struct.pack(">3i", *fixed)
    chromaticities = [round(v * 65536) for xy in P3_PRIMARIES for v in xy]
    profile[tags[b"chrm"] + 12 : tags[b"chrm"] + 36] = struct.pack(">6I", *chromaticities)
    name = "sRGB built-in".encode("utf-16-be")
    at = profile.index(name, tags[b"desc"])
    profile[at : at + len(name)] = "Display P3 v4".encode("utf-16-be")  # same length
    profile[84:100] = bytes(16)  # profile ID: "not computed"
    return bytes(profile)


def tag_table(profile: bytes) -> list[tuple[bytes, int, int]]:
    """An ICC profile's (signature, offset, size) tags."""
    (count,) = struct.unpack(">I", profile[128:132])
    return [struct.unpack(">4sII", profile[132 + 12 * i : 144 + 12 * i]) for i in range(count)]


def rgb_to_xyz(primaries: tuple, white: tuple[float, float]) -> np.ndarray:
    """The linear RGB -> XYZ matrix of three primaries and a white point (all as xy chromaticities)."""
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    white_xyz = np.array([white[0] / white[1], 1.0, (1 - white[0] - white[1]) / white[1]])
    return xyz * np.linalg.solve(xyz, white_xyz)


def p3_photo(source: Path, out: Path) -> Path:
    """The photo's pixel values as they are, tagged Display P3: an iPhone's photo of a more saturated scene."""
    with Image.open(source) as photo:
        photo.convert("RGB").save(out, quality=95, icc_profile=display_p3_profile())
    return out


def ten_bit_avif(source: Path, out: Path) -> Path:
    """The photo as a 10-bit 4:2:0 AVIF still, encoded by SVT-AV1 through FFmpeg's libraries (PyAV)."""
    with Image.open(source) as photo:
        rgb = np.asarray(photo.convert("RGB"))
    rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]  # 4:2:0 takes even sides
    with av.open(str(out), "w", format="avif") as container:
        stream = container.add_stream("libsvtav1", rate=1)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p10le"
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p10le")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return out


def damaged_jpegs(source: Path, folder: Path) -> tuple[Path, Path]:
    """(a JPEG with stray bytes before its end marker, as libjpeg warns of; one cut short at two thirds)."""
    data = source.read_bytes()
    stray, cut = folder / "stray-bytes.jpg", folder / "cut-short.jpg"
    stray.write_bytes(data[:-2] + b"\x00\x01\x02" + data[-2:])
    cut.write_bytes(data[: len(data) * 2 // 3])
    return stray, cut


def chroma(bgr: np.ndarray, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    """The Cr and Cb channels at a small size (what --preserve-colors keeps of the content)."""
    small = cv2.resize(bgr[..., :3], size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)[..., 1:])


def pillow_upright(path: Path) -> np.ndarray:
    """What Pillow reports, turned as the file says viewers show it, as BGR(A)."""
    with Image.open(path) as opened:
        upright = ImageOps.exif_transpose(opened)
        if upright.has_transparency_data:
            return cv2.cvtColor(np.asarray(upright.convert("RGBA")), cv2.COLOR_RGBA2BGRA)
        return cv2.cvtColor(np.asarray(upright.convert("RGB")), cv2.COLOR_RGB2BGR)


def pillow_in_srgb(path: Path) -> np.ndarray:
    """Pillow's pixels through the file's own ICC profile into sRGB (LittleCMS), as BGR."""
    with Image.open(path) as opened:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(opened.info["icc_profile"]))
        srgb = ImageCms.createProfile("sRGB")
        return np.asarray(ImageCms.profileToProfile(opened, profile, srgb, outputMode="RGB"))[..., ::-1]


def profile_name(path: Path) -> str:
    """The description of the ICC profile a file is tagged with."""
    with Image.open(path) as opened:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(opened.info["icc_profile"]))).strip()
