"""Give the weightless copy of the TF Hub Magenta graph synthetic weights (for tests and bench/).

The shared copy of `google/magenta/arbitrary-image-stylization-v1-256/2` lacks its 92 MB weight
shard. Writing values of the right names, shapes and dtypes as a fresh checkpoint yields a
SavedModel with exactly the real structure and timing; its pictures are meaningless.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def synthetic_value(shape: list[int], dtype: tf.DType, rng: np.random.Generator) -> np.ndarray:
    """A value that keeps activations finite: scaled normal kernels, positive vectors."""
    if dtype.is_integer:
        return np.zeros(shape, dtype.as_numpy_dtype)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[:-1]))
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype.as_numpy_dtype)
    return rng.uniform(0.5, 1.5, shape).astype(dtype.as_numpy_dtype)


def write_synthetic_hub_model(graph_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Copy the graph in `graph_dir` to `out_dir` with synthetic weights; returns `out_dir`."""
    graph_dir, out_dir = Path(graph_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(graph_dir / "saved_model.pb", out_dir / "saved_model.pb")
    reader = tf.train.load_checkpoint(str(graph_dir / "variables" / "variables"))
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    rng = np.random.default_rng(seed)
    names = sorted(shapes)
    tensors = [
        reader.get_tensor(name) if name == OBJECT_GRAPH_KEY else synthetic_value(shapes[name], dtypes[name], rng)
        for name in names
    ]
    prefix = out_dir / "variables" / "variables"
    prefix.parent.mkdir(exist_ok=True)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    return out_dir
