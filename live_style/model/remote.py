"""Models that live online: Magenta's files on Kaggle Models (where TF Hub moved), tfhub.dev as fallback;
MediaPipe's selfie segmentation where Google publishes it.

A `RemoteModel` names one downloadable piece (a style-predict file, a transfer file, the hub
SavedModel or the person segmenter) and the addresses to try for it, in order. `LIVE_STYLE_KAGGLE_URL`,
`LIVE_STYLE_TFHUB_URL` and `LIVE_STYLE_MEDIAPIPE_URL` point at a mirror (or a local test server)
instead of the public hosts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

KAGGLE_URL = "https://www.kaggle.com"
TFHUB_URL = "https://tfhub.dev"
MIRROR_OF_DIRECT = "LIVE_STYLE_MEDIAPIPE_URL"  # replaces scheme and host of every direct address

KAGGLE_HANDLE = re.compile(
    r"^(?P<owner>[\w-]+)/(?P<model>[\w.-]+)/(?P<framework>tfLite|tensorFlow1|tensorFlow2)/(?P<variation>[\w.-]+)(?:/(?P<version>\d+))?$"
)
TFHUB_LITE = re.compile(
    r"^google/lite-model/magenta/arbitrary-image-stylization-v1-256/(?P<quant>int8|fp16)/(?P<part>prediction|transfer)/(?P<version>\d+)$"
)
TFHUB_HUB = re.compile(r"^google/magenta/arbitrary-image-stylization-v1-256/(?P<version>\d+)$")
MAGENTA_KAGGLE = "google/arbitrary-image-stylization-v1"


@dataclass(frozen=True)
class RemoteModel:
    """One downloadable model piece: its role, its Kaggle handle (with version) and its tfhub.dev handle."""

    role: str
    kaggle: str | None
    tfhub: str | None
    direct: tuple[tuple[str, str | None], ...] = ()  # (address of a bare file, its published sha256 if fixed)
    known_as: str | None = None  # the name when it is neither on Kaggle nor on tfhub.dev
    offline: str = "--model or LIVE_STYLE_MODEL"  # what to point at a copy downloaded by hand
    by_hand: str | None = None  # the whole instruction, where one file is not enough (half of a TF Lite pair)

    @property
    def name(self) -> str:
        """A short name for messages and the cache folder."""
        return self.kaggle or self.tfhub or self.known_as or "model"

    def page(self) -> str:
        """Where a person downloads it by hand."""
        if self.direct:
            return self.direct[0][0]
        if self.kaggle:
            return kaggle_page(self.kaggle)
        return f"{TFHUB_URL}/{self.tfhub}"

    def addresses(self) -> list[str]:
        """Download addresses, best first: Kaggle's public download endpoint (a .tar.gz), then tfhub.dev."""
        kaggle = os.environ.get("LIVE_STYLE_KAGGLE_URL") or KAGGLE_URL
        tfhub = os.environ.get("LIVE_STYLE_TFHUB_URL") or TFHUB_URL
        urls = []
        if self.kaggle:
            urls.append(f"{kaggle.rstrip('/')}/api/v1/models/{self.kaggle}/download")
        if self.tfhub:
            form = "lite-format=tflite" if self.role != "hub" else "tf-hub-format=compressed"
            urls.append(f"{tfhub.rstrip('/')}/{self.tfhub}?{form}")
        return urls + [mirrored(url) for url, _ in self.direct]

    def published_sha256(self, url: str) -> str | None:
        """The sha256 the file at this (possibly mirrored) direct address must have, where it is fixed."""
        return next((sha for address, sha in self.direct if mirrored(address) == url), None)


def mirrored(url: str) -> str:
    """A direct address on the LIVE_STYLE_MEDIAPIPE_URL mirror when one is set."""
    mirror = os.environ.get(MIRROR_OF_DIRECT)
    if not mirror:
        return url
    parts = urlparse(url)
    return f"{mirror.rstrip('/')}{parts.path}"


def lite_piece(quant: str, part: str, version: str = "1") -> RemoteModel:
    """One of Magenta's TF Lite files, e.g. ('int8', 'prediction'); by hand, both halves of the pair are needed."""
    kaggle = f"{MAGENTA_KAGGLE}/tfLite/256-{quant}-{part}/{version}"
    partner = f"{MAGENTA_KAGGLE}/tfLite/{'256-fp16-transfer' if part == 'prediction' else '256-int8-prediction'}/1"
    predict, transfer = (kaggle, partner) if part == "prediction" else (partner, kaggle)
    by_hand = (
        f"Download both halves of the TF Lite pair by hand, {kaggle_page(predict)} and {kaggle_page(transfer)} "
        "(unpack each .tar.gz: both hold a 1.tflite; rename one, say to transfer.tflite), put the two .tflite files "
        "in one folder and point --model or LIVE_STYLE_MODEL at that folder (docs/models.md: Offline use)"
    )
    return RemoteModel(
        "predict" if part == "prediction" else "transfer",
        kaggle,
        f"google/lite-model/magenta/arbitrary-image-stylization-v1-256/{quant}/{part}/{version}",
        by_hand=by_hand,
    )


def kaggle_page(handle: str) -> str:
    """Where a person downloads a Kaggle model (owner/model/framework/variation/version) by hand."""
    owner, model, framework, variation, version = handle.split("/")
    return f"{KAGGLE_URL}/models/{owner}/{model}/{framework}/{variation}/{version}"


DEFAULT_PREDICT = lite_piece("int8", "prediction")
DEFAULT_TRANSFER = lite_piece("fp16", "transfer")  # float weights: the best pictures of the lite files
SEGMENTER_SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"  # "general", 256x256
SEGMENTER = RemoteModel(
    "segmenter",
    None,
    None,
    direct=(
        # the file of MediaPipe's legacy selfie segmentation solution, in MediaPipe's asset bucket and npm package
        ("https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite", SEGMENTER_SHA256),
        ("https://cdn.jsdelivr.net/npm/@mediapipe/selfie_segmentation/selfie_segmentation.tflite", SEGMENTER_SHA256),
        # its successor in MediaPipe Tasks' model storage ("latest" moves: checked by its interface only)
        (
            "https://storage.googleapis.com/mediapipe-models/image_segmenter/selfie_segmenter/float16/latest/"
            "selfie_segmenter.tflite",
            None,
        ),
    ),
    known_as="mediapipe/selfie_segmentation/general",
    offline="--segmenter or LIVE_STYLE_SEGMENTER",
)
HUB = RemoteModel("hub", f"{MAGENTA_KAGGLE}/tensorFlow1/256/2", "google/magenta/arbitrary-image-stylization-v1-256/2")


def from_kaggle(handle: str) -> RemoteModel:
    """A Kaggle handle owner/model/framework/variation[/version] (version 1 when left out)."""
    match = KAGGLE_HANDLE.match(handle)
    assert match is not None
    parts = match.groupdict()
    version = parts["version"] or "1"
    lite = re.fullmatch(r"256-(int8|fp16)-(prediction|transfer)", parts["variation"])
    if f"{parts['owner']}/{parts['model']}" == MAGENTA_KAGGLE and lite and parts["framework"] == "tfLite":
        return lite_piece(*lite.groups(), version)
    kaggle = f"{parts['owner']}/{parts['model']}/{parts['framework']}/{parts['variation']}/{version}"
    if parts["framework"] != "tfLite":
        tfhub = HUB.tfhub if kaggle == HUB.kaggle else None
        return RemoteModel("hub", kaggle, tfhub)
    return RemoteModel("predict" if "predict" in parts["variation"] else "transfer", kaggle, None)


def from_tfhub(handle: str) -> RemoteModel:
    """A tfhub.dev handle; Magenta's own are mapped to their Kaggle home, others are fetched from tfhub.dev only."""
    if match := TFHUB_LITE.match(handle):
        return lite_piece(match["quant"], match["part"], match["version"])
    if match := TFHUB_HUB.match(handle):
        return RemoteModel("hub", f"{MAGENTA_KAGGLE}/tensorFlow1/256/{match['version']}", handle)
    role = "predict" if "predict" in handle else "transfer" if "lite-model" in handle else "hub"
    return RemoteModel(role, None, handle)


def parse_reference(spec: str) -> RemoteModel | None:
    """A Kaggle or tfhub.dev handle or URL as a RemoteModel; None when SPEC is neither."""
    if spec.startswith(("http://", "https://")):
        url = urlparse(spec)
        path = url.path.strip("/")
        host = url.hostname or ""
        if host == "kaggle.com" or host.endswith(".kaggle.com"):
            path = re.sub(r"^(api/v1/)?models/", "", path).removesuffix("/download")
            return from_kaggle(path) if KAGGLE_HANDLE.match(path) else None
        if host == "tfhub.dev" or host.endswith(".tfhub.dev"):
            return from_tfhub(path) if path.count("/") >= 2 else None
        return None
    if KAGGLE_HANDLE.match(spec):
        return from_kaggle(spec)
    if spec.startswith("google/") and spec.count("/") >= 2:
        return from_tfhub(spec)
    return None
