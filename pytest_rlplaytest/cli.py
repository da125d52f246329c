"""The ``rlplaytest`` command.

Sub-commands::

    rlplaytest report ARTIFACTS_DIR                 rebuild the run report from an artifacts folder
    rlplaytest export-onnx MODEL.zip OUT.onnx        SB3 -> ONNX (Godot RL Agents layout; RecurrentPPO:
                                                     the recurrent layout), checked
    rlplaytest install-godot-addon PROJECT [--force] install or update the Godot 3 addon in a project
    rlplaytest init PROJECT [--scene S] [--force]    scaffold playtests, pytest.ini and CI workflows
    rlplaytest baselines list|show|diff ...          inspect stored baselines
    rlplaytest replay BUNDLE                         replay a bug bundle (exit 0: the bug recurs)
    rlplaytest shrink BUNDLE OUT                     shrink a bug bundle's actions (ddmin)
    rlplaytest check-training [DIR] --min-reward R   judge training runs from their TensorBoard files
    rlplaytest ledger LEDGER [--plot OUT.png]        verdict history per test; exit 1 if one is flagged

Paths follow the path rule (:mod:`pytest_rlplaytest.common.paths`): a bundle's game resolves against
the bundle file's folder; option values (``--dir``, ``RLPLAYTEST_*``, ``GODOT_BIN``...) against
``--rootdir`` (default: the current folder), whose pytest ini file is read like pytest would
(:func:`settings_for_cli`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import Settings

#: pytest's ini files in the order it prefers them, with the section holding its options
INI_FILES = (("pytest.ini", "pytest"), ("pyproject.toml", "tool.pytest.ini_options"), ("tox.ini", "pytest"),
             ("setup.cfg", "tool:pytest"))


def read_ini(rootdir: Path) -> dict[str, str]:
    """The pytest ini options of ``rootdir`` (its first ini file pytest would use), as text."""
    import configparser

    for name, section in INI_FILES:
        path = rootdir / name
        if not path.is_file():
            continue
        if name == "pyproject.toml":
            try:
                import tomllib
            except ImportError:  # pragma: no cover - Python 3.10: no TOML reader in the stdlib
                continue
            table: Any = tomllib.loads(path.read_text())
            for part in section.split("."):
                table = table.get(part, {}) if isinstance(table, Mapping) else {}
            if table:
                return {str(k): str(v) for k, v in table.items()}
            continue
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        if parser.has_section(section):
            return dict(parser.items(section))
    return {}


def settings_for_cli(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of any ``rlplaytest`` sub-command, resolved like pytest's.

    A sub-command's argument whose ``dest`` is an option's name (``baselines_dir``, ``godot_bin``...)
    is that option's command-line value; then the environment (``RLPLAYTEST_BASELINES_DIR``, ...),
    then the pytest ini file of ``args.rootdir``, then the default. Option paths resolve against
    ``args.rootdir`` (default: the current folder).

    Raises:
        SettingError: an invalid value, naming its source.
    """
    from .settings import OPTIONS, resolve_mapping

    rootdir = Path(getattr(args, "rootdir", None) or Path.cwd()).resolve()
    cli = {o.name: getattr(args, o.name) for o in OPTIONS if getattr(args, o.name, None) is not None}
    return resolve_mapping(cli, rootdir=rootdir, environ=os.environ if environ is None else environ,
                           ini=read_ini(rootdir))


def _cmd_report(args: argparse.Namespace) -> int:
    from .reports.run_report import rows_from_artifacts, write_run_report

    root = Path(args.artifacts_dir)
    if not root.is_dir():
        print(f"rlplaytest report: {root} is not a folder (pass the --rl-artifacts folder of a run)", file=sys.stderr)
        return 2
    rows = rows_from_artifacts(root)
    if not rows:
        print(f"rlplaytest report: no */summary.json under {root}", file=sys.stderr)
        return 1
    print(write_run_report(root, rows))
    return 0


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from .agents import AgentError, algo_of_zip, check_onnx_matches, export_onnx, import_algo
    from .agents.normalize import read_from_zip
    from .agents.onnx import describe_onnx
    from .agents.onnx_recurrent import check_recurrent_onnx_matches, export_recurrent_onnx

    model_path = Path(args.model)
    if not model_path.exists():
        print(f"rlplaytest export-onnx: {model_path} does not exist", file=sys.stderr)
        return 2
    try:
        algo = algo_of_zip(model_path, args.algo)
        if args.layout == "recurrent" and algo != "RecurrentPPO":
            raise AgentError(f"--layout recurrent is for RecurrentPPO models; {model_path} holds a {algo} model "
                             "(export it without --layout: the Godot plugin layout)")
        recurrent = algo == "RecurrentPPO" and args.layout != "plugin"
        export, check = ((export_recurrent_onnx, check_recurrent_onnx_matches) if recurrent
                         else (export_onnx, check_onnx_matches))
        model = import_algo(algo).load(model_path, device="cpu")
        normalization = read_from_zip(model_path)  # VecNormalize statistics saved with the model: folded in
        out = export(model, Path(args.out), normalization=normalization)
        agreement = check(model, out, n=args.check_samples, seed=0, normalization=normalization)
    except AgentError as exc:
        print(f"rlplaytest export-onnx: {exc}", file=sys.stderr)
        return 1
    what, how = (("greedy actions and LSTM states", " (sequences carrying the state, with episode starts)")
                 if recurrent else ("greedy actions", ""))
    print(f"wrote {out} ({algo}, {describe_onnx(out)})")
    print(f"ONNX and SB3 {what} agree on {agreement:.1%} of {args.check_samples} sampled observations{how}")
    if agreement < 1.0:
        print("rlplaytest export-onnx: the exported policy does not match SB3's actions", file=sys.stderr)
        return 1
    return 0


def _cmd_install_addon(args: argparse.Namespace) -> int:
    from .engines.godot.install import AddonConflict, plan_addon_install

    try:
        plan = plan_addon_install(Path(args.project))
        plan.apply(force=args.force)
    except (FileNotFoundError, AddonConflict) as exc:
        print(f"rlplaytest install-godot-addon: {exc}", file=sys.stderr)
        return 1
    if plan.up_to_date:
        print(f"the rlplaytest Godot addon in {plan.dest} is up to date")
        return 0
    done = [f"{verb} {', '.join(names)}" for verb, names in (
        ("added", plan.add), ("updated", plan.update), ("replaced local changes to", plan.changed),
        ("removed", plan.remove)) if names]
    print(f"installed the rlplaytest Godot addon into {plan.dest}: {'; '.join(done)}")
    if plan.foreign:
        print(f"left alone (not the addon's): {', '.join(plan.foreign)}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, plan_init

    try:
        plan = plan_init(Path(args.project), scene=args.scene, godot=args.godot, agent_cache=args.rl_agent_cache)
        written = plan.apply(force=args.force)
    except ScaffoldError as exc:
        print(f"rlplaytest init: {exc}", file=sys.stderr)
        return 1
    for path in plan.files:
        print(f"{'wrote' if path in written else 'unchanged'} {path}")
    return 0


def _add_init(sub: Any) -> None:
    """The ``init`` sub-command's arguments."""
    p = sub.add_parser("init", help="scaffold a Godot project's playtests: conftest.py, an example scenario test, "
                       "pytest.ini entries and GitHub Actions workflows (CI and nightly)")
    p.add_argument("project", help="the Godot project folder (holding project.godot)")
    p.add_argument("--scene", default=None, help="the scene to playtest (res://...; default: the main scene, else "
                   "the first scene holding a Sync node)")
    p.add_argument("--godot", type=int, choices=(3, 4), default=None, help="Godot major version the workflows "
                   "install (default: from project.godot's config_version)")
    p.add_argument("--rl-agent-cache", default=None, metavar="DIR", help="the nightly workflow passes "
                   "--rl-agent-cache=DIR (relative to the project) and keeps DIR with actions/cache")
    p.add_argument("--force", action="store_true", help="overwrite files (and pytest.ini entries) that differ")
    p.set_defaults(func=_cmd_init)


@contextlib.contextmanager
def _bundle_engine(command: str, args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """Load ``args.bundle`` and start the engine it was recorded with (closed afterwards); the
    bundle's game resolves against the bundle file's folder.

    Raises:
        _CommandError: with the message to print (exit code 2).
    """
    import tempfile

    from .bughunt.bundle import BundleError, ReplayBundle
    from .bughunt.session import open_engine
    from .engines.base import EngineError
    from .settings import SettingError

    path = Path(args.bundle).resolve()
    try:
        settings = settings_for_cli(args)
        bundle = ReplayBundle.load(path)
    except (BundleError, SettingError) as exc:
        raise _CommandError(f"rlplaytest {command}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix=f"rlplaytest-{command}-") as tmp:
        engine = open_engine(bundle, path, Path(tmp), settings)
        try:
            engine.start()
            yield bundle, engine
        except (EngineError, ValueError) as exc:
            raise _CommandError(f"rlplaytest {command}: {exc}") from None
        finally:
            engine.close()


class _CommandError(Exception):
    """A sub-command failed with a message for stderr (exit code 2)."""


def load_bug_predicate(spec: str, command: str) -> Any:
    """``--bug FILE.py:NAME``: the callable ``NAME`` of the Python file ``FILE.py`` (relative to the
    current folder), the predicate a bundle with a ``predicate:`` signature was recorded with."""
    import importlib.util

    file, sep, name = spec.rpartition(":")
    path = Path(file)
    if not sep or not name or path.suffix != ".py":
        raise _CommandError(f"rlplaytest {command}: --bug {spec!r} must be FILE.py:NAME (a Python file and the name "
                            "of the predicate in it, e.g. tests/test_bugs.py:inside_solid)")
    if not path.is_file():
        raise _CommandError(f"rlplaytest {command}: --bug {spec!r}: {path.resolve()} is not a file")
    module_spec = importlib.util.spec_from_file_location(f"_rlplaytest_bug_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.resolve().parent))  # (the file's own imports, as pytest's rootdir-relative ones)
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.resolve().parent))
    predicate = getattr(module, name, None)
    if not callable(predicate):
        raise _CommandError(f"rlplaytest {command}: --bug {spec!r}: {path} defines no callable {name!r}")
    return predicate


def _signature(bundle: Any, args: argparse.Namespace, command: str) -> Any:
    """The bundle's bug signature, or ``--bug``'s predicate (predicate bundles need it: code is not data)."""
    from .bughunt.bundle import BundleError
    from .bughunt.session import signature_of
    from .bughunt.signature import BugSignature

    if getattr(args, "bug", None):
        if not str(bundle.signature).startswith("predicate:"):
            raise _CommandError(f"rlplaytest {command}: --bug is for bundles recorded with a predicate; this one's "
                                f"signature is {bundle.signature!r} (drop --bug)")
        return BugSignature.parse(load_bug_predicate(args.bug, command))
    try:
        return signature_of(bundle)
    except BundleError as exc:
        raise _CommandError(f"rlplaytest {command}: {exc}; or pass the predicate: --bug FILE.py:NAME") from None


def _cmd_replay(args: argparse.Namespace) -> int:
    from .bughunt.session import replay_bundle

    try:
        with _bundle_engine("replay", args) as (bundle, engine):
            report = replay_bundle(bundle, Path(args.bundle), engine, times=args.times, parallel=args.parallel,
                                   signature=_signature(bundle, args, "replay"))
            build, keys = engine.describe(), type(engine).IDENTITY_KEYS
    except _CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report.describe())
    if not report.reproduced:
        if args.restamp:
            print("not restamped: the bug did not recur in every replay", file=sys.stderr)
        return 1
    if args.restamp and report.build_changes:
        bundle.with_build(build, keys).save(args.bundle)
        print(f"restamped {args.bundle}: it reproduces on this build ({'; '.join(report.build_changes)})")
    return 0


def _cmd_shrink(args: argparse.Namespace) -> int:
    from .bughunt.replay import Replayer
    from .bughunt.shrink import shrink

    try:
        with _bundle_engine("shrink", args) as (bundle, engine):
            venv = engine.make_replay_vec_env(args.parallel)
            replayer = Replayer(venv, _signature(bundle, args, "shrink"), getattr(venv, "new_log_lines", None))
            result = shrink(replayer, bundle.seed, bundle.actions)
    except _CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = bundle.with_actions(result.actions, result.hit_step).save(args.out)
    print(f"shrunk {bundle.original_length} -> {len(result.actions)} actions ({result.ratio:.0%}) in "
          f"{result.replays} replays; wrote {out}")
    return 0


def _training_folders(root: Path) -> list[Path]:
    """The training runs under ``root``: ``root`` itself when it is one, else its test folders that
    hold a ``training.json``."""
    if (root / "training.json").is_file() or (root / "tensorboard").is_dir() or root.name.startswith("train_") \
            or any(p.name.startswith("events.out.tfevents") for p in root.iterdir()):
        return [root]
    return sorted(p.parent for p in root.glob("*/training.json"))


def _cmd_check_training(args: argparse.Namespace) -> int:
    from .verdicts import VerdictFailure, VerdictUsageError, assert_training

    root = Path(args.dir) if args.dir else settings_for_cli(args).artifacts
    if not root.is_dir():
        print(f"rlplaytest check-training: {root} is not a folder (pass a test's artifact folder, or the "
              "--rl-artifacts folder of a run)", file=sys.stderr)
        return 2
    folders = _training_folders(root)
    if not folders:
        print(f"rlplaytest check-training: no training run under {root} (no training.json, tensorboard/ or "
              "event files)", file=sys.stderr)
        return 2
    failed = 0
    for folder in folders:
        try:
            verdict = assert_training(folder, min_reward=args.min_reward, min_success=args.min_success,
                                      improving=args.improving, alpha=args.alpha, window=args.window,
                                      frame_p99_ms=args.frame_p99_ms)
        except VerdictFailure as exc:
            failed += 1
            print(f"FAIL {folder}\n{exc}\n")
        except VerdictUsageError as exc:
            print(f"rlplaytest check-training: {folder}: {exc}", file=sys.stderr)
            return 2
        else:
            print(f"ok   {folder}\n{verdict.message}\n")
    print(f"{len(folders) - failed} of {len(folders)} training run(s) meet the criteria")
    return 1 if failed else 0


def _window(text: str) -> float | int:
    value = float(text)
    return int(value) if value >= 1 and value.is_integer() else value


def _cmd_baselines(args: argparse.Namespace) -> int:
    from .verdicts.cli import run_baselines_command

    return int(run_baselines_command(args))


ROOTDIR_HELP = ("the project root: option paths (GODOT_BIN, RLPLAYTEST_*) are relative to it and its pytest ini "
                "is read (default: the current folder); the bundle's game is relative to the bundle file")


def _add_check_training(sub: Any) -> None:
    """The ``check-training`` sub-command's arguments."""
    p = sub.add_parser("check-training", help="judge the training runs in a folder from their TensorBoard event files "
                       "(exit 0: every run meets the criteria, 1: one does not, 2: nothing to judge)")
    p.add_argument("dir", nargs="?", default=None, help="a test's artifact folder, or an --rl-artifacts folder (each "
                   "test folder with a training.json is judged; default: the project's --rl-artifacts)")
    p.add_argument("--rootdir", default=None, help=ROOTDIR_HELP)
    p.add_argument("--min-reward", type=float, default=None, help="lower bound on the final rollout/ep_rew_mean")
    p.add_argument("--min-success", type=float, default=None, help="lower bound on the final rollout/success_rate")
    p.add_argument("--improving", action="store_true", help="the training-episode returns must improve (one-sided "
                   "Mann-Whitney U test, last window against the first)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of --improving (default 0.05)")
    p.add_argument("--window", type=_window, default=0.25, help="first/last window: a fraction of the episodes "
                   "(<= 0.5) or a count (default 0.25)")
    p.add_argument("--frame-p99-ms", type=float, default=None, help="budget on the per-window p99 of frame_ms during "
                   "training")
    p.set_defaults(func=_cmd_check_training)


def _cmd_ledger(args: argparse.Namespace) -> int:
    from .verdicts.ledger import LedgerError, plot_ledger, read_ledger, render_histories, summarize

    try:
        entries = read_ledger(Path(args.ledger))
        if not entries:
            print(f"rlplaytest ledger: {args.ledger} holds no verdicts", file=sys.stderr)
            return 1
        histories = summarize(entries, alpha_factor=args.alpha_factor, level=args.level)
    except LedgerError as exc:
        print(f"rlplaytest ledger: {exc}", file=sys.stderr)
        return 2
    print("\n".join(render_histories(histories, alpha_factor=args.alpha_factor, level=args.level)))
    if args.plot:
        print(f"wrote {plot_ledger(entries, Path(args.plot), window=args.window)}")
    return 1 if any(h.flagged for h in histories) else 0


def _add_ledger(sub: Any) -> None:
    p = sub.add_parser("ledger", help="per test: runs, failures, failure rate and its Clopper-Pearson interval "
                       "from a verdict ledger (--rl-ledger); FLAG (exit 1) when a test fails significantly more "
                       "often than its alpha")
    p.add_argument("ledger", help="the JSON-lines ledger (default of a run: <artifacts>/ledger.jsonl)")
    p.add_argument("--alpha-factor", type=float, default=1.0, help="flag only a failure rate above this many "
                   "times alpha (default 1)")
    p.add_argument("--level", type=float, default=0.01, help="level of the one-sided exact binomial test "
                   "(default 0.01)")
    p.add_argument("--plot", default=None, help="write a trend plot (failure rate of the last --window runs)")
    p.add_argument("--window", type=int, default=10, help="runs in the plot's rolling window (default 10)")
    p.set_defaults(func=_cmd_ledger)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rlplaytest`` command."""
    parser = argparse.ArgumentParser(prog="rlplaytest", description="pytest-rlplaytest utilities")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="rebuild the run report (report.md) from an artifacts folder")
    p.add_argument("artifacts_dir", help="the --rl-artifacts folder of a run (default .rlplaytest)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export-onnx", help="export an SB3 .zip to ONNX in the Godot RL Agents layout")
    p.add_argument("model", help="the SB3 model .zip")
    p.add_argument("out", help="the .onnx file to write")
    p.add_argument("--algo", default="PPO", help="algorithm if the .zip does not say (default PPO)")
    p.add_argument("--check-samples", type=int, default=256, help="observations sampled for the agreement check")
    p.add_argument("--layout", choices=("auto", "plugin", "recurrent"), default="auto",
                   help="auto (default): the Godot plugin layout, or for RecurrentPPO the recurrent layout "
                   "(state_ins/state_outs carry the LSTM state; the plugin cannot run it); plugin: refuses "
                   "RecurrentPPO, saying why")
    p.set_defaults(func=_cmd_export_onnx)

    p = sub.add_parser("install-godot-addon", help="install or update the Godot 3 addon in PROJECT/addons/rlplaytest "
                       "(out-of-date copies are updated; files changed in the project need --force)")
    p.add_argument("project", help="the Godot project folder (holding project.godot)")
    p.add_argument("--force", action="store_true", help="also replace addon files changed in the project")
    p.set_defaults(func=_cmd_install_addon)

    p = sub.add_parser("replay", help="replay a bug bundle; exit 0 if the bug recurs every time, 1 if not")
    p.add_argument("bundle", help="the replay bundle (.json); its game path is relative to it")
    p.add_argument("--rootdir", default=None, help=ROOTDIR_HELP)
    p.add_argument("--times", type=int, default=1, help="how many replays (default 1)")
    p.add_argument("--parallel", type=int, default=1, help="game instances at once (default 1)")
    p.add_argument("--restamp", action="store_true",
                   help="after a changed game build, when every replay reproduces the bug, record the current "
                        "build in the bundle (its BuildChangedWarning stops); nothing is written otherwise")
    p.add_argument("--bug", default=None, metavar="FILE.py:NAME",
                   help="the predicate a bundle with a predicate signature was recorded with (the callable NAME "
                        "in FILE.py, relative to the current folder); bundles of events and log patterns need none")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("shrink", help="shrink a bug bundle's actions (ddmin) and write the result")
    p.add_argument("bundle", help="the replay bundle (.json); its game path is relative to it")
    p.add_argument("out", help="where to write the shrunk bundle")
    p.add_argument("--rootdir", default=None, help=ROOTDIR_HELP)
    p.add_argument("--parallel", type=int, default=2, help="game instances at once (default 2)")
    p.add_argument("--bug", default=None, metavar="FILE.py:NAME",
                   help="the predicate a bundle with a predicate signature was recorded with (the callable NAME "
                        "in FILE.py, relative to the current folder); bundles of events and log patterns need none")
    p.set_defaults(func=_cmd_shrink)

    _add_check_training(sub)
    _add_ledger(sub)
    _add_init(sub)

    p = sub.add_parser("baselines", help="list, show or diff stored baselines")
    from .verdicts.cli import add_baselines_arguments

    add_baselines_arguments(p)
    p.set_defaults(func=_cmd_baselines)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlplaytest`` console script."""
    from .settings import SettingError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingError as exc:
        print(f"rlplaytest {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
