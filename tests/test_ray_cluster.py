"""`--ray` as a cluster user meets it: a real two-node Ray on 127.0.0.1 (`ray.cluster_utils.Cluster`,
1 CPU a node, the head with its dashboard and job API), nodes that do not know the model, a node
lost mid-job, the job CLI, a stale cluster left on the host, and a resumed multi-file run."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import LITE_DIR, cli_argv, cli_env
from jobs import FPS, segments_done, stylize_args, wait_until
from media import av_facts, write_av_clip

from live_style.commands.bench_temporal import read_frames
from live_style.temporal.metrics import psnr

CLUSTER_ENV = ("LIVE_STYLE_MODEL", "LIVE_STYLE_CACHE", "RAY_ADDRESS")  # what the nodes must not inherit
# Ray's switch that keeps a one-machine cluster's own agents on 127.0.0.1 (else they dial this machine's
# outward IP, where nothing listens), and no usage report sent anywhere
LOOPBACK_CLUSTER = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TwoNodes:
    cluster: object
    second: object
    dashboard: str


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodes]:
    """A head (1 CPU, dashboard and job API) and a second node (1 CPU); neither knows the model's path."""
    from ray.cluster_utils import Cluster

    saved = {name: os.environ.pop(name) for name in CLUSTER_ENV if name in os.environ}
    saved_switches = {name: os.environ.get(name) for name in LOOPBACK_CLUSTER}
    os.environ.update(LOOPBACK_CLUSTER)
    port = free_port()
    try:
        local = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
        head = {**local, "include_dashboard": True, "dashboard_host": "127.0.0.1", "dashboard_port": port}
        cluster = Cluster(initialize_head=True, head_node_args=head)
        second = cluster.add_node(**local)
        cluster.wait_for_nodes()
    finally:
        os.environ.update(saved)
        for name, value in saved_switches.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    yield TwoNodes(cluster, second, f"http://127.0.0.1:{port}")
    cluster.shutdown()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 2 s segments."""
    folder = tmp_path_factory.mktemp("ray-in")
    return write_av_clip(folder / "a.mp4", frames=8 * FPS, fps=FPS, size=(240, 160), keyframe_every=FPS)


@pytest.fixture(scope="module")
def two_node_run(two_nodes: TwoNodes, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The clip by hand on the cluster (--ray HEAD:PORT, no --ray-workers) with a relative --model and cache,
    the second node removed once a first segment is in."""
    work = tmp_path_factory.mktemp("ray-work")
    env = {name: value for name, value in cli_env(work).items() if name not in CLUSTER_ENV}
    env["LIVE_STYLE_CACHE"] = "."  # relative, as the model below: the workers run in another folder
    out = work / "out.mp4"
    model = os.path.relpath(LITE_DIR, work)
    args = stylize_args([clip], out, "--model", model, "--ray", two_nodes.cluster.address)
    process = subprocess.Popen(
        cli_argv(*args), env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: segments_done(work / ".out.mp4.job") >= 1, process, "a first segment from the cluster")
        two_nodes.cluster.remove_node(two_nodes.second)  # its worker's segment goes to the head's
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stdout == ""  # no raylet reports, no node state dumps: the lost worker is a line on stderr
    return out, stderr


def test_two_one_cpu_nodes_get_a_worker_each_and_a_lost_node_loses_nothing(
    two_node_run: tuple[Path, str], clip: Path
) -> None:
    out, stderr = two_node_run
    assert "ray: 2 worker(s) on 2 node(s)" in stderr and "1 CPU(s) each" in stderr, stderr
    made, source = av_facts(out), av_facts(clip)
    assert made["frames"] == source["frames"] and made["times"] == source["times"]


def test_the_readme_job_submit_form_gets_the_submitters_model_and_matches_the_run_by_hand(
    two_nodes: TwoNodes, two_node_run: tuple[Path, str], clip: Path, tmp_path: Path
) -> None:
    """`ray job submit ... -- live-style video ... --ray`: the model comes through --runtime-env-json."""
    out = tmp_path / "job.mp4"
    runtime_env = {"env_vars": {"LIVE_STYLE_MODEL": str(LITE_DIR), "LIVE_STYLE_CACHE": str(two_node_run[0].parent)}}
    entry = cli_argv(*stylize_args([clip], out, "--ray"))
    ray_cli = Path(sys.executable).with_name("ray")
    env = {name: value for name, value in os.environ.items() if name not in CLUSTER_ENV}
    env.update(LOOPBACK_CLUSTER)
    submit = [ray_cli, "job", "submit", "--address", two_nodes.dashboard, "--runtime-env-json", json.dumps(runtime_env)]
    result = subprocess.run([*submit, "--", *entry], capture_output=True, text=True, env=env, timeout=400)
    assert result.returncode == 0 and "succeeded" in result.stdout, result.stdout + result.stderr
    listed = subprocess.run([ray_cli, "job", "list", "--address", two_nodes.dashboard], capture_output=True, text=True)
    assert listed.returncode == 0 and "SUCCEEDED" in listed.stdout, listed.stderr
    by_job, by_hand = read_frames(out, 1000), read_frames(two_node_run[0], 1000)
    assert len(by_job) == 8 * FPS
    assert all(np.array_equal(a, b) for a, b in zip(by_job, by_hand, strict=True))


def test_the_cluster_run_with_a_lost_node_makes_the_local_run_s_frames(
    two_node_run: tuple[Path, str], clip: Path, tmp_path: Path
) -> None:
    """Same frames, times and picture as without --ray: bit-identical so far on every CPU tried, and never more
    than a level or two apart (docs/video-jobs.md says why a frame may differ at all)."""
    out = tmp_path / "local.mp4"
    local = subprocess.run(cli_argv(*stylize_args([clip], out)), env=cli_env(tmp_path), capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    assert av_facts(out)["times"] == av_facts(two_node_run[0])["times"]
    on_cluster, by_itself = read_frames(two_node_run[0], 1000), read_frames(out, 1000)
    assert len(on_cluster) == len(by_itself) == 8 * FPS
    apart = [psnr(a, b) for a, b in zip(on_cluster, by_itself, strict=True)]
    identical = sum(value == float("inf") for value in apart)
    assert min(apart) >= 45, f"{identical} of {len(apart)} frames identical, worst {min(apart):.1f} dB"


def test_workers_that_no_node_can_hold_are_said_in_seconds(two_nodes: TwoNodes, clip: Path, tmp_path: Path) -> None:
    args = stylize_args([clip], tmp_path / "out.mp4", "--ray", two_nodes.cluster.address, "--ray-cpus-per-worker", "4")
    start = time.monotonic()
    result = subprocess.run(cli_argv(*args), env=cli_env(tmp_path), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "no Ray node has 4 CPUs for a worker" in result.stderr.splitlines()[-1], result.stderr
    assert time.monotonic() - start < 90  # the model loads on the driver first; no 300 s wait for placement
    assert "Traceback" not in result.stderr


def test_a_plain_ray_starts_its_own_and_a_rerun_counts_finished_outputs_as_done(tmp_path: Path) -> None:
    """A stale `ray_current_cluster` on the host captures neither `--ray` nor the rerun of a multi-file job."""
    first = write_av_clip(tmp_path / "first.mp4", frames=4 * FPS, fps=FPS, size=(240, 160))
    second = write_av_clip(tmp_path / "second.mp4", frames=4 * FPS, fps=FPS, size=(240, 160))
    outdir = tmp_path / "out"
    outdir.mkdir()
    env = cli_env(tmp_path)
    done = subprocess.run(
        cli_argv(*stylize_args([first], outdir / "first.mp4")),
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    stale = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths live below it
    (stale / "ray").mkdir()
    (stale / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")  # a cluster that has gone
    env = {**env, "RAY_TMPDIR": str(stale), "HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    both = cli_argv(*stylize_args([first, second], outdir))
    start = time.monotonic()
    auto = subprocess.run([*both, "--ray", "auto"], env=env, capture_output=True, text=True, timeout=120)
    assert auto.returncode == 2 and "127.0.0.1:9: nothing answers there" in auto.stderr, auto.stderr
    assert time.monotonic() - start < 30
    rerun = subprocess.run([*both, "--ray"], env=env, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stderr
    segments = int(re.search(r"second\.mp4: .* in (\d+) segment\(s\)", rerun.stderr)[1])
    # a worker per segment left, as many as the 2 CPUs hold
    assert f"ray: {min(segments, 2)} worker(s) on 1 node(s) of the local Ray" in rerun.stderr
    assert f"{outdir / 'first.mp4'}: already written by this job" in rerun.stderr
    assert av_facts(outdir / "second.mp4")["frames"] == 4 * FPS
    # the private Ray kept its token to itself: a later `ray start --head` here is not switched to token auth
    assert not (tmp_path / "home" / ".ray" / "auth_token").exists()
    single = write_av_clip(tmp_path / "single.mp4", frames=FPS, fps=FPS, size=(240, 160))
    three = cli_argv(*stylize_args([first, second, single], outdir))
    again = subprocess.run([*three, "--ray"], env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr
    assert "ray: 1 worker(s) on 1 node(s)" in again.stderr  # one segment left, not a worker per CPU
    assert av_facts(outdir / "single.mp4")["frames"] == FPS
    done_already = subprocess.run([*both, "--ray"], env=env, capture_output=True, text=True, timeout=400)
    assert done_already.returncode == 0 and "worker(s)" not in done_already.stderr, done_already.stderr
    other_style = subprocess.run([*both, "--strength", "0.5"], env=env, capture_output=True, text=True, timeout=400)
    assert other_style.returncode == 1, other_style.stderr  # not this job's outputs: still in the way
    assert "already exists; add --overwrite" in other_style.stderr
