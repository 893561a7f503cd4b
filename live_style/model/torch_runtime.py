"""The GPU runtime on every OS: Magenta's transfer network in PyTorch (extra `.[torch]`), on CUDA, Apple MPS or a CPU.

Self-contained on purpose: it imports torch, numpy and safetensors only (no TensorFlow, OpenVINO, OpenCV or the
rest of live_style), so `bench/gpu.py` runs it on a GPU machine with nothing else installed. Its weights are the
safetensors file `model/torch_weights.py` writes once from the files the other runtimes read, in one layout for
both networks (the TF Lite pair's and the hub model's: they differ only in widths and residual count):

  contract.{i}.weight/bias                 3 reflect-padded convs (batch norm folded in), ReLU
  residual.{b}.{j}.weight/bias             2 convs per block, each with a conditional instance norm
  expand.{i}.weight/bias                   nearest x2 upsample (the last: none) + conv, conditional instance norm
  ....{beta,gamma}.weight/bias             the norm's shift and scale: linear maps of the style vector

The GPU way: convs in half precision (float16 on CUDA and MPS, bfloat16 where asked) and channels-last, the
instance-norm statistics in float32, cuDNN autotuning; on CUDA one CUDA graph per frame shape, the uint8 BGR
frames uploaded from pinned memory and converted, resized and returned as uint8 on the GPU, each frame's
download overlapped with the next frame's network.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

NORM_EPSILON = 1e-5
HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPES = {"float32": torch.float32, **HALF}
CAPTURED = 4  # frame shapes kept as CUDA graphs at once (a live source, a preview, a still...)
Params = list[torch.Tensor]  # per norm: shift then scale, float32 [1,C,1,1]


def gpu_name() -> str | None:
    """The GPU torch would run on ("cuda" first, then Apple's "mps"), or None."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else None


def device_report(device: str) -> str:
    """The device's name, memory and driver (for benchmark headers)."""
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        memory = f"{props.total_memory / 2**30:.0f} GiB"
        return f"{props.name}, {memory}, driver {nvidia_driver()}, CUDA {torch.version.cuda}, torch {torch.__version__}"
    if device == "mps":
        return f"Apple GPU (MPS), torch {torch.__version__}"
    return f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def nvidia_driver() -> str:
    """The NVIDIA driver's version as nvidia-smi gives it (torch does not report it), or "unknown"."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "unknown"
    query = [smi, "--query-gpu=driver_version", "--format=csv,noheader", "--id=0"]
    try:
        return subprocess.run(query, capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The network's weights from its safetensors file (float32)."""
    from safetensors.torch import load_file

    return load_file(str(path))


def layer_count(weights: dict[str, torch.Tensor], part: str) -> int:
    """How many numbered layers (or blocks) `part` has in the weights."""
    return len({name.split(".")[1] for name in weights if name.startswith(f"{part}.")})


def conv_from(weights: dict[str, torch.Tensor], name: str, stride: int) -> nn.Conv2d:
    """A reflect-padded 'same' conv (Magenta's `ops.conv2d`) from `name.weight` (OIHW) and `name.bias`."""
    kernel = weights[f"{name}.weight"]
    outputs, inputs, size, _ = kernel.shape
    conv = nn.Conv2d(inputs, outputs, size, stride, padding=size // 2, padding_mode="reflect")
    conv.weight.data.copy_(kernel)
    conv.bias.data.copy_(weights[f"{name}.bias"])
    return conv


def linear_from(weights: dict[str, torch.Tensor], name: str) -> nn.Linear:
    """A style vector -> per-channel shift or scale map from `name.weight` [C,D] and `name.bias`."""
    matrix = weights[f"{name}.weight"]
    linear = nn.Linear(matrix.shape[1], matrix.shape[0])
    linear.weight.data.copy_(matrix)
    linear.bias.data.copy_(weights[f"{name}.bias"])
    return linear


class StyledConv(nn.Module):
    """A conv followed by a conditional instance norm whose shift and scale come from the style vector."""

    def __init__(self, weights: dict[str, torch.Tensor], name: str, upsample: bool = False):
        super().__init__()
        self.conv = conv_from(weights, name, 1)
        self.beta, self.gamma = (linear_from(weights, f"{name}.{part}") for part in ("beta", "gamma"))
        self.upsample = upsample

    def params(self, vector: torch.Tensor) -> Params:
        """This norm's shift and scale for a style vector [1,D], float32 [1,C,1,1]."""
        return [self.beta(vector)[..., None, None], self.gamma(vector)[..., None, None]]

    def forward(self, x: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return conditional_instance_norm(self.conv(x), beta, gamma)


def conditional_instance_norm(x: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Instance norm, statistics and arithmetic in float32 whatever the compute dtype, shifted and scaled per style."""
    full = x.float()
    variance, mean = torch.var_mean(full, dim=(2, 3), keepdim=True, correction=0)
    scale = gamma * torch.rsqrt(variance + NORM_EPSILON)
    return (full * scale + (beta - mean * scale)).to(x.dtype)


class TransferNetwork(nn.Module):
    """Magenta's style transformer: RGB in [0,1] [N,3,H,W] (H, W multiples of 4) + norm params -> RGB in [0,1]."""

    def __init__(self, weights: dict[str, torch.Tensor]):
        super().__init__()
        self.contract = nn.ModuleList(
            conv_from(weights, f"contract.{i}", 1 if i == 0 else 2) for i in range(layer_count(weights, "contract"))
        )
        self.residual = nn.ModuleList(
            nn.ModuleList(StyledConv(weights, f"residual.{b}.{j}") for j in range(2))
            for b in range(layer_count(weights, "residual"))
        )
        expand = layer_count(weights, "expand")
        self.expand = nn.ModuleList(StyledConv(weights, f"expand.{i}", upsample=i < expand - 1) for i in range(expand))
        self.vector_size = weights["expand.0.beta.weight"].shape[1]

    def styled(self) -> list[StyledConv]:
        """Every conditional norm, in the order `forward` takes their params."""
        return [conv for block in self.residual for conv in block] + list(self.expand)

    def params(self, vector: torch.Tensor) -> Params:
        """Every norm's shift and scale for a style vector [1,D] (computed once per style)."""
        return [p for conv in self.styled() for p in conv.params(vector)]

    def forward(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        for conv in self.contract:
            x = F.relu(conv(x))
        pairs = iter(zip(params[0::2], params[1::2], strict=True))
        for first, second in self.residual:
            h = F.relu(first(x, *next(pairs)))
            x = x + second(h, *next(pairs))
        for index, conv in enumerate(self.expand):
            x = conv(x, *next(pairs))
            x = F.relu(x) if index < len(self.expand) - 1 else torch.sigmoid(x.float())
        return x


class TorchTransfer:
    """uint8 BGR frames [N,H,W,3] + style vector -> stylized uint8 BGR, on one torch device in one precision."""

    def __init__(self, weights: dict[str, torch.Tensor], device: str = "cpu", precision: str = "float32"):
        self.device = torch.device(device)
        self.dtype = DTYPES[precision]
        self.precision = precision
        network = TransferNetwork(weights).eval().requires_grad_(False)
        # the convs in the compute dtype, channels-last; the style maps stay float32 (their output feeds float32 norms)
        for module in network.modules():
            if isinstance(module, nn.Conv2d):
                module.to(self.device, self.dtype, memory_format=torch.channels_last)
            elif isinstance(module, nn.Linear):
                module.to(self.device)
        self.network = network
        self.vector_size = network.vector_size
        self._vector: np.ndarray | None = None
        self._params: Params = []  # static tensors, rewritten in place per style (CUDA graphs read them by address)
        self._graphs: OrderedDict[tuple[int, int], CapturedFrame] = OrderedDict()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # static shapes: autotuned once per shape
            self.copy_stream = torch.cuda.Stream()

    def use_style(self, vector: np.ndarray) -> None:
        """Compute the norms' shifts and scales for this style vector (once; again only when it changes)."""
        vector = np.array(vector, np.float32).reshape(-1)  # a copy: the caller may reuse its buffer
        if self._vector is not None and np.array_equal(vector, self._vector):
            return
        with torch.inference_mode():
            fresh = self.network.params(torch.from_numpy(vector)[None].to(self.device))
        if self._params:
            for static, value in zip(self._params, fresh, strict=True):
                static.copy_(value)
        else:
            self._params = [p.clone() for p in fresh]
        self._vector = vector

    def network_on(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 BGR [N,H,W,3] on the device -> uint8 BGR [N,H,W,3] on the device (the whole frame step)."""
        x = frames.permute(0, 3, 1, 2).flip(1).to(self.dtype).div_(255)  # NCHW view of NHWC: channels-last
        y = self.network(x.contiguous(memory_format=torch.channels_last), self._params)
        return y.mul(255).round_().clamp_(0, 255).to(torch.uint8).flip(1).permute(0, 2, 3, 1).contiguous()

    def __call__(self, frames: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Stylize uint8 BGR frames [N,H,W,3] at the shape given (multiples of 4)."""
        self.use_style(vector)
        with torch.inference_mode():
            if self.device.type == "cuda":
                return self._on_cuda(frames)
            return self.network_on(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)).cpu().numpy()

    def resized(
        self, frames: np.ndarray, vector: np.ndarray, shape: tuple[int, int], output_size: tuple[int, int]
    ) -> np.ndarray:
        """Frames of any size: shrunk to `shape` (height, width) on the device, stylized, brought to `output_size`
        (width, height), returned as uint8 BGR: one upload and one download a frame."""
        self.use_style(vector)
        with torch.inference_mode():
            full = upload(frames, self.device).permute(0, 3, 1, 2).float()
            small = F.interpolate(full, size=shape, mode="area")  # averaging: no aliasing (MPS: whole ratios only)
            styled = self.network_on(small.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
            width, height = output_size
            big = F.interpolate(styled.permute(0, 3, 1, 2).float(), size=(height, width), mode="bilinear")
            return big.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()

    def _on_cuda(self, frames: np.ndarray) -> np.ndarray:
        """Frame by frame through the shape's CUDA graph (two output slots), each download on a copy stream while
        the next frame runs."""
        captured = self._captured(tuple(frames.shape[1:3]))
        host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
        staged = torch.from_numpy(np.ascontiguousarray(frames)).pin_memory()
        compute = torch.cuda.current_stream()
        for index in range(len(frames)):
            slot = index % 2
            compute.wait_event(captured.downloaded[slot])  # this slot's last frame has left the GPU
            output = captured.run(staged[index : index + 1], slot)
            captured.computed[slot].record(compute)
            with torch.cuda.stream(self.copy_stream):
                self.copy_stream.wait_event(captured.computed[slot])
                host[index : index + 1].copy_(output, non_blocking=True)
                captured.downloaded[slot].record(self.copy_stream)
        self.copy_stream.synchronize()
        return host.numpy()

    def _captured(self, shape: tuple[int, int]) -> CapturedFrame:
        """The CUDA graphs for one frame of this shape (captured on first use; the least recent dropped)."""
        if shape not in self._graphs:
            self._graphs[shape] = CapturedFrame(self.network_on, shape)
            if len(self._graphs) > CAPTURED:
                self._graphs.popitem(last=False)
        self._graphs.move_to_end(shape)
        return self._graphs[shape]


def upload(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 frames to the device: from pinned memory without blocking on CUDA."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class CapturedFrame:
    """One frame's whole step (uint8 in -> network -> uint8 out) as two CUDA graphs of one shape, sharing the input
    buffer and writing to two output slots, so one slot downloads while the other computes."""

    def __init__(self, step: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, int]):
        self.input = torch.zeros((1, *shape, 3), dtype=torch.uint8, device="cuda")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream (cuDNN picks its kernels here)
            for _ in range(3):
                step(self.input)
        torch.cuda.current_stream().wait_stream(side)
        self.graphs, self.outputs = [], []
        for _ in range(2):  # the second shares the first's memory pool (the first's output stays allocated)
            graph = torch.cuda.CUDAGraph()
            pool = self.graphs[0].pool() if self.graphs else None
            # thread_local: another thread's CUDA work meanwhile (a second session) does not break the capture
            with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):
                self.outputs.append(step(self.input))
            self.graphs.append(graph)
        self.computed = [torch.cuda.Event(), torch.cuda.Event()]
        self.downloaded = [torch.cuda.Event(), torch.cuda.Event()]
        for event in self.downloaded:
            event.record()
        log.debug("captured the transfer network as CUDA graphs at %dx%d", shape[1], shape[0])

    def run(self, frame: torch.Tensor, slot: int) -> torch.Tensor:
        """Upload one pinned frame [1,H,W,3] and replay the slot's graph; its output tensor is returned."""
        self.input.copy_(frame, non_blocking=True)
        self.graphs[slot].replay()
        return self.outputs[slot]
