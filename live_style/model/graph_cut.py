"""Find where a style-transfer graph can be cut into a style part and a transfer part.

The cut is found by structure, not by node name: it is the last tensor that depends on the style
input alone and that every path from the style input to the output passes through (in Magenta's
hub model `bottleneck/Mean`, the [N,1,1,768] style vector).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from tensorflow.core.framework.graph_pb2 import GraphDef

from live_style.errors import UserError


def tensor_name(ref: str) -> str:
    """Normalize a node input ('node', 'node:1') to a tensor name ('node:0', 'node:1')."""
    return ref if ":" in ref else f"{ref}:0"


class TensorGraph:
    """Data-flow edges between tensors: each input of a node feeds each output of it that is used."""

    def __init__(self, graph_def: GraphDef, outputs: Iterable[str]):
        used: dict[str, set[str]] = defaultdict(set)
        inputs: dict[str, list[str]] = {}
        for node in graph_def.node:
            inputs[node.name] = [tensor_name(i) for i in node.input if not i.startswith("^")]
            for ref in inputs[node.name]:
                used[ref.rsplit(":", 1)[0]].add(ref)
        for out in outputs:
            used[tensor_name(out).rsplit(":", 1)[0]].add(tensor_name(out))
        self.consumers: dict[str, list[str]] = defaultdict(list)
        self.producers: dict[str, list[str]] = {}
        for node_name, node_inputs in inputs.items():
            for out in used.get(node_name, ()):
                self.producers[out] = node_inputs
                for ref in node_inputs:
                    self.consumers[ref].append(out)

    def reachable(self, start: str, forward: bool = True, removed: str | None = None) -> set[str]:
        """Tensors reachable from `start` along (or against) the data flow, avoiding `removed`."""
        edges = self.consumers if forward else self.producers
        seen, queue = {start}, deque([start])
        while queue:
            for nxt in edges.get(queue.popleft(), ()):
                if nxt not in seen and nxt != removed:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def topological_order(self, tensors: set[str]) -> list[str]:
        """The given tensors, producers before consumers."""
        indegree = {t: sum(p in tensors for p in self.producers.get(t, ())) for t in tensors}
        queue = deque(t for t, d in indegree.items() if d == 0)
        order = []
        while queue:
            tensor = queue.popleft()
            order.append(tensor)
            for nxt in self.consumers.get(tensor, ()):
                if nxt in indegree:
                    indegree[nxt] -= 1
                    if indegree[nxt] == 0:
                        queue.append(nxt)
        return order


def find_style_bottleneck(graph_def: GraphDef, style_input: str, content_input: str, output: str) -> str:
    """The tensor to cut at: style-only, on every style-to-output path, closest to the output."""
    style_input, content_input, output = map(tensor_name, (style_input, content_input, output))
    graph = TensorGraph(graph_def, [output])
    on_path = graph.reachable(style_input) & graph.reachable(output, forward=False)
    style_only = on_path - graph.reachable(content_input) - {style_input}
    for tensor in reversed(graph.topological_order(style_only)):
        if output not in graph.reachable(style_input, removed=tensor):
            return tensor
    raise UserError("the model has no single style bottleneck to split at; use a Magenta style-transfer model")
