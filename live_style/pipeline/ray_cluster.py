"""Which Ray `--ray` runs on, and where its workers go.

The address: --ray ADDRESS, else $RAY_ADDRESS, else a new private Ray on 127.0.0.1 (`auto`: the
cluster `ray start` left on this machine), checked to answer in seconds. The workers: planned from
each live node's own resources (`plan_workers`): one per GPU, or on a CPU node one per
CPUS_PER_WORKER of its CPUs, never asking for more than the node has. Their settings: the driver's
model environment with paths made absolute (`worker_env`).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from live_style.errors import UserError
from live_style.network import is_loopback

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install -e ".[ray]"'
CPUS_PER_WORKER = 4  # TensorFlow and OpenVINO use every core they get; fewer, larger workers load fewer models
CONNECT_TIMEOUT_S = 5
ADDRESS_HINT = "give the head's address as `ray status` on the head prints it (e.g. head:6379) or ray://HOST:10001"
WEB_PROBE_S = 1  # after a silent listener's CONNECT_TIMEOUT_S: is it a web server, the dashboard?
AUTH_HINT = (
    "the cluster uses token authentication and refused this machine's token (or its lack of one); set "
    "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the head's token (`ray get-auth-token` there prints it)"
)
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


def import_ray(address: str | None):
    """Ray, or a one-line error naming the extra; set up to stay on loopback for a local Ray or a loopback cluster.

    Ray replaces a loopback address with this machine's outward IP (`resolve_ip_for_localhost`), so a
    private local Ray would listen on every interface and a cluster bound to 127.0.0.1 could not be
    joined; Ray's own switch for single-machine use keeps both on 127.0.0.1. It is read on import.
    """
    if address is None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a private Ray reports nothing to anybody
        if "RAY_AUTH_MODE" not in os.environ:  # its own token, in memory: Ray would write ~/.ray/auth_token,
            os.environ["RAY_AUTH_MODE"] = "token"  # which turns token auth on for every later `ray start --head`
            os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    if address is None or on_loopback(address):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def on_loopback(address: str) -> bool:
    """Whether a cluster address (HOST:PORT or ray://HOST:PORT) is on this machine's loopback."""
    return is_loopback(address.removeprefix("ray://").rpartition(":")[0])


def cluster_address(given: str) -> str | None:
    """The cluster to join (--ray ADDRESS, else $RAY_ADDRESS), checked to answer; None for a private local Ray.

    `auto` means the cluster last started on this machine (`ray start`), checked the same way.
    """
    address = given or os.environ.get("RAY_ADDRESS") or None
    if address == "auto":
        address = current_cluster()
    if address:
        import_ray(address)  # before the check, which speaks Ray's gRPC: its settings are read on import
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
    """Fail in seconds where no Ray cluster answers (Ray itself retries for minutes and ignores SIGTERM
    meanwhile): a web address, nothing listening, or a listener that is not Ray's (its dashboard)."""
    scheme, _, rest = address.rpartition("://")
    if scheme and scheme != "ray":
        raise UserError(
            f"--ray {address}: that is a web address (the dashboard's, which `ray job submit` takes); {ADDRESS_HINT}"
        )
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray {address}: give HOST:PORT (e.g. head:6379) or ray://HOST:10001")
    try:
        connect(rest, CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(
            f"--ray {address}: nothing answers there ({error.strerror or error}); "
            "check the head node runs (ray status) and the address"
        ) from None
    refusal = ray_refusal(f"{host}:{port}", client=bool(scheme))
    if refusal:
        raise UserError(f"--ray {address}: {refusal}")


def connect(target: str, timeout: float) -> socket.socket:
    """A TCP connection to HOST:PORT (an IPv6 host in brackets or not); OSError when nothing answers."""
    host, _, port = target.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def ray_refusal(target: str, client: bool) -> str | None:
    """Why a Ray cluster does not answer at `target` (gRPC, within CONNECT_TIMEOUT_S), or None when it does:
    the cluster's GCS asked for its id, a Ray Client server (ray://) for an HTTP/2 connection."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        if client:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
            return None
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

        ask = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId
        ask(gcs_service_pb2.GetClusterIdRequest(), timeout=CONNECT_TIMEOUT_S, metadata=auth_metadata())
        return None
    except grpc.FutureTimeoutError:
        return not_ray(target)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            return AUTH_HINT
        return not_ray(target) if error.code() != grpc.StatusCode.UNIMPLEMENTED else None
    finally:
        channel.close()


def not_ray(target: str) -> str:
    """What to say of a listener that is not a Ray cluster, a web server (Ray's dashboard) said apart."""
    try:
        with connect(target, WEB_PROBE_S) as probe:
            probe.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            web = probe.recv(5) == b"HTTP/"
    except OSError:
        web = False
    what = "a web server answers there (Ray's dashboard?)" if web else "something listens there, but not a Ray cluster"
    return f"{what}; {ADDRESS_HINT}"


def auth_metadata() -> tuple[tuple[str, str], ...]:
    """The token this machine's Ray would send (gRPC metadata), if it has one."""
    from ray._raylet import AuthenticationTokenLoader

    return tuple(AuthenticationTokenLoader.instance().get_token_for_http_header(ignore_auth_mode=True).items())


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
        log.info(f"ray: {options.workers} workers asked, the nodes hold {len(spread)}")
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
