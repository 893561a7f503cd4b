"""The engine's public face: style vectors once per style, then a compiled transfer per frame."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

import numpy as np
import tensorflow as tf
from tensorflow.core.framework.graph_pb2 import GraphDef

from live_style.atomic import sha256_of
from live_style.imaging import SIZE_MULTIPLE, as_batch, processing_shape, resize_frames, style_input
from live_style.imaging import preserve_colors as keep_colors
from live_style.model.openvino_runtime import (
    DEFAULT_LAYOUT,
    OpenVinoTransfer,
    int8_candidate,
    int8_rest,
    split_candidate,
)
from live_style.model.style_cache import StyleCache, style_key

GPU_DEFAULT_SIZE = 512
CPU_DEFAULT_SIZE = 384


class Network(Protocol):
    """What a model source provides: a style network and a transfer network."""

    vector_size: int
    fixed_size: tuple[int, int] | None
    description: str

    def predict_style(self, style_rgb: np.ndarray) -> np.ndarray: ...

    def transfer(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor: ...

    def openvino_source(self) -> Callable | GraphDef: ...

    def torch_weights(self) -> dict[str, np.ndarray]: ...

    def macs_per_frame(self, height: int, width: int) -> int: ...


class Stylizer:
    """`style_vector(style_bgr)` once per style; `transfer(frames_at_processing_shape, vector)` per frame or batch
    (`stylize` for stills of any size)."""

    def __init__(
        self,
        network: Network,
        identity: str,
        device: str,
        xla: bool = False,
        cache: StyleCache | None = None,
        runtime: str = "tensorflow",
        torch_device: str = "cpu",
    ):
        """`device`: TensorFlow's (the style network; the transfer too on TensorFlow); `torch_device`: torch's
        ("cuda", "mps" or "cpu") when `runtime` is "torch"."""
        self.network = network
        self.identity = identity
        self.device = device
        self.xla = xla
        self.runtime = runtime
        self.cache = cache or StyleCache()
        self.torch_device = torch_device if runtime == "torch" else None
        self.default_size = GPU_DEFAULT_SIZE if self.on_gpu else CPU_DEFAULT_SIZE
        signature = [
            tf.TensorSpec([None, None, None, 3], tf.uint8, name="frames_bgr"),
            tf.TensorSpec([1, 1, 1, network.vector_size], tf.float32, name="style_vector"),
        ]
        self.precision, self.layout = "float32", DEFAULT_LAYOUT
        self.precision_decision: dict | None = None  # the measurement behind `precision`, if it was measured
        self.last_shape: tuple[int, int] | None = None  # (height, width) the network last ran at, for reports
        if runtime == "openvino":
            layouts = getattr(network, "layouts", {})
            self._run = self.openvino = OpenVinoTransfer(network.openvino_source(), network.vector_size, layouts)
        elif runtime == "torch":
            self.use_precision("float32", wait=True)
        else:
            self.compiled = tf.function(self._transfer_bgr, input_signature=signature, jit_compile=xla or None)
            self._run = lambda frames, vector: self.compiled(frames, vector).numpy()

    @property
    def on_gpu(self) -> bool:
        """Whether the transfer network runs on a GPU (TensorFlow's, or torch's CUDA or MPS)."""
        if self.runtime == "torch":
            return self.torch_device in ("cuda", "mps")
        return "GPU" in self.device.upper()

    def use_precision(self, candidate: str, wait: bool) -> None:
        """Run OpenVINO as `candidate`: int8 (per style; float32 until ready unless `wait`) with the rest in a float
        precision ("int8", "int8 bfloat16"), or a float precision in a layout ("bfloat16", "bfloat16 plain": see
        `precision_choice`)."""
        if self.runtime == "torch":
            self._run = self.torch = self._torch_transfer(candidate)
            self.precision = candidate
            return
        rest = int8_rest(candidate)
        if rest is not None:
            self.quantize_per_style(wait, rest)
            return
        precision, layout = split_candidate(candidate)
        self.openvino.use_float(precision, layout)
        self.precision, self.layout = precision, layout

    def _torch_transfer(self, precision: str):
        """The transfer network on torch in this precision."""
        from live_style.model.torch_runtime import TorchTransfer

        return TorchTransfer(self._torch_weights, self.torch_device, precision)

    @functools.cached_property
    def _torch_weights(self) -> dict:
        """The transfer network's torch weights, from their file (written once into the cache), read once."""
        from live_style.model.torch_runtime import load_weights
        from live_style.model.torch_weights import cached_weights

        return load_weights(
            cached_weights(self.network, self.transfer_identity, self.cache.directory.parent / "torch-weights")
        )

    @functools.cached_property
    def transfer_identity(self) -> str:
        """What the transfer network's weights depend on: the model's identity (its style files) and, for a TF Lite
        pair, the transfer file's content (one predict file pairs with several transfer files)."""
        source = getattr(self.network, "transfer_path", None)
        return self.identity if source is None else f"{self.identity} {sha256_of(source)}"

    @property
    def candidate(self) -> str:
        """What runs, as the measured choice names it: a precision and, when not the default, its layout."""
        if self.precision == "int8":
            return int8_candidate(self.openvino.int8_rest)
        return self.precision if self.layout == DEFAULT_LAYOUT else f"{self.precision} {self.layout}"

    def quantize_per_style(self, wait: bool, rest: str) -> None:
        """Run OpenVINO int8, quantized per style vector (waiting for it, or float until it is ready), the rest of
        the network in the float precision `rest`."""
        self.openvino.quantize(self.identity, self.cache.directory.parent / "int8-transfer", wait, rest)
        self.precision, self.layout = "int8", DEFAULT_LAYOUT

    def prepare(self, vector: np.ndarray) -> None:
        """Make this style's int8 network now (when it runs int8), before a job's progress starts."""
        if self.precision == "int8":
            self.openvino.prepare(vector)

    @property
    def description(self) -> str:
        """What runs, where, and how (for logs and benchmark headers)."""
        how = " with XLA" if self.xla else ""
        if self.runtime == "openvino":
            layout = "" if self.layout == DEFAULT_LAYOUT else f", {self.layout} layout"
            rest = f" (the rest {self.openvino.int8_rest})" if self.precision == "int8" else ""
            runs, name = f"OpenVINO, {self.precision}{rest}{layout}", self.network.description
            name = name.replace("TF ops, float32", runs) if "TF ops, float32" in name else f"{name} ({runs})"
            return f"{name} on the CPU"
        if self.runtime == "torch":
            from live_style.model.torch_runtime import device_report

            runs, name = f"PyTorch, {self.precision}", self.network.description
            name = name.replace("TF ops, float32", runs) if "TF ops, float32" in name else f"{name} ({runs})"
            return f"{name} on {device_report(self.torch_device)}"
        return f"{self.network.description} on {self.device}{how}"

    def style_vector(self, style_bgr: np.ndarray, remember: bool = True) -> np.ndarray:
        """The style vector [1,1,1,D] of a style image, from the cache when seen before (and kept in it
        when `remember`: a stranger's upload is not)."""
        prepared = style_input(style_bgr)
        if not remember:
            return self._run_style_network(prepared)
        return self.cache.get_or_compute(style_key(self.identity, prepared), lambda: self._run_style_network(prepared))

    def _run_style_network(self, prepared: np.ndarray) -> np.ndarray:
        with tf.device(self.device):
            return np.asarray(self.network.predict_style(prepared), np.float32).reshape(1, 1, 1, -1)

    def processing_shape(self, height: int, width: int, size: int | None = None) -> tuple[int, int]:
        """(height, width) the network runs at for a frame of this size: the one place a processing size is decided.

        Callers shrink frames to it and hand them to `transfer`, which never resizes again."""
        return self.network.fixed_size or processing_shape(height, width, size or self.default_size)

    def transfer(self, frames: np.ndarray, vector: np.ndarray, preserve_colors: bool = False) -> np.ndarray:
        """BGR uint8 NxHxWx3 frames already at a processing shape -> stylized frames of that same shape.

        The network runs at exactly the frames' shape; a shape it cannot take is a caller's error, not resized.
        """
        height, width = frames.shape[1:3]
        fixed = self.network.fixed_size
        if (fixed and (height, width) != fixed) or (not fixed and (height % SIZE_MULTIPLE or width % SIZE_MULTIPLE)):
            raise ValueError(f"frames of {width}x{height} are not a processing shape; use processing_shape()")
        out = self._run(frames, np.asarray(vector, np.float32).reshape(1, 1, 1, -1))
        self.last_shape = (height, width)
        if preserve_colors:
            out = np.stack([keep_colors(o, s) for o, s in zip(out, frames, strict=True)])
        return out

    def stylize(
        self,
        frames: np.ndarray,
        vector: np.ndarray,
        size: int | None = None,
        output_size: tuple[int, int] | None = None,
        preserve_colors: bool = False,
    ) -> np.ndarray:
        """Any BGR HxWx3 or NxHxWx3 frames (stills) -> same layout: shrunk to `processing_shape(size)`,
        `transfer`red, brought back to `output_size` (width, height), by default the input's.
        """
        batch, single = as_batch(frames)
        width, height = output_size or (batch.shape[2], batch.shape[1])
        shape = self.processing_shape(*batch.shape[1:3], size)
        # on CUDA one upload, resized on the GPU (MPS's area resize takes whole ratios only: the CPU resizes there)
        if self.torch_device == "cuda" and not preserve_colors:
            out = self.torch.resized(batch, vector, shape, (width, height))
            self.last_shape = shape
            return out[0] if single else out
        small = resize_frames(batch, *shape)
        out = self.transfer(small, vector, preserve_colors)
        out = resize_frames(out, height, width)
        return out[0] if single else out

    def _transfer_bgr(self, frames: tf.Tensor, vector: tf.Tensor) -> tf.Tensor:
        """Traced once per input signature: uint8 BGR in, network, uint8 BGR out."""
        with tf.device(self.device):
            rgb = tf.cast(tf.reverse(frames, [-1]), tf.float32) / 255.0
            out = tf.cast(self.network.transfer(rgb, vector), tf.float32)
            return tf.reverse(tf.cast(tf.round(tf.clip_by_value(out, 0.0, 1.0) * 255.0), tf.uint8), [-1])
