"""The torch runtime (`--runtime torch`) on this machine's CPU: the same pictures as TensorFlow from the same weights,
half precision within its floor, every command on it, and its GPU benchmark's smoke run. Its GPU paths (CUDA graphs,
pinned uploads, the overlapped download) run only where a GPU is: `bench/gpu.py`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CHICAGO, LITE_DIR, ROOT, SHARED, cli_argv, cli_env, psnr, run_cli, run_cli_here
from jobs import stylize_args
from media import av_facts, write_av_clip, write_clip
from studio import Client, Server, run_async

from live_style import load_model
from live_style.commands.bench_temporal import read_frames
from live_style.imaging import resize_frames
from live_style.model import gpu_choice
from live_style.model.torch_weights import cached_weights

if os.environ.get("CI") != "true":
    pytest.importorskip("torch", reason="the [torch] extra is not installed")
WAVE = SHARED / "styles" / "wave.jpg"
SHAPES = (64, 64), (96, 160), (136, 200)  # square, landscape, portrait-ish; all multiples of 4


@pytest.fixture(scope="module")
def content() -> np.ndarray:
    import cv2

    return cv2.imread(str(CHICAGO))


def both_runtimes(spec: str, cache: Path, precision: str = "float32"):
    """The same model on TensorFlow (float32) and on torch (in `precision`)."""
    tensorflow = load_model(spec, cache_dir=cache, runtime="tensorflow", device="cpu")
    torch_model = load_model(spec, cache_dir=cache, runtime="torch", device="cpu", precision=precision)
    return tensorflow, torch_model


@pytest.mark.parametrize("network", ["lite", "hub"])
def test_torch_draws_tensorflows_picture_in_float32_at_every_shape(
    network: str, hub_model_dir: Path, cache_dir: Path, content: np.ndarray, wave: np.ndarray
) -> None:
    spec = str(LITE_DIR if network == "lite" else hub_model_dir)
    tensorflow, torch_model = both_runtimes(spec, cache_dir)
    assert "PyTorch, float32" in torch_model.description and torch_model.runtime == "torch"
    vector = tensorflow.style_vector(wave)
    for height, width in SHAPES:
        frames = resize_frames(content[None], height, width)
        expected = tensorflow.transfer(frames, vector)
        got = torch_model.transfer(frames, vector)
        assert got.shape == expected.shape == (1, height, width, 3) and got.dtype == np.uint8
        assert psnr(got[0], expected[0]) >= 60, (network, height, width)
        assert psnr(got[0], frames[0]) < 25  # stylized, not passed through


@pytest.mark.parametrize(
    ("network", "precision"), [("lite", "bfloat16"), ("lite", "float16"), ("hub", "bfloat16"), ("hub", "float16")]
)
def test_half_precision_keeps_the_picture_within_35_db(
    network: str, precision: str, hub_model_dir: Path, cache_dir: Path, content: np.ndarray, wave: np.ndarray
) -> None:
    spec = str(LITE_DIR if network == "lite" else hub_model_dir)
    tensorflow, half = both_runtimes(spec, cache_dir, precision)
    assert f"PyTorch, {precision}" in half.description
    vector = tensorflow.style_vector(wave)
    frames = resize_frames(content[None], 96, 160)
    quality = psnr(half.transfer(frames, vector)[0], tensorflow.transfer(frames, vector)[0])
    assert 35 <= quality < 70, quality  # close, yet not float32 under another name


def test_the_runtime_imports_and_runs_without_tensorflow_or_openvino(
    lite_model, cache_dir: Path, content: np.ndarray, wave: np.ndarray, tmp_path: Path
) -> None:
    """torch_runtime needs torch, numpy and safetensors only: what `bench/gpu.py` has on a GPU machine."""
    weights = cached_weights(lite_model.network, lite_model.identity, tmp_path / "weights")
    frames = resize_frames(content[None], 64, 96)
    vector = lite_model.style_vector(wave)
    np.save(tmp_path / "frames.npy", frames)
    np.save(tmp_path / "vector.npy", vector)
    script = (
        "import sys; import numpy as np\n"
        "for name in ('tensorflow', 'openvino', 'tf_keras'): sys.modules[name] = None  # importing them fails\n"
        "from live_style.model.torch_runtime import TorchTransfer, load_weights\n"
        f"out = TorchTransfer(load_weights({str(weights)!r}))(np.load(sys.argv[1]), np.load(sys.argv[2]))\n"
        "np.save(sys.argv[3], out)\n"
        "assert not any(m.startswith(('tensorflow', 'openvino')) for m in sys.modules if sys.modules[m])\n"
    )
    args = [tmp_path / "frames.npy", tmp_path / "vector.npy", tmp_path / "out.npy"]
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    on_torch = load_model(str(LITE_DIR), cache_dir=cache_dir, runtime="torch", device="cpu")
    assert np.array_equal(np.load(tmp_path / "out.npy"), on_torch.transfer(frames, vector))


def test_the_weights_are_cached_once_as_safetensors(lite_model, tmp_path: Path) -> None:
    from safetensors import safe_open

    path = cached_weights(lite_model.network, lite_model.identity, tmp_path)
    written = path.stat().st_mtime_ns
    assert cached_weights(lite_model.network, lite_model.identity, tmp_path) == path
    assert path.stat().st_mtime_ns == written and [p.name for p in tmp_path.iterdir()] == [path.name]
    with safe_open(str(path), "np") as opened:
        names = set(opened.keys())
        assert opened.metadata()["model"] == lite_model.identity
    assert {"contract.0.weight", "residual.4.1.gamma.weight", "expand.2.bias"} <= names


def test_each_transfer_file_gets_its_own_weights(tmp_path: Path, content: np.ndarray, wave: np.ndarray) -> None:
    """One predict file pairs with several transfer files: the cached weights follow the transfer file."""
    predict = LITE_DIR / "style_predict_int8.tflite"
    outputs = []
    for transfer in ("style_transfer_fp16.tflite", "style_transfer_dynamic_int8.tflite"):
        model = load_model(f"{predict},{LITE_DIR / transfer}", cache_dir=tmp_path, runtime="torch", device="cpu")
        outputs.append(model.transfer(resize_frames(content[None], 64, 96), model.style_vector(wave)))
    assert len(list((tmp_path / "torch-weights").glob("*.safetensors"))) == 2
    assert 30 < psnr(outputs[0][0], outputs[1][0]) < 60  # the same network, weights stored apart


def test_image_and_live_run_on_torch(tmp_path: Path) -> None:
    import cv2

    outputs, said = {}, {}
    for runtime in ("torch", "tensorflow"):
        outputs[runtime] = tmp_path / f"{runtime}.png"
        done = run_cli("image", CHICAGO, "--style", WAVE, "-o", outputs[runtime], "--runtime", runtime, cache=tmp_path)
        assert done.returncode == 0, done.stderr
        said[runtime] = done.stderr
    assert "(PyTorch, float32) on CPU" in said["torch"] and "PyTorch" not in said["tensorflow"]

    torch_image, tf_image = (cv2.imread(str(outputs[r])) for r in ("torch", "tensorflow"))
    assert torch_image.shape == tf_image.shape and psnr(torch_image, tf_image) >= 50
    clip = write_clip(tmp_path / "clip.mp4", frames=12, fps=10)
    record = tmp_path / "rec.mp4"
    args = ("--input", clip, "--style", WAVE, "--no-window", "--as-fast-as-possible", "--record", record)
    live = run_cli(*args, "--runtime", "torch", cache=tmp_path)
    assert live.returncode == 0, live.stderr
    assert "(PyTorch, float32) on CPU" in live.stderr and "stopped: end of input" in live.stderr
    assert av_facts(record)["frames"] == 12


def test_video_on_torch_locally_and_on_ray_workers_agree(tmp_path: Path) -> None:
    clip = write_av_clip(tmp_path / "clip.mp4", frames=30, fps=10, size=(240, 160))
    local, on_ray = tmp_path / "local.mp4", tmp_path / "ray.mp4"
    env = {**cli_env(tmp_path), "RAY_TMPDIR": "/tmp", "HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    for out, extra in ((local, ()), (on_ray, ("--ray",))):
        args = cli_argv(*stylize_args([clip], out, "--runtime", "torch", *extra))
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stderr
    assert "ray: a worker runs TF Lite pair" in done.stderr and "(PyTorch, float32) on CPU" in done.stderr
    frames = {out: read_frames(out, 100) for out in (local, on_ray)}
    assert len(frames[local]) == len(frames[on_ray]) == 30
    assert min(psnr(a, b) for a, b in zip(frames[local], frames[on_ray], strict=True)) > 50


def test_the_studio_streams_on_torch(cache_dir: Path, tmp_path: Path) -> None:
    import cv2

    server = Server("--style", str(WAVE), "--runtime", "torch", cache=tmp_path, log=tmp_path / "serve.log")
    clip = [cv2.resize(cv2.imread(str(CHICAGO)), (320, 240))] * 10

    async def session() -> list[np.ndarray]:
        client = Client(server, clip)
        status, body = await client.connect()
        assert status == 200, body
        try:
            return await client.stylized(5)
        finally:
            await client.close()

    try:
        frames = run_async(session())
    finally:
        server.stop()
    assert "PyTorch, float32" in server.errors()
    assert all(psnr(cv2.resize(frame, (320, 240)), clip[0]) < 25 for frame in frames)


def test_the_gpu_benchmark_runs_on_a_cpu_from_the_weights_files_alone(
    lite_model, hub_model_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    hub = load_model(str(hub_model_dir), cache_dir=cache_dir, runtime="tensorflow", device="cpu")
    for name, model in (("lite", lite_model), ("hub", hub)):
        shutil.copy(cached_weights(model.network, model.identity, tmp_path / "cache"), tmp_path / f"{name}.safetensors")
    figures = tmp_path / "gpu.json"
    script = "import runpy, sys; sys.modules['tensorflow'] = sys.modules['cv2'] = None; sys.argv = sys.argv[1:]; "
    script += f"runpy.run_path({str(ROOT / 'bench' / 'gpu.py')!r}, run_name='__main__')"
    args = [sys.executable, "-c", script, "gpu.py", "--quick", "--weights", str(tmp_path), "--json", str(figures)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("device: CPU, ")
    import json

    rows = json.loads(figures.read_text())["rows"]
    assert {(r["network"], r["precision"]) for r in rows} == {
        (n, p) for n in ("lite", "hub") for p in ("float32", "bfloat16")
    }
    assert all(r["ms"] > 0 for r in rows) and len(rows) == 8


def test_the_faster_runtime_is_measured_once_and_kept(lite_model, tmp_path: Path) -> None:
    """gpu_choice on this CPU's two runtimes (on a GPU both see, `load_model` asks it the same question)."""
    models = {
        "tensorflow": load_model(str(LITE_DIR), cache_dir=tmp_path, runtime="tensorflow", device="cpu"),
        "torch": load_model(str(LITE_DIR), cache_dir=tmp_path, runtime="torch", device="cpu"),
    }
    lines: list[str] = []
    picked = gpu_choice.choose(models, lines.append)
    assert picked in models and len(lines) == 2 and f"picked {picked}" in lines[1]
    again: list[str] = []
    assert gpu_choice.choose(models, again.append) == picked and again == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--runtime", "torch", "--precision", "int8"), "--precision int8 runs on OpenVINO only"),
        (("--runtime", "torch", "--xla"), "--xla: TensorFlow only"),
        (("--device", "cuda"), "--device cuda: PyTorch sees no CUDA device here"),
        (("--device", "mps", "--runtime", "torch"), "--device mps: PyTorch sees no MPS device here"),
        (("--device", "gpu"), "--device gpu: neither TensorFlow nor PyTorch sees a GPU"),
        (("--device", "cuda", "--runtime", "tensorflow"), "--device cuda names a PyTorch device; use --runtime torch"),
    ],
)
def test_torch_options_that_cannot_run_here_are_one_line(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    done = run_cli_here("image", CHICAGO, "--style", WAVE, "-o", tmp_path / "x.png", *args, cache=tmp_path)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_without_torch_the_runtime_names_the_extra(tmp_path: Path) -> None:
    script = "import sys; sys.modules['torch'] = None; from live_style import cli; sys.exit(cli.main(sys.argv[1:]))"
    args = ["image", CHICAGO, "--style", WAVE, "-o", tmp_path / "x.png", "--runtime", "torch"]
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=cli_env(tmp_path)
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "--runtime torch needs PyTorch: pip install -e '.[torch]' (a CUDA build on Windows: see docs/runtimes.md)"
        )
    )
