"""Magenta's TF Hub SavedModel, split at the style bottleneck into a style part and a transfer part.

The hub signature computes style and transfer in one call. We take the function behind its
`StatefulPartitionedCall`, drop CheckNumerics and control edges, find the bottleneck by structure
(`graph_cut.find_style_bottleneck`) and prune the graph twice: style image -> bottleneck, and
(content, bottleneck) -> stylized image. The variables stay variables (captured, not frozen).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework.graph_pb2 import GraphDef
from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

from live_style.errors import UserError
from live_style.model.graph_cut import find_style_bottleneck, tensor_name
from live_style.model.macs import graph_macs

INFERENCE_ONLY_OPS = {"CheckNumerics"}


@dataclass
class InlinedSignature:
    """The graph inside a SavedModel signature, with what feeds it."""

    graph_def: GraphDef
    content: str
    style: str
    output: str
    resources: dict[str, tf.Tensor]


def ordered_image_inputs(signature) -> tuple[str, str]:
    """(content, style) argument names: by name when they say so, else in call order."""
    names = sorted(signature.structured_input_signature[1])
    if len(names) != 2:
        raise UserError("the SavedModel's signature does not take (content, style) images; use Magenta's model")
    styled = [n for n in names if "style" in n.lower()]
    if len(styled) == 1:
        return next(n for n in names if n != styled[0]), styled[0]
    return names[0], names[1]


def inline_signature(signature) -> InlinedSignature:
    """Open the function behind the signature's (Stateful)PartitionedCall as a GraphDef."""
    outer = signature.graph.as_graph_def()
    calls = [n for n in outer.node if n.op in ("StatefulPartitionedCall", "PartitionedCall")]
    if len(calls) != 1:
        raise UserError("the SavedModel's signature is not a single network call; use Magenta's model")
    library = {f.signature.name: f for f in outer.library.function}
    fdef = library[calls[0].attr["f"].func.name]
    graph_def, flat_names = function_def_to_graph_def(fdef)
    graph_def.library.CopyFrom(outer.library)
    args = [a.name for a in fdef.signature.input_arg]
    outer_inputs = dict(zip(args, (tensor_name(i) for i in calls[0].input), strict=True))
    captures = {
        internal.name: external
        for internal, external in zip(signature.graph.internal_captures, signature.graph.external_captures, strict=True)
    }
    content, style = ordered_image_inputs(signature)
    placeholder_of = {signature.graph.get_tensor_by_name(f"{n}:0").name: n for n in (content, style)}
    inputs = {placeholder_of.get(ref): arg for arg, ref in outer_inputs.items() if ref in placeholder_of}
    ret = next(iter(fdef.ret.values()))
    return InlinedSignature(
        graph_def=graph_def,
        content=f"{inputs[content]}:0",
        style=f"{inputs[style]}:0",
        output=tensor_name(flat_names.get(ret, ret)),
        resources={f"{arg}:0": captures[ref] for arg, ref in outer_inputs.items() if ref in captures},
    )


def strip_for_inference(graph_def: GraphDef) -> None:
    """Turn checks that only cost time (CheckNumerics) into Identity; drop control edges.

    An inference graph has no side effects to order, and the automatic control dependencies of a
    TF2 export would otherwise tie the transfer output to the style input.
    """
    for node in graph_def.node:
        kept = [i for i in node.input if not i.startswith("^")]
        del node.input[:]
        node.input.extend(kept)
        if node.op in INFERENCE_ONLY_OPS:
            node.op = "Identity"
            for attr in list(node.attr):
                if attr != "T":
                    del node.attr[attr]


class HubNetwork:
    """A Magenta hub SavedModel as a style network and a transfer network."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._loaded = tf.saved_model.load(str(path))
        self.signature = self._loaded.signatures["serving_default"]
        inlined = inline_signature(self.signature)
        strip_for_inference(inlined.graph_def)
        self._inlined = inlined
        self.bottleneck = find_style_bottleneck(inlined.graph_def, inlined.style, inlined.content, inlined.output)
        wrapped = tf.compat.v1.wrap_function(lambda: self._import(inlined), [])
        tensor = wrapped.graph.get_tensor_by_name
        self._style = wrapped.prune(tensor(inlined.style), tensor(self.bottleneck))
        self._transfer = wrapped.prune([tensor(inlined.content), tensor(self.bottleneck)], tensor(inlined.output))
        self.vector_size = int(self._style.structured_outputs.shape[-1])
        self.fixed_size = None
        self.description = f"TF Hub SavedModel {self.path} (split at {self.bottleneck})"

    @staticmethod
    def _import(inlined: InlinedSignature) -> None:
        """Import the inlined graph, its resource inputs bound to the loaded variables."""
        graph = tf.compat.v1.get_default_graph()
        bindings = {name: graph.capture(handle) for name, handle in inlined.resources.items()}
        tf.graph_util.import_graph_def(inlined.graph_def, input_map=bindings, name="")

    def predict_style(self, style_rgb: np.ndarray) -> np.ndarray:
        """[1,256,256,3] float RGB in [0,1] -> bottleneck [1,1,1,768]."""
        return self._style(tf.constant(style_rgb, tf.float32)).numpy()

    def transfer(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        """[N,H,W,3] float RGB in [0,1] + bottleneck -> stylized [N,H,W,3]."""
        return self._transfer(content, style)

    def _without_variable_reads(self, constants: bool) -> GraphDef:
        """The inlined graph with every variable read replaced: by the variable's value (`constants`), or by a
        placeholder of its shape (enough to count operations)."""
        by_handle = {id(v.handle): v for v in self._loaded.variables}
        graph_def = GraphDef()
        graph_def.CopyFrom(self._inlined.graph_def)
        for node in graph_def.node:
            handle = self._inlined.resources.get(tensor_name(node.input[0])) if node.input else None
            if node.op == "ReadVariableOp" and id(handle) in by_handle:
                variable = by_handle[id(handle)]
                del node.input[:]
                node.attr.clear()
                node.attr["dtype"].type = variable.dtype.as_datatype_enum
                if constants:
                    node.op = "Const"
                    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(variable.numpy()))
                else:
                    node.op = "Placeholder"
                    node.attr["shape"].shape.CopyFrom(variable.shape.as_proto())
        return graph_def

    def openvino_source(self) -> GraphDef:
        """The transfer half alone, frozen: variables as constants, the bottleneck as an input [1,1,1,D].

        What OpenVINO converts: the cut function itself still reads the loaded variables, which OpenVINO's
        converter cannot follow ("Model references undeclared parameters").
        """
        graph_def = self._without_variable_reads(constants=True)
        bottleneck = self.bottleneck.partition(":")[0]  # the node's name
        for node in graph_def.node:
            if node.name == bottleneck:
                node.op = "Placeholder"
                del node.input[:]
                node.attr.clear()
                node.attr["dtype"].type = tf.float32.as_datatype_enum
                node.attr["shape"].shape.CopyFrom(tf.TensorShape([1, 1, 1, self.vector_size]).as_proto())
        return tf.compat.v1.graph_util.extract_sub_graph(graph_def, [self._inlined.output.partition(":")[0]])

    def torch_weights(self) -> dict[str, np.ndarray]:
        """The transfer half's weights in the torch runtime's layout (read from its frozen graph)."""
        from live_style.model.torch_weights import from_frozen_graph

        return from_frozen_graph(self.openvino_source())

    def macs_per_frame(self, height: int, width: int) -> int:
        """Multiply-accumulates of one frame's transfer, counted from the graph's layers.

        The variables' shapes stand in for their reads, so every conv gets a static shape.
        """
        graph_def = self._without_variable_reads(constants=False)
        with tf.Graph().as_default():
            content = tf.compat.v1.placeholder(tf.float32, [1, height, width, 3])
            style = tf.compat.v1.placeholder(tf.float32, [1, 1, 1, self.vector_size])
            (output,) = tf.graph_util.import_graph_def(
                graph_def, {self._inlined.content: content, self.bottleneck: style}, [self._inlined.output], name=""
            )
            return graph_macs(output)
