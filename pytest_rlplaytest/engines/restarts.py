"""Bounded engine restarts during training (``--rl-engine-restarts N``).

:class:`RestartingVecEnv` wraps the scenario's ``VecEnv``. While training is under way
(:meth:`RestartingVecEnv.training`), an :class:`~.base.EngineError` from the game (it crashed,
hung, or broke the protocol) does not end the test: the wrapper closes the crashed instance(s),
launches new ones through the generic :class:`~.base.Engine` interface
(``engine.make_vec_env(n_envs, seed)``), and carries on. The episodes in flight are dropped: each
env that had played at least one step of an episode ends it as *truncated* at the crash (reward 0,
``TimeLimit.truncated``, its last observation as ``terminal_observation``, so SB3 bootstraps from it
rather than treating the crash as a real end), and the new instances start fresh episodes. They
are never reported as finished episodes. Each restart is recorded (:class:`Restart`: when, why,
what the game printed last, how many episodes were dropped) for the report.

At most ``max_restarts`` restarts happen; the next error fails the test with every restart listed.
Outside :meth:`RestartingVecEnv.training` (evaluation) errors pass through untouched: a crash
during evaluation fails the test as before. Errors the plugin raises itself for a game that
breaks the observation contract (:class:`~.checks.ObservationError`) and a missing engine
(:class:`~.base.EngineUnavailable`) are never restarted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from .base import Engine, EngineError, EngineUnavailable
from .checks import ObservationError

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

__all__ = ["LOG_TAIL_LINES", "Restart", "RestartingVecEnv", "log_tail"]

#: lines of the error (which holds the game's output tail) kept per restart
LOG_TAIL_LINES = 30


def log_tail(error: BaseException, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of an engine error's message: engines end theirs with the game's
    exit status and output tail."""
    return str(error).splitlines()[-lines:]


@dataclass(frozen=True)
class Restart:
    """One restart of the game during training.

    Attributes:
        number: 1 for the first restart of the run.
        timestep: the training timestep at which the game failed.
        error: the first line of the engine's error.
        error_type: the error's class name (``GodotCrashed``, ``GodotTimeout``...).
        log_tail: the last lines of the error: the game's exit status and output.
        dropped_episodes: episodes in flight that were dropped.
        relaunch_seconds: how long closing and relaunching took.
    """

    number: int
    timestep: int
    error: str
    error_type: str
    log_tail: tuple[str, ...]
    dropped_episodes: int
    relaunch_seconds: float

    def to_json(self) -> dict[str, Any]:
        """A JSON object for ``training.json`` and the run report."""
        return {"number": self.number, "timestep": self.timestep, "error": self.error, "error_type": self.error_type,
                "log_tail": list(self.log_tail), "dropped_episodes": self.dropped_episodes,
                "relaunch_seconds": round(self.relaunch_seconds, 3)}


class RestartingVecEnv(VecEnvWrapper):  # type: ignore[misc]
    """A ``VecEnv`` that relaunches its game (at most ``max_restarts`` times) when it fails during
    training.

    Args:
        venv: the game's ``VecEnv`` (from ``engine.make_vec_env``).
        engine: the engine that made it; relaunches go through ``engine.make_vec_env``.
        n_envs: what ``venv`` was made with (None: the engine's natural count).
        seed: the scenario's seed; the k-th relaunch is seeded ``derive_seed(seed, "restart", k)``.
        max_restarts: the bound (``--rl-engine-restarts``).
    """

    def __init__(self, venv: VecEnv, engine: Engine, n_envs: int | None, seed: int, max_restarts: int) -> None:
        super().__init__(venv)
        self.engine, self.n_envs, self.base_seed = engine, n_envs, seed
        self.max_restarts = max_restarts
        self.restarts: list[Restart] = []
        self.active = False
        #: the training timestep of the first step taken through this wrapper (a resumed run's start)
        self.timestep_offset = 0
        self.vec_steps = 0
        self._episode_steps = np.zeros(self.num_envs, dtype=np.int64)
        self._last_obs: Any = None
        self._pending: EngineError | None = None

    # VecEnv.__init__ assigns reset_infos; the inner env's are the real ones
    @property
    def reset_infos(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The reset infos of the current game instance(s)."""
        return list(getattr(self.venv, "reset_infos", [{} for _ in range(self.num_envs)]))

    @reset_infos.setter
    def reset_infos(self, value: list[dict[str, Any]]) -> None:
        """Ignored: the wrapped VecEnv keeps its own reset infos."""
        pass

    @contextlib.contextmanager
    def training(self, timestep: int = 0) -> Iterator[RestartingVecEnv]:
        """Allow restarts while the block runs (training starting at ``timestep``)."""
        self.active, self.timestep_offset, self.vec_steps = True, timestep, 0
        try:
            yield self
        finally:
            self.active = False

    @property
    def dropped_episodes(self) -> int:
        """Episodes dropped by every restart so far."""
        return sum(r.dropped_episodes for r in self.restarts)

    def reset(self) -> VecEnvObs:
        """Reset the game (relaunching it if it fails while training)."""
        try:
            obs = self.venv.reset()
        except EngineError as exc:
            obs = self._restart(exc)
        self._episode_steps[:] = 0
        self._last_obs = obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Send the actions; a failure on the way is answered by :meth:`step_wait`."""
        try:
            self.venv.step_async(actions)
        except EngineError as exc:
            self._pending = exc

    def step_wait(self) -> VecEnvStepReturn:
        """The step's results; after a restart, every env's episode ends as truncated (reward 0)."""
        self.vec_steps += 1
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                raise pending
            obs, rewards, dones, infos = self.venv.step_wait()
        except EngineError as exc:
            return self._after_failure(exc)
        self._episode_steps += 1
        self._episode_steps[np.asarray(dones, dtype=bool)] = 0
        self._last_obs = obs
        return obs, rewards, dones, infos

    def _after_failure(self, exc: EngineError) -> VecEnvStepReturn:
        last = self._last_obs
        obs = self._restart(exc, dropped=int(np.count_nonzero(self._episode_steps)))
        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            infos.append({"TimeLimit.truncated": True, "terminal_observation": _row(last, i),
                          "rl_engine_restart": len(self.restarts)})
        self._episode_steps[:] = 0
        self._last_obs = obs
        return obs, np.zeros(self.num_envs, dtype=np.float32), np.ones(self.num_envs, dtype=bool), infos

    def _restart(self, exc: EngineError, dropped: int = 0) -> VecEnvObs:
        """Close the failed instance(s), launch new ones, reset them; re-raise when not allowed."""
        __tracebackhide__ = True
        if not self.active or isinstance(exc, (EngineUnavailable, ObservationError)):
            raise exc
        if len(self.restarts) >= self.max_restarts:
            raise _with_note(exc, self.exhausted_note()) from exc
        from ..scenario import derive_seed

        start = time.monotonic()
        with contextlib.suppress(Exception):
            self.venv.close()
        number = len(self.restarts) + 1
        venv = self.engine.make_vec_env(self.n_envs, seed=derive_seed(self.base_seed, "restart", number))
        if venv.num_envs != self.num_envs or venv.observation_space != self.observation_space \
                or venv.action_space != self.action_space:
            venv.close()
            raise EngineError(f"the relaunched game differs from the one that failed ({venv.num_envs} envs, "
                              f"{venv.observation_space}, {venv.action_space}); cannot continue training") from exc
        self.venv = venv
        obs = venv.reset()
        lines = str(exc).splitlines() or [type(exc).__name__]
        self.restarts.append(Restart(
            number=number, timestep=self.timestep_offset + self.vec_steps * self.num_envs, error=lines[0],
            error_type=type(exc).__name__, log_tail=tuple(log_tail(exc)), dropped_episodes=dropped,
            relaunch_seconds=time.monotonic() - start))
        return obs

    def exhausted_note(self) -> str:
        """Why this error fails the test: the restarts used, listed."""
        used = "; ".join(f"#{r.number} at timestep {r.timestep}: {r.error}" for r in self.restarts) or "none"
        return (f"(the game failed during training after {len(self.restarts)} restart(s), the limit set by "
                f"--rl-engine-restarts={self.max_restarts}; restarts: {used})")


def _with_note(exc: EngineError, note: str) -> EngineError:
    """``exc`` again (same class when it takes a message) with ``note`` appended."""
    try:
        return type(exc)(f"{exc}\n{note}")
    except TypeError:  # pragma: no cover - an error class with another signature
        return EngineError(f"{exc}\n{note}")


def _row(obs: Any, i: int) -> Any:
    """Env ``i``'s observation from a batch (a dict batch: per key)."""
    if obs is None:
        return None
    if isinstance(obs, dict):
        return {k: np.asarray(v)[i] for k, v in obs.items()}
    return np.asarray(obs)[i]
