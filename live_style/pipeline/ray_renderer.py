"""`--ray`: segments rendered by Ray actors that each hold the model (loaded once per worker).

Workers (placed by `ray_cluster.plan_workers`) read the inputs from a path every node sees and hand
back the encoded segment; only the driver writes the job folder and the outputs. The driver's model
settings travel on the actors' own runtime env (merged by Ray with a submitted job's). A worker
that dies is restarted by Ray; its segment goes to another worker at once, as does one whose
worker ran out of memory.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

from live_style.errors import EXIT_SOURCE_LOST, UserError
from live_style.logs import quiet_native_stderr
from live_style.model.loading import load_model
from live_style.pipeline.file_job import SegmentTask, render_segment
from live_style.pipeline.ray_cluster import (
    AUTH_HINT,
    CONNECT_TIMEOUT_S,
    RayOptions,
    Slot,
    absolute_spec,
    connect,
    import_ray,
    plan_workers,
    worker_env,
)

log = logging.getLogger(__name__)

RETRIES = 3
START_TIMEOUT_S = 300
WAITING_NOTE_S = 15
HEAD_CHECK_S = 2  # how often a waiting driver checks that the head still answers


class SegmentWorker:
    """A Ray actor: opens the model once, then renders segment after segment."""

    def __init__(self, model_options: dict):
        import ray

        try:  # TensorFlow takes GPU memory as needed (pick_device): workers share a card
            self.model = load_model(**model_options)
        except UserError as error:
            raise UserError(f"on Ray node {ray.util.get_node_ip_address()}: {error}") from None

    def ready(self) -> str:
        """What runs the model on this worker (answered once it is open)."""
        return self.model.description

    def render(self, task: SegmentTask) -> tuple[bytes, int]:
        """The encoded segment and its frame count."""
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / f"segment{task.suffix}"
            job = render_segment(self.model, task, target, lambda _frames: None)
            return target.read_bytes(), job.frames_done


def last_line(error: Exception) -> str:
    """The message of a Ray error without the remote traceback above it, nor the class name before it."""
    line = str(error).strip().splitlines()[-1]
    return re.sub(r"^[\w.]+(Error|Exception|Interrupt): ", "", line)


def keep_raylet_reports_off_stdout() -> None:
    """Ray prints its raylets' error reports (a worker killed, a node's state dump: dozens of lines) to the
    driver's stdout even with log_to_driver=False, and offers no switch; they go to the debug log instead
    (--verbose), and the renderer says what they mean in one line (`_retry`)."""
    worker = sys.modules["ray._private.worker"]
    worker.print_to_stdstream = lambda data, ignore_prefix: log.debug("ray: %s", "\n".join(data.get("lines", [])))


class ClusterLost(UserError):
    """The cluster's head stopped answering mid-job: what is done is kept, a rerun resumes."""

    def __init__(self, where: str):
        super().__init__(
            f"{where} stopped answering (its head node is gone); the finished segments are kept: start the "
            "cluster again, then run the same command to resume",
            EXIT_SOURCE_LOST,
        )


class RayRenderer:
    """Renders segments on Ray actors; starts a private local Ray when no cluster address is given.

    It joins at once (so a refusal is said before any work) and starts workers only for segments left
    to render, never more workers than segments.
    """

    def __init__(self, options: RayOptions):
        self.ray = ray = import_ray(options.address)
        self.options = options
        self.where = f"the Ray cluster at {options.address}" if options.address else "the local Ray"
        keep_raylet_reports_off_stdout()
        try:
            quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
            with quiet_native_stderr(replay=False):  # Ray's C++ start-up lines; a failure is said below
                if options.address:
                    ray.init(address=options.address, **quiet)
                else:  # a new cluster of its own, on the loopback interface only (never one left on the host)
                    ray.init(address="local", include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as error:
            why = AUTH_HINT if "auth" in str(error).lower() else f"cannot join the Ray cluster ({last_line(error)})"
            raise UserError(f"--ray {options.address}: {why}; check `ray status` there") from None
        client = options.address and options.address.startswith("ray://")
        self.head = options.address.removeprefix("ray://") if client else ray.get_runtime_context().gcs_address
        self.workers: list = []
        self.attempts: dict[int, int] = {}
        self.lost = False  # the head went away: nothing left to shut down, and Ray would wait for it

    def _start_workers(self, tasks: int) -> None:
        """Workers for `tasks` segments (no more), each with its model open."""
        slots = plan_workers(self.ray.nodes(), self.options)[:tasks]
        env = worker_env()
        model = {**self.options.model, "spec": absolute_spec(self.options.model.get("spec"))}
        self.workers = [self._start(slot, self.options.memory_gb, env, model) for slot in slots]
        nodes = len({slot.node_id for slot in slots})
        size = f"{slots[0].gpus} GPU" if slots[0].gpus else f"{slots[0].cpus} CPU(s)"
        log.info(f"ray: {len(slots)} worker(s) on {nodes} node(s) of {self.where}, {size} each")
        self._wait_ready(slots)

    def _head_answers(self) -> bool:
        """Whether the cluster's head still takes connections (checked while waiting on Ray)."""
        try:
            connect(self.head, CONNECT_TIMEOUT_S).close()
        except OSError:
            return False
        return True

    def _wait(self, refs: list, num_returns: int, timeout: float | None) -> tuple[list, list]:
        """ray.wait, in short steps with the head checked between them; ClusterLost once it is gone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done, rest = [], list(refs)
        while True:
            step = HEAD_CHECK_S if deadline is None else max(0.0, min(HEAD_CHECK_S, deadline - time.monotonic()))
            try:
                ready, rest = self.ray.wait(rest, num_returns=num_returns - len(done), timeout=step)
            except (OSError, ConnectionError, self.ray.exceptions.RaySystemError):
                ready = []
            done += ready
            if len(done) >= num_returns or (deadline is not None and time.monotonic() >= deadline):
                return done, rest
            if not self._head_answers():
                self.lost = True
                raise ClusterLost(self.where)

    def _start(self, slot: Slot, memory_gb: float | None, env: dict[str, str], model: dict):
        """One worker, pinned to its slot's node while that node lives (soft: a restart may go elsewhere)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        placement = {
            "num_cpus": slot.cpus,
            "num_gpus": slot.gpus,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(slot.node_id, soft=True),
            "runtime_env": {"env_vars": env},  # the actor's own: Ray merges it with a submitted job's
            "max_restarts": RETRIES,
            "max_task_retries": 0,  # a failed segment goes to another worker (see `run`), not back to this one
        }
        if memory_gb:
            placement["memory"] = int(memory_gb * 2**30)
        return self.ray.remote(**placement)(SegmentWorker).remote(model)

    def _wait_ready(self, slots: list[Slot]) -> None:
        """Until every worker has its model open; what holds them back is said while waiting."""
        ray = self.ray
        pending = [actor.ready.remote() for actor in self.workers]
        waited, said = 0, set()
        try:
            while pending and waited < START_TIMEOUT_S:
                ready, pending = self._wait(pending, len(pending), WAITING_NOTE_S)
                for description in set(ray.get(ready)) - said:
                    log.info(f"ray: a worker runs {description}")
                    said.add(description)
                waited += WAITING_NOTE_S
                if pending and waited < START_TIMEOUT_S:
                    free = ray.available_resources()
                    log.info(
                        f"ray: {len(pending)} worker(s) not ready after {waited} s: a worker starts and opens the "
                        f"model once it has {slots[0].cpus} CPU(s) and {slots[0].gpus} GPU(s) on its node (free "
                        f"now, not counting them: {free.get('CPU', 0):g} CPUs, {free.get('GPU', 0):g} GPUs)"
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
        if not tasks:
            return
        self._start_workers(len(tasks))
        ray = self.ray
        waiting, idle = list(reversed(tasks)), list(self.workers)
        running: dict = {}  # render ref -> (worker, task)
        recovering: dict = {}  # ready ref -> worker being restarted by Ray
        while waiting or running:
            while idle and waiting:
                actor, task = idle.pop(), waiting.pop()
                running[actor.render.remote(task)] = (actor, task)
            patience = None if running else START_TIMEOUT_S
            done, _ = self._wait([*running, *recovering], 1, patience) if running or recovering else ([], [])
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
        segment = f"{task.segment.name} of {task.source.name}"
        if attempts > RETRIES:
            hint = "; give workers more memory (--ray-worker-memory) or use fewer" if memory else ""
            return RuntimeError(f"a Ray worker {what} on {segment} {attempts} times{hint} ({last_line(error)})")
        log.info(f"ray: a worker {what} on {segment}; it goes to another worker")
        return None

    def __enter__(self) -> RayRenderer:
        return self

    def __exit__(self, *_exc) -> None:
        if not self.lost:
            self.ray.shutdown()
