"""The Ray actor that owns one game instance on its node.

A :class:`GameActor` boots its game lazily, in its first call (:meth:`GameActor.boot`), so that a
failing boot is an error of that call (not retried: it fails the test with the game's output) while
a lost worker process is restarted by Ray (``max_restarts``) and its calls retried
(``max_task_retries``), bounded by :data:`~.cluster.MAX_RESTARTS`.

Roles:

* ``train``: ``engine.make_vec_env(n_envs, seed)`` (one Godot instance with its agents, or
  Gymnasium copies); a restarted actor ends the interrupted episodes as truncated and goes on.
* ``replay``: ``engine.make_replay_vec_env(1)``, the lockstep replay contract: a reset with seed S
  starts the recorded episode S. Evaluation shards use this role too (:meth:`GameActor.play`
  plays one whole episode from its seed, so a retried call gives the same episode).

No game outlives its actor: :meth:`GameActor.close` (called by the driver before ``ray.kill``),
``__del__`` and ``atexit`` close the engine, and a game process also dies with its worker through
``PR_SET_PDEATHSIG`` when the worker is killed outright.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.base import EngineError

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from ..engines.base import Engine
    from .evaluation import AgentPayload
    from .game import GameShipment

#: the info key that marks the step of an actor restarted by Ray (its episodes were cut short)
RESTARTED_KEY = "rl_ray_restarted"


def on_node(exc: BaseException) -> BaseException:
    """``exc`` with the node's name in front of its message (same type when it can be rebuilt)."""
    from .game import node_label

    text = f"{node_label()}: {exc}"
    try:
        return type(exc)(text)
    except Exception:
        return EngineError(text)


class GameActor:
    """One game instance on a Ray node (see the module docstring)."""

    def __init__(self, shipment: GameShipment, role: str, n_envs: int | None, seed: int, label: str) -> None:
        import ray

        self.shipment, self.role, self.n_envs, self.seed, self.label = shipment, role, n_envs, seed, label
        self.engine: Engine | None = None
        self.venv: VecEnv | None = None
        self.agent: Any = None
        self.agent_key: str | None = None
        self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        self.needs_reset = True
        atexit.register(self.close)

    def ready(self) -> dict[str, Any]:
        """Where the actor runs (no game is booted): its node and worker pid."""
        from .game import node_label

        return {"node": node_label(), "pid": os.getpid(), "restarted": self.restarted}

    def boot(self) -> dict[str, Any]:
        """Boot the game (once) and return its spaces, env count and description."""
        venv = self._ensure()
        assert self.engine is not None
        return {"observation_space": venv.observation_space, "action_space": venv.action_space,
                "num_envs": venv.num_envs, "description": self.engine.describe(), **self.ready()}

    def _ensure(self) -> VecEnv:
        if self.venv is not None:
            return self.venv
        from ..agents import seed_everything
        from .game import check_identity, open_engine

        seed_everything(self.seed, self.shipment.settings.torch_threads)
        try:
            engine = open_engine(self.shipment, self.label)
            self.engine = engine
            self.venv = engine.make_vec_env(self.n_envs, seed=self.seed) if self.role == "train" \
                else engine.make_replay_vec_env(1)
            check_identity(self.shipment, engine)
        except EngineError as exc:
            self.close()
            raise on_node(exc) from None
        except BaseException:
            self.close()
            raise
        return self.venv

    # -- the VecEnv calls ---------------------------------------------------------------------
    def reset(self, options: Sequence[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
        """Reset every env (per-env options; a seed travels as ``options["rl_episode_seed"]``)."""
        venv = self._ensure()
        venv.set_options(list(options))
        try:
            obs = venv.reset()
        except EngineError as exc:
            raise on_node(exc) from None
        self.needs_reset = False
        return obs, list(getattr(venv, "reset_infos", None) or [{} for _ in range(venv.num_envs)])

    def step(self, actions: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One step of every env. A restarted actor (a lost worker, retried by Ray) first resets:
        for training, the interrupted episodes end here as truncated; for replays the driver
        replays the sequence again (``infos[i]["rl_ray_restarted"]``)."""
        venv = self._ensure()
        if self.needs_reset and self.restarted:
            return self._restart_step(venv)
        try:
            return venv.step(actions)  # type: ignore[no-any-return]
        except EngineError as exc:
            raise on_node(exc) from None

    def _restart_step(self, venv: VecEnv) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs = venv.reset()
        self.needs_reset = False
        n = venv.num_envs
        infos = [{RESTARTED_KEY: True, "TimeLimit.truncated": True,
                  "terminal_observation": _row(obs, i)} for i in range(n)]
        return obs, np.zeros(n, dtype=np.float32), np.ones(n, dtype=bool), infos

    def env_method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                   indices: Sequence[int]) -> list[Any]:
        """``VecEnv.env_method`` on this actor's envs."""
        return self._ensure().env_method(name, *args, indices=list(indices), **kwargs)

    def get_attr(self, name: str, indices: Sequence[int]) -> list[Any]:
        """``VecEnv.get_attr`` on this actor's envs."""
        return self._ensure().get_attr(name, indices=list(indices))

    def set_attr(self, name: str, value: Any, indices: Sequence[int]) -> None:
        """``VecEnv.set_attr`` on this actor's envs."""
        self._ensure().set_attr(name, value, indices=list(indices))

    def env_is_wrapped(self, wrapper: type, indices: Sequence[int]) -> list[bool]:
        """``VecEnv.env_is_wrapped`` on this actor's envs."""
        return self._ensure().env_is_wrapped(wrapper, indices=list(indices))

    def new_log_lines(self, index: int) -> list[str]:
        """What the game printed since last asked (log-pattern bug signatures); [] if it cannot say."""
        method = getattr(self._ensure(), "new_log_lines", None)
        return list(method(index)) if callable(method) else []

    def world_seed(self, index: int) -> int | None:
        """The world seed of env ``index``'s game instance (None if the engine has none)."""
        method = getattr(self._ensure(), "world_seed", None)
        return int(method(index)) if callable(method) else None

    # -- evaluation shards ------------------------------------------------------------------
    def play(self, agent: Sequence[Any], agent_key: str, seed: int, deterministic: bool, record_actions: bool,
             max_steps: int) -> tuple[list[Any], str | None]:
        """Play one whole episode from ``seed``: its record (none if the step cap cut it) and why
        it stopped early (None). ``agent`` is ``[object ref of an AgentPayload]``, loaded once per
        ``agent_key`` (and again in a restarted actor, which has lost it)."""
        import ray

        from ..agents import seed_everything
        from ..bughunt.replay import seed_each
        from ..playtest import run_playtest

        venv = self._ensure()
        if self.agent_key != agent_key:
            payload: AgentPayload = ray.get(agent[0])
            self.agent, self.agent_key = payload.load(venv), agent_key
        seed_each(venv, [seed])
        seed_everything(seed, self.shipment.settings.torch_threads)  # a stochastic policy: per episode
        try:
            result = run_playtest(self.agent, venv, 1, deterministic=deterministic, seed=seed,
                                  record_actions=record_actions, max_steps=max_steps)
        except EngineError as exc:
            raise on_node(exc) from None
        return result.episodes, result.stopped_early

    # -- teardown ---------------------------------------------------------------------------
    def game_pids(self) -> list[int]:
        """The pids of this actor's live game processes (tests, hygiene checks)."""
        sessions = getattr(self.engine, "sessions", None) or []
        return [s.process.pid for s in sessions if getattr(s, "process", None) is not None and s.process.alive]

    def close(self) -> None:
        """Close the env and the engine (and so every game process). Idempotent, never raises."""
        state = self.__dict__  # (also called on a half-built or class-level object: no attributes yet)
        venv, engine = state.pop("venv", None), state.pop("engine", None)
        self.venv, self.engine = None, None
        for thing in (venv, engine):
            if thing is not None:
                try:
                    thing.close()
                except Exception:
                    pass

    def __del__(self) -> None:
        self.close()


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i].copy() for k, v in obs.items()}
    return obs[i].copy()


# -- driver side ------------------------------------------------------------------------------
def spawn(shipment: GameShipment, role: str, specs: Sequence[tuple[int | None, int, str]]) -> list[Any]:
    """Create one :class:`GameActor` per ``(n_envs, seed, label)`` and wait until Ray placed them
    all (each on a node with a free game slot).

    Raises:
        ClusterError: some could not be placed in time (the cluster's game slots are taken).
    """
    import ray

    from .cluster import GAME_RESOURCE, ClusterError, connect, kill_actor

    cluster = connect(shipment.settings)
    remote: Any = ray.remote(GameActor).options(**cluster.game_actor_options())
    actors: list[Any] = [remote.remote(shipment, role, n_envs, seed, label) for n_envs, seed, label in specs]
    for actor in actors:
        cluster.track(actor)
    timeout = 4 * shipment.settings.engine_timeout
    refs = [actor.ready.remote() for actor in actors]
    _, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    if pending:
        free = ray.available_resources().get(GAME_RESOURCE, ray.available_resources().get("CPU", 0))
        for actor in actors:
            kill_actor(actor, graceful_seconds=1.0)
        raise ClusterError(
            f"{len(pending)} of {len(actors)} game actors ({role}) could not be placed on the Ray cluster within "
            f"{timeout:g} s; {free:g} game slots are free of {cluster.game_slots()}. Each game takes one unit of the "
            f"custom resource {GAME_RESOURCE!r} (start nodes with ray start --resources='{{\"{GAME_RESOURCE}\": N}}', "
            "or --rl-ray-games-per-node N for --rl-ray=local), or one CPU on a cluster without it; ask for fewer "
            "(n_envs, --rl-ray-shards) or add nodes.")
    fetch(refs, f"starting the {role} game actors")
    return actors


def fetch(refs: Any, what: str, timeout: float | None = None) -> Any:
    """``ray.get(refs)``, with the game's own error (its log tail) raised as it is, and a lost actor
    (after Ray's bounded restarts) or a silent one raised as :class:`~.cluster.ClusterError`."""
    import ray

    from .cluster import MAX_RESTARTS, ClusterError

    try:
        return ray.get(refs, timeout=timeout)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, Exception):
            raise cause from None
        raise EngineError(f"{what}: {exc}") from None
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(f"{what}: no answer from the Ray actor within {timeout:g} s (its node is "
                           "unreachable, or the game hangs)") from None
    except ray.exceptions.RayActorError as exc:
        raise ClusterError(f"{what}: the Ray actor was lost and not recovered after {MAX_RESTARTS} restarts "
                           f"(its worker or node died): {exc}") from None
