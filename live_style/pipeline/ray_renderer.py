"""`--ray`: segments rendered by Ray actors that each hold the model (loaded once per worker).

Workers read the inputs from a path every node sees and hand back the encoded segment; only the
driver writes the job folder and the outputs. A worker that dies is restarted and its task retried.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path

from live_style.errors import UserError
from live_style.model import load_model
from live_style.pipeline.file_job import SegmentTask, render_segment

INSTALL_HINT = 'pip install -e ".[ray]"'
CPUS_PER_WORKER = 4  # TensorFlow and OpenVINO use every core they get; fewer, larger workers load fewer models
RETRIES = 3
CONNECT_TIMEOUT_S = 5
START_TIMEOUT_S = 300
PASSED_ENV = ("LIVE_STYLE_MODEL", "LIVE_STYLE_CACHE", "TF_CPP_MIN_LOG_LEVEL")


class SegmentWorker:
    """A Ray actor: opens the model once, then renders segment after segment."""

    def __init__(self, model_options: dict):
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)  # share the card with the other workers
        self.model = load_model(**model_options)

    def ready(self) -> bool:
        """Answers once the model is open."""
        return True

    def render(self, task: SegmentTask) -> tuple[bytes, int]:
        """The encoded segment and its frame count."""
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / f"segment{task.suffix}"
            job = render_segment(self.model, task, target, lambda _frames: None)
            return target.read_bytes(), job.frames_done


def last_line(error: Exception) -> str:
    """The message of a Ray error without the remote traceback above it."""
    return str(error).strip().splitlines()[-1]


def import_ray():
    """Ray, or a one-line error naming the extra."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def cluster_address(given: str) -> str | None:
    """The cluster to join (--ray ADDRESS, else $RAY_ADDRESS), checked to answer; None for a local Ray."""
    address = given or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        check_reachable(address)
    return address


def check_reachable(address: str) -> None:
    """Fail in seconds on a cluster address nothing answers at (Ray itself would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray {address}: give HOST:PORT (e.g. head:6379) or ray://HOST:10001")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(
            f"--ray {address}: nothing answers there ({error.strerror or error}); "
            "check the head node runs (ray status) and the address"
        ) from None


def model_options(args: argparse.Namespace) -> dict:
    """The model options a worker opens its own model with."""
    return {
        "spec": args.model,
        "device": args.device,
        "xla": args.xla,
        "precision": args.precision,
        "lite_interpreter": args.lite_interpreter,
        "runtime": args.runtime,
    }


class RayRenderer:
    """Renders segments on Ray actors; starts a local Ray when no cluster address is given."""

    def __init__(self, address: str | None, args: argparse.Namespace):
        """`address`: a checked cluster address (see `cluster_address`), or None for a local Ray."""
        self.ray = ray = import_ray()
        env = {"env_vars": {name: os.environ[name] for name in PASSED_ENV if name in os.environ}}
        try:
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:  # a private local cluster, on the loopback interface only
                ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, runtime_env=env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UserError(
                f"--ray {address}: cannot join the Ray cluster ({error}); check `ray status` there"
            ) from None
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        if gpus:  # one worker per GPU at most: more could never be placed
            count, placement = min(args.ray_workers or gpus, gpus), {"num_gpus": 1, "num_cpus": 0}
        else:
            count = min(args.ray_workers or max(1, cpus // CPUS_PER_WORKER), cpus)
            placement = {"num_cpus": max(1, min(CPUS_PER_WORKER, cpus // count))}
        worker = ray.remote(**placement, max_restarts=RETRIES, max_task_retries=RETRIES)(SegmentWorker)
        self.workers = [worker.remote(model_options(args)) for _ in range(count)]
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        print(f"ray: {count} worker(s) on {where} ({cpus} CPUs, {gpus} GPUs)", file=sys.stderr, flush=True)
        try:  # the model loads in each worker; a worker the cluster cannot place or start must not hang the run
            ray.get([actor.ready.remote() for actor in self.workers], timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise UserError(
                f"Ray could not start {count} worker(s) within {START_TIMEOUT_S} s; "
                "check `ray status` for free CPUs/GPUs, or lower --ray-workers"
            ) from None
        except ray.exceptions.RayError as error:
            message = last_line(error)
            raise UserError(f"a Ray worker could not open the model ({message}); check it on the nodes") from None

    def run(self, tasks, destination, progress):
        """Keep every worker busy; write each segment as it arrives. A worker Ray gave up on is dropped."""
        waiting = list(reversed(tasks))
        running = {}
        idle = list(self.workers)
        while waiting or running:
            while idle and waiting:
                actor, task = idle.pop(), waiting.pop()
                running[actor.render.remote(task)] = (actor, task)
            if not running:  # every worker is gone
                yield from ((task, RuntimeError("every Ray worker died")) for task in reversed(waiting))
                return
            (ready,), _ = self.ray.wait(list(running), num_returns=1)
            actor, task = running.pop(ready)
            try:
                data, frames = self.ray.get(ready)
            except self.ray.exceptions.RayActorError:  # dead past its restarts: its task goes to another
                waiting.append(task)
                continue
            except self.ray.exceptions.RayError as error:
                idle.append(actor)
                yield task, RuntimeError(last_line(error))
                continue
            idle.append(actor)
            destination(task).write_bytes(data)
            progress(frames)
            yield task, frames

    def __enter__(self) -> RayRenderer:
        return self

    def __exit__(self, *_exc) -> None:
        self.ray.shutdown()
