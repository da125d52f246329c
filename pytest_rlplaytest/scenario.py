"""The ``rl_scenario`` marker, validated and resolved into a frozen :class:`ScenarioSpec`.

The marker's arguments are one declarative table, :data:`MARKER_ARGS` (like the option table in
:mod:`.settings`): each row has the argument's name, its help, its default and the check that
validates and converts it. The table drives validation, the error messages, the marker's help text
(:func:`marker_signature`, shown by ``pytest --markers``) and the README's marker row.

The marker is the highest-precedence source of settings: what it says for a test beats the command
line, the environment and the ini file. ``--rl-timesteps`` is the one exception by design: it is a
*cap* on every scenario's training budget, so CI smoke runs stay short whatever the markers say.

Relative paths in the marker (``env="godot:../game"``, ``model="agents/lander.zip"``) resolve against
the test file's folder (the path rule, :mod:`.common.paths`).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .common.paths import PathBase
from .errors import RLPlaytestError
from .settings import Settings

if TYPE_CHECKING:
    from .agents.stages import Stage

KINDS = ("custom", "locomotion", "landing", "voxel_stress", "bug_repro", "ui", "physics_stress")
ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "RecurrentPPO")
DEFAULT_TIMESTEPS = 10_000


class ScenarioError(RLPlaytestError, ValueError):
    """The marker is wrong; the message names the argument and the test."""


# -- checks: each validates one argument's value and returns it converted, or raises ValueError ----
# The ValueError's text completes "<name> ..." (e.g. "must be a whole number >= 1").
Check = Callable[[Any], Any]


def whole(minimum: int) -> Check:
    """A whole number >= ``minimum`` (not a bool)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be a whole number >= {minimum}")
        return value

    return check


def number(minimum: float, *, strict: bool) -> Check:
    """A number > ``minimum`` (``strict``) or >= it."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                value <= minimum if strict else value < minimum) or value != value:
            raise ValueError(f"must be a number {'>' if strict else '>='} {minimum:g}")
        return float(value)

    return check


def one_of(choices: tuple[str, ...], *, suggest: bool = False) -> Check:
    """One of ``choices`` (with a close-match hint when ``suggest``)."""

    def check(value: Any) -> str:
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1) if suggest else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"must be one of {', '.join(choices)}{hint}")
        return str(value)

    return check


def mapping(value: Any) -> Mapping[str, Any]:
    """A dict (frozen into a read-only mapping)."""
    if not isinstance(value, Mapping):
        raise ValueError("must be a dict")
    return MappingProxyType(dict(value))


def flag(value: Any) -> bool:
    """True or False."""
    if not isinstance(value, bool):
        raise ValueError("must be True or False")
    return value


def text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


#: ``model="cache:"``: the newest compatible agent of ``--rl-agent-cache``
MODEL_CACHE = "cache:"


def stored_agent(value: Any) -> Any:
    """A path (string) to a ``.zip`` or ``.onnx`` file, resolved later against the test file,
    ``"cache:"`` (the agent cache), or a mapping policy name -> such a path (multi-policy scenes)."""
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("a mapping of policy names to models must not be empty")
        if MODEL_CACHE in value.values():
            raise ValueError("'cache:' is for one shared policy; map each policy name to a .zip or .onnx path")
        return {str(name): stored_agent(path) for name, path in value.items()}
    if value == MODEL_CACHE:
        return MODEL_CACHE
    if not isinstance(value, (str, Path)):
        raise ValueError("must be a path to a .zip or .onnx file, or 'cache:'")
    if Path(value).suffix not in (".zip", ".onnx"):
        raise ValueError("must name a stored agent: a .zip (SB3) or .onnx file, or 'cache:' (--rl-agent-cache)")
    return str(value)


def algo_kwargs_arg(value: Any) -> Any:
    """A dict, or an rl-zoo3 style hyperparameter file ``'<file>.yml:<section>'`` (resolved later
    against the test file's folder, see :mod:`.agents.hyperparams`)."""
    if isinstance(value, str):
        from .agents.hyperparams import split_source

        split_source(value)
        return value
    try:
        return mapping(value)
    except ValueError:
        raise ValueError("must be a dict or an rl-zoo3 style file 'hyperparams/<algo>.yml:<section>'") from None


def normalize_arg(value: Any) -> Any:
    """True/False, or a dict of ``VecNormalize`` arguments (see :mod:`.agents.normalize`)."""
    from .agents.normalize import normalize_kwargs

    return normalize_kwargs(value)


def success_rule(value: Any) -> Any:
    """An ``info`` key / event name, or a callable over the episode."""
    if not (isinstance(value, str) or callable(value)):
        raise ValueError("must be an info key or a callable(Episode) -> bool")
    return value


def curriculum_arg(value: Any) -> Any:
    """An ordered list of stage dicts, parsed into ``Stage``\\ s (see :mod:`.agents.stages`)."""
    from .agents.stages import parse_curriculum

    return parse_curriculum(value)


def bug_signature(value: Any) -> Any:
    """A bug hunt's signature, parsed into a ``BugSignature``."""
    from .bughunt.signature import BugSignature

    return BugSignature.parse(value)


def self_play_arg(value: Any) -> Any:
    """Two-seat self-play: ``dict(snapshot_every=N, mix={name: weight}, opponents={name: callable})``."""
    if not isinstance(value, Mapping):
        raise ValueError("must be a dict such as dict(snapshot_every=10_000, mix={'latest': 0.5, 'past': 0.5})")
    unknown = sorted(set(value) - {"snapshot_every", "mix", "opponents"})
    if unknown:
        raise ValueError(f"has an unknown key {unknown[0]!r} (keys: snapshot_every, mix, opponents)")
    every = value.get("snapshot_every")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"needs snapshot_every=<timesteps >= 1> (got {every!r})")
    opponents = value.get("opponents") or {}
    if not isinstance(opponents, Mapping) or not all(callable(f) for f in opponents.values()):
        raise ValueError("opponents must map names to callables (obs, episode_start) -> actions")
    mix = value.get("mix") or {"latest": 0.5, "past": 0.5}
    names = {"latest", "past", *opponents}
    if not isinstance(mix, Mapping) or not mix:
        raise ValueError("mix must be a dict of opponent name -> weight, e.g. {'latest': 0.5, 'past': 0.5}")
    for name, weight in mix.items():
        if name not in names:
            raise ValueError(f"mix names {name!r}, which is no opponent; use 'latest', 'past' or a name in "
                             f"opponents ({', '.join(sorted(opponents)) or 'none given'})")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"mix weight of {name!r} is {weight!r}; weights must be numbers >= 0")
    if sum(mix.values()) <= 0:
        raise ValueError("mix has no positive weight")
    return MappingProxyType({"snapshot_every": every, "mix": dict(mix), "opponents": dict(opponents)})


@dataclass(frozen=True)
class MarkerArg:
    """One ``rl_scenario`` argument.

    Attributes:
        name: the keyword.
        help: one line for ``pytest --markers``, the README and error hints.
        default: the value when the marker does not give it (None: unset, or resolved from a setting).
        check: validates and converts a given value (see the checks above).
        default_doc: how the default reads in the signature, when not ``repr(default)``.
    """

    name: str
    help: str
    default: Any = None
    check: Check = lambda value: value
    default_doc: str | None = None

    def shown_default(self) -> str:
        """The default as the signature shows it."""
        return self.default_doc if self.default_doc is not None else repr(self.default)


MARKER_ARGS: tuple[MarkerArg, ...] = (
    MarkerArg("env", "the game: a Gymnasium id or factory, 'godot:<path>', 'spacetimedb:<path>' (relative to the "
              "test file's folder), or a game spec object", default_doc=""),
    MarkerArg("kind", f"scenario kind, one of {', '.join(KINDS)}", "custom", one_of(KINDS)),
    MarkerArg("algo", f"training algorithm, one of {', '.join(ALGOS)}", "PPO", one_of(ALGOS, suggest=True)),
    MarkerArg("timesteps", "training budget in timesteps (capped by --rl-timesteps)", DEFAULT_TIMESTEPS, whole(1)),
    MarkerArg("model", "load this stored agent (.zip or .onnx, relative to the test file's folder) instead of "
              "training; 'cache:' takes the newest compatible agent of --rl-agent-cache; a multi-policy scene: "
              "a dict policy name -> path", None, stored_agent),
    MarkerArg("episodes", "evaluation episodes", None, whole(1), default_doc="--rl-episodes (20)"),
    MarkerArg("seed", "pin this test's seed", None, whole(0), default_doc="derived from --rl-seed and the node id"),
    MarkerArg("success", "an info key or event that is truthy at an episode's end, or a callable(Episode) -> bool",
              None, success_rule, default_doc="info['is_success'] when reported"),
    MarkerArg("algo_kwargs", "extra keyword arguments for the algorithm's constructor, or an rl-zoo3 style "
              "hyperparameter file 'hyperparams/ppo.yml:<section>' (relative to the test file's folder; schedules "
              "such as lin_3e-4 understood; the marker's own arguments win)", None, algo_kwargs_arg),
    MarkerArg("normalize", "VecNormalize the observations and rewards while training (True, or a dict such as "
              "dict(norm_reward=False)); the statistics are saved in model.zip and folded into the ONNX export",
              None, normalize_arg, default_doc="False"),
    MarkerArg("policy_kwargs", "policy_kwargs for the algorithm (e.g. dict(net_arch=[64, 64]))", None, mapping),
    MarkerArg("policy", "SB3 policy name", None, text, default_doc="MlpPolicy / MultiInputPolicy"),
    MarkerArg("n_envs", "agents to train with (Gymnasium: copies; Godot: at least this many agents, met with "
              "whole instances)", None, whole(1)),
    MarkerArg("env_kwargs", "keyword arguments for gymnasium.make or the env factory (Godot: --key=value game "
              "arguments)", None, mapping),
    MarkerArg("max_episode_steps", "truncate episodes after this many steps (enforced by the plugin for every "
              "engine)", None, whole(1)),
    MarkerArg("deterministic", "evaluate with the greedy action", True, flag),
    MarkerArg("device", "torch device for this test", None, one_of(("cpu", "cuda", "auto")),
              default_doc="--rl-device"),
    MarkerArg("bug", "bug hunts: the bug's signature: an info event name, 'log:<regex>', or a callable(info) -> "
              "bool", None, bug_signature),
    MarkerArg("novelty", "bug hunts: weight of the count-based novelty bonus over visited cells", 0.1,
              number(0, strict=False)),
    MarkerArg("cell_size", "bug hunts: size of a visited cell, in the game's position units", 1.0,
              number(0, strict=True)),
    MarkerArg("curriculum", "train in stages: a list of dicts with name=, timesteps= (capped by --rl-timesteps), "
              "env_kwargs=, reward= (given to the game as reward_mode), engine options (scene=, ...) and "
              "promote=dict(at_least=0.8, confidence=0.95, episodes=20) (a one-sided exact binomial test; every "
              "stage but the last); a stage that fails its rule fails the test; the playtest runs on the last "
              "stage's game", None, curriculum_arg),
    MarkerArg("self_play", "two-seat self-play (agent 2k seat A = the learner, 2k+1 seat B = its opponents): "
              "dict(snapshot_every=<timesteps>, mix={'latest': w, 'past': w, <name>: w}, opponents={<name>: "
              "callable(obs, episode_start) -> actions}); the rl_selfplay fixture judges win rates", None,
              self_play_arg),
)

#: the arguments by name
MARKER_ARG_BY_NAME: Mapping[str, MarkerArg] = MappingProxyType({a.name: a for a in MARKER_ARGS})


def marker_signature() -> str:
    """``rl_scenario(env, kind='custom', ...)``: the marker's signature, from the table."""
    parts = [a.name if a.name == "env" else f"{a.name}={a.shown_default()}" for a in MARKER_ARGS]
    return f"rl_scenario({', '.join(parts)}, **engine_options)"


def marker_help() -> str:
    """The text ``pytest --markers`` shows for ``rl_scenario``."""
    lines = "; ".join(f"{a.name}: {a.help}" for a in MARKER_ARGS)
    return (f"{marker_signature()}: a reinforcement-learning playtest. {lines}. Engine options (Godot: scene=, "
            "...; SpacetimeDB: agents=, ...) are listed in the README.")


def marker_markdown() -> str:
    """The README's ``rl_scenario`` documentation, generated from :data:`MARKER_ARGS`: the markers
    table's row (the signature), a blank line, and the table of the arguments
    (``tests/plugin/test_readme.py`` keeps the README in step with it)."""
    from .common.table import render_markdown_table
    from .settings import markdown_text

    row = render_markdown_table(["", ""], [[
        f"`{marker_signature()}`", "a playtest scenario; every argument is listed below, an unknown one or a bad "
        "value fails the test naming the argument and the test (`did you mean 'timesteps'?`)"]])[-1]
    rows = [[f"`{a.name}`", "required" if a.name == "env" else markdown_text(a.default_doc) if a.default_doc
             is not None else f"`{a.default!r}`", markdown_text(a.help)] for a in MARKER_ARGS]
    table = render_markdown_table(["`rl_scenario` argument", "default", "meaning"], rows)
    return "\n".join([row, "", *table])


def derive_seed(base: int, *parts: object) -> int:
    """A stable 31-bit seed from a base seed and any labels (node id, "eval", an index...)."""
    label = "\x1f".join([str(base), *map(str, parts)])
    digest = hashlib.blake2b(label.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)


def seed_key(nodeid: str) -> str:
    """What a test's seed derives from: its node id with the test file's folders dropped
    (``test_landing.py::test_lands[a]``), so the seed does not change with the rootdir (``pytest
    example_project`` and ``pytest tests example_project`` play the same episodes) or the checkout."""
    path, sep, rest = nodeid.partition("::")
    return Path(path).name + sep + rest


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
    #: ``model={name: path}``: one stored agent per policy of a multi-policy scene (resolved paths)
    models: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    #: those paths as the marker wrote them
    model_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    episodes: int = 20
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
    #: torch threads for training and inference (``--rl-torch-threads``)
    torch_threads: int = 1
    #: ``VecNormalize`` keyword arguments while training (None: no normalisation)
    normalize: Mapping[str, Any] | None = None
    #: the rl-zoo3 style hyperparameter file the algorithm's arguments came from (as the marker wrote it)
    hyperparams: str | None = None
    #: how often a game that crashes or hangs during training is restarted (``--rl-engine-restarts``)
    engine_restarts: int = 0
    #: ``model="cache:"``: the agent comes from ``--rl-agent-cache``
    model_cache: bool = False
    #: ``curriculum=``: the stages the agent trains through (empty: one training on the scenario's game)
    curriculum: tuple[Stage, ...] = ()
    #: two-seat self-play (``snapshot_every``, ``mix``, ``opponents``), or None
    self_play: Mapping[str, Any] | None = None
    #: where the marker's relative paths resolve (the test file's folder)
    paths: PathBase = field(default_factory=lambda: PathBase(Path.cwd(), "the current folder"))

    @property
    def trains(self) -> bool:
        """True when the agent is trained (no stored ``model``, not from the agent cache)."""
        return self.model is None and not self.model_cache and not self.models

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
            "model": MODEL_CACHE if self.model_cache else self.model_label or (str(self.model) if self.model else None)
            or (dict(self.model_labels) or None),
            "episodes": self.episodes,
            "seed": self.seed,
            "success": success if isinstance(success, str) or success is None else getattr(
                success, "__qualname__", repr(success)),
            "deterministic": self.deterministic,
            "bug": self.bug.describe() if self.bug is not None else None,
            **({"normalize": dict(self.normalize)} if self.normalize is not None else {}),
            **({"hyperparams": self.hyperparams} if self.hyperparams is not None else {}),
            **({"curriculum": [stage.describe() for stage in self.curriculum]} if self.curriculum else {}),
            **({"self_play": {"snapshot_every": self.self_play["snapshot_every"], "mix": dict(self.self_play["mix"]),
                              "opponents": sorted(self.self_play["opponents"])}} if self.self_play else {}),
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


# -- building a spec ----------------------------------------------------------------------------
def _marker_kwargs(args: tuple[Any, ...], kwargs: Mapping[str, Any], nodeid: str) -> dict[str, Any]:
    """The marker's arguments as one dict, ``env`` included (it may be positional)."""
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
    return kw


def _split_engine_options(kw: dict[str, Any], scheme: str, allowed: Mapping[str, str],
                          nodeid: str) -> dict[str, Any]:
    """Take the engine's own options out of ``kw``; reject any argument nobody knows."""
    engine_options = {k: kw.pop(k) for k in list(kw) if k not in MARKER_ARG_BY_NAME and k in allowed}
    unknown = [k for k in kw if k not in MARKER_ARG_BY_NAME]
    if unknown:
        name = unknown[0]
        known = sorted({*MARKER_ARG_BY_NAME, *allowed})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(f"{nodeid}: rl_scenario got an unknown argument {name!r}{hint} "
                            f"(arguments for the {scheme} engine: {', '.join(known)})")
    return engine_options


def check_marker_args(kw: Mapping[str, Any], nodeid: str) -> dict[str, Any]:
    """Every table argument: the marker's value checked and converted, or the table default."""
    checked: dict[str, Any] = {}
    for arg in MARKER_ARGS:
        if arg.name == "env":
            continue
        value = kw.get(arg.name)
        if value is None:
            checked[arg.name] = arg.default
            continue
        try:
            checked[arg.name] = arg.check(value)
        except ValueError as exc:
            raise ScenarioError(f"{nodeid}: rl_scenario({arg.name}={value!r}): {arg.name} {exc}") from None
    return checked


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return value if value is not None else MappingProxyType({})


#: marker arguments a curriculum refuses, with the fix
_NOT_WITH_CURRICULUM = {
    "timesteps": "give each stage its own timesteps= (the scenario's budget is their sum)",
    "model": "a curriculum trains its agent: drop model= (or drop curriculum= to play the stored agent)",
    "normalize": "VecNormalize statistics are not carried from stage to stage yet: drop normalize=",
    "bug": "a bug hunt trains its own explorer: drop curriculum= from the bug hunt's marker",
    "self_play": "self-play trains against its opponent pool on one game; curriculum stages are not taken by "
                 "self-play yet: drop one of self_play= and curriculum=",
}


def _curriculum(c: dict[str, Any], given: Any, engine_options: dict[str, Any], allowed: Mapping[str, str],
                scheme: str, cap: int | None, nodeid: str) -> tuple[Stage, ...]:
    """The scenario's stages, each with its game arguments, engine options and capped budget
    merged in (the scenario itself then plays the last stage's game); ``()`` without a curriculum."""
    import dataclasses

    from .agents.stages import REWARD_KWARG, check_stage_options

    stages: tuple[Stage, ...] = c["curriculum"] or ()
    if not stages:
        return ()
    for name, fix in _NOT_WITH_CURRICULUM.items():
        if given.get(name) not in (None, False):
            raise ScenarioError(f"{nodeid}: rl_scenario(curriculum=...) with {name}=: {fix}")
    scenario_wide = [a.name for a in MARKER_ARGS if a.name != "env_kwargs"]
    try:
        check_stage_options(stages, allowed, scenario_wide, scheme)
    except ValueError as exc:
        raise ScenarioError(f"{nodeid}: rl_scenario(curriculum=...): curriculum {exc}") from None
    base = dict(c["env_kwargs"] or {})
    return tuple(dataclasses.replace(
        stage, timesteps=min(stage.timesteps, cap) if cap else stage.timesteps,
        env_kwargs=MappingProxyType({**base, **stage.env_kwargs,
                                     **({REWARD_KWARG: stage.reward} if stage.reward is not None else {})}),
        engine_options=MappingProxyType({**engine_options, **stage.engine_options})) for stage in stages)


def _stages_and_budget(c: dict[str, Any], given: Any, engine_options: dict[str, Any], allowed: Mapping[str, str],
                       scheme: str, cap: int | None, nodeid: str) -> tuple[tuple[Stage, ...], dict[str, Any], int]:
    """The stages, the engine options and the training budget (capped by ``--rl-timesteps``). With a
    curriculum the scenario plays the last stage's game (its ``env_kwargs`` go into ``c``) and its
    budget is the stages' sum."""
    stages = _curriculum(c, given, engine_options, allowed, scheme, cap, nodeid)
    if not stages:
        return (), engine_options, min(c["timesteps"], cap) if cap else c["timesteps"]
    engine_options, c["env_kwargs"] = dict(stages[-1].engine_options), stages[-1].env_kwargs
    c["timesteps"] = sum(stage.requested_timesteps for stage in stages)
    return stages, engine_options, sum(stage.timesteps for stage in stages)


def _stored_models(value: Any) -> tuple[str | None, dict[str, str]]:
    """The marker's ``model=``: one stored agent (None for none or ``cache:``), or a mapping of policy
    name to stored agent for a multi-policy scene."""
    if isinstance(value, dict):
        return None, dict(value)
    return (value if value != MODEL_CACHE else None), {}


def build_spec(
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    nodeid: str,
    settings: Settings,
    test_file: Path,
    long_training: bool = False,
    engine_options_allowed: Callable[[str], Mapping[str, str]] | None = None,
) -> ScenarioSpec:
    """Validate a marker's arguments and resolve them against the settings.

    Args:
        args, kwargs: the marker's arguments (``env`` may be positional).
        nodeid: the test, for error messages and the derived seed.
        settings: resolved plugin settings.
        test_file: the test file; the marker's relative paths resolve against its folder.
        long_training: whether the test carries the ``long_training`` marker.
        engine_options_allowed: scheme -> the engine's extra marker arguments (for validation).

    Raises:
        ScenarioError: naming the offending argument and the test.
    """
    from .engines.registry import split_target

    kw = _marker_kwargs(args, kwargs, nodeid)
    env = kw.pop("env")
    try:
        scheme, target = split_target(env)
    except TypeError as exc:
        raise ScenarioError(f"{nodeid}: rl_scenario(env=...): {exc}") from None
    allowed = dict(engine_options_allowed(scheme)) if engine_options_allowed else {}
    engine_options = _split_engine_options(kw, scheme, allowed, nodeid)
    c = check_marker_args(kw, nodeid)
    paths = PathBase.marker(test_file)
    if isinstance(c["algo_kwargs"], str):  # an rl-zoo3 style file: its values, the marker's own win
        from .agents.hyperparams import apply_hyperparams_file

        c = apply_hyperparams_file(c, given=frozenset(kw), paths=paths, nodeid=nodeid)
    model, models = _stored_models(c["model"])
    stages, engine_options, timesteps = _stages_and_budget(c, kw, engine_options, allowed, scheme,
                                                           settings.timesteps, nodeid)
    return ScenarioSpec(
        env=env, nodeid=nodeid,
        seed=c["seed"] if c["seed"] is not None else derive_seed(settings.seed, seed_key(nodeid)),
        kind=c["kind"], algo=c["algo"],
        timesteps=timesteps, requested_timesteps=c["timesteps"], curriculum=stages,
        model=paths.resolve(model) if model is not None else None, model_label=model,
        episodes=c["episodes"] if c["episodes"] is not None else settings.episodes,
        success=c["success"], algo_kwargs=_frozen(c["algo_kwargs"]), policy_kwargs=_frozen(c["policy_kwargs"]),
        policy=c["policy"], n_envs=c["n_envs"], env_kwargs=_frozen(c["env_kwargs"]),
        max_episode_steps=c["max_episode_steps"], deterministic=c["deterministic"],
        device=c["device"] if c["device"] is not None else settings.device,
        engine_scheme=scheme, engine_target=target, engine_options=MappingProxyType(engine_options),
        long_training=long_training, bug=c["bug"], novelty=c["novelty"], cell_size=c["cell_size"],
        torch_threads=settings.torch_threads, paths=paths, normalize=c["normalize"], hyperparams=c.get("hyperparams"),
        engine_restarts=settings.engine_restarts if settings.engine_restarts is not None else 3 if long_training else 0,
        model_cache=c["model"] == MODEL_CACHE, self_play=c["self_play"],
        models=MappingProxyType({n: paths.resolve(p) for n, p in models.items()}), model_labels=MappingProxyType(models),
    )
