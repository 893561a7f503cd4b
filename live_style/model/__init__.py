"""Model sources (TF Hub SavedModel split at the bottleneck; TF Lite pair as TF ops) behind one API."""

from __future__ import annotations

import threading
from collections.abc import Callable
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


def open_network(files: ModelFiles, precision: str, interpreter: bool, runtime: str) -> Network:
    """Build the network for located files."""
    if files.kind == "hub":
        hint = runtime == "openvino" and precision.partition(" ")[0] in ("bfloat16", "float16")  # OpenVINO's hint
        if interpreter or not (precision in ("auto", "float32") or hint):
            raise UserError(
                "--lite-interpreter, --precision int8 and half precision on TensorFlow apply to TF Lite models "
                "only; drop them for the hub model (on a CPU, OpenVINO takes --precision bfloat16 or float16)"
            )
        from live_style.model.hub import HubNetwork

        return HubNetwork(files.paths[0])
    from live_style.model.lite import LiteNetwork

    dtype = tf.float32 if runtime == "openvino" else PRECISIONS.get(precision, tf.float32)  # OpenVINO: a hint
    return LiteNetwork(*files.paths, dtype=dtype, interpreter=interpreter)


def pick_runtime(runtime: str, tf_device: str, tensorflow_only: list[str], openvino_only: bool = False) -> str:
    """'openvino' or 'tensorflow'. auto: OpenVINO on the CPU when it is installed (either model).

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
    eligible = "CPU" in tf_device and not tensorflow_only
    if runtime == "auto":
        return "openvino" if eligible and openvino_available() else "tensorflow"
    import_openvino()
    if not eligible:
        reason = f"{', '.join(tensorflow_only)}: TensorFlow only" if tensorflow_only else "it runs on the CPU only"
        raise UserError(f"--runtime openvino cannot be used here: {reason}; use --runtime tensorflow")
    return runtime


def pick_precision(precision: str, runtime: str, workload: str) -> str:
    """The precision to run, or "measure": auto on OpenVINO is measured on this machine (see
    `precision_choice`), auto on TensorFlow is float32."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload {workload!r}: one of {WORKLOADS}")
    if precision == "int8" and not nncf_available():
        raise UserError(f"--precision int8 needs NNCF: {NNCF_HINT}")
    if precision != "auto":
        return precision
    return "measure" if runtime == "openvino" else "float32"


def run_measured(model: Stylizer, int8: bool, workload: str, report: Callable[[str], None]) -> None:
    """Use this machine's measured precision (int8 among the candidates if `int8`): now (measuring first if
    never done), or for live use at once on the former rule (int8 per style, else float32) and switched from
    a background thread once measured."""
    from live_style.model import precision_choice

    if workload != "live" or precision_choice.stored(model, int8) is not None:
        model.use_precision(precision_choice.choose(model, int8, report), wait=True)
        return
    model.use_precision("int8" if int8 else "float32", wait=False)

    def measure_then_switch() -> None:
        model.use_precision(precision_choice.choose(model, int8, report), wait=False)

    # not a daemon: OpenVINO aborts the process if a thread is still compiling when it unloads
    threading.Thread(target=measure_then_switch, name="precision-choice").start()


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
    report: Callable[[str], None] | None = None,
) -> Stylizer:
    """Open a model (see `live_style.model.spec`) as a Stylizer, on the runtime asked for (auto: the fastest).

    `workload` ("still", "video" or "live") tunes the automatic precision: see `pick_precision`; `report`
    gets the measurement's lines.
    """
    if precision.partition(" ")[0] not in CHOICES:  # a measured candidate may name its layout: "bfloat16 plain"
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
        )
        if given
    ]
    chosen = pick_runtime(runtime, tf_device, tensorflow_only, openvino_only=precision == "int8")
    network = open_network(files, precision, lite_interpreter, chosen)
    model = Stylizer(network, files.identity(), tf_device, xla=xla, cache=StyleCache(cache_dir), runtime=chosen)
    picked = pick_precision(precision, chosen, workload)
    if picked == "measure":
        # int8 is quantized per style: a still does not pay for it, nor the hub model's 20 residual blocks
        int8 = workload != "still" and nncf_available() and files.kind == "lite"
        run_measured(model, int8, workload, report or (lambda _line: None))
    elif chosen == "openvino":
        model.use_precision(picked, wait=workload != "live")
    return model
