"""Is this really the model? Checks a downloaded (or cached) file before anything trusts it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from live_style.logs import quiet_native_stderr

TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, bytes 4-8 of every .tflite file
STYLE_VECTOR = 100


class BadModel(Exception):
    """What arrived is not the model it should be (the message says why)."""


def check_tflite(path: Path, role: str) -> None:
    """A TF Lite file with a style-predict (256x256x3 -> 100), transfer (image + 100 -> image) or
    segmenter (image -> one-channel mask of its size) interface."""
    head = Path(path).read_bytes()[:512]
    if head.lstrip().lower().startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
        raise BadModel("a web page or error text, not a model")
    if head[4:8] != TFLITE_IDENTIFIER:
        raise BadModel("not a TF Lite flatbuffer")
    try:
        with quiet_native_stderr(), warnings.catch_warnings():  # tf.lite's deprecation notice: it still works
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=str(path))
    except (ValueError, RuntimeError) as error:
        raise BadModel(f"TF Lite cannot open it: {str(error).splitlines()[0]}") from None
    inputs = [tuple(detail["shape"]) for detail in interpreter.get_input_details()]
    outputs = [tuple(detail["shape"]) for detail in interpreter.get_output_details()]
    if role == "segmenter":
        masks = [shape for shape in outputs if len(shape) == 4 and shape[-1] == 1]
        if len(inputs) != 1 or len(inputs[0]) != 4 or inputs[0][-1] != 3 or masks != [(*inputs[0][:3], 1)]:
            raise BadModel(f"not a person segmentation file (inputs {inputs}, outputs {outputs})")
        return
    if role == "predict":
        if inputs != [(1, 256, 256, 3)] or len(outputs) != 1 or int(np.prod(outputs[0])) != STYLE_VECTOR:
            raise BadModel(f"not a style-predict file (inputs {inputs}, outputs {outputs})")
        return
    images = [shape for shape in inputs if len(shape) == 4 and shape[-1] == 3]
    vectors = [shape for shape in inputs if int(np.prod(shape)) == STYLE_VECTOR]
    if len(inputs) != 2 or not images or not vectors or len(outputs) != 1 or outputs[0][-1:] != (3,):
        raise BadModel(f"not a style-transfer file (inputs {inputs}, outputs {outputs})")


def check_saved_model(folder: Path) -> None:
    """A SavedModel whose serving_default signature takes two float images (content, style)."""
    if not (Path(folder) / "saved_model.pb").is_file():
        raise BadModel("no saved_model.pb in it")
    try:
        with quiet_native_stderr():
            signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    except (KeyError, ValueError, OSError, tf.errors.OpError) as error:
        raise BadModel(
            f"TensorFlow cannot load it as the stylization SavedModel: {str(error).splitlines()[0]}"
        ) from None
    specs = list(signature.structured_input_signature[1].values())
    images = [s for s in specs if s.dtype == tf.float32 and s.shape.rank == 4 and s.shape[-1] == 3]
    if len(specs) != 2 or len(images) != 2:
        raise BadModel(f"its serving_default signature does not take two images ({specs})")


def check_model(path: Path, role: str) -> None:
    """check_tflite for a predict, transfer or segmenter file, check_saved_model for the hub model."""
    if role == "hub":
        check_saved_model(path)
    else:
        check_tflite(path, role)
