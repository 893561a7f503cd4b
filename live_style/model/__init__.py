"""Model sources (TF Hub SavedModel split at the bottleneck; TF Lite pair as TF ops) behind one API."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from live_style.errors import UserError
from live_style.model.int8 import INSTALL_HINT as NNCF_HINT
from live_style.model.int8 import nncf_available
from live_style.model.openvino_runtime import import_openvino, openvino_available
from live_style.model.spec import ModelFiles, locate_model
from live_style.model.style_cache import StyleCache
from live_style.model.stylizer import Network, Stylizer

DEVICES = ("auto", "cpu", "gpu")
RUNTIMES = ("auto", "tensorflow", "openvino")
PRECISIONS = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}
CHOICES = ("auto", *PRECISIONS, "int8")
WORKLOADS = ("still", "video", "live")  # auto precision: int8 for video and live, where its ~3 s a style pays off


def pick_device(device: str = "auto") -> str:
    """A TF device name: the first GPU when there is one (or asked for), else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise UserError("--device gpu: TensorFlow sees no GPU; install a CUDA build of TensorFlow or use --device cpu")
    if device not in DEVICES:
        raise UserError(f"--device {device}: choose one of {', '.join(DEVICES)}")
    return "/GPU:0" if gpus and device != "cpu" else "/CPU:0"


def open_network(files: ModelFiles, precision: str, interpreter: bool) -> Network:
    """Build the network for located files."""
    if files.kind == "hub":
        if precision not in ("auto", "float32") or interpreter:
            raise UserError(
                "--precision and --lite-interpreter apply to TF Lite models only; drop them for the hub model"
            )
        from live_style.model.hub import HubNetwork

        return HubNetwork(files.paths[0])
    from live_style.model.lite import LiteNetwork

    return LiteNetwork(*files.paths, dtype=PRECISIONS.get(precision, tf.float32), interpreter=interpreter)


def pick_runtime(
    runtime: str, tf_device: str, kind: str, tensorflow_only: list[str], openvino_only: bool = False
) -> str:
    """'openvino' or 'tensorflow'. auto: OpenVINO for the TF Lite model on the CPU when it is installed.

    `tensorflow_only` names the options given that only TensorFlow has (they keep auto on TensorFlow);
    `openvino_only` (--precision int8) makes auto OpenVINO.
    """
    if runtime not in RUNTIMES:
        raise UserError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
    if openvino_only:
        if runtime == "tensorflow":
            raise UserError("--precision int8 runs on OpenVINO only; drop --runtime tensorflow or the precision")
        runtime = "openvino"
    if runtime == "tensorflow":
        return runtime
    eligible = "CPU" in tf_device and kind == "lite" and not tensorflow_only
    if runtime == "auto":
        return "openvino" if eligible and openvino_available() else "tensorflow"
    import_openvino()
    if not eligible:
        reason = (
            f"{', '.join(tensorflow_only)}: TensorFlow only"
            if tensorflow_only
            else "it runs the TF Lite model on the CPU"
        )
        raise UserError(f"--runtime openvino cannot be used here: {reason}; use --runtime tensorflow")
    return runtime


def pick_precision(precision: str, runtime: str, workload: str) -> str:
    """The precision to run: auto is int8 on OpenVINO for video and live (when NNCF is installed), else float32."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload {workload!r}: one of {WORKLOADS}")
    if precision == "int8" and not nncf_available():
        raise UserError(f"--precision int8 needs NNCF: {NNCF_HINT}")
    if precision != "auto":
        return precision
    fast = runtime == "openvino" and workload != "still" and nncf_available()
    return "int8" if fast else "float32"


def load_model(
    spec: str | None = None,
    *,
    device: str = "auto",
    xla: bool = False,
    precision: str = "auto",
    lite_interpreter: bool = False,
    cache_dir: Path | None = None,
    runtime: str = "auto",
    workload: str = "video",
) -> Stylizer:
    """Open a model (see `live_style.model.spec`) as a Stylizer, on the runtime asked for (auto: the fastest).

    `workload` ("still", "video" or "live") tunes the automatic precision: see `pick_precision`.
    """
    if precision not in CHOICES:
        raise UserError(f"--precision {precision}: choose one of {', '.join(CHOICES)}")
    if xla and lite_interpreter:
        raise UserError("--xla cannot compile the TF Lite interpreter; drop --lite-interpreter or --xla")
    tf_device = pick_device(device)
    files = locate_model(spec, gpu="GPU" in tf_device)
    tensorflow_only = [
        name
        for name, given in (
            ("--xla", xla),
            ("--lite-interpreter", lite_interpreter),
            ("--precision", precision in ("float16", "bfloat16")),
        )
        if given
    ]
    chosen = pick_runtime(runtime, tf_device, files.kind, tensorflow_only, openvino_only=precision == "int8")
    network = open_network(files, precision, lite_interpreter)
    model = Stylizer(network, files.identity(), tf_device, xla=xla, cache=StyleCache(cache_dir), runtime=chosen)
    if pick_precision(precision, chosen, workload) == "int8":
        model.quantize_per_style(wait=workload != "live")
    return model
