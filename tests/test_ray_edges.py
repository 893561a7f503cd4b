"""`--ray` at its edges: addresses where no Ray answers (a silent listener, a web server, a web
address), a head with token authentication (`ray start --head` on 127.0.0.1), and that head stopped
mid-job. Each is one line and an exit code in seconds, and a stopped job resumes."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import cli_argv, cli_env, run_cli_here
from jobs import FPS, segments_done, stylize_args, wait_until
from media import av_facts, write_av_clip
from test_ray_cluster import CLUSTER_ENV, LOOPBACK_CLUSTER, free_port

from live_style.errors import EXIT_SOURCE_LOST
from live_style.pipeline.ray_cluster import ADDRESS_HINT, AUTH_HINT


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_av_clip(tmp_path / "in.mp4", frames=8 * FPS, fps=FPS, size=(240, 160), keyframe_every=FPS)


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"127.0.0.1:{server.getsockname()[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:
        pass  # the request lines would mix with the CLI's stderr


@pytest.fixture
def web_server() -> Iterator[str]:
    """A plain HTTP server, as Ray's dashboard is to the address checker."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("silent", "something listens there, but not a Ray cluster"),
        ("web", "a web server answers there (Ray's dashboard?)"),
        ("http://127.0.0.1:8265", "that is a web address (the dashboard's, which `ray job submit` takes)"),
    ],
)
def test_an_address_where_no_ray_answers_is_one_line_in_seconds(
    request: pytest.FixtureRequest, clip: Path, tmp_path: Path, address: str, said: str
) -> None:
    fixtures = {"silent": "silent_listener", "web": "web_server"}
    if address in fixtures:
        address = request.getfixturevalue(fixtures[address])
    started = time.monotonic()
    result = run_cli_here(*stylize_args([clip], tmp_path / "out.mp4", "--ray", address), cache=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"live-style: error: --ray {address}: {said}; {ADDRESS_HINT}"]
    assert time.monotonic() - started < 20  # Ray's own retries took minutes and ignored SIGTERM
    assert not (tmp_path / "out.mp4").exists()


@dataclass
class TokenHead:
    address: str
    token: str
    process: subprocess.Popen


@pytest.fixture
def token_head(tmp_path: Path) -> Iterator[TokenHead]:
    """`ray start --head --block` with token authentication, 2 CPUs, on 127.0.0.1, in a process group of
    its own (killing the group stops the head the hard way)."""
    port, token = free_port(), "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    home = tmp_path / "head-home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in CLUSTER_ENV}
    env.update({**LOOPBACK_CLUSTER, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "HOME": str(home)})
    ray_cli = Path(sys.executable).with_name("ray")
    command = [ray_cli, "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1"]
    short = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths live below it: a pytest path is too long
    command += ["--num-cpus", "2", "--include-dashboard", "false", "--temp-dir", short]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    address = f"127.0.0.1:{port}"
    try:
        wait_until(lambda: port_open(port), process, "the head's port", deadline_s=120)
        yield TokenHead(address, token, process)
    finally:
        with_group(process, signal.SIGKILL)
        shutil.rmtree(short, ignore_errors=True)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def with_group(process: subprocess.Popen, signum: int) -> None:
    """Send a signal to the process and everything it started (its session)."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return
    process.wait(timeout=60)


def test_a_token_head_refuses_in_one_line_and_a_head_stopped_mid_job_leaves_a_resumable_job(
    token_head: TokenHead, tmp_path: Path
) -> None:
    clip = write_av_clip(tmp_path / "long.mp4", frames=60 * FPS, fps=FPS, size=(240, 160), keyframe_every=FPS)
    out, job = tmp_path / "out.mp4", tmp_path / ".out.mp4.job"
    slow_enough = ("--size", "160")  # ~30 segments: the head is stopped while some are still to come
    args = stylize_args([clip], out, "--ray", token_head.address, *slow_enough)
    env = {**cli_env(tmp_path), "HOME": str(tmp_path / "user-home")}
    env.pop("RAY_ADDRESS", None)
    refused = subprocess.run(cli_argv(*args), env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == f"live-style: error: --ray {token_head.address}: {AUTH_HINT}"

    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token_head.token})
    process = subprocess.Popen(cli_argv(*args), env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: segments_done(job) >= 1, process, "a first segment from the cluster", deadline_s=240)
        with_group(token_head.process, signal.SIGKILL)  # the head, its GCS, raylet and workers
        stderr = process.communicate(timeout=120)[1]
    finally:
        process.kill()
    assert process.returncode == EXIT_SOURCE_LOST, stderr
    assert stderr.strip().splitlines()[-1] == (
        f"live-style: error: the Ray cluster at {token_head.address} stopped answering (its head node is gone); "
        "the finished segments are kept: start the cluster again, then run the same command to resume"
    )
    assert "Traceback" not in stderr and not out.exists()
    kept = segments_done(job)
    assert kept >= 1

    again = cli_argv(*stylize_args([clip], out, *slow_enough))
    resumed = subprocess.run(again, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert re.search(rf"resuming: {kept} of \d+ segments already done \(verified\)", resumed.stderr), resumed.stderr
    assert av_facts(out)["times"] == av_facts(clip)["times"]
    assert not (tmp_path / "user-home" / ".ray" / "auth_token").exists()
