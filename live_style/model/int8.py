"""int8 for the OpenVINO runtime: the transfer network quantized per style vector by NNCF.

Only the convolutions over the frame run int8. Conditional instance norm scales every activation by
the style, so one set of int8 ranges cannot serve all styles (calibrated on other styles: 17-19 dB),
and its own arithmetic (means, variances, the style's scale and shift) stays float: NNCF quantizes
those inputs too by default, which alone cost 5 dB (`NORMALIZATION`). Each style vector gets its own ranges,
measured on the project's own paintings (not on the stream's frames), so every run, segment and
resumed job of a style quantizes identically on one kind of CPU (see `int8_sums_saturate`). Where the
picture still falls under the precision choice's floor (7-bit weights, on CPUs without VNNI), the
convolutions that cost it most go back to float (`with_picture_kept`). A few seconds per new vector
(8-9 s on a 2-core AVX2 CPU, about 20 where convolutions go back), then cached on disk.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from live_style.atomic import is_partial, partial_path
from live_style.errors import UserError
from live_style.imaging import bgr_to_rgb01, rgb01_to_bgr
from live_style.model.cpu import cpu_flags
from live_style.paintings import PAINTERS, paint
from live_style.temporal.metrics import psnr

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from openvino import Core, Input, Model, Node

INSTALL_HINT = "pip install -e '.[openvino]' (or pip install nncf)"
CALIBRATION_SHAPES = ((256, 340), (384, 384), (480, 640))  # (height, width), the paintings take them in turn
CALIBRATION_VERSION = b"paintings-512-meanminmax-fullbias-convsonly-floorkept-v5"  # the overflow fix (or not) is added
# The instance norm's op types, kept float: quantizing their inputs (148 of NNCF's 164 quantizers here) took
# the picture from 30 to 25 dB against float32 even with every convolution float, and cost time besides
NORMALIZATION = ("Add", "Multiply", "Subtract", "Divide", "SquaredDifference", "ReduceMean", "Power", "Sqrt")
LAYOUT_OPS = ("Pad", "Transpose", "Reshape")  # what may stand between a convolution and its input's quantizer
KEPT_IN_MEMORY = 4  # quantized models per process (a style bank, a cross-fade's two ends...)
KEPT_ON_DISK = 64  # about 1 MB each; every strength step of a live session is a new vector


def nncf_available() -> bool:
    """Whether NNCF (OpenVINO's quantization library) is installed (without importing it: ~1 s)."""
    return importlib.util.find_spec("nncf") is not None


@functools.cache
def calibration_frames() -> tuple[np.ndarray, ...]:
    """The project's paintings as float RGB frames [1,H,W,3] in [0,1], at the usual processing shapes in turn."""
    frames = []
    for seed, name in enumerate(PAINTERS):
        height, width = CALIBRATION_SHAPES[seed % len(CALIBRATION_SHAPES)]
        bgr = cv2.resize(paint(name, 512, seed), (width, height), interpolation=cv2.INTER_AREA)
        frames.append(bgr_to_rgb01(bgr[None]))
    return tuple(frames)


@functools.cache
def int8_sums_saturate() -> bool:
    """Whether this CPU's int8 dot products can saturate (x86 without AVX-512 VNNI): then weights get 7 bits.

    On VNNI CPUs the sums are exact and 8-bit weights give 0.3-0.7 dB more; any CPU numpy does not
    report VNNI for keeps the safe 7 bits.
    """
    return "AVX512VNNI" not in cpu_flags()


def quantize(model: Model, vector: np.ndarray) -> Model:
    """The transfer network with int8 convolutions, activation ranges measured with this style vector.

    The style's own 1x1 convolutions (static shapes: they see the vector, not the frame) and the normalization
    stay float. The overflow fix keeps int8 sums exact on CPUs that saturate them; ranges are the mean over the
    paintings of each one's min and max (against the overall min and max: 31.6 against 29.6 dB on the
    paintings, 23.2 against 21.7 at worst on photographs); the full bias correction (layer by layer) undoes
    the mean shift quantization leaves in each output.
    """
    try:
        import nncf
    except ImportError:
        raise UserError(f"--precision int8 needs NNCF: {INSTALL_HINT}") from None
    import rich
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    nncf.set_log_level(logging.ERROR)
    rich.get_console().quiet = True  # NNCF's progress bars (rich's shared console, which nothing else here uses)
    style_convs = [
        op.get_friendly_name()
        for op in model.get_ordered_ops()
        if op.get_type_name() == "Convolution" and op.get_input_partial_shape(0).is_static
    ]
    frames = calibration_frames()
    quantized = nncf.quantize(
        model,
        nncf.Dataset([[frame, vector] for frame in frames]),
        subset_size=len(frames),
        ignored_scope=nncf.IgnoredScope(names=style_convs, types=list(NORMALIZATION), validate=False),
        fast_bias_correction=False,  # the full correction: +0.2-0.5 dB on busy styles, no slower here (~3 s)
        advanced_parameters=AdvancedQuantizationParameters(
            overflow_fix=OverflowFix.ENABLE if int8_sums_saturate() else OverflowFix.DISABLE,
            activations_range_estimator_params=RangeEstimatorParametersSet.MEAN_MINMAX,
        ),
    )
    return with_picture_kept(model, quantized, vector)


def with_picture_kept(model: Model, quantized: Model, vector: np.ndarray) -> Model:
    """`quantized`, or where its picture falls under the precision choice's floor against `model`'s (on the frames
    that choice judges), a copy with the convolutions that cost it most back in float until it holds.

    Ranked per style, each convolution put back alone: without VNNI the 7-bit weights cost about 3 dB spread over
    all 16 (none above 1 dB), and which matter depends on the style. NNCF's accuracy-aware quantization searches
    too, but took 67 s for a style and put all 16 back.
    """
    from live_style.model.precision_choice import QUALITY_FLOOR_DB

    picture = PictureCheck(model, vector)
    if picture.psnr_db(quantized) >= QUALITY_FLOOR_DB:
        return quantized
    names = quantized_convolutions(quantized)
    alone = {name: picture.psnr_db(in_float(quantized, model, [name])) for name in names}
    kept: list[str] = []
    for name in sorted(names, key=alone.__getitem__, reverse=True):
        kept.append(name)
        candidate = in_float(quantized, model, kept)
        if (psnr_db := picture.psnr_db(candidate)) >= QUALITY_FLOOR_DB:
            break
    log.info(f"int8: {len(kept)} of {len(names)} convolutions kept in float32 for this style ({psnr_db:.1f} dB)")
    return candidate


class PictureCheck:
    """A network's worst PSNR against the float network's, for one style vector, on the frames and at the size the
    precision choice judges pictures (compiled for that shape: int8 compiled for any shape gave 11 dB on an AVX2
    CPU)."""

    def __init__(self, model: Model, vector: np.ndarray):
        from openvino import Core

        from live_style.model.precision_choice import SHAPE, paintings

        self.core = Core()
        self.shape = SHAPE
        self.feeds = [[bgr_to_rgb01(frame[None]), vector] for frame in paintings(SHAPE)]
        self.reference = self._pictures(model)

    def _pictures(self, network: Model) -> list[np.ndarray]:
        """The network's pictures (float32 arithmetic outside its int8 convolutions) of the frames."""
        network = network.clone()
        network.reshape({network.inputs[0]: [1, *self.shape, 3]})
        compiled = self.core.compile_model(network, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return [rgb01_to_bgr(compiled(feed)[0]) for feed in self.feeds]

    def psnr_db(self, network: Model) -> float:
        """The worst frame's PSNR against the float network's picture."""
        return min(psnr(ours, theirs) for ours, theirs in zip(self._pictures(network), self.reference, strict=True))


def input_quantizer(convolution: Node) -> Node | None:
    """The FakeQuantize feeding this convolution's input (through padding and layout ops), if it is quantized."""
    node = convolution.input_value(0).get_node()
    while node.get_type_name() in LAYOUT_OPS:
        node = node.input_value(0).get_node()
    return node if node.get_type_name() == "FakeQuantize" else None


def quantized_convolutions(network: Model) -> list[str]:
    """The names of the convolutions that run int8, in graph order."""
    return [
        op.get_friendly_name()
        for op in network.get_ordered_ops()
        if op.get_type_name() == "Convolution" and input_quantizer(op) is not None
    ]


def in_float(quantized: Model, model: Model, names: list[str]) -> Model:
    """A copy of `quantized` with these convolutions in float again: input quantizer bypassed, `model`'s weights and
    biases (NNCF's bias correction changed the quantized ones)."""
    from openvino import opset13

    originals = {op.get_friendly_name(): op for op in model.get_ordered_ops() if op.get_friendly_name() in names}
    copy = quantized.clone()
    for op in copy.get_ordered_ops():
        original = originals.get(op.get_friendly_name())
        if original is None:
            continue
        quantizer = input_quantizer(op)
        quantizer.output(0).replace(quantizer.input_value(0))
        op.input(1).replace_source_output(opset13.constant(original.input_value(1).get_node().get_data()).output(0))
        bias, original_bias = constant_input(bias_add(op)), constant_input(bias_add(original))
        if bias is not None and original_bias is not None:
            bias.replace_source_output(
                opset13.constant(original_bias.get_source_output().get_node().get_data()).output(0)
            )
    copy.validate_nodes_and_infer_types()
    return copy


def bias_add(convolution: Node) -> Node | None:
    """The Add right after a convolution (its bias), if there is one."""
    consumers = [target.get_node() for target in convolution.output(0).get_target_inputs()]
    return consumers[0] if len(consumers) == 1 and consumers[0].get_type_name() == "Add" else None


def constant_input(node: Node | None) -> Input | None:
    """The input of `node` that a Constant feeds (an openvino Input), if any."""
    for port in node.inputs() if node is not None else ():
        if port.get_source_output().get_node().get_type_name() == "Constant":
            return port
    return None


def int8_key(identity: str, vector: np.ndarray) -> str:
    """A digest of the model (files and graph), the calibration recipe and the exact style vector.

    The overflow fix is part of the recipe: a cache shared with a CPU that saturates never hands it 8-bit weights.
    """
    digest = hashlib.sha256(identity.encode())
    digest.update(CALIBRATION_VERSION + (b"-overflowfix" if int8_sums_saturate() else b""))
    digest.update(np.ascontiguousarray(vector, np.float32).tobytes())
    return digest.hexdigest()


class QuantizedModels:
    """int8 transfer models by style vector: from memory, else disk, else NNCF (waiting, or in a background thread).

    `wait=False` (live use) never holds a frame back: until a vector's model is ready the caller runs
    float, and only the newest vector asked for is quantized next (a cross-fade's passing mixes are not).
    """

    def __init__(
        self,
        core: Core,
        model: Model,
        identity: str,
        directory: Path,
        wait: bool = True,
        made: Callable[[str, Model], None] | None = None,
    ):
        """`made(key, model)` runs in the background thread before a new model is handed out (to compile it)."""
        self.core = core
        self.model = model
        graph = " ".join(op.get_type_name() for op in model.get_ordered_ops())  # new graph, new key
        self.identity = hashlib.sha256(f"{identity} {graph}".encode()).hexdigest()  # once, not per frame
        self.directory = directory
        self.wait = wait
        self.made = made
        self.models: OrderedDict[str, Model] = OrderedDict()
        self.failed: set[str] = set()
        self._lock = threading.Lock()
        self._wanted: tuple[str, np.ndarray] | None = None
        self._worker: threading.Thread | None = None

    def get(self, vector: np.ndarray) -> tuple[str, Model] | None:
        """(key, int8 model) for this vector, or None while it is being made (or if it could not be)."""
        key = int8_key(self.identity, vector)
        with self._lock:
            if key in self.models:
                self.models.move_to_end(key)
                return key, self.models[key]
            if key in self.failed:
                return None
        if not self.wait:
            self._ask_background(key, vector)
            return None
        self._make(key, vector)
        with self._lock:
            return (key, self.models[key]) if key in self.models else None

    def _ask_background(self, key: str, vector: np.ndarray) -> None:
        """Make this vector's model next, in the one background thread (started when idle)."""
        with self._lock:
            self._wanted = key, vector
            if self._worker is None:
                # not a daemon: the interpreter waits for it at exit (OpenVINO aborts the process if a
                # thread is still compiling when it unloads), and it starts nothing new once main has ended
                self._worker = threading.Thread(target=self._work, name="int8-quantize")
                self._worker.start()

    def _work(self) -> None:
        """Quantize the newest wanted vector until none is left (or the program is ending)."""
        while True:
            with self._lock:
                job, self._wanted = self._wanted, None
                if job is None or not threading.main_thread().is_alive():
                    self._worker = None
                    return
                done = job[0] in self.models or job[0] in self.failed
            if not done:
                self._make(*job)

    def _make(self, key: str, vector: np.ndarray) -> None:
        """Load the model from disk or quantize (and store) it; a failure leaves this vector on float."""
        path = self.directory / f"{key}.xml"
        try:
            model = self._load(path)
            if model is None:
                if self.wait:
                    log.info("int8: quantizing the network for this style (a few seconds, once)")
                model = quantize(self.model, vector)
                self._store(path, model)
        except Exception as error:  # any NNCF/OpenVINO failure: float still works
            if self.wait and isinstance(error, UserError):
                raise
            log.warning(f"note: int8 quantization failed ({error}); this style runs in float32")
            with self._lock:
                self.failed.add(key)
            return
        self._made(key, model)
        with self._lock:
            self.models[key] = model
            if len(self.models) > KEPT_IN_MEMORY:
                self.models.popitem(last=False)

    def _made(self, key: str, model: Model) -> None:
        """Tell `made` (a failure there only means the first frame compiles it)."""
        if self.made is None:
            return
        try:
            self.made(key, model)
        except RuntimeError as error:
            log.warning(f"note: compiling the int8 network ahead failed ({error}); its first frame compiles it")

    def _load(self, path: Path) -> Model | None:
        """A stored int8 model, or None if absent or unreadable (then it is made again)."""
        if not path.exists():
            return None
        try:
            model = self.core.read_model(str(path))
            path.touch()  # recently used: pruned last
            return model
        except (RuntimeError, OSError):
            return None

    @staticmethod
    def _store(path: Path, model: Model) -> None:
        """Write the .bin, then the .xml under its final name last, so a half-written pair is never read."""
        from openvino import save_model

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = partial_path(path, per_process=True)
            save_model(model, str(partial), compress_to_fp16=False)
            partial.with_suffix(".bin").replace(path.with_suffix(".bin"))
            partial.replace(path)
            prune(path.parent, KEPT_ON_DISK)
        except (OSError, RuntimeError):
            pass


def prune(directory: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used stored networks (.xml and .bin pairs)."""
    stored = sorted((path for path in directory.glob("*.xml") if not is_partial(path)), key=lambda p: p.stat().st_mtime)
    for old in stored[: max(len(stored) - keep, 0)]:
        old.unlink(missing_ok=True)
        old.with_suffix(".bin").unlink(missing_ok=True)
