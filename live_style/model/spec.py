"""Where the model comes from: a `--model SPEC` (or `LIVE_STYLE_MODEL`) turned into local files.

SPEC is a local SavedModel folder, a folder holding a Magenta TF Lite pair, a Kaggle Models or
tfhub.dev handle or URL (downloaded once, verified, into the user's cache: `download`), `lite`,
`hub`, or two .tflite files or references joined by a comma. With no SPEC: the hub model when
TensorFlow sees a GPU, the TF Lite pair otherwise.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from live_style.errors import UserError
from live_style.model.download import fetch, remove_bad_legacy_files
from live_style.model.remote import DEFAULT_PREDICT, DEFAULT_TRANSFER, HUB, RemoteModel, parse_reference
from live_style.model.style_cache import default_cache_dir

TRANSFER_PREFERENCE = ("fp16", "dynamic", "int8")  # float16 weights first, then float maths


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


def lite_pair_in(folder: Path) -> ModelFiles | None:
    """The style-predict file and the preferred transfer file in a folder, if both are there: by their names, or two
    .tflite files named anyhow (both of Magenta's archives unpack to 1.tflite) told apart by their inputs."""
    predict = sorted(folder.glob("*predict*.tflite"))
    transfer = sorted(folder.glob("*transfer*.tflite"))
    if not predict or not transfer:
        return pair_by_inputs(sorted(folder.glob("*.tflite")))
    rank = {
        p: next((i for i, tag in enumerate(TRANSFER_PREFERENCE) if tag in p.name), len(TRANSFER_PREFERENCE))
        for p in transfer
    }
    return ModelFiles("lite", (predict[0], min(transfer, key=lambda p: (rank[p], p.name))))


def pair_by_inputs(files: list[Path]) -> ModelFiles | None:
    """Two .tflite files as (style-predict, transfer): the style network takes one input (the style image), the
    transfer network two (the content and the style vector). None unless there is exactly one of each."""
    if len(files) != 2:
        return None
    import tensorflow as tf

    try:
        inputs = {path: len(tf.lite.Interpreter(model_path=str(path)).get_input_details()) for path in files}
    except (ValueError, RuntimeError):  # not a TF Lite model
        return None
    by_count = {count: path for path, count in inputs.items()}
    return ModelFiles("lite", (by_count[1], by_count[2])) if set(by_count) == {1, 2} else None


ROLES = ("predict", "transfer")  # the TF Lite pair's halves, in the order given


def local_model(spec: str, named: str) -> ModelFiles:
    """A SavedModel folder or a folder holding a TF Lite pair (`named`: how the user gave it, for messages)."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(
            f"{named} does not exist; give a Kaggle or tfhub.dev handle, a SavedModel folder or a TF Lite folder"
        )
    if (path / "saved_model.pb").is_file():
        return ModelFiles("hub", (path,))
    pair = lite_pair_in(path) if path.is_dir() else None
    if pair is None:
        raise UserError(
            f"{named} is not a model: expected a folder with saved_model.pb, or with Magenta's two .tflite files "
            "(the style-predict and the transfer network, named anyhow)"
        )
    return pair


def downloaded(remote: RemoteModel) -> Path:
    """A remote model piece from the cache, downloaded on first use."""
    return fetch(remote, default_cache_dir())


def lite_piece_path(spec: str, role: str, option: str) -> Path:
    """One half of a TF Lite pair: a local .tflite file, or a Kaggle / tfhub.dev reference."""
    remote = parse_reference(spec)
    if remote is not None:
        if remote.role != role:
            raise UserError(f"{option}: {spec} is a {remote.role} model where a {role} .tflite file belongs")
        return downloaded(remote)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"{option}: {spec} does not exist; give two .tflite files (style-predict first, then transfer)")
    return path


def remote_model(remote: RemoteModel) -> ModelFiles:
    """A Kaggle or tfhub.dev reference: the hub SavedModel, or a TF Lite half completed by Magenta's other half."""
    if remote.role == "hub":
        return ModelFiles("hub", (downloaded(remote),))
    predict = remote if remote.role == "predict" else DEFAULT_PREDICT
    transfer = remote if remote.role == "transfer" else DEFAULT_TRANSFER
    return ModelFiles("lite", (downloaded(predict), downloaded(transfer)))


def locate_model(spec: str | None, gpu: bool) -> ModelFiles:
    """Turn SPEC (or LIVE_STYLE_MODEL, or the device's default) into local model files."""
    option = "--model" if spec else "LIVE_STYLE_MODEL"
    spec = (spec or os.environ.get("LIVE_STYLE_MODEL") or "").strip()
    named = f"--model {spec}" if option == "--model" else f"LIVE_STYLE_MODEL={spec}"
    if spec in ("", "default"):
        spec = "hub" if gpu else "lite"
    if spec == "lite":
        remove_bad_legacy_files(default_cache_dir())
        return ModelFiles("lite", (downloaded(DEFAULT_PREDICT), downloaded(DEFAULT_TRANSFER)))
    if spec == "hub":
        return remote_model(HUB)
    if "," in spec:
        pieces = [part.strip() for part in spec.split(",")]
        if len(pieces) != 2:
            raise UserError(f"{named}: give two .tflite files or references, style-predict first, then transfer")
        predict, transfer = (lite_piece_path(piece, role, option) for piece, role in zip(pieces, ROLES, strict=True))
        return ModelFiles("lite", (predict, transfer))
    if Path(spec).expanduser().exists():
        return local_model(spec, named)
    remote = parse_reference(spec)
    if remote is not None:
        return remote_model(remote)
    return local_model(spec, named)
