"""``assert_deterministic``: the same seeds and actions give the same trajectory.

Three plays of the same seeded random actions on one-agent replay envs
(``Engine.make_replay_vec_env``: a reset with seed S starts episode S exactly):

1. ``once``: each seed on a fresh one-env replay env;
2. ``again``: the same again (catches an unseeded random number, timing-dependent results);
3. ``together``: ``n_envs`` envs at once, one seed each (catches instances that interfere: shared
   globals, files, ports).

Every play starts each seed in a fresh env, so all three start from the same state; whether a reset
in a used instance restores the start state is the smoke oracle ``reset_restores``
(:mod:`pytest_rlplaytest.smoke`).

Every step's observation, reward, done and ``info`` values are compared (floats to ``atol``); the
first difference fails naming the play, the seed, the step and the key (``observation[3]``,
``reward``, ``done``, ``info['speed']``). Timing and memory keys vary by nature and are ignored;
``ignore=`` leaves out more (``"reward"``, ``"done"`` or an info key's name).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..scenario import derive_seed
from ..telemetry import FRAME_MS_KEY, OBJECT_COUNT_KEY, STATIC_MEMORY_KEY
from .errors import VerdictFailure, VerdictUsageError

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from ..engines.base import Engine

__all__ = ["DeterminismFailure", "assert_deterministic"]

#: info keys that differ between identical plays by nature (timings, memory, bookkeeping)
VOLATILE_INFO_KEYS = frozenset({FRAME_MS_KEY, OBJECT_COUNT_KEY, STATIC_MEMORY_KEY, "episode", "terminal_observation",
                                "TimeLimit.truncated", "_final_observation", "_final_info"})

Step = dict[str, Any]


class DeterminismFailure(VerdictFailure):
    """Two plays of the same seeds diverged; ``play``, ``seed``, ``step`` and ``key`` say where."""

    def __init__(self, message: str, play: str, seed: int, step: int, key: str) -> None:
        super().__init__(message)
        self.play, self.seed, self.step, self.key = play, seed, step, key


@dataclass(frozen=True)
class _Divergence:
    step: int
    key: str
    first: Any
    second: Any


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            yield from _flat(f"{prefix}[{k!r}]", value[k])
        return
    arr = np.asarray(value)
    if arr.ndim == 0 or arr.dtype == object:
        yield prefix, arr.item() if arr.dtype != object else value
        return
    for index, item in np.ndenumerate(arr):
        yield f"{prefix}[{', '.join(map(str, index))}]", item.item() if hasattr(item, "item") else item


def _record(obs: Any, reward: Any, done: Any, info: Mapping[str, Any], ignore: frozenset[str]) -> Step:
    step: Step = dict(_flat("observation", obs))
    step.update((k, v) for k, v in (("reward", float(reward)), ("done", bool(done))) if k not in ignore)
    for key in sorted(k for k in info if k not in ignore):
        step.update(_flat(f"info[{key!r}]", info[key]))
    return step


def _env_obs(obs: Any, i: int) -> Any:
    return {k: np.asarray(v)[i] for k, v in obs.items()} if isinstance(obs, Mapping) else np.asarray(obs)[i]


def _play(venv: VecEnv, seeds: Sequence[int], actions: Sequence[np.ndarray], ignore: frozenset[str]) -> list[list[Step]]:
    """The trajectories of ``venv``'s envs, env ``i`` started with ``seeds[i]`` and fed ``actions``."""
    from ..bughunt.replay import seed_each

    seed_each(venv, list(seeds))
    obs = venv.reset()
    traces: list[list[Step]] = [[_record(_env_obs(obs, i), 0.0, False, {}, ignore)] for i in range(venv.num_envs)]
    for action in actions:
        obs, rewards, dones, infos = venv.step(np.stack([action] * venv.num_envs))
        for i in range(venv.num_envs):
            traces[i].append(_record(_env_obs(obs, i), rewards[i], dones[i], infos[i], ignore))
    return traces


def _same_value(a: Any, b: Any, atol: float) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        if np.isnan(a) and np.isnan(b):
            return True
        return bool(abs(float(a) - float(b)) <= atol)
    return bool(a == b)


def first_divergence(first: Sequence[Step], second: Sequence[Step], atol: float = 1e-6) -> _Divergence | None:
    """The first step (0: the reset) and key where two trajectories differ, or None."""
    for step, (a, b) in enumerate(zip(first, second)):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b or not _same_value(a[key], b[key], atol):
                return _Divergence(step, key, a.get(key, "(absent)"), b.get(key, "(absent)"))
    return None


def _compare(label: str, play: str, seed: int, first: Sequence[Step], second: Sequence[Step], atol: float) -> None:
    __tracebackhide__ = True
    d = first_divergence(first, second, atol)
    if d is not None:
        where = "the reset" if d.step == 0 else f"step {d.step}"
        raise DeterminismFailure(
            f"{label}: not deterministic: with seed {seed}, play {play!r} diverged from the first play at {where}, "
            f"{d.key}: {d.first!r} (first play) vs {d.second!r} ({play}). Every random number of an episode must "
            "come from the seeded generator (Godot: the agent controller's rng; Gymnasium: self.np_random).",
            play, seed, d.step, d.key)


def assert_deterministic(engine: Engine, *, steps: int = 200, n_envs: int = 2, seeds: Sequence[int] | None = None,
                         atol: float = 1e-6, ignore: Sequence[str] = ()) -> None:
    """Fail unless ``engine``'s game plays the same seeds and actions identically: twice, and in
    ``n_envs`` envs at once against one env (see the module's docstring).

    Args:
        engine: a started engine (``rl_engine``, ``rl_smoke.engine``).
        steps: steps per seed, of seeded random actions.
        n_envs: envs played at once in the ``together`` play (and the seeds' count by default).
        seeds: the episode seeds (default ``n_envs`` seeds derived from the engine's seed).
        atol: how far two floats may differ (what a float32 wire transfer keeps).
        ignore: what else to leave out: ``"reward"``, ``"done"`` or ``info`` keys (timings and memory
            are always left out), e.g. a reward computed from measured frame times.

    Raises:
        DeterminismFailure: naming the play, seed, step and key of the first difference.
        VerdictUsageError: steps or n_envs below 1, or not one seed per env.
    """
    __tracebackhide__ = True
    base = int(getattr(engine.context, "seed", 0))
    seeds = list(seeds) if seeds is not None else [derive_seed(base, "determinism", i) for i in range(n_envs)]
    if steps < 1 or n_envs < 1 or len(seeds) != n_envs:
        raise VerdictUsageError(f"assert_deterministic needs steps >= 1, n_envs >= 1 and one seed per env "
                                f"(got steps={steps}, n_envs={n_envs}, {len(seeds)} seeds)")
    left_out = VOLATILE_INFO_KEYS | frozenset(ignore)
    label = str(engine.describe().get("scene") or engine.context.nodeid or "game")
    plays = {name: [_plays(engine, [seed], steps, left_out)[0] for seed in seeds] for name in ("once", "again")}
    plays["together"] = _plays(engine, seeds, steps, left_out)
    for name in ("again", "together"):
        for seed, first, second in zip(seeds, plays["once"], plays[name]):
            _compare(label, name, seed, first, second, atol)


def _plays(engine: Engine, seeds: Sequence[int], steps: int, ignore: frozenset[str]) -> list[list[Step]]:
    """One trajectory per seed, played at once on a fresh replay env of one env per seed."""
    venv = engine.make_replay_vec_env(len(seeds))
    try:
        space = venv.action_space
        space.seed(derive_seed(int(getattr(engine.context, "seed", 0)), "determinism-actions"))
        actions = [np.asarray(space.sample()) for _ in range(steps)]
        return _play(venv, seeds, actions, ignore)
    finally:
        venv.close()
