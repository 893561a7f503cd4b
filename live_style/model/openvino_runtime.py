"""The CPU runtime: the very same transfer network, compiled by OpenVINO (optional extra `.[openvino]`).

The TF function of the transfer network is converted once, with dynamic frame sizes, so it runs at
any size like the TensorFlow path; each frame size in use gets its own static-shape compilation
(about 10% faster than the dynamic one, a fraction of a second to build). Only the network goes to
OpenVINO: the uint8 BGR <-> float RGB steps run in OpenCV, which does them several times faster than
OpenVINO's generic ops.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np
import tensorflow as tf

from live_style.errors import UserError

if TYPE_CHECKING:
    from openvino import InferRequest

INSTALL_HINT = "pip install -e '.[openvino]' (or pip install openvino)"
COMPILED_SIZES = 4  # frame sizes kept compiled at once (a live source, a preview, a resized window...)


def openvino_available() -> bool:
    """Whether the OpenVINO runtime can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def import_openvino():
    """OpenVINO, or a one-line error naming the extra."""
    try:
        import openvino
    except ImportError:
        raise UserError(f"--runtime openvino needs OpenVINO: {INSTALL_HINT}") from None
    return openvino


def bgr_to_rgb_float(frames: np.ndarray) -> np.ndarray:
    """uint8 BGR [N,H,W,3] -> float32 RGB in [0,1]."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]).astype(np.float32) * (1 / 255.0)


def rgb_float_to_bgr(frames: np.ndarray) -> np.ndarray:
    """float RGB in [0,1] [N,H,W,3] -> uint8 BGR, rounded and clipped."""
    return np.stack([cv2.cvtColor(cv2.convertScaleAbs(f, alpha=255.0), cv2.COLOR_RGB2BGR) for f in frames])


class OpenVinoTransfer:
    """The transfer network compiled by OpenVINO for the CPU: uint8 BGR frames + style vector -> uint8 BGR."""

    def __init__(self, transfer: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], vector_size: int):
        ov = import_openvino()
        signature = [
            tf.TensorSpec([None, None, None, 3], tf.float32, name="content"),
            tf.TensorSpec([1, 1, 1, vector_size], tf.float32, name="style_vector"),
        ]
        self.model = ov.convert_model(tf.function(transfer, input_signature=signature).get_concrete_function())
        self.core = ov.Core()
        self.requests: OrderedDict[tuple[int, int], InferRequest] = OrderedDict()

    def _request(self, height: int, width: int) -> InferRequest:
        """The infer request compiled for this frame size (the least recently used size is dropped)."""
        if (height, width) not in self.requests:
            model = self.model.clone()
            model.reshape({model.inputs[0]: [1, height, width, 3]})
            config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": os.cpu_count() or 1}
            self.requests[height, width] = self.core.compile_model(model, "CPU", config).create_infer_request()
            if len(self.requests) > COMPILED_SIZES:
                self.requests.popitem(last=False)
        self.requests.move_to_end((height, width))
        return self.requests[height, width]

    def __call__(self, frames: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Run the frames one by one (one request per size, reused: every pipeline calls the model from one thread).

        Frame by frame: OpenVINO's CPU plugin cannot broadcast the single style vector over a dynamic batch,
        and batching gains nothing on a CPU.
        """
        style = np.asarray(vector, np.float32).reshape(1, 1, 1, -1)
        request = self._request(*frames.shape[1:3])
        outputs = []
        for frame in bgr_to_rgb_float(frames):
            request.infer([frame[None], style])
            outputs.append(rgb_float_to_bgr(request.get_output_tensor(0).data)[0])
        return np.stack(outputs)
