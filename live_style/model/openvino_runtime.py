"""The CPU runtime: the very same transfer network, compiled by OpenVINO (optional extra `.[openvino]`).

The TF function of the transfer network (the hub model's: its frozen GraphDef) is converted once,
with dynamic frame sizes, so it runs at any size like the TensorFlow path; each frame size in use gets
its own static-shape compilation (about 10% faster than the dynamic one, a fraction of a second to
build). Only the network goes to OpenVINO: the uint8 BGR <-> float RGB steps run in OpenCV, which
does them several times faster than OpenVINO's generic ops. With `int8`, each style vector gets its
own quantized network (see `live_style.model.int8`); frames run float until it is ready.

OpenVINO's converter and NNCF send usage telemetry unless opted out; live-style hides the
`openvino_telemetry` package from them, which both treat as "not installed": nothing is sent.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from tensorflow.core.framework.graph_pb2 import GraphDef

from live_style.errors import UserError
from live_style.imaging import bgr_to_rgb01, rgb01_to_bgr
from live_style.model.int8 import QuantizedModels

if TYPE_CHECKING:
    from openvino import AsyncInferQueue, CompiledModel, InferRequest, Model

INSTALL_HINT = "pip install -e '.[openvino]' (or pip install openvino)"
COMPILED = 6  # (network, frame size, mode) kept compiled at once (a live source, a preview, float and int8...)
HINTS = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}  # OpenVINO's INFERENCE_PRECISION_HINT
DEFAULT_LAYOUT = "phased"
Transfer = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def split_candidate(name: str) -> tuple[str, str]:
    """ "bfloat16 plain" -> ("bfloat16", "plain"); a bare precision is in the default layout."""
    precision, _, layout = name.partition(" ")
    return precision, layout or DEFAULT_LAYOUT


def int8_rest(name: str) -> str | None:
    """The float precision an int8 candidate runs the rest of the network in ("int8": float32, "int8 bfloat16":
    bfloat16); None for a float candidate."""
    precision, _, rest = name.partition(" ")
    return (rest or "float32") if precision == "int8" else None


def int8_candidate(rest: str) -> str:
    """The candidate's name for int8 with the rest in `rest` (the inverse of `int8_rest`)."""
    return "int8" if rest == "float32" else f"int8 {rest}"


def without_telemetry() -> None:
    """Make `openvino_telemetry` unimportable, the state in which OpenVINO and NNCF send nothing."""
    sys.modules.setdefault("openvino_telemetry", None)


def openvino_available() -> bool:
    """Whether the OpenVINO runtime can be imported."""
    without_telemetry()
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def import_openvino():
    """OpenVINO, or a one-line error naming the extra."""
    without_telemetry()
    try:
        import openvino
    except ImportError:
        raise UserError(f"--runtime openvino needs OpenVINO: {INSTALL_HINT}") from None
    return openvino


def vector_input(vector: np.ndarray) -> np.ndarray:
    """A style vector as the network's style input: float32 [1,1,1,N]."""
    return np.asarray(vector, np.float32).reshape(1, 1, 1, -1)


class OpenVinoTransfer:
    """The transfer network compiled by OpenVINO for the CPU: uint8 BGR frames + style vector -> uint8 BGR.

    `int8_models` (a `QuantizedModels` over `self.model`) runs each style's int8 network once it exists, its
    unquantized part (the normalization, the style's own convolutions) in `int8_rest`.
    """

    def __init__(self, transfer: Transfer | GraphDef, vector_size: int, layouts: dict[str, Transfer] | None = None):
        """`layouts`: the same network written other ways (e.g. "plain"), converted when first asked for."""
        self.vector_size = vector_size
        self.core = import_openvino().Core()
        self.model = self._convert(transfer)
        self.int8_models: QuantizedModels | None = None
        self.float_precision, self.layout, self.int8_rest = "float32", DEFAULT_LAYOUT, "float32"
        self._layout_sources = layouts or {}
        self._layouts = {DEFAULT_LAYOUT: self.model}
        self.requests: OrderedDict[tuple, InferRequest | AsyncInferQueue] = OrderedDict()  # see _compiled
        # THROUGHPUT for a video job: its batches' frames in flight at once (even a batch of one, so that a frame's
        # kernels never depend on where a segment or batch ends); LATENCY, one request on every core, for the rest
        self.mode = "LATENCY"
        self._requests_lock = threading.Lock()
        self._last_shape: tuple[int, int] | None = None  # (height, width) of the frames last run

    def _convert(self, transfer: Transfer | GraphDef) -> Model:
        """A transfer function (or a frozen GraphDef: content, then style input) as an OpenVINO model with
        dynamic frame sizes.

        The frozen graph goes to OpenVINO as a file, read by its C++ TensorFlow front end: handing it TensorFlow
        objects takes a Python path that `exec`s imports, which Python 3.13's exec semantics (PEP 667) break."""
        graph = transfer if isinstance(transfer, GraphDef) else self._frozen(transfer)
        with tempfile.TemporaryDirectory(prefix="live-style-graph-") as folder:
            path = Path(folder) / "transfer.pb"
            path.write_bytes(graph.SerializeToString())
            return self.core.read_model(str(path))

    def _frozen(self, transfer: Transfer) -> GraphDef:
        """The transfer function traced for any frame size and frozen (content, then style input)."""
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        signature = [
            tf.TensorSpec([None, None, None, 3], tf.float32, name="content"),
            tf.TensorSpec([1, 1, 1, self.vector_size], tf.float32, name="style_vector"),
        ]
        concrete = tf.function(transfer, input_signature=signature).get_concrete_function()
        return convert_variables_to_constants_v2(concrete).graph.as_graph_def()

    def layouts(self) -> list[str]:
        """The layouts this network can run in, the default first."""
        return [DEFAULT_LAYOUT, *self._layout_sources]

    def network(self, layout: str) -> Model:
        """The float network in this layout (converted once, on first use)."""
        if layout not in self._layouts:
            self._layouts[layout] = self._convert(self._layout_sources[layout])
        return self._layouts[layout]

    def use_float(self, precision: str, layout: str = DEFAULT_LAYOUT) -> None:
        """Run the float network (no int8) in this precision (float32, bfloat16 or float16: OpenVINO's precision
        hint) and layout."""
        self.network(layout)
        self.int8_models = None
        self.float_precision, self.layout = precision, layout

    def quantize(self, identity: str, directory: Path, wait: bool, rest: str) -> None:
        """Run int8 networks, quantized per style vector and stored in `directory` (see `QuantizedModels`), the
        rest of each in the float precision `rest`. Not waiting (live use), a new network is also compiled in the
        background for the frame size last run, so no frame waits for that either."""
        self.int8_rest = rest
        made = None if wait else self._compile_for_last_shape
        self.int8_models = QuantizedModels(self.core, self.model, identity, directory, wait, made)

    def prepare(self, vector: np.ndarray) -> None:
        """Make this style's int8 network now, if int8 is on (waiting for it when `quantize` said wait)."""
        if self.int8_models:
            self.int8_models.get(vector_input(vector))

    def _network(self, style: np.ndarray) -> tuple[str, Model, str]:
        """(name, network, precision hint) for this style: its int8 network when there is one ready, else the
        float one in the float precision chosen."""
        ready = self.int8_models.get(style) if self.int8_models else None
        if ready:
            key, network = ready
            return f"{key} {self.int8_rest}", network, HINTS[self.int8_rest]
        name = f"{self.float_precision} {self.layout}"
        return name, self.network(self.layout), HINTS[self.float_precision]

    def _compile_for_last_shape(self, key: str, network: Model) -> None:
        """Compile a just-made int8 network for the frame size last run (in the quantizing thread)."""
        if self._last_shape is not None:
            self._compiled(f"{key} {self.int8_rest}", network, HINTS[self.int8_rest], self._last_shape, self.mode)

    def compile(self, network: Model, hint: str, height: int, width: int, mode: str = "LATENCY") -> CompiledModel:
        """This network compiled for this frame size, in this precision hint and OpenVINO performance mode
        (LATENCY: one request on every core; THROUGHPUT: several requests in flight, a stream each)."""
        model = network.clone()
        model.reshape({model.inputs[0]: [1, height, width, 3]})
        # the precision hint is always given: CPUs with bf16 would default to it
        config = {"PERFORMANCE_HINT": mode, "INFERENCE_PRECISION_HINT": hint}
        if mode == "LATENCY":
            config["INFERENCE_NUM_THREADS"] = os.cpu_count() or 1
        return self.core.compile_model(model, "CPU", config)

    def _compiled(self, name: str, network: Model, hint: str, shape: tuple[int, int], mode: str):
        """The request (LATENCY) or request queue (THROUGHPUT) compiled for this network, frame shape and mode
        (the least recently used is dropped). Thread-safe: the int8 thread compiles ahead of the model's."""
        key = name, *shape, mode
        with self._requests_lock:
            found = self.requests.get(key)
        if found is None:
            compiled = self.compile(network, hint, *shape, mode)  # outside the lock: the other thread goes on
            ov = import_openvino()
            found = compiled.create_infer_request() if mode == "LATENCY" else ov.AsyncInferQueue(compiled)
        with self._requests_lock:
            self.requests[key] = found
            self.requests.move_to_end(key)
            if len(self.requests) > COMPILED:
                self.requests.popitem(last=False)
        return found

    def runner(
        self, precision: str, vector: np.ndarray, identity: str, int8_directory: Path, shape: tuple[int, int]
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A BGR frame -> BGR frame function for a candidate (int8 with the rest in a float precision, e.g.
        "int8 bfloat16", or a float precision with its layout, e.g. "bfloat16 plain"), on an infer request of its
        own (for measuring)."""
        style = vector_input(vector)
        rest = int8_rest(precision)
        if rest is not None:
            network = QuantizedModels(self.core, self.model, identity, int8_directory, wait=True).get(style)[1]
            request = self.compile(network, HINTS[rest], *shape).create_infer_request()
        else:
            float_precision, layout = split_candidate(precision)
            request = self.compile(self.network(layout), HINTS[float_precision], *shape).create_infer_request()

        def run(frame: np.ndarray) -> np.ndarray:
            request.infer([bgr_to_rgb01(frame[None]), style])
            return rgb01_to_bgr(request.get_output_tensor(0).data)[0]

        return run

    def __call__(self, frames: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Run the frames in `mode`: one by one on a LATENCY request, or in flight together on a THROUGHPUT queue.
        Every pipeline calls the model from one thread.

        Frame by frame: OpenVINO's CPU plugin cannot broadcast the single style vector over a dynamic batch.
        """
        style = vector_input(vector)
        name, network, hint = self._network(style)
        self._last_shape = frames.shape[1:3]
        compiled = self._compiled(name, network, hint, self._last_shape, self.mode)
        rgb01 = bgr_to_rgb01(frames)
        outputs = np.empty_like(frames)
        if self.mode == "LATENCY":
            for index, frame in enumerate(rgb01):
                compiled.infer([frame[None], style])
                outputs[index] = rgb01_to_bgr(compiled.get_output_tensor(0).data)[0]
            return outputs

        def finished(request: InferRequest, index: int) -> None:
            outputs[index] = rgb01_to_bgr(request.get_output_tensor(0).data)[0]

        compiled.set_callback(finished)
        try:
            for index, frame in enumerate(rgb01):
                compiled.start_async([frame[None], style], index)
        finally:  # Ctrl+C between two starts: none left in flight, whose callback at exit would abort the process
            compiled.wait_all()
        return outputs
