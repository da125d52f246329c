"""Evaluation episodes -> :class:`PlaytestResult`.

:func:`run_playtest` plays an agent in a ``VecEnv`` (one env per agent) until the requested number of
episodes has finished, splitting the episodes evenly across the agents so that short episodes are
not over-represented. Each finished episode becomes an :class:`Episode`; numeric values the game
reports in ``info`` (engine telemetry such as ``frame_ms``) are kept per step and aggregated per
episode, and named ``events`` are counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .common.files import atomic_write_text, dumps_json
from .telemetry import EPISODE_SEED_KEY, EVENTS_KEY, POSITION_KEY, RESERVED_INFO_KEYS

if TYPE_CHECKING:
    import pandas as pd
    from stable_baselines3.common.vec_env import VecEnv

    from .agents import Agent


@dataclass
class Episode:
    """One finished evaluation episode.

    Attributes:
        index: order in which it finished (0-based).
        env_index: which agent/env played it.
        seed: the seed that reproduces it (per-episode for Gymnasium; the instance seed for engines
            that seed once per process).
        total_return: undiscounted sum of rewards.
        length: steps taken.
        outcome: ``"terminated"`` (the game ended it) or ``"truncated"`` (a time limit did).
        final_info: the ``info`` of the last step.
        metrics: per-step numeric ``info`` values by key (e.g. ``frame_ms``).
        events: how often each named event occurred.
        positions: per-step positions when the game reports ``position`` in ``info``.
        actions: the actions taken, when recording was requested.
        success: the verdict of the scenario's success criterion (None when it defines none).
    """

    index: int
    env_index: int
    seed: int | None
    total_return: float
    length: int
    outcome: str
    final_info: dict[str, Any]
    metrics: dict[str, list[float]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    positions: list[list[float]] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    success: bool | None = None

    @property
    def terminated(self) -> bool:
        """True when the game ended the episode (not the time limit)."""
        return self.outcome == "terminated"

    @property
    def truncated(self) -> bool:
        """True when the time limit ended the episode."""
        return self.outcome == "truncated"


SuccessRule = str | Callable[[Episode], Any] | None


def judge_success(episode: Episode, rule: SuccessRule) -> bool | None:
    """Apply a success rule: an ``info`` key truthy at the end, or a callable over the episode.

    With no rule, Gymnasium's convention ``info["is_success"]`` is used when the game reports it.
    """
    if rule is None:
        if "is_success" in episode.final_info:
            return bool(episode.final_info["is_success"])
        return None
    if isinstance(rule, str):
        if rule in episode.events:
            return episode.events[rule] > 0
        return bool(episode.final_info.get(rule, False))
    return bool(rule(episode))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def interquartile_mean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the middle 50% of values (the IQM of Agarwal et al., 2021)."""
    arr = np.sort(np.asarray(values, dtype=float))
    n = len(arr)
    if n == 0:
        return float("nan")
    lo, hi = math.floor(n * 0.25), math.ceil(n * 0.75)
    middle = arr[lo:hi] if hi > lo else arr
    return float(middle.mean())


@dataclass
class PlaytestResult:
    """The outcome of one playtest: every episode, plus timing and the scenario's description."""

    episodes: list[Episode]
    scenario: dict[str, Any] = field(default_factory=dict)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    timesteps: int = 0
    seed: int | None = None
    engine: dict[str, Any] = field(default_factory=dict)
    stopped_early: str | None = None
    #: the decision of a sequential test (set by a ``stop`` rule that has ``attach``)
    sequential_test: Any = None
    #: the training behind the agent (``timesteps``, ``seconds``, ``artifacts``, ``tensorboard_run``,
    #: ``resumed_from``, ``engine_restarts``...: ``training.json``); what ``assert_training`` reads
    training: dict[str, Any] = field(default_factory=dict)
    #: which runtime played the episodes and why (``backend``: ``onnx`` or ``torch``, ``reason``;
    #: :mod:`.agents.eval_backend`); empty when the caller did not choose one
    eval_backend: dict[str, str] = field(default_factory=dict)
    #: a multi-policy scene: each policy's own result (its agents' episodes), by policy name;
    #: empty for one shared policy
    policies: dict[str, PlaytestResult] = field(default_factory=dict)

    # -- counts ---------------------------------------------------------------------------
    @property
    def n_episodes(self) -> int:
        """How many episodes were played."""
        return len(self.episodes)

    @property
    def judged(self) -> list[Episode]:
        """Episodes with a success verdict."""
        return [e for e in self.episodes if e.success is not None]

    @property
    def successes(self) -> int:
        """Episodes judged successful by the scenario's success rule."""
        return sum(1 for e in self.episodes if e.success)

    @property
    def has_success_rule(self) -> bool:
        """True when at least one episode was judged by a success rule."""
        return bool(self.judged)

    @property
    def success_rate(self) -> float:
        """Successes over judged episodes (NaN when none was judged)."""
        judged = self.judged
        return self.successes / len(judged) if judged else float("nan")

    @property
    def success_interval(self) -> tuple[float, float]:
        """The 95% Clopper-Pearson interval of the success rate: the one interval every report and
        verdict shows (:func:`pytest_rlplaytest.verdicts.stats.success_interval`)."""
        from .verdicts.stats import success_interval

        return success_interval(self.successes, len(self.judged))

    @property
    def returns(self) -> np.ndarray:
        """Each episode's undiscounted return, in play order."""
        return np.array([e.total_return for e in self.episodes], dtype=float)

    @property
    def lengths(self) -> np.ndarray:
        """Each episode's length in steps, in play order."""
        return np.array([e.length for e in self.episodes], dtype=float)

    def step_values(self, key: str) -> np.ndarray:
        """Every per-step value of an ``info`` metric across all episodes (e.g. ``frame_ms``)."""
        chunks = [np.asarray(e.metrics[key], dtype=float) for e in self.episodes if key in e.metrics]
        return np.concatenate(chunks) if chunks else np.empty(0)

    @property
    def metric_names(self) -> list[str]:
        """The names of every metric some episode reported, sorted."""
        names: set[str] = set()
        for e in self.episodes:
            names.update(e.metrics)
        return sorted(names)

    # -- tables ---------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """Per-episode table: episode, env, seed, success, return, length, outcome, then
        ``<metric>_mean``/``<metric>_max`` for each numeric ``info`` metric and
        ``event_<name>`` counts."""
        import pandas as pd

        rows = []
        events = sorted({name for e in self.episodes for name in e.events})
        metrics = self.metric_names
        for e in self.episodes:
            row: dict[str, Any] = {
                "episode": e.index,
                "env": e.env_index,
                "seed": e.seed,
                "success": e.success,
                "return": e.total_return,
                "length": e.length,
                "outcome": e.outcome,
            }
            for m in metrics:
                values = e.metrics.get(m)
                row[f"{m}_mean"] = float(np.mean(values)) if values else float("nan")
                row[f"{m}_max"] = float(np.max(values)) if values else float("nan")
            for name in events:
                row[f"event_{name}"] = e.events.get(name, 0)
            rows.append(row)
        columns = ["episode", "env", "seed", "success", "return", "length", "outcome"]
        return pd.DataFrame(rows, columns=columns + [c for c in (rows[0] if rows else {}) if c not in columns])

    def summary(self) -> dict[str, Any]:
        """Aggregates: success rate with its 95% Clopper-Pearson interval (``success_ci_method``
        ``clopper-pearson-95``), mean/IQM return, mean length, per-step metric percentiles, event
        totals, timing."""
        from .verdicts.stats import CI_METHOD

        low, high = self.success_interval
        returns = self.returns
        out: dict[str, Any] = {
            "episodes": self.n_episodes,
            "judged_episodes": len(self.judged),
            "successes": self.successes,
            "success_rate": _clean(self.success_rate),
            "success_ci_low": _clean(low) if self.judged else None,
            "success_ci_high": _clean(high) if self.judged else None,
            "success_ci_method": CI_METHOD,
            "mean_return": _clean(float(returns.mean())) if len(returns) else None,
            "std_return": _clean(float(returns.std(ddof=1))) if len(returns) > 1 else None,
            "iqm_return": _clean(interquartile_mean(returns)) if len(returns) else None,
            "mean_length": _clean(float(self.lengths.mean())) if len(returns) else None,
            "outcomes": {o: sum(1 for e in self.episodes if e.outcome == o) for o in ("terminated", "truncated")},
            "timesteps": self.timesteps,
            "train_seconds": round(self.train_seconds, 3),
            "eval_seconds": round(self.eval_seconds, 3),
            "seed": self.seed,
            "stopped_early": self.stopped_early,
            "eval_backend": dict(self.eval_backend) or None,
            "metrics": {},
            "events": {},
        }
        for m in self.metric_names:
            values = self.step_values(m)
            if len(values):
                out["metrics"][m] = {
                    "n": len(values),
                    "mean": _clean(float(values.mean())),
                    "p50": _clean(float(np.percentile(values, 50))),
                    "p95": _clean(float(np.percentile(values, 95))),
                    "p99": _clean(float(np.percentile(values, 99))),
                    "max": _clean(float(values.max())),
                }
        for e in self.episodes:
            for name, count in e.events.items():
                out["events"][name] = out["events"].get(name, 0) + count
        if self.policies:
            out["policies"] = {name: sub.summary() for name, sub in self.policies.items()}
        return out

    def to_csv(self, path: str | Path) -> Path:
        """Write the per-episode table as CSV (atomically)."""
        return atomic_write_text(path, self.table().to_csv(index=False))

    def to_json(self, path: str | Path | None = None) -> str:
        """The summary plus the scenario description as JSON; written (atomically) to ``path`` when given."""
        text = dumps_json({"scenario": self.scenario, "engine": self.engine, "summary": self.summary()})
        if path is not None:
            atomic_write_text(path, text)
        return text

    def __repr__(self) -> str:
        rate = self.success_rate
        rate_txt = "n/a" if math.isnan(rate) else f"{rate:.3f}"
        return (f"PlaytestResult(episodes={self.n_episodes}, success_rate={rate_txt}, "
                f"mean_return={self.returns.mean() if self.n_episodes else float('nan'):.3f})")


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 6)


class _Accumulator:
    """Collects one in-progress episode of one env."""

    __slots__ = ("actions", "events", "length", "metrics", "positions", "total_return")

    def __init__(self) -> None:
        self.total_return = 0.0
        self.length = 0
        self.metrics: dict[str, list[float]] = {}
        self.events: dict[str, int] = {}
        self.positions: list[list[float]] = []
        self.actions: list[Any] = []

    def add(self, reward: float, info: Mapping[str, Any], action: Any, record_actions: bool) -> None:
        self.total_return += float(reward)
        self.length += 1
        for key, value in info.items():
            if key in RESERVED_INFO_KEYS:
                continue
            if _is_number(value):
                self.metrics.setdefault(key, []).append(float(value))
        events = info.get(EVENTS_KEY)
        if events:
            for name in [events] if isinstance(events, str) else events:
                self.events[str(name)] = self.events.get(str(name), 0) + 1
        pos = info.get(POSITION_KEY)
        if pos is not None:
            self.positions.append([float(v) for v in np.asarray(pos, dtype=float).ravel()])
        if record_actions:
            self.actions.append(np.asarray(action).tolist())


class _Evaluation:
    """The bookkeeping of one :func:`run_playtest`: per-env accumulators, episode seeds and quotas."""

    def __init__(self, n_envs: int, episodes: int, seed: int | None, success: SuccessRule,
                 record_actions: bool) -> None:
        self.targets = [episodes // n_envs + (1 if i < episodes % n_envs else 0) for i in range(n_envs)]
        self.done_counts = [0] * n_envs
        self.finished: list[Episode] = []
        self.acc = [_Accumulator() for _ in range(n_envs)]
        self.seed = seed
        self.episode_seeds: list[int | None] = [seed] * n_envs
        self.success = success
        self.record_actions = record_actions

    @property
    def complete(self) -> bool:
        """Every env has finished its share of the episodes."""
        return self.done_counts == self.targets

    def start(self, reset_infos: Sequence[Any] | None) -> None:
        """Take the per-episode seeds the envs reported on reset."""
        for i, info in enumerate(reset_infos or []):
            if isinstance(info, Mapping) and EPISODE_SEED_KEY in info:
                self.episode_seeds[i] = int(info[EPISODE_SEED_KEY])

    def step(self, rewards: Any, dones: Any, infos: Sequence[Mapping[str, Any]], actions: Any) -> int:
        """Absorb one vector step; returns how many episodes it finished (that count)."""
        before = len(self.finished)
        for i, info in enumerate(infos):
            if EPISODE_SEED_KEY in info and self.acc[i].length == 0:
                self.episode_seeds[i] = int(info[EPISODE_SEED_KEY])
            self.acc[i].add(float(rewards[i]), info, actions[i], self.record_actions)
            if dones[i]:
                if self.done_counts[i] < self.targets[i]:
                    self._finish(i, info)
                self.acc[i] = _Accumulator()
                self.episode_seeds[i] = self.seed
        return len(self.finished) - before

    def _finish(self, i: int, info: Mapping[str, Any]) -> None:
        a = self.acc[i]
        truncated = bool(info.get("TimeLimit.truncated", False))
        episode = Episode(
            index=len(self.finished), env_index=i, seed=self.episode_seeds[i], total_return=a.total_return,
            length=a.length, outcome="truncated" if truncated else "terminated",
            final_info={k: v for k, v in info.items() if k != "terminal_observation"},
            metrics=a.metrics, events=a.events, positions=a.positions, actions=a.actions,
        )
        episode.success = judge_success(episode, self.success)
        self.finished.append(episode)
        self.done_counts[i] += 1


def run_playtest(
    agent: Agent,
    venv: VecEnv,
    episodes: int,
    *,
    success: SuccessRule = None,
    deterministic: bool = True,
    seed: int | None = None,
    stop: Callable[[Sequence[Episode]], bool] | None = None,
    record_actions: bool = False,
    max_steps: int | None = None,
) -> PlaytestResult:
    """Play ``episodes`` evaluation episodes of ``agent`` in ``venv``.

    Args:
        agent: anything with SB3's ``predict(obs, state, episode_start, deterministic)``.
        venv: the game; one env per agent. It is reset here.
        episodes: how many episodes to finish, split evenly across the envs.
        success: an ``info`` key or a callable over :class:`Episode`.
        deterministic: greedy actions.
        seed: recorded as the episode seed when the env does not report per-episode seeds.
        stop: called after every finished episode with all episodes so far; ``True`` ends the
            playtest early (sequential tests). If it has an ``attach(result)`` method, that is
            called with the result (a sequential stopper records its decision so).
        record_actions: keep every action (for replay bundles).
        max_steps: a safety cap on total vector steps (None: 10,000 per requested episode).

    Returns:
        A :class:`PlaytestResult` (timing fields filled in by the caller where known).
    """
    run = _Evaluation(venv.num_envs, episodes, seed, success, record_actions)
    start = time.perf_counter()
    obs = venv.reset()
    run.start(getattr(venv, "reset_infos", None))
    state: Any = None
    episode_start = np.ones((venv.num_envs,), dtype=bool)
    cap = max_steps if max_steps is not None else 10_000 * max(episodes, 1)
    steps = 0
    stopped: str | None = None
    while not run.complete:
        actions, state = agent.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        obs, rewards, dones, infos = venv.step(actions)
        steps += 1
        new = run.step(rewards, dones, infos, actions)
        episode_start = np.asarray(dones, dtype=bool)
        if stop is not None and new and stop(run.finished):
            stopped = "sequential test decided"
            break
        if steps >= cap:
            stopped = f"step cap of {cap} reached"
            break
    return finish_playtest(run.finished, seed=seed, eval_seconds=time.perf_counter() - start, stopped_early=stopped,
                           stop=stop)


def finish_playtest(episodes: list[Episode], *, seed: int | None, eval_seconds: float, stopped_early: str | None,
                    stop: Callable[[Sequence[Episode]], bool] | None) -> PlaytestResult:
    """The :class:`PlaytestResult` of finished ``episodes`` (in the order the ``stop`` rule read
    them); a ``stop`` rule with ``attach(result)`` (a sequential test) records its decision on it.
    Shared by :func:`run_playtest` and the Ray shards' merge (``distributed.evaluation``)."""
    result = PlaytestResult(episodes=episodes, eval_seconds=eval_seconds, seed=seed, stopped_early=stopped_early)
    attach = getattr(stop, "attach", None)
    if callable(attach):  # a sequential test records its decision on the result
        attach(result)
    return result


def split_by_policy(result: PlaytestResult, groups: Mapping[str, Sequence[int]]) -> dict[str, PlaytestResult]:
    """Each policy's :class:`PlaytestResult`: the episodes its agents (env indices ``groups[name]``)
    played, in order, with the run's seed and timing."""
    out = {}
    for name, idx in groups.items():
        mine = set(idx)
        out[name] = PlaytestResult(episodes=[e for e in result.episodes if e.env_index in mine], seed=result.seed,
                                   eval_seconds=result.eval_seconds, stopped_early=result.stopped_early)
    return out
