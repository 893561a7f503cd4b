"""Where the model comes from: a `--model SPEC` (or `LIVE_STYLE_MODEL`) turned into local files.

SPEC is a TF Hub handle or URL (downloaded and cached by tensorflow_hub), a local SavedModel
folder, a folder holding a Magenta TF Lite pair, or the two .tflite files joined by a comma.
With no SPEC: the hub model when TensorFlow sees a GPU, the TF Lite pair otherwise, each
downloaded once into the user's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from live_style.errors import UserError
from live_style.model.style_cache import default_cache_dir

HUB_HANDLE = "google/magenta/arbitrary-image-stylization-v1-256/2"
HUB_URL = f"https://tfhub.dev/{HUB_HANDLE}"
LITE_BASE = "https://tfhub.dev/google/lite-model/magenta/arbitrary-image-stylization-v1-256"
LITE_DOWNLOADS = {
    "style_predict_int8.tflite": f"{LITE_BASE}/int8/prediction/1?lite-format=tflite",
    "style_transfer_fp16.tflite": f"{LITE_BASE}/fp16/transfer/1?lite-format=tflite",
}
TRANSFER_PREFERENCE = ("fp16", "dynamic", "int8")  # float16 weights first, then float maths
OFFLINE_HINT = "download it where there is a network and point --model or LIVE_STYLE_MODEL at the local copy"
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class ModelFiles:
    """A located model: a hub SavedModel folder, or a TF Lite (predict, transfer) pair."""

    kind: str
    paths: tuple[Path, ...]

    def identity(self) -> str:
        """A digest of the files the style vector depends on (for the style cache)."""
        files = (
            [self.paths[0]]
            if self.kind == "lite"
            else [self.paths[0] / "saved_model.pb", self.paths[0] / "variables" / "variables.index"]
        )
        digest = hashlib.sha256(self.kind.encode())
        for path in files:
            digest.update(path.read_bytes())
        return digest.hexdigest()


def is_hub_reference(spec: str) -> bool:
    """A URL, or a handle like google/magenta/...; a path that exists is never one."""
    return spec.startswith(("http://", "https://")) or (spec.startswith("google/") and not Path(spec).exists())


def lite_pair_in(folder: Path) -> ModelFiles | None:
    """The style-predict file and the preferred transfer file in a folder, if both are there."""
    predict = sorted(folder.glob("*predict*.tflite"))
    transfer = sorted(folder.glob("*transfer*.tflite"))
    if not predict or not transfer:
        return None
    rank = {
        p: next((i for i, tag in enumerate(TRANSFER_PREFERENCE) if tag in p.name), len(TRANSFER_PREFERENCE))
        for p in transfer
    }
    return ModelFiles("lite", (predict[0], min(transfer, key=lambda p: (rank[p], p.name))))


def local_model(spec: str) -> ModelFiles:
    """A SavedModel folder, a TF Lite pair folder, or 'predict.tflite,transfer.tflite'."""
    if "," in spec:
        paths = tuple(Path(p.strip()) for p in spec.split(","))
        missing = [p for p in paths if not p.is_file()]
        if len(paths) != 2 or missing:
            raise UserError(f"--model {spec}: give two existing .tflite files, style-predict first, then transfer")
        return ModelFiles("lite", paths)
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"--model {spec} does not exist; give a TF Hub handle, a SavedModel folder or a TF Lite folder")
    if (path / "saved_model.pb").is_file():
        return ModelFiles("hub", (path,))
    pair = lite_pair_in(path) if path.is_dir() else None
    if pair is None:
        raise UserError(
            f"--model {spec} is not a model: expected a folder with saved_model.pb, or with *predict*.tflite "
            "and *transfer*.tflite files"
        )
    return pair


def download_hub_model(reference: str) -> ModelFiles:
    """Resolve a hub handle or URL through tensorflow_hub's download cache."""
    import tensorflow_hub as hub

    os.environ.setdefault("TFHUB_CACHE_DIR", str(default_cache_dir() / "tfhub"))
    url = reference if reference.startswith(("http://", "https://")) else f"https://tfhub.dev/{reference}"
    try:
        return ModelFiles("hub", (Path(hub.resolve(url)),))
    except Exception as error:  # tensorflow_hub raises many kinds for a failed download
        raise UserError(f"cannot download the model {url} ({type(error).__name__}); {OFFLINE_HINT}") from None


def download(url: str, target: Path) -> None:
    """Fetch url to target through a temporary file, so a broken download never looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
            out.write(response.read())
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"cannot download the model {url} ({error}); {OFFLINE_HINT}") from None
    partial.replace(target)


def default_lite_model() -> ModelFiles:
    """The TF Lite pair in the user's cache, downloaded on first use."""
    folder = default_cache_dir() / "magenta-lite"
    for name, url in LITE_DOWNLOADS.items():
        if not (folder / name).is_file():
            download(url, folder / name)
    return ModelFiles("lite", tuple(folder / name for name in LITE_DOWNLOADS))


def locate_model(spec: str | None, gpu: bool) -> ModelFiles:
    """Turn SPEC (or LIVE_STYLE_MODEL, or the device's default) into local model files."""
    spec = spec or os.environ.get("LIVE_STYLE_MODEL") or ""
    if spec in ("", "default"):
        spec = "hub" if gpu else "lite"
    if spec == "lite":
        return default_lite_model()
    if spec == "hub":
        return download_hub_model(HUB_URL)
    if is_hub_reference(spec):
        return download_hub_model(spec)
    return local_model(spec)
