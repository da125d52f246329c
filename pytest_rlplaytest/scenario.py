"""The ``rl_scenario`` marker, validated and resolved into a frozen :class:`ScenarioSpec`.

The marker is the highest-precedence source of settings: what it says for a test beats the command
line, the environment and the ini file. ``--rl-timesteps`` is the one exception by design: it is a
*cap* on every scenario's training budget, so CI smoke runs stay short whatever the markers say.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .settings import Settings

KINDS = ("custom", "locomotion", "landing", "voxel_stress", "bug_repro")
ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "RecurrentPPO")
DEFAULT_TIMESTEPS = 10_000
DEFAULT_EPISODES = 20

#: the common marker arguments, with their help (engines add their own, see ``Engine.OPTIONS``)
MARKER_ARGS: Mapping[str, str] = {
    "env": "the game: a Gymnasium id or factory, 'godot:<path>', 'spacetimedb:<path>', or a spec object",
    "kind": f"scenario kind, one of {', '.join(KINDS)}",
    "algo": f"training algorithm, one of {', '.join(ALGOS)}",
    "timesteps": f"training budget in timesteps (default {DEFAULT_TIMESTEPS}; capped by --rl-timesteps)",
    "model": "load this stored agent (.zip or .onnx, relative to the test file) instead of training",
    "episodes": f"evaluation episodes (default --rl-episodes, else {DEFAULT_EPISODES})",
    "seed": "pin this test's seed (default: derived from --rl-seed and the test's node id)",
    "success": "an info key that is truthy at an episode's end, or a callable(Episode) -> bool",
    "algo_kwargs": "extra keyword arguments for the algorithm's constructor",
    "policy_kwargs": "policy_kwargs for the algorithm (e.g. dict(net_arch=[64, 64]))",
    "policy": "SB3 policy name (default: MlpPolicy, MultiInputPolicy for dict observations)",
    "n_envs": "parallel environments for training (Gymnasium: copies; Godot: agents per instance)",
    "env_kwargs": "keyword arguments for gymnasium.make or the env factory",
    "max_episode_steps": "truncate episodes after this many steps",
    "deterministic": "evaluate with the greedy action (default True)",
    "device": "torch device for this test (overrides --rl-device)",
    "bug": "bug hunts: the bug's signature: an info event name, 'log:<regex>', or a callable(info) -> bool",
    "novelty": "bug hunts: weight of the count-based novelty bonus over visited cells (default 0.1)",
    "cell_size": "bug hunts: size of a visited cell, in the game's position units (default 1.0)",
}


class ScenarioError(ValueError):
    """The marker is wrong; the message names the argument and the test."""


def derive_seed(base: int, *parts: object) -> int:
    """A stable 31-bit seed from a base seed and any labels (node id, "eval", an index...)."""
    text = "\x1f".join([str(base), *map(str, parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)


@dataclass(frozen=True)
class ScenarioSpec:
    """Everything one scenario test runs with, resolved from its marker and the settings."""

    env: Any
    nodeid: str
    seed: int
    kind: str = "custom"
    algo: str = "PPO"
    timesteps: int = DEFAULT_TIMESTEPS
    requested_timesteps: int = DEFAULT_TIMESTEPS
    model: Path | None = None
    #: ``model=`` as the marker wrote it (relative to the test file): machine-independent
    model_label: str | None = None
    episodes: int = DEFAULT_EPISODES
    success: str | Callable[..., Any] | None = None
    algo_kwargs: Mapping[str, Any] = field(default_factory=dict)
    policy_kwargs: Mapping[str, Any] = field(default_factory=dict)
    policy: str | None = None
    n_envs: int | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    deterministic: bool = True
    device: str = "cpu"
    engine_scheme: str = "gym"
    engine_target: Any = None
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    long_training: bool = False
    bug: Any = None
    novelty: float = 0.1
    cell_size: float = 1.0

    @property
    def trains(self) -> bool:
        """True when the agent is trained (no stored ``model``)."""
        return self.model is None

    @property
    def env_label(self) -> str:
        """A short readable name of the game."""
        env = self.env
        if isinstance(env, str):
            return env
        return getattr(env, "__qualname__", None) or getattr(env, "name", None) or repr(env)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (for summaries, baselines, replay bundles)."""
        success = self.success
        return {
            "env": self.env_label,
            "engine": self.engine_scheme,
            "engine_options": {k: jsonable(v) for k, v in self.engine_options.items()},
            "kind": self.kind,
            "algo": self.algo,
            "timesteps": self.timesteps if self.trains else 0,
            "model": self.model_label or (str(self.model) if self.model else None),
            "episodes": self.episodes,
            "seed": self.seed,
            "success": success if isinstance(success, str) or success is None else getattr(
                success, "__qualname__", repr(success)),
            "deterministic": self.deterministic,
            "bug": self.bug.describe() if self.bug is not None else None,
        }


def jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into its ``repr`` (for descriptions)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return repr(value)


def _check_int(name: str, value: Any, minimum: int, nodeid: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(
            f"{nodeid}: rl_scenario({name}={value!r}): {name} must be a whole number >= {minimum}"
        )
    return value


def _check_mapping(name: str, value: Any, nodeid: str) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{nodeid}: rl_scenario({name}={value!r}): {name} must be a dict")
    return MappingProxyType(dict(value))


def build_spec(
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    nodeid: str,
    settings: Settings,
    test_dir: Path,
    long_training: bool = False,
    engine_options_allowed: Callable[[str], Mapping[str, str]] | None = None,
) -> ScenarioSpec:
    """Validate a marker's arguments and resolve them against the settings.

    Args:
        args, kwargs: the marker's arguments (``env`` may be positional).
        nodeid: the test, for error messages and the derived seed.
        settings: resolved plugin settings.
        test_dir: the test file's folder; a relative ``model=`` path is resolved against it.
        long_training: whether the test carries the ``long_training`` marker.
        engine_options_allowed: scheme -> the engine's extra marker arguments (for validation).

    Raises:
        ScenarioError: naming the offending argument and the test.
    """
    from .engines.registry import split_target

    kw = dict(kwargs)
    if len(args) > 1:
        raise ScenarioError(f"{nodeid}: rl_scenario takes only env positionally; got {len(args)} positional "
                            "arguments (pass the others by name)")
    if args:
        if "env" in kw:
            raise ScenarioError(f"{nodeid}: rl_scenario got env both positionally and as env=")
        kw["env"] = args[0]
    if "env" not in kw:
        raise ScenarioError(f"{nodeid}: rl_scenario needs env= (a Gymnasium id, a factory, 'godot:<path>', ...)")
    env = kw.pop("env")
    try:
        scheme, target = split_target(env)
    except TypeError as exc:
        raise ScenarioError(f"{nodeid}: rl_scenario(env=...): {exc}") from None

    allowed_engine = dict(engine_options_allowed(scheme)) if engine_options_allowed else {}
    engine_options = {k: kw.pop(k) for k in list(kw) if k not in MARKER_ARGS and k in allowed_engine}
    unknown = [k for k in kw if k not in MARKER_ARGS]
    if unknown:
        name = unknown[0]
        known = sorted({*MARKER_ARGS, *allowed_engine})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(
            f"{nodeid}: rl_scenario got an unknown argument {name!r}{hint} "
            f"(arguments for the {scheme} engine: {', '.join(known)})"
        )

    kind = kw.get("kind", "custom")
    if kind not in KINDS:
        raise ScenarioError(f"{nodeid}: rl_scenario(kind={kind!r}): kind must be one of {', '.join(KINDS)}")
    algo = kw.get("algo", "PPO")
    if algo not in ALGOS:
        close = difflib.get_close_matches(str(algo), ALGOS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(f"{nodeid}: rl_scenario(algo={algo!r}): algo must be one of {', '.join(ALGOS)}{hint}")

    requested = _check_int("timesteps", kw.get("timesteps", DEFAULT_TIMESTEPS), 1, nodeid)
    cap = settings.values.get("timesteps")
    timesteps = min(requested, cap) if cap else requested

    episodes_default = settings.values.get("episodes") or DEFAULT_EPISODES
    episodes = _check_int("episodes", kw.get("episodes", episodes_default), 1, nodeid)

    if "seed" in kw and kw["seed"] is not None:
        seed = _check_int("seed", kw["seed"], 0, nodeid)
    else:
        seed = derive_seed(int(settings.values.get("seed") or 0), nodeid)

    model = kw.get("model")
    model_path: Path | None = None
    if model is not None:
        if not isinstance(model, (str, Path)):
            raise ScenarioError(f"{nodeid}: rl_scenario(model={model!r}): model must be a path to a .zip or .onnx")
        model_path = Path(model)
        if not model_path.is_absolute():
            model_path = (test_dir / model_path).resolve()
        if model_path.suffix not in (".zip", ".onnx"):
            raise ScenarioError(
                f"{nodeid}: rl_scenario(model={str(model)!r}): a stored agent must be a .zip (SB3) or .onnx file"
            )

    success = kw.get("success")
    if success is not None and not (isinstance(success, str) or callable(success)):
        raise ScenarioError(
            f"{nodeid}: rl_scenario(success={success!r}): success must be an info key or a callable(Episode)"
        )

    n_envs = kw.get("n_envs")
    if n_envs is not None:
        n_envs = _check_int("n_envs", n_envs, 1, nodeid)
    max_steps = kw.get("max_episode_steps")
    if max_steps is not None:
        max_steps = _check_int("max_episode_steps", max_steps, 1, nodeid)
    device = kw.get("device", settings.values.get("device") or "cpu")
    if device not in ("cpu", "cuda", "auto"):
        raise ScenarioError(f"{nodeid}: rl_scenario(device={device!r}): device must be cpu, cuda or auto")
    policy = kw.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise ScenarioError(f"{nodeid}: rl_scenario(policy={policy!r}): policy must be an SB3 policy name")
    deterministic = kw.get("deterministic", True)
    if not isinstance(deterministic, bool):
        raise ScenarioError(f"{nodeid}: rl_scenario(deterministic={deterministic!r}): must be True or False")

    bug = None
    if kw.get("bug") is not None:
        from .bughunt.signature import BugSignature

        try:
            bug = BugSignature.parse(kw["bug"])
        except ValueError as exc:
            raise ScenarioError(f"{nodeid}: rl_scenario(bug=...): {exc}") from None
    novelty, cell_size = kw.get("novelty", 0.1), kw.get("cell_size", 1.0)
    for name, value in (("novelty", novelty), ("cell_size", cell_size)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                name == "cell_size" and value == 0):
            raise ScenarioError(f"{nodeid}: rl_scenario({name}={value!r}): {name} must be a number "
                                f"{'> 0' if name == 'cell_size' else '>= 0'}")

    return ScenarioSpec(
        env=env,
        nodeid=nodeid,
        seed=seed,
        kind=kind,
        algo=algo,
        timesteps=timesteps,
        requested_timesteps=requested,
        model=model_path,
        model_label=str(model) if model is not None else None,
        episodes=episodes,
        success=success,
        algo_kwargs=_check_mapping("algo_kwargs", kw.get("algo_kwargs"), nodeid),
        policy_kwargs=_check_mapping("policy_kwargs", kw.get("policy_kwargs"), nodeid),
        policy=policy,
        n_envs=n_envs,
        env_kwargs=_check_mapping("env_kwargs", kw.get("env_kwargs"), nodeid),
        max_episode_steps=max_steps,
        deterministic=deterministic,
        device=device,
        engine_scheme=scheme,
        engine_target=target,
        engine_options=MappingProxyType(engine_options),
        long_training=long_training,
        bug=bug,
        novelty=float(novelty),
        cell_size=float(cell_size),
    )
