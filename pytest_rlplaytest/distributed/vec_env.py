"""An SB3 ``VecEnv`` whose sub-environments are Ray actors, each owning one game instance.

The learner stays on the driver: SB3 calls ``step_async`` / ``step_wait`` / ``reset`` as on any
``VecEnv``; ``step_async`` sends every actor its slice of the actions before waiting for any reply,
so the games step in parallel on their nodes. Env ``i`` is env ``i - offset`` of the actor holding
it, in actor order. Seeds and reset options (``VecEnv.seed``, ``set_options``) travel with the next
reset, a seed as ``options["rl_episode_seed"]`` (which the engines' envs honour as the episode's
seed), so ``seed(s)`` gives env ``i`` the episodes it would get locally.

A replay env (``role="replay"``: one agent per actor) keeps, per actor, the reset options and the
actions since the reset: when Ray restarted a lost actor mid-replay, the driver replays them on the
new game (the lockstep contract), so the replay goes on exactly where it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from ..engines.base import EngineError
from ..telemetry import EPISODE_SEED_KEY
from .actors import RESTARTED_KEY, fetch, spawn
from .game import GameShipment


def _concat(parts: Sequence[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


class RayVecEnv(VecEnv):  # type: ignore[misc]
    """The envs of several :class:`~.actors.GameActor` s as one ``VecEnv`` (see the module docstring).

    Args:
        actors: spawned actors (:func:`~.actors.spawn`); booted here.
        role: ``train`` or ``replay``.
        step_timeout: seconds one step may take before the actor counts as lost.
    """

    def __init__(self, actors: Sequence[Any], role: str, step_timeout: float) -> None:
        if not actors:
            raise ValueError("RayVecEnv needs at least one actor")
        self.actors, self.role, self.step_timeout = list(actors), role, step_timeout
        self.closed = False
        try:
            self.boots = fetch([a.boot.remote() for a in self.actors], f"booting the {role} game actors")
        except BaseException:
            self.close()
            raise
        first = self.boots[0]
        for k, boot in enumerate(self.boots[1:], 1):
            if boot["observation_space"] != first["observation_space"] or boot["action_space"] != first["action_space"]:
                self.close()
                raise EngineError(f"game actor {k} ({boot['node']}) declares other spaces than actor 0 "
                                  f"({first['node']}): they must run the same scene")
        self._offsets = np.cumsum([0] + [b["num_envs"] for b in self.boots]).tolist()
        super().__init__(self._offsets[-1], first["observation_space"], first["action_space"])
        self._pending: list[Any] = []
        self._actions: Any = None
        self._since_reset: list[tuple[list[dict[str, Any]], list[Any]]] = [([], []) for _ in self.actors]

    # -- the VecEnv protocol ------------------------------------------------------------------
    def _slices(self) -> list[tuple[int, int]]:
        return list(zip(self._offsets, self._offsets[1:]))

    def reset(self) -> Any:
        """Reset every actor's envs with the pending seeds and options."""
        options = []
        for i in range(self.num_envs):
            opts, seed = dict(self._options[i] or {}), self._seeds[i]
            if seed is not None:
                opts.setdefault(EPISODE_SEED_KEY, int(seed))
            options.append(opts)
        refs = [a.reset.remote(options[lo:hi]) for a, (lo, hi) in zip(self.actors, self._slices())]
        replies = fetch(refs, f"resetting the {self.role} game actors", self.step_timeout)
        self._since_reset = [(options[lo:hi], []) for lo, hi in self._slices()]
        self.reset_infos = [info for _, infos in replies for info in infos]
        self._reset_seeds()
        self._reset_options()
        return _concat([obs for obs, _ in replies])

    def step_async(self, actions: np.ndarray) -> None:
        """Send every actor its actions (the games step in parallel)."""
        self._actions = np.asarray(actions)
        self._pending = [a.step.remote(self._actions[lo:hi]) for a, (lo, hi) in zip(self.actors, self._slices())]

    def step_wait(self) -> Any:
        """Wait for every actor's step reply and join them."""
        pending, self._pending = self._pending, []
        replies = fetch(pending, f"a step of the {self.role} game actors", self.step_timeout)
        for k, (lo, hi) in enumerate(self._slices()):
            if self.role == "replay":
                replies[k] = self._replayed_if_restarted(k, replies[k], self._actions[lo:hi])
        obs = _concat([r[0] for r in replies])
        rewards = np.concatenate([r[1] for r in replies])
        dones = np.concatenate([r[2] for r in replies])
        return obs, rewards, dones, [info for r in replies for info in r[3]]

    def _replayed_if_restarted(self, k: int, reply: Any, actions: np.ndarray) -> Any:
        """Actor ``k``'s step reply; when Ray restarted it (a new game), first replay its reset and
        the actions since, then step again."""
        options, history = self._since_reset[k]
        history.append(actions)
        if not any(info.get(RESTARTED_KEY) for info in reply[3]):
            return reply
        actor = self.actors[k]
        fetch(actor.reset.remote(options), "replaying on a restarted game actor", self.step_timeout)
        for past in history:
            reply = fetch(actor.step.remote(past), "replaying on a restarted game actor", self.step_timeout)
        return reply

    def close(self) -> None:
        """Close every actor's game and kill the actors (idempotent)."""
        if self.closed:
            return
        self.closed = True
        from .cluster import kill_actor

        for actor in self.actors:
            kill_actor(actor)

    # -- attributes and methods, forwarded ------------------------------------------------------
    def _by_actor(self, indices: VecEnvIndices) -> list[tuple[int, list[int]]]:
        """``(actor, local indices)`` for the global ``indices``, in actor order."""
        wanted = set(self._get_indices(indices))
        return [(k, [i - lo for i in range(lo, hi) if i in wanted]) for k, (lo, hi) in enumerate(self._slices())
                if any(lo <= i < hi for i in wanted)]

    def _gather(self, method: str, indices: VecEnvIndices, *args: Any) -> list[Any]:
        refs = [getattr(self.actors[k], method).remote(*args, local) for k, local in self._by_actor(indices)]
        return [value for reply in fetch(refs, f"{method} on the game actors") for value in reply]

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call ``method_name`` on the envs (in their actors)."""
        return self._gather("env_method", indices, method_name, method_args, method_kwargs)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """An attribute of the envs (from their actors)."""
        return self._gather("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the envs (in their actors)."""
        refs = [self.actors[k].set_attr.remote(attr_name, value, local) for k, local in self._by_actor(indices)]
        fetch(refs, "set_attr on the game actors")

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """Whether the envs (in their actors) are wrapped in ``wrapper_class``."""
        return self._gather("env_is_wrapped", indices, wrapper_class)

    def _locate(self, env_index: int) -> tuple[int, int]:
        for k, (lo, hi) in enumerate(self._slices()):
            if lo <= env_index < hi:
                return k, env_index - lo
        raise IndexError(f"no env {env_index} in this VecEnv of {self.num_envs}")

    def new_log_lines(self, env_index: int) -> list[str]:
        """What env ``env_index``'s game printed since last asked (log-pattern bug signatures)."""
        k, local = self._locate(env_index)
        return list(fetch(self.actors[k].new_log_lines.remote(local), "reading a game's output"))

    def world_seed(self, env_index: int) -> int | None:
        """The world seed of env ``env_index``'s game instance."""
        k, local = self._locate(env_index)
        return fetch(self.actors[k].world_seed.remote(local), "reading a game's world seed")  # type: ignore[no-any-return]

    def game_pids(self) -> list[int]:
        """The pids of every live game process of the actors (tests, hygiene)."""
        return [pid for pids in fetch([a.game_pids.remote() for a in self.actors], "listing game pids")
                for pid in pids]

    def describe(self) -> dict[str, Any]:
        """Where each actor runs and how many envs it holds."""
        return {"actors": len(self.actors), "nodes": [b["node"] for b in self.boots],
                "envs_per_actor": [b["num_envs"] for b in self.boots]}


def train_vec_env(shipment: GameShipment, n_envs: int, per_actor: int, seed: int) -> RayVecEnv:
    """``n_envs`` training envs in ``n_envs / per_actor`` game actors (one game instance each).

    Godot actor ``k`` launches its game with the world seed the local engine gives instance ``k``
    (:func:`actor_seed`); every env's episodes then follow ``VecEnv.seed(s)`` (which SB3 calls when
    training starts) as in a local ``VecEnv``."""
    specs = [(per_actor, actor_seed(shipment.scheme, seed, k), f"train-{k}") for k in range(n_envs // per_actor)]
    actors = spawn(shipment, "train", specs)
    return RayVecEnv(actors, "train", step_timeout=2 * shipment.settings.engine_timeout)


def actor_seed(scheme: str, seed: int, k: int) -> int:
    """The launch seed of training actor ``k``: for Godot, instance ``k``'s world seed as
    ``GodotEngine._launch`` derives it (``seed`` for instance 0, ``derive_seed(seed, "godot", k)``
    after); else ``seed``."""
    from ..scenario import derive_seed

    if scheme == "godot" and k > 0:
        return derive_seed(seed, "godot", k)
    return seed
