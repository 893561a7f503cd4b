"""`--ray`: segments rendered by Ray actors that each hold the model (loaded once per worker).

Workers are placed node by node from each node's own resources (`plan_workers`): one per GPU, or on
a CPU node one per CPUS_PER_WORKER of its CPUs, never asking for more than the node has. Workers
read the inputs from a path every node sees and hand back the encoded segment; only the driver
writes the job folder and the outputs. The driver's model settings travel on the actors' own
runtime env (merged by Ray with a submitted job's), paths made absolute. A worker that dies is
restarted and its task retried; a segment whose worker ran out of memory goes to another worker.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import os
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from live_style.errors import UserError
from live_style.model import load_model
from live_style.pipeline.file_job import SegmentTask, render_segment

INSTALL_HINT = 'pip install -e ".[ray]"'
CPUS_PER_WORKER = 4  # TensorFlow and OpenVINO use every core they get; fewer, larger workers load fewer models
RETRIES = 3
CONNECT_TIMEOUT_S = 5
START_TIMEOUT_S = 300
WAITING_NOTE_S = 15
PASSED_ENV = ("LIVE_STYLE_MODEL", "LIVE_STYLE_CACHE", "TF_CPP_MIN_LOG_LEVEL")
PATH_ENV = ("LIVE_STYLE_MODEL", "LIVE_STYLE_CACHE")


@dataclass(frozen=True)
class RayOptions:
    """How `--ray` runs: where, how many workers of what size, and the model each one opens."""

    address: str | None  # a checked cluster address (see `cluster_address`); None: a private local Ray
    workers: int | None = None  # default: as many as the nodes hold
    cpus_per_worker: int | None = None  # default: a node's CPUs shared out, CPUS_PER_WORKER at most each
    memory_gb: float | None = None  # memory Ray reserves for each worker on its node
    model: dict = field(default_factory=dict)  # load_model's keyword arguments, `spec` included


@dataclass(frozen=True)
class Slot:
    """Room for one worker on one node."""

    node_id: str
    node: str  # the node's address, for messages
    cpus: int
    gpus: int


class SegmentWorker:
    """A Ray actor: opens the model once, then renders segment after segment."""

    def __init__(self, model_options: dict):
        import ray
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)  # share the card with the other workers
        try:
            self.model = load_model(**model_options)
        except UserError as error:
            raise UserError(f"on Ray node {ray.util.get_node_ip_address()}: {error}") from None

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


def import_ray(address: str | None):
    """Ray, or a one-line error naming the extra; set up to stay on loopback for a local Ray or a loopback cluster.

    Ray replaces a loopback address with this machine's outward IP (`resolve_ip_for_localhost`), so a
    private local Ray would listen on every interface and a cluster bound to 127.0.0.1 could not be
    joined; Ray's own switch for single-machine use keeps both on 127.0.0.1. It is read on import.
    """
    if address is None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a private Ray reports nothing to anybody
    if address is None or is_loopback(address):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def is_loopback(address: str) -> bool:
    """Whether a cluster address (HOST:PORT or ray://HOST:PORT) is on this machine's loopback."""
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cluster_address(given: str) -> str | None:
    """The cluster to join (--ray ADDRESS, else $RAY_ADDRESS), checked to answer; None for a private local Ray.

    `auto` means the cluster last started on this machine (`ray start`), checked the same way.
    """
    address = given or os.environ.get("RAY_ADDRESS") or None
    if address == "auto":
        address = current_cluster()
    if address:
        check_reachable(address)
    return address


def current_cluster() -> str:
    """The address `ray start` left on this machine (in Ray's temp folder), or a one-line error."""
    record = Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        address = record.read_text().strip()
    except OSError:
        address = ""
    if not address:
        raise UserError("--ray auto: no Ray cluster was started on this machine; give its address or start one")
    return address


def check_reachable(address: str) -> None:
    """Fail in seconds on a cluster address nothing answers at (Ray itself would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray {address}: give HOST:PORT (e.g. head:6379) or ray://HOST:10001")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(
            f"--ray {address}: nothing answers there ({error.strerror or error}); "
            "check the head node runs (ray status) and the address"
        ) from None


def absolute_spec(spec: str | None) -> str | None:
    """A model spec with its local paths made absolute (workers run in another folder); names stay names."""
    if not spec:
        return spec
    parts = [part.strip() for part in spec.split(",")]
    resolved = [str(Path(part).expanduser().resolve()) if Path(part).expanduser().exists() else part for part in parts]
    return ",".join(resolved)


def worker_env() -> dict[str, str]:
    """The driver's settings every worker gets, with LIVE_STYLE_MODEL and LIVE_STYLE_CACHE made absolute."""
    env = {name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)}
    for name in PATH_ENV:
        if name in env:
            env[name] = absolute_spec(env[name]) if name == "LIVE_STYLE_MODEL" else str(Path(env[name]).resolve())
    return env


def plan_workers(nodes: list[dict], options: RayOptions) -> list[Slot]:
    """Worker slots from each live node's own resources, spread over the nodes; a one-line error if none fits."""
    per_node = [node_slots(node, options) for node in nodes if node.get("Alive")]
    spread = [slot for row in itertools.zip_longest(*per_node) for slot in row if slot is not None]
    if not spread:
        raise UserError(nothing_fits(nodes, options))
    if options.workers and options.workers > len(spread):
        print(f"ray: {options.workers} workers asked, the nodes hold {len(spread)}", file=sys.stderr)
    return spread[: options.workers or len(spread)]


def node_slots(node: dict, options: RayOptions) -> list[Slot]:
    """One slot per GPU; on a CPU node its CPUs shared out (CPUS_PER_WORKER each at most, or as asked)."""
    resources = node.get("Resources", {})
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    name = node.get("NodeManagerAddress", "?")
    if gpus:
        count, slot = gpus, Slot(node["NodeID"], name, 0, 1)
    else:
        per = options.cpus_per_worker or cpus // max(1, cpus // CPUS_PER_WORKER)
        count, slot = (cpus // per if per else 0), Slot(node["NodeID"], name, per, 0)
    if options.memory_gb:
        count = min(count, int(resources.get("memory", 0) / 2**30 // options.memory_gb))
    return [slot] * count


def nothing_fits(nodes: list[dict], options: RayOptions) -> str:
    """Which resource no node has enough of."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    have = ", ".join(
        f"{int(r.get('CPU', 0))} CPUs/{int(r.get('GPU', 0))} GPUs/{r.get('memory', 0) / 2**30:.1f} GB" for r in alive
    )
    if options.cpus_per_worker:
        asked = f"{options.cpus_per_worker} CPUs"
        hint = "lower --ray-cpus-per-worker"
    else:
        asked, hint = "a CPU or a GPU", "add a node with CPUs (a head started with --num-cpus=0 takes no workers)"
    if options.memory_gb:
        asked += f" and {options.memory_gb:g} GB"
        hint += " or lower --ray-worker-memory"
    return f"no Ray node has {asked} for a worker (nodes: {have or 'none alive'}); {hint}"


class RayRenderer:
    """Renders segments on Ray actors; starts a private local Ray when no cluster address is given."""

    def __init__(self, options: RayOptions):
        self.ray = ray = import_ray(options.address)
        try:
            quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
            if options.address:
                ray.init(address=options.address, **quiet)
            else:  # a new cluster of its own, on the loopback interface only (never one left on the host)
                ray.init(address="local", include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UserError(
                f"--ray {options.address}: cannot join the Ray cluster ({error}); check `ray status` there"
            ) from None
        slots = plan_workers(ray.nodes(), options)
        self.workers = [self._start(slot, options) for slot in slots]
        self.attempts: dict[int, int] = {}
        where = f"the Ray cluster at {options.address}" if options.address else "a local Ray"
        nodes = len({slot.node_id for slot in slots})
        size = f"{slots[0].gpus} GPU" if slots[0].gpus else f"{slots[0].cpus} CPU(s)"
        print(f"ray: {len(slots)} worker(s) on {nodes} node(s) of {where}, {size} each", file=sys.stderr, flush=True)
        self._wait_ready(slots)

    def _start(self, slot: Slot, options: RayOptions):
        """One worker, pinned to its slot's node while that node lives (soft: a restart may go elsewhere)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        placement = {
            "num_cpus": slot.cpus,
            "num_gpus": slot.gpus,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(slot.node_id, soft=True),
            "runtime_env": {"env_vars": worker_env()},  # the actor's own: Ray merges it with a submitted job's
            "max_restarts": RETRIES,
            "max_task_retries": 0,  # a failed segment goes to another worker (see `run`), not back to this one
        }
        if options.memory_gb:
            placement["memory"] = int(options.memory_gb * 2**30)
        model = {**options.model, "spec": absolute_spec(options.model.get("spec"))}
        return self.ray.remote(**placement)(SegmentWorker).remote(model)

    def _wait_ready(self, slots: list[Slot]) -> None:
        """Until every worker has its model open; what holds them back is said while waiting."""
        ray = self.ray
        pending = [actor.ready.remote() for actor in self.workers]
        waited = 0
        try:
            while pending and waited < START_TIMEOUT_S:
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=WAITING_NOTE_S)
                ray.get(ready)
                waited += WAITING_NOTE_S
                if pending and waited < START_TIMEOUT_S:
                    free = ray.available_resources()
                    print(
                        f"ray: {len(pending)} worker(s) still starting after {waited} s; each asks for "
                        f"{slots[0].cpus} CPU(s), {slots[0].gpus} GPU(s); free now: {free.get('CPU', 0):g} CPUs, "
                        f"{free.get('GPU', 0):g} GPUs",
                        file=sys.stderr,
                        flush=True,
                    )
        except ray.exceptions.RayError as error:
            raise UserError(f"a Ray worker could not open the model ({last_line(error)})") from None
        if pending:
            raise UserError(
                f"Ray could not start {len(pending)} worker(s) within {START_TIMEOUT_S} s; check `ray status` "
                "for free CPUs/GPUs and memory, or lower --ray-workers / --ray-cpus-per-worker"
            )

    def run(self, tasks, destination, progress):
        """Keep every worker busy; write each segment as it arrives.

        A segment whose worker died or ran out of memory goes to another worker at once (RETRIES times at
        most), while Ray restarts that worker; it gets work again only once it answers. A worker that can
        never come back (its node is gone and no other has room) is simply never used again.
        """
        ray = self.ray
        waiting, idle = list(reversed(tasks)), list(self.workers)
        running: dict = {}  # render ref -> (worker, task)
        recovering: dict = {}  # ready ref -> worker being restarted by Ray
        while waiting or running:
            while idle and waiting:
                actor, task = idle.pop(), waiting.pop()
                running[actor.render.remote(task)] = (actor, task)
            patience = None if running else START_TIMEOUT_S
            done, _ = (
                ray.wait([*running, *recovering], num_returns=1, timeout=patience)
                if running or recovering
                else ([], [])
            )
            if not done:  # no worker left, or none came back in time
                yield from ((task, RuntimeError("every Ray worker died")) for task in reversed(waiting))
                return
            ref = done[0]
            if ref in recovering:
                actor = recovering.pop(ref)
                with contextlib.suppress(ray.exceptions.RayError):  # gone for good: dropped
                    ray.get(ref)
                    idle.append(actor)
                continue
            actor, task = running.pop(ref)
            try:
                data, frames = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.OutOfMemoryError) as error:
                recovering[actor.ready.options(max_task_retries=-1).remote()] = actor  # answers once restarted
                outcome = self._retry(task, error)
                if outcome is None:
                    waiting.append(task)
                else:
                    yield task, outcome
                continue
            except ray.exceptions.RayError as error:
                idle.append(actor)
                yield task, RuntimeError(last_line(error))
                continue
            idle.append(actor)
            destination(task).write_bytes(data)
            progress(frames)
            yield task, frames

    def _retry(self, task: SegmentTask, error: Exception) -> Exception | None:
        """None when the segment should go to another worker, else the error it fails with."""
        attempts = self.attempts[id(task)] = self.attempts.get(id(task), 0) + 1
        memory = isinstance(error, self.ray.exceptions.OutOfMemoryError)
        what = "ran out of memory" if memory else "died"
        segment = f"segment {task.segment.number} of {task.source.name}"
        if attempts > RETRIES:
            hint = "; give workers more memory (--ray-worker-memory) or use fewer" if memory else ""
            return RuntimeError(f"a Ray worker {what} on {segment} {attempts} times{hint} ({last_line(error)})")
        print(f"ray: a worker {what} on {segment}; it goes to another worker", file=sys.stderr, flush=True)
        return None

    def __enter__(self) -> RayRenderer:
        return self

    def __exit__(self, *_exc) -> None:
        self.ray.shutdown()
