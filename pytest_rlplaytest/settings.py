"""Plugin-wide settings: every option is a CLI flag, an ini key and an environment variable.

Precedence (highest first): the ``rl_scenario`` marker (per test, see :mod:`.scenario`) > command
line > environment variable > ini file > default. Values are validated when parsed, and an invalid
value is reported naming where it came from (``--rl-seed``, ``RLPLAYTEST_SEED`` or ini ``rl_seed``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .common.paths import PathBase
from .distributed.cluster import ray_address
from .errors import RLPlaytestError


class SettingError(RLPlaytestError, ValueError):
    """An option value is invalid; the message names its source."""


# -- value parsers: each takes the raw text and returns the value or raises ValueError -------------
def positive_int(text: str) -> int:
    """Parse a whole number >= 1."""
    value = int(str(text).strip().replace("_", ""))
    if value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


def non_negative_int(text: str) -> int:
    """Parse a whole number >= 0."""
    value = int(str(text).strip().replace("_", ""))
    if value < 0:
        raise ValueError("must be a whole number >= 0")
    return value


def positive_float(text: str) -> float:
    """Parse a number > 0."""
    value = float(str(text).strip())
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a finite number > 0")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def boolean(text: str | bool) -> bool:
    """Parse 1/true/yes/on or 0/false/no/off (case-insensitive)."""
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be one of 1/true/yes/on or 0/false/no/off")


def engine_names(text: str | bool) -> frozenset[str]:
    """Parse which engines are required: on/true/all (every engine), off/false (none), or a
    comma-separated list of engine names (``godot,spacetimedb``)."""
    if isinstance(text, bool):
        return frozenset({"*"}) if text else frozenset()
    lowered = str(text).strip().lower()
    if lowered in _TRUE or lowered == "all":
        return frozenset({"*"})
    if lowered in _FALSE:
        return frozenset()
    names = frozenset(n.strip() for n in lowered.split(",") if n.strip())
    bad = sorted(n for n in names if not n.replace("_", "").isalnum())
    if bad:
        raise ValueError(f"engine names must be words like godot or spacetimedb, got {bad[0]!r}")
    return names


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser accepting exactly one of ``allowed``."""

    def parse(text: str) -> str:
        value = str(text).strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    parse.__name__ = "|".join(allowed)
    return parse


#: ``--rl-checkpoint-every auto``: checkpoints sized to cost at most 2% of training time
CHECKPOINT_AUTO = -1


def checkpoint_interval(text: str | int) -> int:
    """Parse ``--rl-checkpoint-every``: ``auto`` (:data:`CHECKPOINT_AUTO`: sized so checkpoints cost
    at most 2% of training time), ``off`` or 0 (no checkpoints), or a whole number of timesteps."""
    lowered = str(text).strip().lower().replace("_", "")
    if lowered == "auto":
        return CHECKPOINT_AUTO
    if lowered in ("off", "0"):
        return 0
    try:
        value = int(lowered)
    except ValueError:
        raise ValueError("must be auto, off, or a whole number of timesteps >= 1") from None
    if value < 1:
        raise ValueError("must be auto, off, or a whole number of timesteps >= 1")
    return value


#: ``--rl-recv-spin-us auto``: both sides spin when the machine has a core per spinning process (:func:`.engines.godot.protocol.spin_plan`)
RECV_SPIN_AUTO = -1


def spin_microseconds(text: str | int) -> int:
    """Parse ``--rl-recv-spin-us``: ``auto`` (:data:`RECV_SPIN_AUTO`), ``off`` or 0, or whole
    microseconds (at most 100000)."""
    lowered = str(text).strip().lower().replace("_", "")
    if lowered == "auto":
        return RECV_SPIN_AUTO
    if lowered in ("off", "0"):
        return 0
    try:
        value = int(lowered)
    except ValueError:
        raise ValueError("must be auto, off, or whole microseconds from 1 to 100000") from None
    if not 1 <= value <= 100_000:
        raise ValueError("must be auto, off, or whole microseconds from 1 to 100000")
    return value


def text_value(text: str) -> str:
    """Any non-empty text."""
    value = str(text).strip()
    if not value:
        raise ValueError("must not be empty")
    return value


@dataclass(frozen=True)
class Option:
    """One setting with its three spellings."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    metavar: str | None = None
    is_flag: bool = False
    #: the flag may be given alone (meaning this value) or with ``=value``
    optional_value: str | None = None
    flag_name: str | None = None
    ini_name: str | None = None
    env_name: str | None = None
    #: ``value``; ``path`` (resolved against the rootdir); ``binary`` (a name looked up on PATH, or a
    #: path, resolved against the rootdir when it contains a separator)
    kind: str = "value"
    #: how the default reads in the README, when not derived from :attr:`default`
    default_doc: str | None = None

    @property
    def flag(self) -> str:
        """The command-line flag (``--rl-<name>`` unless the option names another)."""
        return self.flag_name or "--rl-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """The ini key (``rl_<name>`` unless the option names another)."""
        return self.ini_name or "rl_" + self.name

    @property
    def env(self) -> str:
        """The environment variable (``RLPLAYTEST_<NAME>`` unless the option names another)."""
        return self.env_name or "RLPLAYTEST_" + self.name.upper()

    @property
    def usage(self) -> str:
        """The flag as typed: ``--rl-seed N``, ``--rl-long``, ``--rl-require-engines[=ENGINES]``."""
        if self.is_flag:
            return self.flag
        if self.optional_value is not None:
            return f"{self.flag}[={self.metavar}]"
        return f"{self.flag} {self.metavar}" if self.metavar else self.flag

    def shown_default(self) -> str:
        """The default as the README shows it (markdown)."""
        if self.default_doc is not None:
            return self.default_doc
        value = self.default
        if value is None:
            return "none"
        if value is False or value == frozenset():
            return "off"
        if isinstance(value, str):
            return f"`{value}`"
        return f"{value:g}" if isinstance(value, float) else str(value)


OPTIONS: tuple[Option, ...] = (
    Option("timesteps", positive_int, None,
           "cap every scenario's training budget at N timesteps (CI smoke runs)", "N"),
    Option("episodes", positive_int, 20,
           "evaluation episodes for scenarios whose marker does not give episodes=", "N"),
    Option("seed", non_negative_int, 0,
           "base seed; each test derives its own stable seed from it and its node id", "N"),
    Option("artifacts", text_value, ".rlplaytest",
           "folder for per-test artifacts: model, logs, episodes.csv, summary.json (relative to the rootdir)",
           "DIR", kind="path"),
    Option("baselines_dir", text_value, "baselines",
           "folder of stored baselines (relative to the rootdir)", "DIR", kind="path"),
    Option("update_baselines", boolean, False,
           "write or refresh the baselines of the tests that run, instead of comparing", is_flag=True),
    Option("inconclusive", choice("fail", "skip", "pass"), "fail",
           "what an inconclusive statistical verdict does to its test", "fail|skip|pass"),
    Option("device", choice("cpu", "cuda", "auto"), "cpu", "torch device for training and inference",
           "cpu|cuda|auto"),
    Option("long", boolean, False,
           "run long_training tests (as if selected with -m long_training)", is_flag=True),
    Option("require_engines", engine_names, frozenset(),
           "a test that needs an absent engine binary fails instead of skipping; alone it means every "
           "engine, or name some: --rl-require-engines=godot", "ENGINES", optional_value="all"),
    Option("engine_timeout", positive_float, 30.0,
           "seconds an engine may stay silent before its test fails (boot and every reply)", "SECONDS"),
    Option("torch_threads", positive_int, 1,
           "threads torch may use to train and predict (small policies train fastest on one; more "
           "would fight with the game processes and other xdist workers)", "N"),
    Option("machine_id", text_value, None,
           "name of this machine class in baselines' per-machine frame times", "NAME",
           default_doc="derived from the CPU, core count and OS"),
    Option("godot_bin", text_value, None,
           "Godot binary (a name on PATH, or a path relative to the rootdir)", "PATH",
           flag_name="--godot-bin", ini_name="godot_bin", env_name="GODOT_BIN", kind="binary",
           default_doc="PATH: `godot`, `godot4`, `godot3-server`, `godot3`"),
    Option("spacetime_bin", text_value, None, "the SpacetimeDB binaries: the spacetime proxy, spacetimedb-cli or "
           "spacetimedb-standalone (a name on PATH, or a path relative to the rootdir)", "PATH", flag_name="--spacetime-bin", ini_name="spacetime_bin", env_name="SPACETIME_BIN",
           kind="binary", default_doc="PATH: `spacetime`"),
    Option("spacetimedb_scope", choice("session", "package", "module", "class", "function"), "session",
           "scope of the spacetimedb_instance fixture (one server per session by default)",
           "session|package|module|class|function", flag_name="--spacetimedb-scope", ini_name="spacetimedb_scope",
           env_name="SPACETIMEDB_SCOPE"),
    Option("spacetimedb_url", text_value, None,
           "use an already running SpacetimeDB server at URL instead of starting one", "URL",
           flag_name="--spacetimedb-url", ini_name="spacetimedb_url", env_name="SPACETIMEDB_URL"),
    Option("ray", ray_address, None,
           "run the games on a Ray cluster (needs pytest-rlplaytest[ray]): local (the bare flag) starts a "
           "one-machine cluster, auto joins the running one, or a ray://HOST:PORT address", "ADDRESS",
           optional_value="local"),
    Option("ray_games_per_node", positive_int, None,
           "with --rl-ray=local: game instances the machine runs at once (the custom resource rlplaytest_game; "
           "on a cluster, start each node with ray start --resources='{\"rlplaytest_game\": N}')", "N",
           default_doc="2 per CPU"),
    Option("ray_shards", positive_int, None, "with --rl-ray: game actors that share a playtest's evaluation "
           "episodes", "N", default_doc="the free game slots, at most the CPUs"),
    Option("ray_game_root", text_value, None,
           "with --rl-ray: the folder where every Ray node sees the rootdir's files (a shared filesystem); "
           "nodes run the game from there instead of receiving it packed with the job", "DIR",
           default_doc="none: the game is packed and sent"),
    Option("checkpoint_every", checkpoint_interval, CHECKPOINT_AUTO,
           "long_training scenarios save a checkpoint (model, replay buffer, normalisation, seed stream) "
           "every N timesteps into their artifacts; auto sizes the interval so checkpoints cost at most 1/50 "
           "of training time; off disables them", "N|auto|off",
           default_doc="auto: each checkpoint waits 50x the last one's cost (at least 60 s)"),
    Option("resume", boolean, False,
           "continue each interrupted long_training scenario from its last checkpoint (the budget counts the "
           "steps already done)", is_flag=True),
    Option("engine_restarts", non_negative_int, None,
           "restart a game that crashes or hangs during training at most N times (the episodes in flight are "
           "dropped and counted); evaluation never restarts", "N", default_doc="3 for long_training, else 0"),
    Option("eval_backend", choice("auto", "onnx", "torch"), "auto",
           "runtime that plays evaluation episodes: auto exports an SB3 policy once to ONNX, checks that its greedy "
           "actions match torch's and evaluates on onnxruntime, falling back to torch (reason logged and in "
           "rl_eval_backend_reason) where it cannot; onnx makes that fallback an error; torch never exports",
           "auto|onnx|torch"),
    Option("recv_spin_us", spin_microseconds, RECV_SPIN_AUTO,
           "microseconds a Godot receive polls before it blocks, on both sides: the driver waiting for a game's "
           "reply and, in games with our addon, the game waiting for the next action (saves the wake-up from a "
           "blocking read, at the price of a busy core while waiting); auto: the driver 100, the game 1000, "
           "unless the machine is oversubscribed (xdist workers x (game instances + 1) > cores, or a 1-minute "
           "load average above the cores; and on Ray nodes, whose other games it cannot see); N: both sides N; "
           "off never spins", "US|auto|off",
           default_doc="auto: driver 100 µs, game 1000 µs; off when workers x (instances + 1) > cores or load > cores"),
    Option("agent_cache", text_value, None,
           "folder where long_training scenarios store their trained agents with the game build's identity, "
           "and where model='cache:' finds them (relative to the rootdir)", "DIR", kind="path"),
    Option("ledger", text_value, None,
           "JSON-lines ledger every success-rate verdict appends a line to (test, game build, date, n, successes, "
           "threshold, alpha, outcome, seed); keep it between runs and read it with `rlplaytest ledger` "
           "(relative to the rootdir)", "PATH", kind="path", default_doc="`<artifacts>/ledger.jsonl`"),
    Option("visits_baseline", text_value, None,
           "the --rl-artifacts folder of a previous run: each test's heatmap-diff.png compares its visited cells "
           "with that run's visits.json for the same test (relative to the rootdir)", "DIR", kind="path"),
    Option("job_summary", choice("auto", "on", "off"), "auto",
           "append a Markdown job summary (scenario table, failed verdicts, plot links) to the file "
           "$GITHUB_STEP_SUMMARY names; auto: whenever it is set; on: without it, into <artifacts>/job_summary.md", "auto|on|off"),
    Option("junit_attachments", choice("auto", "on", "off"), "auto",
           "print [[ATTACHMENT|path]] lines for each scenario test's artifact files into its captured "
           "stdout (GitLab, Jenkins, Azure read them from the JUnit system-out); auto: with --junitxml",
           "auto|on|off"),
    Option("full_trace", boolean, False,
           "show an engine error's full traceback (plugin and library frames) instead of its one-line "
           "cause, the game's last log lines and the artifact folder (so do --tb=long and --tb=native)", is_flag=True),
)


@dataclass(frozen=True)
class Settings:
    """The resolved plugin-wide settings, typed; one field per entry of :data:`OPTIONS`.

    Build it with :func:`resolve` (inside pytest) or :func:`resolve_mapping` (the ``rlplaytest``
    command, tests); :meth:`defaults` gives every option's default. Paths are absolute: option paths
    resolve against :attr:`rootdir` (the path rule, :mod:`.common.paths`).
    """

    timesteps: int | None = None
    episodes: int = 20
    seed: int = 0
    artifacts: Path = Path(".rlplaytest")
    baselines_dir: Path = Path("baselines")
    update_baselines: bool = False
    inconclusive: str = "fail"
    device: str = "cpu"
    long: bool = False
    require_engines: frozenset[str] = frozenset()
    engine_timeout: float = 30.0
    torch_threads: int = 1
    machine_id: str | None = None
    godot_bin: str | None = None
    spacetime_bin: str | None = None
    spacetimedb_scope: str = "session"
    spacetimedb_url: str | None = None
    ray: str | None = None
    ray_games_per_node: int | None = None
    ray_shards: int | None = None
    ray_game_root: str | None = None
    #: timesteps between checkpoints of long_training scenarios; CHECKPOINT_AUTO (-1): auto; 0: off
    checkpoint_every: int = CHECKPOINT_AUTO
    resume: bool = False
    #: None: 3 for long_training scenarios, 0 otherwise
    engine_restarts: int | None = None
    agent_cache: Path | None = None
    #: None: ``<artifacts>/ledger.jsonl``
    ledger: Path | None = None
    visits_baseline: Path | None = None
    #: microseconds a Godot receive spins before blocking; RECV_SPIN_AUTO (-1): auto; 0: off
    recv_spin_us: int = RECV_SPIN_AUTO
    #: ``auto``, ``onnx`` or ``torch`` (:mod:`.agents.eval_backend`)
    eval_backend: str = "auto"
    #: ``auto`` (on when GITHUB_STEP_SUMMARY is set), ``on`` or ``off`` (:mod:`.reports.job_summary`)
    job_summary: str = "auto"
    #: ``auto`` (on with --junitxml), ``on`` or ``off``: ``[[ATTACHMENT|path]]`` lines (:mod:`.reports.ci`)
    junit_attachments: str = "auto"
    #: keep the full traceback of engine errors (default: the short form of :mod:`.reports.ci`)
    full_trace: bool = False
    #: the folder option paths resolve against (pytest's rootdir)
    rootdir: Path = Path(".")
    #: where each value came from: a flag, an environment variable, ``ini <name>`` or ``default``
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def defaults(cls, rootdir: str | os.PathLike[str] = ".") -> Settings:
        """Every option at its default, option paths resolved against ``rootdir``."""
        return resolve_mapping({}, rootdir=rootdir, environ={})

    def engine_required(self, scheme: str) -> bool:
        """Whether a missing ``scheme`` engine must fail its tests (``--rl-require-engines``)."""
        return "*" in self.require_engines or scheme in self.require_engines

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests, the CLI)."""
        return dataclasses.replace(self, **changes)


def markdown_text(text: str) -> str:
    """Plain ``text`` for a Markdown table cell: ``<`` escaped, so ``'godot:<path>'`` is not read as
    an HTML tag (pipes are escaped by :func:`~.common.table.render_markdown_table`)."""
    return text.replace("<", "&lt;")


def options_markdown() -> str:
    """The README's options table, generated from :data:`OPTIONS` (``tests/plugin/test_readme.py``
    keeps the README in step with it)."""
    from .common.table import render_markdown_table

    rows = [[f"`{o.usage}`", f"`{o.ini}`", f"`{o.env}`", o.shown_default(), markdown_text(o.help)] for o in OPTIONS]
    return "\n".join(render_markdown_table(["flag", "ini", "environment", "default", "meaning"], rows))


def _finish(values: dict[str, Any], sources: dict[str, str], rootdir: Path) -> Settings:
    """Resolve option paths against ``rootdir`` and build the :class:`Settings`."""
    base = PathBase.option(rootdir)
    for option in OPTIONS:
        value = values.get(option.name)
        if value is None:
            continue
        if option.kind == "path":
            values[option.name] = base.resolve(value)
        elif option.kind == "binary" and ("/" in str(value) or os.sep in str(value)):
            values[option.name] = str(base.resolve(value))
    return Settings(**values, rootdir=base.folder, sources=sources)


def _argparse_type(option: Option) -> Callable[[str], Any]:
    """Wrap a parser so argparse reports ``--flag: message`` on bad input."""
    import argparse

    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: {exc}") from None

    parse.__name__ = option.metavar or option.name
    return parse


def add_options(parser: pytest.Parser) -> None:
    """Register every option as a CLI flag and an ini key."""
    group = parser.getgroup("rlplaytest", "reinforcement-learning playtests (pytest-rlplaytest)")
    for option in OPTIONS:
        env_note = f" [env {option.env}; ini {option.ini}]"
        if option.is_flag:
            group.addoption(option.flag, action="store_const", const=True, default=None,
                            dest="rl_" + option.name, help=option.help + env_note)
        elif option.optional_value is not None:
            group.addoption(option.flag, action="store", nargs="?", const=option.parse(option.optional_value),
                            default=None, dest="rl_" + option.name, type=_argparse_type(option),
                            metavar=option.metavar, help=option.help + env_note)
        else:
            group.addoption(option.flag, action="store", default=None, dest="rl_" + option.name,
                            type=_argparse_type(option), metavar=option.metavar,
                            help=option.help + env_note)
        parser.addini(option.ini, help=option.help, type="string", default=None)


def resolve(config: pytest.Config, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option for a pytest run: CLI > environment > ini > default (env and ini values
    validated here, CLI values by argparse)."""
    return _resolve(lambda option: config.getoption("rl_" + option.name, default=None),
                    lambda option: config.getini(option.ini), environ, Path(str(config.rootpath)))


def resolve_mapping(cli: Mapping[str, Any], *, rootdir: str | os.PathLike[str] = ".",
                    environ: Mapping[str, str] | None = None,
                    ini: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option outside pytest (the ``rlplaytest`` command, tests): ``cli`` maps option
    names to raw values (parsed here, like environment values), then environment, ``ini``, default."""
    unknown = sorted(set(cli) - {o.name for o in OPTIONS})
    if unknown:
        raise SettingError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(o.name for o in OPTIONS)}")
    ini = ini or {}

    def from_cli(option: Option) -> Any:
        raw = cli.get(option.name)
        return None if raw is None else _parse_from(option, raw, option.flag)

    return _resolve(from_cli, lambda option: ini.get(option.ini), environ, Path(rootdir))


def _resolve(cli: Callable[[Option], Any], ini: Callable[[Option], Any], environ: Mapping[str, str] | None,
             rootdir: Path) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        value = cli(option)
        if value is not None:
            values[option.name], sources[option.name] = value, option.flag
            continue
        raw_env = environ.get(option.env)
        if raw_env is not None and raw_env != "":
            values[option.name] = _parse_from(option, raw_env, f"environment variable {option.env}")
            sources[option.name] = option.env
            continue
        raw_ini = ini(option)
        if raw_ini not in (None, "", []):
            values[option.name] = _parse_from(option, raw_ini, f"ini option {option.ini}")
            sources[option.name] = f"ini {option.ini}"
            continue
        values[option.name], sources[option.name] = option.default, "default"
    return _finish(values, sources, rootdir)


def _parse_from(option: Option, raw: Any, where: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as exc:
        raise SettingError(
            f"{where}={raw!r} is invalid: {exc} (same setting as {option.flag})"
        ) from None
