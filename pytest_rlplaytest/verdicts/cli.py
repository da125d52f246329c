"""``rlplaytest baselines list|show|diff``: inspect stored baselines from the command line.

The ``rlplaytest`` command registers these with :func:`add_baselines_parser` and dispatches to
:func:`run_baselines` (or directly to :func:`baselines_list`, :func:`baselines_show`,
:func:`baselines_diff`); each takes the parsed ``argparse.Namespace`` and returns an exit code:
0 success, 1 ``diff`` found the success rate significantly lower, 2 a usage or file error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..common.table import fmt_number, render_text_table
from ..settings import SettingError, Settings
from . import config as _config
from .baselines import baseline_path, list_baselines, load_baseline, machine_id
from .errors import BaselineError
from .stats import CI_LABEL, fisher_exact_less, success_interval

__all__ = ["add_baselines_arguments", "add_baselines_parser", "baselines_diff", "baselines_list", "baselines_show",
           "run_baselines", "run_baselines_command"]


def add_baselines_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``baselines {list,show,diff}`` to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "baselines", help="inspect stored baselines", description=__doc__.splitlines()[0])
    add_baselines_arguments(parser)
    return parser


def add_baselines_arguments(parser: argparse.ArgumentParser) -> None:
    """Give an existing ``baselines`` parser its options and ``list``/``show``/``diff`` sub-commands."""
    parser.add_argument("--rootdir", default=None, help="project root (default: current folder)")
    parser.add_argument("--dir", dest="baselines_dir", default=None,
                        help="baselines folder, relative to rootdir (default: the rl_baselines_dir setting, "
                             "i.e. $RLPLAYTEST_BASELINES_DIR or baselines)")
    sub = parser.add_subparsers(dest="baselines_command", required=True, metavar="{list,show,diff}")
    p_list = sub.add_parser("list", help="list stored baselines with their headline numbers")
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_show = sub.add_parser("show", help="show one baseline")
    p_show.add_argument("target", help="a baseline file, or a test node id (tests/test_x.py::test_y)")
    p_show.add_argument("--json", action="store_true", help="print the stored JSON")
    p_diff = sub.add_parser("diff", help="compare two baselines, or a baseline with a run's summary.json")
    p_diff.add_argument("old", help="baseline file, node id, or summary.json")
    p_diff.add_argument("new", help="baseline file, node id, or summary.json")
    p_diff.add_argument("--machine", default=None, help="machine id for frame times (default: this machine)")
    p_diff.add_argument("--alpha", type=float, default=0.05, help="level of Fisher's test (default 0.05)")
    parser.set_defaults(func=run_baselines)


def run_baselines(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Dispatch ``args.baselines_command`` to list/show/diff, with the settings of ``--rootdir``
    (``--dir`` or the ``baselines_dir`` setting; ``machine_id`` for frame times)."""
    handlers = {"list": baselines_list, "show": baselines_show, "diff": baselines_diff}
    handler = handlers.get(getattr(args, "baselines_command", None) or "")
    if handler is None:
        print("rlplaytest baselines: choose list, show or diff", file=sys.stderr)
        return 2
    try:
        settings = _settings(args)
    except SettingError as exc:
        return _err(str(exc))
    token = _config.configure(settings)
    try:
        return handler(args, out)
    finally:
        _config.restore(token)


#: the name the ``rlplaytest`` command dispatches to
run_baselines_command = run_baselines


# -- helpers ----------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    """The settings of the command, resolved as for every ``rlplaytest`` sub-command: ``--dir`` over
    ``RLPLAYTEST_BASELINES_DIR`` over the rootdir's pytest ini over the default, against ``--rootdir``."""
    from ..cli import settings_for_cli

    return settings_for_cli(args)


def _dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    settings = _settings(args)
    return settings.rootdir, settings.baselines_dir


def _resolve(target: str, args: argparse.Namespace) -> Path:
    path = Path(target)
    if path.is_file():
        return path
    rootdir, bdir = _dirs(args)
    if "::" in target:
        return baseline_path(bdir, rootdir, rootdir / target.split("::", 1)[0], target)
    if (bdir / target).is_file():
        return bdir / target
    return path


def _render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(render_text_table(header, rows))


def _num(value: Any, digits: int = 4) -> str:
    if value is None or isinstance(value, (int, float)):
        return fmt_number(value, digits)
    return str(value)


def _err(message: str) -> int:
    print(f"rlplaytest baselines: {message}", file=sys.stderr)
    return 2


# -- list -------------------------------------------------------------------------------------------
def baselines_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """List every stored baseline: test, success counts, mean return, machines with frame times."""
    out = out or sys.stdout
    rootdir, bdir = _dirs(args)
    paths = list_baselines(bdir)
    entries: list[dict[str, Any]] = []
    bad = 0
    for path in paths:
        shown = os.path.relpath(path, rootdir)
        try:
            base = load_baseline(path)
        except BaselineError as exc:
            bad += 1
            entries.append({"path": shown, "error": str(exc)})
            continue
        assert base is not None
        counts = base.success_counts
        entries.append({
            "path": shown, "nodeid": base.nodeid,
            "success": f"{counts[0]}/{counts[1]}" if counts else None,
            "mean_return": (base.metrics.get("return") or {}).get("mean"),
            "machines": sorted(base.machines), "updated": base.data.get("updated"),
        })
    if getattr(args, "json", False):
        print(json.dumps(entries, indent=2), file=out)
        return 0
    if not entries:
        print(f"no baselines under {bdir}", file=out)
        return 0
    rows = [[e["path"], e.get("nodeid") or "-", e.get("success") or "-", _num(e.get("mean_return")),
             ",".join(e.get("machines") or []) or "-", e.get("updated") or "-"] if "error" not in e
            else [e["path"], "(unreadable)", "-", "-", "-", "-"] for e in entries]
    print(_render(["file", "test", "success", "mean return", "machines (frame times)", "updated"], rows), file=out)
    print(f"\n{len(entries)} baseline(s) under {bdir}" + (f"; {bad} unreadable (see `show`)" if bad else ""),
          file=out)
    return 0


# -- show -------------------------------------------------------------------------------------------
def baselines_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Show one baseline: what it was recorded from and its metrics."""
    out = out or sys.stdout
    path = _resolve(args.target, args)
    try:
        base = load_baseline(path)
    except BaselineError as exc:
        return _err(str(exc))
    if base is None:
        return _err(f"no baseline at {path}")
    if getattr(args, "json", False):
        print(json.dumps(base.data, indent=2, sort_keys=True), file=out)
        return 0
    data = base.data
    print(f"{path}\n  test: {base.nodeid}\n  schema {data['schema_version']}, plugin {data.get('plugin_version')}, "
          f"updated {data.get('updated')}", file=out)
    scenario = data.get("scenario") or {}
    if scenario:
        print("  scenario: " + ", ".join(f"{k}={v}" for k, v in sorted(scenario.items())), file=out)
    if data.get("engine"):
        print("  game build: " + ", ".join(f"{k}={v}" for k, v in sorted(data["engine"].items())), file=out)
    flat = _flatten_baseline(data, None)
    rows = [[name, _num(value)] for name, value in flat.items() if not name.startswith("_")]
    print(_render(["metric", "value"], rows), file=out)
    for mid, entry in sorted(base.machines.items()):
        info = entry.get("info") or {}
        print(f"\n  machine {mid}: {info.get('cpu')} x{info.get('cpu_count')}, {info.get('system')} "
              f"{info.get('machine')}, python {info.get('python_version')}, updated {entry.get('updated')}", file=out)
        rows = [[f"{metric}.{stat}", _num(v)] for metric, stats in sorted((entry.get("metrics") or {}).items())
                for stat, v in stats.items()]
        print(_render(["metric", "value"], rows), file=out)
    return 0


# -- diff -------------------------------------------------------------------------------------------
def _flatten_stats(prefix: str, stats: Mapping[str, Any] | None, out: dict[str, Any]) -> None:
    for stat, value in (stats or {}).items():
        if stat in ("ci_method",):
            continue
        out[f"{prefix}.{stat}"] = value


def _flatten_baseline(data: Mapping[str, Any], machine: str | None) -> dict[str, Any]:
    metrics = data.get("metrics") or {}
    flat: dict[str, Any] = {}
    success = metrics.get("success")
    if success:
        flat["_success"] = (int(success["successes"]), int(success["judged"]))
        flat["success_rate"] = success.get("rate")
    flat["episodes"] = metrics.get("episodes")
    for name in ("return", "length"):
        _flatten_stats(name, metrics.get(name), flat)
    for name, stats in sorted((metrics.get("steps") or {}).items()):
        _flatten_stats(name, stats, flat)
    machines = data.get("machines") or {}
    if machine is None and machines:
        here = machine_id()
        machine = here if here in machines else sorted(machines)[0]
    if machine is not None and machine in machines:
        for name, stats in sorted((machines[machine].get("metrics") or {}).items()):
            _flatten_stats(name, stats, flat)
    return flat


def _flatten_summary(data: Mapping[str, Any]) -> dict[str, Any]:
    """A run's ``summary.json`` (``PlaytestResult.to_json``) in the same flat form."""
    s = data["summary"]
    flat: dict[str, Any] = {}
    if s.get("judged_episodes"):
        flat["_success"] = (int(s["successes"]), int(s["judged_episodes"]))
        flat["success_rate"] = s.get("success_rate")
    flat["episodes"] = s.get("episodes")
    for src, dst in (("mean_return", "return.mean"), ("std_return", "return.std"), ("iqm_return", "return.iqm"),
                     ("mean_length", "length.mean")):
        if s.get(src) is not None:
            flat[dst] = s[src]
    for name, stats in sorted((s.get("metrics") or {}).items()):
        for stat, value in stats.items():
            flat[f"{name}.{'median' if stat == 'p50' else stat}"] = value
    return flat


def _load_any(target: str, args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    path = _resolve(target, args)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path} is not valid JSON ({exc})") from None
    if isinstance(raw, dict) and "summary" in raw and "schema_version" not in raw:
        return path, _flatten_summary(raw)
    base = load_baseline(path)
    assert base is not None
    return path, _flatten_baseline(base.data, getattr(args, "machine", None))


def baselines_diff(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Compare two baselines (or a baseline and a run's ``summary.json``) metric by metric.

    The success rates are compared with Fisher's exact one-sided test (is ``new`` lower than
    ``old``?); exit code 1 when it is at level ``--alpha``.
    """
    out = out or sys.stdout
    try:
        old_path, old = _load_any(args.old, args)
        new_path, new = _load_any(args.new, args)
    except BaselineError as exc:
        return _err(str(exc))
    alpha = float(getattr(args, "alpha", 0.05))
    rows = []
    for name in [k for k in old if not k.startswith("_")] + [k for k in new if k not in old and not k.startswith("_")]:
        a, b = old.get(name), new.get(name)
        change = "-"
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            change = f"{b - a:+.4g}" + (f" ({(b - a) / abs(a):+.1%})" if a else "")
        rows.append([name, _num(a), _num(b), change])
    print(f"old: {old_path}\nnew: {new_path}", file=out)
    print(_render(["metric", "old", "new", "change"], rows), file=out)
    code = 0
    if "_success" in old and "_success" in new:
        (ka, na), (kb, nb) = old["_success"], new["_success"]
        p_value = fisher_exact_less(kb, nb, ka, na)
        lo_a, hi_a = success_interval(ka, na)
        lo_b, hi_b = success_interval(kb, nb)
        lower = p_value <= alpha
        print(f"\nsuccess rate {ka}/{na} [{lo_a:.3f}, {hi_a:.3f}] -> {kb}/{nb} [{lo_b:.3f}, {hi_b:.3f}] ({CI_LABEL}); "
              f"Fisher's exact one-sided test of a lower new rate: p={p_value:.4g} -> "
              + ("significantly lower" if lower else "not significantly lower") + f" at alpha={alpha:g}", file=out)
        code = 1 if lower else 0
    return code
