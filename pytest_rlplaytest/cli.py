"""The ``rlplaytest`` command.

Sub-commands::

    rlplaytest report ARTIFACTS_DIR                 rebuild the run report from an artifacts folder
    rlplaytest export-onnx MODEL.zip OUT.onnx        SB3 -> ONNX (Godot RL Agents layout), checked
    rlplaytest install-godot-addon PROJECT           copy the Godot 3 addon into a Godot project
    rlplaytest baselines list|show|diff ...          inspect stored baselines
    rlplaytest replay BUNDLE                         replay a bug bundle (exit 0: the bug recurs)
    rlplaytest shrink BUNDLE OUT                     shrink a bug bundle's actions (ddmin)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


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
    from .agents import AgentError, algo_of_zip, check_onnx_matches, export_onnx

    model_path = Path(args.model)
    if not model_path.exists():
        print(f"rlplaytest export-onnx: {model_path} does not exist", file=sys.stderr)
        return 2
    from .agents import import_algo

    try:
        algo = algo_of_zip(model_path, args.algo)
        model = import_algo(algo).load(model_path, device="cpu")
        out = export_onnx(model, Path(args.out))
        agreement = check_onnx_matches(model, out, n=args.check_samples, seed=0)
    except AgentError as exc:
        print(f"rlplaytest export-onnx: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({algo}); ONNX and SB3 greedy actions agree on {agreement:.1%} of "
          f"{args.check_samples} sampled observations")
    if agreement < 1.0:
        print("rlplaytest export-onnx: the exported policy does not match SB3's actions", file=sys.stderr)
        return 1
    return 0


def _cmd_install_addon(args: argparse.Namespace) -> int:
    try:
        from .engines.godot.install import install_godot_addon
    except ImportError as exc:  # pragma: no cover - the addon ships with the package
        print(f"rlplaytest install-godot-addon: {exc}", file=sys.stderr)
        return 2
    try:
        dest = install_godot_addon(Path(args.project), force=args.force)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"rlplaytest install-godot-addon: {exc}", file=sys.stderr)
        return 1
    print(f"installed the rlplaytest Godot addon into {dest}")
    return 0


@contextlib.contextmanager
def _bundle_engine(command: str, bundle_path: str, rootdir: str) -> Iterator[tuple[Any, Any]]:
    """Load a bundle and start the engine it was recorded with (closed afterwards).

    Raises:
        _CommandError: with the message to print and the exit code (2).
    """
    import tempfile

    from .bughunt.bundle import BundleError, ReplayBundle
    from .bughunt.session import open_engine
    from .engines.base import EngineError
    from .settings import Settings

    try:
        bundle = ReplayBundle.load(bundle_path)
    except BundleError as exc:
        raise _CommandError(f"rlplaytest {command}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix=f"rlplaytest-{command}-") as tmp:
        engine = open_engine(bundle, bundle_path, Path(tmp), Settings.defaults(Path(rootdir).resolve()))
        try:
            engine.start()
            yield bundle, engine
        except (EngineError, ValueError) as exc:
            raise _CommandError(f"rlplaytest {command}: {exc}") from None
        finally:
            engine.close()


class _CommandError(Exception):
    """A sub-command failed with a message for stderr (exit code 2)."""


def _cmd_replay(args: argparse.Namespace) -> int:
    from .bughunt.session import replay_bundle

    try:
        with _bundle_engine("replay", args.bundle, args.rootdir) as (bundle, engine):
            report = replay_bundle(bundle, Path(args.bundle), engine, times=args.times, parallel=args.parallel)
    except _CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report.describe())
    return 0 if report.reproduced else 1


def _cmd_shrink(args: argparse.Namespace) -> int:
    from .bughunt.replay import Replayer
    from .bughunt.session import signature_of
    from .bughunt.shrink import shrink

    try:
        with _bundle_engine("shrink", args.bundle, args.rootdir) as (bundle, engine):
            venv = engine.make_replay_vec_env(args.parallel)
            replayer = Replayer(venv, signature_of(bundle), getattr(venv, "new_log_lines", None))
            result = shrink(replayer, bundle.seed, bundle.actions)
    except _CommandError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = bundle.with_actions(result.actions, result.hit_step).save(args.out)
    print(f"shrunk {bundle.original_length} -> {len(result.actions)} actions ({result.ratio:.0%}) in "
          f"{result.replays} replays; wrote {out}")
    return 0


def _cmd_baselines(args: argparse.Namespace) -> int:
    from .verdicts.cli import run_baselines_command

    return int(run_baselines_command(args))


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
    p.set_defaults(func=_cmd_export_onnx)

    p = sub.add_parser("install-godot-addon", help="copy the Godot 3 addon into PROJECT/addons/rlplaytest")
    p.add_argument("project", help="the Godot project folder (holding project.godot)")
    p.add_argument("--force", action="store_true", help="replace an installed copy")
    p.set_defaults(func=_cmd_install_addon)

    p = sub.add_parser("replay", help="replay a bug bundle; exit 0 if the bug recurs every time, 1 if not")
    p.add_argument("bundle", help="the replay bundle (.json)")
    p.add_argument("--rootdir", default=".", help="folder the bundle's env path is relative to (the pytest rootdir)")
    p.add_argument("--times", type=int, default=1, help="how many replays (default 1)")
    p.add_argument("--parallel", type=int, default=1, help="game instances at once (default 1)")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("shrink", help="shrink a bug bundle's actions (ddmin) and write the result")
    p.add_argument("bundle", help="the replay bundle (.json)")
    p.add_argument("out", help="where to write the shrunk bundle")
    p.add_argument("--rootdir", default=".", help="folder the bundle's env path is relative to")
    p.add_argument("--parallel", type=int, default=2, help="game instances at once (default 2)")
    p.set_defaults(func=_cmd_shrink)

    p = sub.add_parser("baselines", help="list, show or diff stored baselines")
    from .verdicts.cli import add_baselines_arguments

    add_baselines_arguments(p)
    p.set_defaults(func=_cmd_baselines)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlplaytest`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
