"""Magenta's distilled (TF Lite) model: the transfer network rebuilt as TensorFlow ops.

The .tflite files fix the transfer network to 384x384 and the CPU. Reading their weights
(dequantized) into ordinary TF ops gives a `tf.function` that runs at any frame size, under XLA and
on a GPU. The layer layout follows Magenta's `arbitrary_image_stylization` transformer:
contract (3 convs, folded batch norm, ReLU), 5 residual blocks and 3 upsampling convs, each of the
latter with a conditional instance norm whose beta/gamma are 1x1 convs of the style vector.

Two of the expand convs are computed in an equivalent, cheaper arrangement (same output to float
rounding): the convs after a nearest 2x upsample run on the small input with the four output phases
stacked on the channel axis, and the last 9x9 conv (3 output channels, which CPU kernels vectorize
badly) runs on the space-to-depth input, its four output phases giving 12 channels.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from live_style.errors import UserError
from live_style.logs import quiet_native_stderr
from live_style.model.macs import graph_macs

NORM_EPSILON = 1e-5
CONTRACT = ("conv1", 9, 1), ("conv2", 3, 2), ("conv3", 3, 2)
RESIDUAL_BLOCKS = 5
EXPAND = ("conv1", 3, 2), ("conv2", 3, 2), ("conv3", 9, 1)


def tflite_interpreter(path: Path, content: bytes | None = None, threads: int | None = None) -> tf.lite.Interpreter:
    """Open a .tflite file (or its `content`, named `path`) on `threads` cores, default all.

    tf.lite's deprecation notice is silenced: it still works.
    """
    source = {"model_content": content} if content is not None else {"model_path": str(path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with quiet_native_stderr():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
                interpreter = tf.lite.Interpreter(**source, num_threads=threads or os.cpu_count())
                interpreter.allocate_tensors()
        except ValueError as error:
            raise UserError(f"{path} is not a TF Lite model ({error}); give a Magenta .tflite file") from None
    return interpreter


def dequantize(value: np.ndarray, quantization: dict) -> np.ndarray:
    """Turn a stored tensor (float16, or int8/int32 with per-axis scales) into float32."""
    scales = quantization["scales"]
    if len(scales) == 0:
        return value.astype(np.float32)
    axis = quantization["quantized_dimension"]
    shape = [1] * value.ndim
    if value.ndim:
        shape[axis] = -1
    scale = scales.reshape(shape) if value.ndim else scales[0]
    zero = quantization["zero_points"].reshape(shape) if value.ndim else quantization["zero_points"][0]
    return ((value.astype(np.float32) - zero) * scale).astype(np.float32)


def read_weights(interpreter: tf.lite.Interpreter) -> dict[str, np.ndarray]:
    """Every constant weight of a transfer file, by layer name, as float32 (OHWI kernels)."""
    weights = {}
    for detail in interpreter.get_tensor_details():
        name = detail["name"].removesuffix("/read")
        if not name.endswith(("/weights", "/Conv2D_bias")):
            continue
        weights[name] = dequantize(interpreter.get_tensor(detail["index"]), detail["quantization_parameters"])
    return weights


@dataclass(frozen=True)
class ConvWeights:
    """One conv layer: HWIO kernel and bias, as TF's conv2d wants them."""

    kernel: tf.Tensor
    bias: tf.Tensor

    @classmethod
    def from_lite(
        cls,
        weights: dict[str, np.ndarray],
        scope: str,
        dtype: tf.DType,
        phased: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> ConvWeights:
        """Take `scope/weights` (OHWI) and `scope/Conv2D_bias` (zeros when the file shares none).

        `phased` rewrites the kernel into one producing the four 2x2 output phases (bias repeated).
        """
        kernel = weights[f"{scope}/weights"].transpose(1, 2, 3, 0)
        bias = weights.get(f"{scope}/Conv2D_bias", np.zeros(kernel.shape[-1], np.float32))
        if phased:
            kernel, bias = phased(kernel), np.tile(bias, 4)
        return cls(tf.constant(kernel, dtype), tf.constant(bias, dtype))


def reflect_pad(x: tf.Tensor, pad: int) -> tf.Tensor:
    """Mirror `pad` pixels on each side of the frame, as Magenta's `ops.conv2d`."""
    return tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")


def padded_conv(x: tf.Tensor, conv: ConvWeights, stride: int) -> tf.Tensor:
    """Reflect-padded 'same' conv, as Magenta's `ops.conv2d`."""
    x = reflect_pad(x, int(conv.kernel.shape[0]) // 2)
    return tf.nn.conv2d(x, conv.kernel, stride, "VALID") + conv.bias


def upsampling_phases(kernel: np.ndarray) -> np.ndarray:
    """3x3 kernel applied after a nearest 2x upsample -> a 3x3 kernel on the small input, 4 phases out.

    Output pixel (2y+py, 2x+px) reads small rows y+{0,1} (py=0) or y+{1,2} (py=1) of the edge-padded
    input, so each phase's taps are sums of the original kernel's rows and columns.
    """
    taps = (((0, [0]), (1, [1, 2])), ((1, [0, 1]), (2, [2])))  # phase -> (small offset, kernel rows)
    _, _, inputs, outputs = kernel.shape
    phases = np.zeros((3, 3, inputs, 2, 2, outputs), np.float32)
    for py, px in itertools.product(range(2), repeat=2):
        for (row, rows), (col, cols) in itertools.product(taps[py], taps[px]):
            phases[row, col, :, py, px] += kernel[np.ix_(rows, cols)].sum((0, 1))
    return phases.reshape(3, 3, inputs, 4 * outputs)


def space_to_depth_phases(kernel: np.ndarray) -> np.ndarray:
    """KxK stride-1 kernel -> the same conv on the 2x2 space-to-depth input, 4 phases out."""
    size, _, inputs, outputs = kernel.shape
    taps = size // 2 + 1
    phases = np.zeros((taps, taps, 2, 2, inputs, 2, 2, outputs), np.float32)
    for py, px, i, j in itertools.product(range(2), range(2), range(size), range(size)):
        (row, dy), (col, dx) = divmod(py + i, 2), divmod(px + j, 2)
        phases[row, col, dy, dx, :, py, px] = kernel[i, j]
    return phases.reshape(taps, taps, 4 * inputs, 4 * outputs)


def upsampled_conv(x: tf.Tensor, conv: ConvWeights) -> tf.Tensor:
    """Nearest 2x upsample then reflect-padded 3x3 conv, computed at the small size (`upsampling_phases`).

    Mirroring one pixel of the upsampled frame repeats the small frame's edge pixel.
    """
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depth_to_space(tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias, 2)


def space_to_depth(x: tf.Tensor) -> tf.Tensor:
    """tf.nn.space_to_depth(x, 2) as reshapes and a transpose, which OpenVINO's int8 path carries
    quantized (its SpaceToDepth falls back to float32, and the conv after it with it: 4 ms a frame)."""
    shape = tf.shape(x)
    height, width, channels = shape[1] // 2, shape[2] // 2, x.shape[-1]
    blocks = tf.transpose(tf.reshape(x, [shape[0], height, 2, width, 2, channels]), [0, 1, 3, 2, 4, 5])
    return tf.reshape(blocks, [shape[0], height, width, 4 * channels])


def space_to_depth_conv(x: tf.Tensor, conv: ConvWeights, size: int) -> tf.Tensor:
    """Reflect-padded 'same' KxK conv (even frame sides) computed on 2x2 blocks (`space_to_depth_phases`)."""
    blocks = space_to_depth(reflect_pad(x, size // 2))
    return tf.nn.depth_to_space(tf.nn.conv2d(blocks, conv.kernel, 1, "VALID") + conv.bias, 2)


def conditional_instance_norm(x: tf.Tensor, beta: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """Instance norm whose shift and scale come from the style vector."""
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    scale = gamma * tf.math.rsqrt(variance + NORM_EPSILON)
    return x * scale + (beta - mean * scale)  # two full-frame ops instead of four


class LiteTransformer:
    """The distilled transfer network as TF ops, weights from a Magenta transfer .tflite file."""

    def __init__(self, weights: dict[str, np.ndarray], dtype: tf.DType = tf.float32, phased: bool = True):
        """`phased`: the expand convs in the 2x2-phase layout (faster for float32 and int8 on AVX CPUs), else
        Magenta's plain upsample-then-conv (faster in bfloat16 on AMX): which wins is measured per CPU."""
        self.dtype, self.phased = dtype, phased
        self.contract = [ConvWeights.from_lite(weights, f"transformer/contract/{n}", dtype) for n, _, _ in CONTRACT]
        self.residual = [
            [self._styled_conv(weights, f"transformer/residual/residual{i}/{c}") for c in ("conv1", "conv2")]
            for i in range(1, RESIDUAL_BLOCKS + 1)
        ]
        self.expand = [
            self._styled_conv(
                weights,
                f"transformer/expand/{n}/conv",
                (upsampling_phases if stride > 1 else space_to_depth_phases) if phased else None,
            )
            for n, _, stride in EXPAND
        ]

    def _styled_conv(
        self, weights: dict[str, np.ndarray], scope: str, phased: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> tuple[ConvWeights, ConvWeights, ConvWeights]:
        """A conv and the two 1x1 convs mapping the style vector to its norm's beta and gamma."""
        style_scope = f"style_params/{scope}/StyleNorm"
        return (
            ConvWeights.from_lite(weights, scope, self.dtype, phased),
            ConvWeights.from_lite(weights, f"{style_scope}/Conv", tf.float32),
            ConvWeights.from_lite(weights, f"{style_scope}/Conv_1", tf.float32),
        )

    def _expand_conv(self, x: tf.Tensor, conv: ConvWeights, size: int, stride: int) -> tf.Tensor:
        """An expand conv (after a nearest 2x upsample when `stride` > 1), in this network's layout."""
        if self.phased:
            return upsampled_conv(x, conv) if stride > 1 else space_to_depth_conv(x, conv, size)
        if stride > 1:
            x = tf.image.resize(x, tf.shape(x)[1:3] * 2, method="nearest")
        return padded_conv(x, conv, 1)

    def _norm(self, x: tf.Tensor, style: tf.Tensor, layer: tuple) -> tf.Tensor:
        """Conditional instance norm in float32, whatever the compute dtype."""
        _, beta, gamma = layer
        beta, gamma = (tf.nn.conv2d(style, c.kernel, 1, "VALID") + c.bias for c in (beta, gamma))
        return tf.cast(conditional_instance_norm(tf.cast(x, tf.float32), beta, gamma), self.dtype)

    def __call__(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        """RGB content in [0,1] [N,H,W,3] (H, W multiples of 4) + style vector [1,1,1,100] -> [N,H,W,3]."""
        x = tf.cast(content, self.dtype)
        for conv, (_, _, stride) in zip(self.contract, CONTRACT, strict=True):
            x = tf.nn.relu(padded_conv(x, conv, stride))
        for first, second in self.residual:
            h = tf.nn.relu(self._norm(padded_conv(x, first[0], 1), style, first))
            x = x + self._norm(padded_conv(h, second[0], 1), style, second)
        for index, (layer, (_, size, stride)) in enumerate(zip(self.expand, EXPAND, strict=True)):
            x = self._expand_conv(x, layer[0], size, stride)
            x = self._norm(x, style, layer)
            x = tf.nn.relu(x) if index < len(EXPAND) - 1 else tf.sigmoid(tf.cast(x, tf.float32))
        return x


def run_interpreter(interpreter: tf.lite.Interpreter, *inputs: np.ndarray) -> np.ndarray:
    """Feed the inputs in the file's order, run once, return the single output."""
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], np.asarray(value, np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def input_size(interpreter: tf.lite.Interpreter) -> tuple[int, int]:
    """(height, width) of a transfer file's content input."""
    _, height, width, _ = interpreter.get_input_details()[0]["shape"]
    return int(height), int(width)


class InterpreterTransfer:
    """The transfer file run by the TF Lite interpreter (fixed size, CPU): reference and option."""

    def __init__(self, interpreter: tf.lite.Interpreter):
        self.interpreter = interpreter

    def _run(self, content: np.ndarray, style: np.ndarray) -> np.ndarray:
        return np.concatenate([run_interpreter(self.interpreter, frame[None], style) for frame in content])

    def __call__(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(self._run, [content, style], tf.float32, stateful=True)
        return tf.ensure_shape(out, content.shape)


class LiteNetwork:
    """A Magenta TF Lite pair: style network in the interpreter (once per style), transfer as TF ops."""

    vector_size = 100

    def __init__(self, predict: Path, transfer: Path, dtype: tf.DType = tf.float32, interpreter: bool = False):
        self.predictor = tflite_interpreter(predict)
        self.transfer_path = Path(transfer)
        transfer_file = tflite_interpreter(transfer)
        self.fixed_size = input_size(transfer_file) if interpreter else None
        self.weights = read_weights(transfer_file)
        self._transfer = InterpreterTransfer(transfer_file) if interpreter else LiteTransformer(self.weights, dtype)
        self.layouts = {} if interpreter else {"plain": LiteTransformer(self.weights, dtype, phased=False)}
        how = "interpreter" if interpreter else f"TF ops, {dtype.name}"
        self.description = f"TF Lite pair {Path(predict).name} + {Path(transfer).name} ({how})"

    def predict_style(self, style_rgb: np.ndarray) -> np.ndarray:
        """[1,256,256,3] float RGB in [0,1] -> style vector [1,1,1,100]."""
        return run_interpreter(self.predictor, style_rgb)

    def transfer(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        """[N,H,W,3] float RGB in [0,1] + style vector -> stylized [N,H,W,3] in [0,1]."""
        return self._transfer(content, style)

    def openvino_source(self):
        """What OpenVINO converts: the transfer function itself."""
        return self.transfer

    def torch_weights(self) -> dict[str, np.ndarray]:
        """The transfer network's weights in the torch runtime's layout."""
        from live_style.model.torch_weights import from_lite

        return from_lite(self.weights)

    def macs_per_frame(self, height: int, width: int) -> int:
        """Multiply-accumulates of one frame, counted from the transfer network's layers."""
        network = LiteTransformer(self.weights)
        specs = tf.TensorSpec([1, height, width, 3]), tf.TensorSpec([1, 1, 1, self.vector_size])
        return graph_macs(tf.function(network.__call__).get_concrete_function(*specs).outputs[0])
