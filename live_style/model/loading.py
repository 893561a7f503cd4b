"""`load_model`: a model's files located and its network opened on the runtime, device and precision asked or picked."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from live_style.errors import UserError
from live_style.model.int8 import INSTALL_HINT as NNCF_HINT
from live_style.model.int8 import nncf_available
from live_style.model.openvino_runtime import import_openvino, int8_rest, openvino_available
from live_style.model.spec import ModelFiles, locate_model
from live_style.model.style_cache import StyleCache
from live_style.model.stylizer import Network, Stylizer

DEVICES = ("auto", "cpu", "gpu", "cuda", "mps")  # cuda, mps: torch's names (TensorFlow's GPU is "gpu")
RUNTIMES = ("auto", "tensorflow", "openvino", "torch")
TORCH_HINT = "pip install -e '.[torch]' (a CUDA build on Windows: see docs/runtimes.md)"
PRECISIONS = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}
CHOICES = ("auto", *PRECISIONS, "int8")
WORKLOADS = ("still", "video", "live")  # auto precision: int8 for video and live, where its ~3 s a style pays off


def pick_device(device: str = "auto", gpu_elsewhere: bool = False) -> str:
    """A TF device name: the first GPU when there is one (or asked for), else the CPU (also for torch's own
    cuda/mps); `gpu_elsewhere`: torch sees a GPU, so --device gpu is not refused for TensorFlow's lack of one."""
    if device not in DEVICES:
        raise UserError(f"--device {device}: choose one of {', '.join(DEVICES)}")
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # take memory as needed, not all of it at once: PyTorch or other Ray workers share the card
        with contextlib.suppress(RuntimeError):  # already initialized (a second model in this process): as it is
            tf.config.experimental.set_memory_growth(gpu, True)
    if device == "gpu" and not gpus and not gpu_elsewhere:
        raise UserError(
            "--device gpu: neither TensorFlow nor PyTorch sees a GPU; install a CUDA build of either (PyTorch: "
            f"{TORCH_HINT}) or use --device cpu"
        )
    return "/GPU:0" if gpus and device in ("auto", "gpu") else "/CPU:0"


def torch_installed() -> bool:
    """Whether PyTorch (and safetensors, its weights' format) can be imported, without importing them."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "safetensors"))
    except (ImportError, ValueError):  # a module set to None in sys.modules: deliberately absent
        return False


def torch_gpu() -> str | None:
    """The GPU PyTorch sees ("cuda", else "mps"), or None (also when it is not installed)."""
    if not torch_installed():
        return None
    from live_style.model.torch_runtime import gpu_name

    return gpu_name()


def pick_torch_device(device: str, gpu: str | None) -> str:
    """torch's device for --device: auto and gpu take the GPU it sees, cuda and mps must exist, else the CPU."""
    if device in ("cuda", "mps") and gpu != device:
        raise UserError(f"--device {device}: PyTorch sees no {device.upper()} device here; use --device cpu or auto")
    if device in ("auto", "gpu", "cuda", "mps") and gpu:
        return gpu
    return "cpu"


def open_network(files: ModelFiles, precision: str, interpreter: bool, runtime: str) -> Network:
    """Build the network for located files."""
    if files.kind == "hub":
        hint = runtime in ("openvino", "torch", "measure") and precision.partition(" ")[0] in ("bfloat16", "float16")
        if interpreter or not (precision in ("auto", "float32") or hint):
            raise UserError(
                "--lite-interpreter, --precision int8 and half precision on TensorFlow apply to TF Lite models "
                "only; drop them for the hub model (OpenVINO and PyTorch take --precision bfloat16 or float16)"
            )
        from live_style.model.hub import HubNetwork

        return HubNetwork(files.paths[0])
    from live_style.model.lite import LiteNetwork

    tensorflow_dtype = runtime in ("tensorflow", "measure") and precision in PRECISIONS  # OpenVINO, torch: their own
    dtype = PRECISIONS[precision] if tensorflow_dtype else tf.float32
    return LiteNetwork(*files.paths, dtype=dtype, interpreter=interpreter)


def pick_runtime(
    runtime: str,
    tf_device: str,
    tensorflow_only: list[str],
    openvino_only: bool = False,
    torch_device: str | None = None,
) -> str:
    """'openvino', 'tensorflow' or 'torch'. auto: PyTorch where it sees a GPU that TensorFlow does not (or --device
    names torch's cuda/mps), else OpenVINO on the CPU when it is installed (either model), else TensorFlow. Where
    both see a GPU, auto is "measure" (see `gpu_choice`).

    `tensorflow_only` names the options given that only TensorFlow has (they keep auto on TensorFlow);
    `openvino_only` (--precision int8) makes auto OpenVINO; `torch_device`: the GPU torch sees, if any.
    """
    if runtime not in RUNTIMES:
        raise UserError(f"--runtime {runtime}: choose one of {', '.join(RUNTIMES)}")
    if openvino_only:
        if runtime in ("tensorflow", "torch"):
            raise UserError(f"--precision int8 runs on OpenVINO only; drop --runtime {runtime} or the precision")
        runtime = "openvino"
    if runtime == "torch" or (runtime == "auto" and torch_device and not tensorflow_only):
        return check_torch(runtime, tensorflow_only, "GPU" in tf_device and torch_device is not None)
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


def check_torch(runtime: str, tensorflow_only: list[str], both_see_a_gpu: bool) -> str:
    """'torch' when it can run what was asked ("measure" for auto where TensorFlow sees a GPU too)."""
    if not torch_installed():
        raise UserError(f"--runtime torch needs PyTorch: {TORCH_HINT}")
    if tensorflow_only:
        raise UserError(f"{', '.join(tensorflow_only)}: TensorFlow only; drop it or --runtime {runtime}")
    return "measure" if runtime == "auto" and both_see_a_gpu else "torch"


def pick_precision(precision: str, runtime: str, workload: str, torch_device: str | None = None) -> str:
    """The precision to run, or "measure": auto on OpenVINO is measured on this machine (see
    `precision_choice`), auto on TensorFlow is float32, on torch float16 on a GPU (norms in float32) and float32
    on a CPU."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload {workload!r}: one of {WORKLOADS}")
    if int8_rest(precision) is not None and not nncf_available():
        raise UserError(f"--precision int8 needs NNCF: {NNCF_HINT}")
    if precision != "auto":
        return precision
    if runtime == "torch":
        return "float16" if torch_device in ("cuda", "mps") else "float32"
    return "measure" if runtime == "openvino" else "float32"


def run_measured(model: Stylizer, int8: bool, workload: str, report: Callable[[str], None]) -> None:
    """Use this machine's measured precision (int8 among the candidates if `int8`), measuring first if never done.

    Live use measures before its first frame too: timed beside a running pipeline (and the int8 quantizing it
    starts), the candidates slow down unevenly and the wrong one is picked and kept; live use only does not wait
    for a style's int8 network (float until it is ready).
    """
    from live_style.model import precision_choice

    model.use_precision(precision_choice.choose(model, int8, report), wait=workload != "live")


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
    wants_torch = runtime in ("auto", "torch") or device in ("gpu", "cuda", "mps")
    gpu = torch_gpu() if wants_torch and device != "cpu" else None
    tf_device = pick_device(device, gpu_elsewhere=gpu is not None)
    files = locate_model(spec, gpu="GPU" in tf_device or gpu is not None)
    tensorflow_only = [
        name
        for name, given in (
            ("--xla", xla),
            ("--lite-interpreter", lite_interpreter),
        )
        if given
    ]
    chosen = pick_runtime(runtime, tf_device, tensorflow_only, int8_rest(precision) is not None, gpu)
    check_device(device, runtime, chosen, tf_device, gpu)
    torch_device = pick_torch_device(device, gpu) if chosen in ("torch", "measure") else "cpu"
    network = open_network(files, precision, lite_interpreter, chosen)

    def stylizer(on: str) -> Stylizer:
        options = {"xla": xla, "cache": StyleCache(cache_dir), "runtime": on, "torch_device": torch_device}
        return Stylizer(network, files.identity(), tf_device, **options)

    if chosen == "measure":  # TensorFlow and PyTorch both see a GPU
        from live_style.model import gpu_choice

        candidates = {"tensorflow": stylizer("tensorflow"), "torch": stylizer("torch")}
        candidates["torch"].use_precision(pick_precision(precision, "torch", workload, torch_device), wait=True)
        return candidates[gpu_choice.choose(candidates, report or (lambda _line: None))]
    model = stylizer(chosen)
    if chosen == "openvino" and workload == "video":
        model.openvino.mode = "THROUGHPUT"
    picked = pick_precision(precision, chosen, workload, torch_device)
    if picked == "measure":
        # int8 is quantized per style: a still does not pay for it, nor the hub model's 20 residual blocks
        int8 = workload != "still" and nncf_available() and files.kind == "lite"
        run_measured(model, int8, workload, report or (lambda _line: None))
    elif chosen in ("openvino", "torch"):
        model.use_precision(picked, wait=workload != "live")
    return model


def check_device(device: str, asked: str, runtime: str, tf_device: str, torch_gpu_seen: str | None) -> None:
    """Refuse a --device the runtime picked cannot honour: a GPU its library does not see, torch's names elsewhere."""
    if device in ("cuda", "mps") and runtime not in ("torch", "measure"):
        if asked == "auto":
            raise UserError(
                f"--device {device}: PyTorch sees no {device.upper()} device here; use --device cpu or auto"
            )
        raise UserError(f"--device {device} names a PyTorch device; use --runtime torch (or --device gpu: TensorFlow)")
    if runtime in ("tensorflow", "openvino") and device == "gpu" and "GPU" not in tf_device:
        raise UserError("--device gpu: TensorFlow sees no GPU, PyTorch does; use --runtime torch or auto")
    if runtime == "torch" and device == "gpu" and torch_gpu_seen is None:
        raise UserError(
            f"--device gpu: PyTorch sees no GPU (TensorFlow does); install PyTorch's CUDA build ({TORCH_HINT}) or "
            "use --runtime tensorflow"
        )
