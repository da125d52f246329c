"""The embedded default engine: any Gymnasium environment, in this process.

Importing this module imports gymnasium (not SB3): the registry imports it only when a scenario
uses the Gymnasium engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym

from ..scenario import derive_seed
from ..telemetry import EPISODE_SEED_KEY
from .base import Engine, EngineError
from .checks import check_observation, check_reward

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


class SeededEpisodes(gym.Wrapper):  # type: ignore[type-arg]
    """Gives every episode its own reproducible seed and checks what the game returns.

    A reset without a seed uses ``derive_seed(base, "episode", n)`` for the n-th episode, so every
    episode can be replayed alone with ``env.reset(seed=...)``; a reset with an explicit seed uses it
    and restarts the stream from it (``VecEnv.seed(s)`` then gives a fresh, reproducible sequence of
    episodes whatever happened before). A reset whose options hold ``{"rl_episode_seed": S}``
    (:data:`~pytest_rlplaytest.telemetry.EPISODE_SEED_KEY`; what replays send through SB3's public
    per-env ``VecEnv.set_options``) is a reset with seed ``S``; the key is not passed on to the game.
    The seed is reported as ``info["rl_episode_seed"]`` on reset and every step. Observations are
    checked against the declared space and rewards must be finite.
    """

    def __init__(self, env: gym.Env, base_seed: int, label: str) -> None:  # type: ignore[type-arg]
        super().__init__(env)
        self.base_seed = base_seed
        self.label = label
        self.episode_counter = 0
        self.current_seed: int | None = None
        self.steps = 0
        self.closed = False
        self.action_space.seed(base_seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Start an episode with ``seed`` (or ``options["rl_episode_seed"]``, or the next derived seed)."""
        game_options = dict(options) if options else {}
        replay_seed = game_options.pop(EPISODE_SEED_KEY, None)
        if seed is None and replay_seed is not None:
            seed = int(replay_seed)
        if seed is None:
            seed = derive_seed(self.base_seed, "episode", self.episode_counter)
            self.episode_counter += 1
        else:
            # an explicit seed restarts the stream: later episodes derive from it
            self.base_seed, self.episode_counter = seed, 0
        self.current_seed = seed
        self.steps = 0
        obs, info = self.env.reset(seed=seed, options=game_options or None)
        check_observation(self.observation_space, obs, f"{self.label}: reset (seed {seed})")
        info = dict(info)
        info[EPISODE_SEED_KEY] = seed
        return obs, info

    def step(self, action: Any) -> Any:
        """One checked step; ``info["rl_episode_seed"]`` names the episode."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        where = f"{self.label}: step {self.steps} of the episode with seed {self.current_seed}"
        check_observation(self.observation_space, obs, where)
        reward = check_reward(reward, where)
        info = dict(info)
        info[EPISODE_SEED_KEY] = self.current_seed
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Close the game once (the VecEnv and the engine may both close it)."""
        if not self.closed:
            self.closed = True
            self.env.close()


def make_seeded_wrapper() -> type[SeededEpisodes]:
    """:class:`SeededEpisodes` (kept for ``engines/spacetimedb``, which still calls it; import the
    class instead)."""
    return SeededEpisodes


def import_factory(path: str) -> Callable[..., Any]:
    """Import ``"py:package.module:Qualified.name"``."""
    import importlib

    _, module_name, qualname = [*path.split(":", 2), "", ""][:3]
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise EngineError(f"cannot import the env factory {path!r}: {exc} (is its folder on sys.path?)") from None
    if not callable(obj):
        raise EngineError(f"{path!r} is not callable")
    return obj  # type: ignore[no-any-return]


def factory_path(factory: Any) -> str | None:
    """``"py:module:qualname"`` for an importable factory, else None."""
    module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    return f"py:{module}:{qualname}"


class GymEngine(Engine):
    """Runs ``gymnasium.make(id)`` or a user factory in-process.

    Every env copy ``i`` gets base seed ``derive_seed(seed, "env", i)``; every episode its own seed.
    """

    scheme: ClassVar[str] = "gym"
    OPTIONS: ClassVar[dict[str, str]] = {}

    def __init__(self, target: Any, context: Any) -> None:
        super().__init__(target, context)
        self._envs: list[Any] = []

    def start(self) -> None:
        """Import a ``py:module:Factory`` target; refuse an unknown Gymnasium id, naming close ones."""
        if isinstance(self.target, str) and self.target.startswith("py:"):
            self.target = import_factory(self.target)
        # Fail early with a clear message for an unknown id (gymnasium's own error is long).
        if isinstance(self.target, str) and ":" not in self.target:
            if self.target not in gym.registry:
                import difflib

                close = difflib.get_close_matches(self.target, list(gym.registry), n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise EngineError(
                    f"Gymnasium has no environment {self.target!r}.{hint} Pass a registered id, "
                    "'module:EnvId' to import a registering module, or a factory callable."
                )

    def _label(self) -> str:
        return self.target if isinstance(self.target, str) else getattr(self.target, "__qualname__", "env")

    def _make_one(self, index: int, seed: int) -> gym.Env:  # type: ignore[type-arg]
        options = self.context.options
        kwargs = dict(options.get("env_kwargs") or {})
        max_steps = options.get("max_episode_steps")
        if isinstance(self.target, str):
            env = gym.make(self.target, max_episode_steps=max_steps, **kwargs)
        else:
            factory: Callable[..., Any] = self.target
            env = factory(**kwargs)
            if not isinstance(env, gym.Env):
                raise EngineError(f"env factory {self._label()} returned {type(env).__name__}, not a gymnasium.Env")
            if max_steps:
                env = gym.wrappers.TimeLimit(env, max_episode_steps=max_steps)
        wrapped = SeededEpisodes(env, derive_seed(seed, "env", index), f"{self._label()}[{index}]")
        self._envs.append(wrapped)
        return wrapped

    def make_env(self, seed: int | None = None) -> gym.Env:  # type: ignore[type-arg]
        """One seeded, checked copy of the game."""
        return self._make_one(0, self.context.seed if seed is None else seed)

    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """``n_envs`` (default 1) seeded copies in a ``DummyVecEnv``, each behind SB3's ``Monitor``."""
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        base = self.context.seed if seed is None else seed
        return DummyVecEnv([functools.partial(self._monitored, i, base, Monitor) for i in range(n_envs or 1)])

    def _monitored(self, index: int, seed: int, monitor: Callable[[Any], gym.Env]) -> gym.Env:  # type: ignore[type-arg]
        return monitor(self._make_one(index, seed))

    def close(self) -> None:
        """Close every copy made (idempotent)."""
        envs, self._envs = self._envs, []
        for env in envs:
            try:
                env.close()
            except Exception:  # pragma: no cover - closing must never mask the test's own error
                pass

    def describe(self) -> dict[str, Any]:
        """The engine, the game's id or factory name, and gymnasium's version."""
        return {"engine": "gym", "env": self._label(), "gymnasium": gym.__version__}
