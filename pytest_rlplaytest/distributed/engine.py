"""The engine the fixtures use under ``--rl-ray``: the scenario's engine, fanned out on the cluster.

:class:`RayEngine` wraps the started engine of a scenario (which stays on the driver: it names the
game, its build identity and its options, and launches nothing). ``make_vec_env`` gives a
:class:`~.vec_env.RayVecEnv` of training actors, ``make_replay_vec_env`` one of replay actors (bug
hunts' shrinking, ``rl_replay``), and :meth:`RayEngine.playtest` plays evaluation episodes in shards
(``rl_playtest``). So ``rl_env``, ``rl_agent``, ``rl_playtest`` and ``rl_bughunt`` work unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..engines.base import Engine
from ..errors import RLPlaytestWarning

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecEnv

    from ..playtest import Episode, PlaytestResult, SuccessRule
    from ..settings import Settings
    from .evaluation import ShardPool
    from .game import GameShipment


class RayNotUsedWarning(RLPlaytestWarning):
    """``--rl-ray`` is on but this scenario's engine runs on the driver only (SpacetimeDB)."""


def wrap_for_ray(engine: Engine, settings: Settings, owner: object = None) -> Engine:
    """``engine`` fanned out on the session's cluster under ``--rl-ray`` (connecting on first use);
    unchanged without the option, and (with a warning) for engines that cannot run on Ray nodes.

    Raises:
        RayUnavailable: ``--rl-ray`` without Ray installed (``pip install pytest-rlplaytest[ray]``).
        ClusterError: the cluster cannot be reached.
    """
    if settings.ray is None:
        return engine
    from .cluster import connect
    from .game import SUPPORTED_SCHEMES

    cluster = connect(settings, owner=owner)
    if type(engine).scheme not in SUPPORTED_SCHEMES:
        warnings.warn(RayNotUsedWarning(
            f"{engine.context.nodeid}: --rl-ray fans out {' and '.join(SUPPORTED_SCHEMES)} games; the "
            f"{type(engine).scheme} engine runs on the driver"), stacklevel=2)
        return engine
    return RayEngine(engine, settings, cluster.driver_node)


class RayEngine(Engine):
    """A started engine whose envs and evaluation episodes run on Ray actors (module docstring).

    ``describe()`` is the inner engine's (its ``engine`` entry names the inner scheme, so identity
    comparisons use the inner engine's ``IDENTITY_KEYS``)."""

    def __init__(self, inner: Engine, settings: Settings, driver_node: str | None) -> None:
        super().__init__(inner.target, inner.context)
        self.inner, self.settings, self.driver_node = inner, settings, driver_node
        self._shipment: GameShipment | None = None
        self._envs: list[VecEnv] = []
        self._pool: ShardPool | None = None

    def shipment(self, seed: int | None = None) -> GameShipment:
        """What travels to the nodes (the game packed once), with another launch seed if given."""
        if self._shipment is None:
            from .game import ship

            self._shipment = ship(self.inner, self.settings, self.driver_node)
        return self._shipment if seed is None else self._shipment.replace(seed=seed)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """The inner engine is started already."""

    def close(self) -> None:
        """Kill every actor made for this engine, then close the inner engine."""
        envs, self._envs = self._envs, []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        for env in envs:
            try:
                env.close()
            except Exception:
                pass
        self.inner.close()

    # -- environments ---------------------------------------------------------------------------
    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """Training envs on the cluster: one actor per Godot instance (``agents`` agents each, or all
        ``n_envs`` in one), one per Gymnasium copy."""
        from .vec_env import train_vec_env

        base = self.context.seed if seed is None else seed
        per_actor = self._envs_per_actor(n_envs)
        total = n_envs or per_actor
        if total % per_actor:
            from ..engines.base import EngineError

            raise EngineError(f"n_envs={total} is not a multiple of agents={per_actor} (agents per Godot "
                              "instance); pick n_envs = k * agents")
        venv = train_vec_env(self.shipment(), total, per_actor, base)
        self._envs.append(venv)
        return venv

    def _envs_per_actor(self, n_envs: int | None) -> int:
        if type(self.inner).scheme == "godot":
            agents = getattr(self.inner, "agents", None)
            return int(agents or n_envs or 1) if agents or n_envs else 1
        return 1

    def make_replay_vec_env(self, n_envs: int) -> VecEnv:
        """``n_envs`` one-agent replay actors (the replay contract), on the cluster."""
        from .replays import replay_vec_env

        venv = replay_vec_env(self.shipment(), n_envs)
        self._envs.append(venv)
        return venv

    def make_env(self, seed: int | None = None) -> gym.Env[Any, Any]:
        """A single env stays on the driver."""
        return self.inner.make_env(seed)

    def describe(self) -> dict[str, Any]:
        """The inner engine's description."""
        return self.inner.describe()

    # -- evaluation -----------------------------------------------------------------------------
    def shards(self, episodes: int) -> int:
        """Evaluation shards: ``--rl-ray-shards``, else the free game slots of the cluster, at most its
        CPUs and ``episodes`` (at least 1)."""
        if self.settings.ray_shards:
            return min(self.settings.ray_shards, episodes)
        if self._pool is not None and self._pool.actors:
            return min(self._pool.count, episodes)  # the shards of the previous call, still booted
        import ray

        from .cluster import GAME_RESOURCE

        free, total = ray.available_resources(), ray.cluster_resources()
        slots = int(free.get(GAME_RESOURCE, free.get("CPU", 1)))
        return max(1, min(slots, int(total.get("CPU", 1)), episodes))

    def playtest(self, agent: Any, episodes: int, *, success: SuccessRule, deterministic: bool, seed: int,
                 stop: Callable[[Sequence[Episode]], bool] | None, record_actions: bool) -> PlaytestResult:
        """Evaluation episodes in shards on the cluster, merged in seed order (the shards stay booted
        for the next call, until :meth:`close`)."""
        from .evaluation import ShardPool

        count = self.shards(episodes)
        if self._pool is None or not self._pool.actors or self._pool.count < count:
            if self._pool is not None:
                self._pool.close()
            self._pool = ShardPool(self.shipment(), count)
        return self._pool.play(agent, episodes, success=success, deterministic=deterministic, seed=seed, stop=stop,
                               record_actions=record_actions)
