"""The transfer network's weights for the torch runtime: read once with the code that reads them for the other
runtimes, renamed into `torch_runtime`'s layout and cached in the user's cache as safetensors.

Both networks name their layers alike (Magenta's `transformer/...` and `style_params/transformer/.../StyleNorm`
scopes): the TF Lite file as weight tensors (OHWI kernels, batch norm folded into the contract convs' biases),
the hub model as its frozen transfer graph (HWIO kernels, the contract's batch norm as FusedBatchNormV3, which is
folded here).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework.graph_pb2 import GraphDef

from live_style.atomic import partial_path
from live_style.errors import UserError

ConvReader = Callable[[str], tuple[np.ndarray, np.ndarray]]  # a scope -> OIHW kernel, bias
LAYOUT_VERSION = "1"  # bump when the layout written changes: cached files are keyed by it


def layers(residual_blocks: int) -> Iterator[tuple[str, str, bool]]:
    """(torch name, Magenta scope, has a conditional norm) of every layer, in order."""
    for i in range(3):
        yield f"contract.{i}", f"transformer/contract/conv{i + 1}", False
    for b in range(residual_blocks):
        for j in range(2):
            yield f"residual.{b}.{j}", f"transformer/residual/residual{b + 1}/conv{j + 1}", True
    for i in range(3):
        yield f"expand.{i}", f"transformer/expand/conv{i + 1}/conv", True


def renamed(residual_blocks: int, conv: ConvReader) -> dict[str, np.ndarray]:
    """Every layer's kernel and bias and every norm's shift and scale maps, under torch names (float32)."""
    weights = {}
    for name, scope, styled in layers(residual_blocks):
        weights[f"{name}.weight"], weights[f"{name}.bias"] = conv(scope)
        if styled:
            for part, layer in (("beta", "Conv"), ("gamma", "Conv_1")):  # Magenta: Conv shifts, Conv_1 scales
                kernel, bias = conv(f"style_params/{scope}/StyleNorm/{layer}")
                weights[f"{name}.{part}.weight"], weights[f"{name}.{part}.bias"] = kernel[:, :, 0, 0], bias
    return {name: np.ascontiguousarray(value, np.float32) for name, value in weights.items()}


def residual_count(names: list[str]) -> int:
    """How many residual blocks the network's layer names hold."""
    return len({n.split("/")[2] for n in names if n.startswith("transformer/residual/residual")})


def from_lite(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The TF Lite transfer file's weights (`lite.read_weights`: OHWI kernels) in torch's layout."""

    def conv(scope: str) -> tuple[np.ndarray, np.ndarray]:
        kernel = weights[f"{scope}/weights"].transpose(0, 3, 1, 2)
        return kernel, weights.get(f"{scope}/Conv2D_bias", np.zeros(kernel.shape[0], np.float32))

    return renamed(residual_count(list(weights)), conv)


def from_frozen_graph(graph_def: GraphDef) -> dict[str, np.ndarray]:
    """The hub model's frozen transfer graph (`HubNetwork.openvino_source`) in torch's layout."""
    nodes = {node.name: node for node in graph_def.node}

    def constant(reference: str) -> np.ndarray:
        node = nodes[reference.partition(":")[0]]
        while node.op == "Identity":
            node = nodes[node.input[0].partition(":")[0]]
        if node.op != "Const":
            raise UserError(f"the hub model's {node.name} is not a constant; use Magenta's model")
        return tf.make_ndarray(node.attr["value"].tensor).astype(np.float32)

    def conv(scope: str) -> tuple[np.ndarray, np.ndarray]:
        kernel = constant(nodes[f"{scope}/Conv2D"].input[1]).transpose(3, 2, 0, 1)
        bias = np.zeros(kernel.shape[0], np.float32)
        if f"{scope}/BiasAdd" in nodes:
            bias = constant(nodes[f"{scope}/BiasAdd"].input[1])
        norm = nodes.get(f"{scope}/BatchNorm/FusedBatchNormV3")
        if norm is not None:  # y = (conv + bias - mean) * scale / sqrt(variance + eps) + offset, folded into it
            scale, offset, mean, variance = (constant(i) for i in norm.input[1:5])
            factor = scale / np.sqrt(variance + norm.attr["epsilon"].f)
            kernel, bias = kernel * factor[:, None, None, None], (bias - mean) * factor + offset
        return kernel, bias

    return renamed(residual_count(list(nodes)), conv)


def cached_weights(network, identity: str, directory: Path) -> Path:
    """The network's torch weights file in `directory`, written once (atomically) from `network.torch_weights()`."""
    from safetensors.numpy import save_file

    key = hashlib.sha256(f"{identity}\0{LAYOUT_VERSION}".encode()).hexdigest()[:32]
    path = directory / f"{key}.safetensors"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        partial = partial_path(path, per_process=True)
        save_file(network.torch_weights(), str(partial), metadata={"model": identity, "layout": LAYOUT_VERSION})
        partial.replace(path)
    return path
