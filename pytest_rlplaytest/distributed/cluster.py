"""The Ray cluster of a test session: the ``--rl-ray`` value, connecting, the game resource, shutdown.

``--rl-ray=local`` (or the bare flag) starts a one-machine cluster in this process, bound to the
loopback interface only; ``--rl-ray=auto`` joins the cluster already running on this machine
(``ray start --head`` here, ``ray start --address=HEAD:6379`` on the other nodes); a
``ray://HOST:PORT`` address connects through Ray Client. A session that finds Ray already initialised
in its process (a conftest called ``ray.init``) uses that cluster and leaves it running.

Game instances are capped per node by the custom resource :data:`GAME_RESOURCE`: every actor that
owns a game asks for one unit of it (and no CPU), so a node started with
``ray start --resources='{"rlplaytest_game": 4}'`` runs at most 4 games at once (CPU-heavy games:
fewer). On a cluster that declares no such resource every game actor takes one CPU instead.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import RLPlaytestError

if TYPE_CHECKING:
    from ..settings import Settings

#: the custom resource one game instance takes
GAME_RESOURCE = "rlplaytest_game"
#: what a scenario asking for Ray without Ray installed is told
INSTALL_HINT = "pip install pytest-rlplaytest[ray]"
#: how often Ray restarts a lost game actor (and retries its calls) before the test fails
MAX_RESTARTS = 2
#: Ray namespace of our actors
NAMESPACE = "rlplaytest"


class RayUnavailable(RLPlaytestError, ImportError):
    """``--rl-ray`` was given but Ray is not installed."""


class ClusterError(RLPlaytestError, RuntimeError):
    """The cluster cannot be reached, or cannot place the game actors a test needs."""


def ray_address(text: str) -> str:
    """Parse ``--rl-ray``'s value: ``local``, ``auto`` or a ``ray://HOST:PORT`` address."""
    value = str(text).strip()
    if value.lower() in ("local", "auto"):
        return value.lower()
    if value.startswith("ray://") and len(value) > len("ray://"):
        return value
    raise ValueError("must be local (start a one-machine cluster), auto (join the running one) or a "
                     "ray://HOST:PORT address")


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayUnavailable` naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(f"--rl-ray needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def _loopback_only() -> None:
    """Make a local cluster bind to 127.0.0.1 and report no usage statistics (set before Ray is
    imported; Ray reads both when its constants load). ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is
    Ray's own switch for a single-machine cluster on the loopback interface."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@dataclass
class Cluster:
    """The connected cluster.

    Attributes:
        address: ``local``, ``auto`` or the ``ray://`` address.
        owned: this session started it (and shuts it down at the end).
        driver_node: the Ray node id of the driver (None through Ray Client).
        actors: every live game actor handle, killed at :func:`shutdown` whatever happened.
        owner: what connected it (a pytest config, a test fixture); only it shuts it down.
    """

    address: str
    owned: bool
    driver_node: str | None
    owner: object = None
    actors: dict[int, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def game_actor_options(self) -> dict[str, Any]:
        """Ray options of an actor owning one game: one unit of :data:`GAME_RESOURCE` (no CPU)
        where the cluster declares it, else one CPU; restarted at most :data:`MAX_RESTARTS` times."""
        ray = import_ray()
        cap = {"num_cpus": 0, "resources": {GAME_RESOURCE: 1}} if GAME_RESOURCE in ray.cluster_resources() \
            else {"num_cpus": 1}
        return {**cap, "max_restarts": MAX_RESTARTS, "max_task_retries": MAX_RESTARTS, "namespace": NAMESPACE}

    def game_slots(self) -> int:
        """How many game instances the whole cluster may run at once."""
        resources = import_ray().cluster_resources()
        return max(1, int(resources.get(GAME_RESOURCE, resources.get("CPU", 1))))

    def track(self, actor: Any) -> None:
        """Remember a live actor (killed at shutdown if nobody closed it)."""
        with self.lock:
            self.actors[id(actor)] = actor

    def forget(self, actor: Any) -> None:
        """The actor was closed and killed."""
        with self.lock:
            self.actors.pop(id(actor), None)


_CLUSTER: Cluster | None = None


def connect(settings: Settings, *, owner: object = None, num_cpus: int | None = None) -> Cluster:
    """The session's cluster, connected on first use (``settings.ray``: local, auto or ray://);
    ``owner`` (the first caller's token) is the one whose :func:`shutdown` ends it.

    Raises:
        RayUnavailable: Ray is not installed.
        ClusterError: the cluster cannot be reached.
    """
    global _CLUSTER
    if _CLUSTER is not None:
        return _CLUSTER
    address = settings.ray or "local"
    if address == "local":
        _loopback_only()
    ray = import_ray()
    if ray.is_initialized():
        _CLUSTER = Cluster(address, owned=False, driver_node=_node_id(ray), owner=owner)
        return _CLUSTER
    try:
        if address == "local":
            cpus = num_cpus or os.cpu_count() or 1
            games = settings.ray_games_per_node or 2 * cpus
            ray.init(num_cpus=cpus, resources={GAME_RESOURCE: games}, include_dashboard=False,
                     log_to_driver=False, namespace=NAMESPACE)
        else:
            ray.init(address=address, log_to_driver=False, namespace=NAMESPACE)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = ("start it with `ray start --head` on this machine" if address == "auto"
                else "check the address and that the head node runs `ray start --head --ray-client-server-port`")
        raise ClusterError(f"--rl-ray={address}: cannot connect to the Ray cluster: {exc} ({hint})") from None
    _CLUSTER = Cluster(address, owned=True, driver_node=_node_id(ray), owner=owner)
    return _CLUSTER


def _node_id(ray: Any) -> str | None:
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # Ray Client has no local node
        return None


def current() -> Cluster | None:
    """The connected cluster, or None."""
    return _CLUSTER


def live_actor_count() -> int:
    """Game actors created and not yet killed (0 once every test closed its envs)."""
    cluster = _CLUSTER
    return 0 if cluster is None else len(cluster.actors)


def kill_actor(actor: Any, *, graceful_seconds: float = 10.0) -> None:
    """Ask the actor to close its game, then ``ray.kill`` it (no restart). Never raises.

    ``ray.kill`` does not run the actor's ``atexit`` handlers; its game still dies with it, because
    every game process is started with ``PR_SET_PDEATHSIG=SIGKILL`` (see ``engines/godot/process``).
    """
    ray = import_ray()
    try:
        ray.get(actor.close.remote(), timeout=graceful_seconds)
    except Exception:
        pass
    try:
        ray.kill(actor, no_restart=True)
    except Exception:
        pass
    cluster = _CLUSTER
    if cluster is not None:
        cluster.forget(actor)


def shutdown(owner: object = None) -> None:
    """Kill every game actor still alive and shut the cluster down when this session started it;
    nothing when ``owner`` is not the one that connected it (a pytest run nested in a test)."""
    global _CLUSTER
    cluster = _CLUSTER
    if cluster is None or cluster.owner is not owner:
        return
    _CLUSTER = None
    for actor in list(cluster.actors.values()):
        kill_actor(actor, graceful_seconds=5.0)
    if cluster.owned:
        import ray

        ray.shutdown()
