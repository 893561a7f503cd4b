"""Multiply-accumulates per frame, counted from the layers of a graph with static shapes."""

from __future__ import annotations

import math

import tensorflow as tf


def ancestors(output: tf.Tensor) -> list[tf.Operation]:
    """Every op the output depends on."""
    seen: dict[str, tf.Operation] = {}
    pending = [output.op]
    while pending:
        op = pending.pop()
        if op.name not in seen:
            seen[op.name] = op
            pending.extend(t.op for t in op.inputs)
    return list(seen.values())


def op_macs(op: tf.Operation) -> int:
    """MACs of one conv or matmul (0 for other ops); shapes must be static."""
    if op.type not in ("Conv2D", "DepthwiseConv2dNative", "MatMul"):
        return 0
    out, kernel = op.outputs[0].shape, op.inputs[1].shape
    if not (out.is_fully_defined() and kernel.is_fully_defined()):
        raise ValueError(f"{op.name} has no static shape; trace the network at a fixed frame size")
    if op.type == "MatMul":
        return math.prod(out) * (kernel[1] if op.get_attr("transpose_b") else kernel[0])
    if op.type == "Conv2D":  # each output value: kh * kw * input channels
        return math.prod(out) * kernel[0] * kernel[1] * kernel[2]
    return math.prod(out) * kernel[0] * kernel[1]  # depthwise: one input channel per output


def graph_macs(output: tf.Tensor) -> int:
    """MACs of everything `output` depends on."""
    return sum(op_macs(op) for op in ancestors(output))
