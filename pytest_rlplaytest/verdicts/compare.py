"""Comparing a playtest with its stored baseline (:func:`assert_matches_baseline`).

A tolerance that names a metric the game does not report can never be met, so it is refused before
anything is compared or written: the test fails once, saying the game does not report the metric,
and ``--rl-update-baselines`` does not write a baseline that would fail on the next run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common.paths import PathBase
from ..common.table import fmt_number
from ..engines.base import identity_changes
from . import config as _config
from .baselines import (
    Baseline,
    is_machine_metric,
    load_baseline,
    machine_id,
    resolve_paths,
    store_paths,
    update_command,
    write_baseline,
)
from .errors import BaselineMissing, BaselineWarning, MissingMetricError, ToleranceError, VerdictUsageError
from .frames import unreported_metric_message
from .stats import CI_LABEL, fisher_exact_less, success_interval, t_interval
from .table import FAIL, NOT_JUDGED, OK, Row, fmt_interval
from .tolerances import Tolerance, metric_value, parse_tolerances
from .verdict import FAILED, PASS, UPDATED, Verdict, conclude, current_nodeid

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = ["DEFAULT_TOLERANCES", "assert_matches_baseline", "require_reported"]

#: what ``assert_matches_baseline`` checks when given no tolerances (metrics the game does not
#: report are skipped for these defaults, but fail when named explicitly)
DEFAULT_TOLERANCES = ("return:10%", "frame_ms.p99:10%")

_SCENARIO_KEYS = ("env", "engine", "kind", "algo", "timesteps", "model", "episodes", "seed", "success",
                  "deterministic")


def _observed_values(result: PlaytestResult, metric: str) -> np.ndarray:
    if metric == "return":
        return result.returns
    if metric == "length":
        return result.lengths
    return result.step_values(metric)


def _unit(metric: str) -> str:
    return " ms" if metric.endswith("_ms") else ""


def require_reported(result: PlaytestResult, tolerances: Iterable[Tolerance], *, update: bool) -> None:
    """Refuse tolerances naming a metric the game does not report (raises :class:`MissingMetricError`)."""
    __tracebackhide__ = True
    for tol in tolerances:
        if _observed_values(result, tol.metric).size == 0:
            consequence = ("so --rl-update-baselines wrote no baseline" if update
                           else "so it cannot be compared with a baseline")
            raise MissingMetricError(
                f"tolerance {tol.text!r} cannot be judged: {unreported_metric_message(result, tol.metric)}, "
                f"or remove the tolerance; {consequence} (updating the baseline cannot fix this)")


def _scenario_changes(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    changes = []
    for key in _SCENARIO_KEYS:
        if key in stored and key in current and stored[key] != current[key]:
            changes.append(f"{key} {stored[key]!r} -> {current[key]!r}")
    return changes


def _success_row(base: Baseline, result: PlaytestResult, alpha: float, details: dict[str, Any]) -> Row | None:
    counts = base.success_counts
    judged = len(result.judged)
    if counts is None and judged == 0:
        return None
    if counts is None:
        return Row(metric="success_rate", baseline="(not recorded)", observed=f"{result.success_rate:.3f}",
                   allowed="baseline with a success rate", verdict=FAIL)
    kb, nb = counts
    base_text = f"{kb / nb:.3f} ({kb}/{nb})" if nb else "-"
    if judged == 0:
        return Row(metric="success_rate", baseline=base_text, observed="(no success verdicts)",
                   allowed="a success verdict per episode", verdict=FAIL)
    k = result.successes
    p_value = fisher_exact_less(k, judged, kb, nb)
    details.update(success_p_value=p_value, baseline_successes=kb, baseline_episodes=nb)
    return Row(metric="success_rate", baseline=base_text, observed=f"{k / judged:.3f} ({k}/{judged})",
               interval=fmt_interval(*success_interval(k, judged), CI_LABEL),
               allowed=f"not lower: Fisher p={p_value:.3g}, need > {alpha:g}",
               verdict=FAIL if p_value <= alpha else OK)


def _stored_value(tol: Tolerance, base: Baseline, machine: str) -> float | None:
    entry = base.metric_entry(tol.metric, machine)
    if entry is None:
        return None
    if tol.stat not in entry:
        stored = ", ".join(k for k in entry if k not in ("n", "ci_low", "ci_high", "ci_method"))
        raise ToleranceError(f"tolerance {tol.text!r}: the baseline {base.path} stores {tol.metric} as "
                             f"{stored}, not {tol.stat}; use one of those statistics")
    value = entry[tol.stat]
    return None if value is None else float(value)


def _unrecorded_row(tol: Tolerance, base: Baseline, machine: str, lenient: bool, notes: list[str],
                    cells: dict[str, str]) -> Row:
    """The row of a relative tolerance whose metric the baseline does not hold (for this machine)."""
    if is_machine_metric(tol.metric) and any(tol.metric in (m.get("metrics") or {}) for m in base.machines.values()):
        notes.append(f"{tol.key} not compared: the baseline has no timing for this machine ({machine}); "
                     f"record one here with --rl-update-baselines (other machines' entries are kept)")
        warnings.warn(BaselineWarning(f"{base.path}: no {tol.metric} baseline for machine {machine}"), stacklevel=2)
        return Row(**cells, baseline=f"(none for {machine})", allowed=tol.describe_allowed(), verdict=NOT_JUDGED)
    if lenient:
        notes.append(f"{tol.key} not compared: the baseline does not record {tol.metric}")
    return Row(**cells, baseline="(not recorded)", allowed=tol.describe_allowed(),
               verdict=NOT_JUDGED if lenient else FAIL)


def _tolerance_row(tol: Tolerance, base: Baseline | None, result: PlaytestResult, machine: str, lenient: bool,
                   notes: list[str]) -> Row | None:
    """One tolerance's row; None for a default tolerance on a metric neither run nor baseline has."""
    values = _observed_values(result, tol.metric)
    unit = _unit(tol.metric)
    stored = _stored_value(tol, base, machine) if base is not None and tol.needs_baseline else None
    if values.size == 0:  # only default tolerances get here (require_reported refused explicit ones)
        if stored is None:
            return None
        notes.append(f"the game no longer reports {tol.metric}, which the baseline recorded: fix its telemetry, "
                     "or update the baseline to stop comparing it")
        return Row(metric=tol.key, baseline=f"{fmt_number(stored)}{unit}", observed="(not reported)",
                   allowed=tol.describe_allowed(stored), verdict=FAIL)
    observed = metric_value(values, tol.stat)
    interval = "-"
    if tol.stat == "mean" and tol.is_episode_metric and values.size > 1:
        interval = fmt_interval(*t_interval(values), "95% t")
    cells = {"metric": tol.key, "observed": f"{fmt_number(observed)}{unit}", "interval": interval}
    if tol.kind == "absolute":
        return Row(**cells, allowed=tol.describe_allowed(), verdict=OK if tol.passes(observed) else FAIL)
    assert base is not None
    if stored is None:
        return _unrecorded_row(tol, base, machine, lenient, notes, cells)
    return Row(**cells, baseline=f"{fmt_number(stored)}{unit}", allowed=tol.describe_allowed(stored),
               verdict=OK if tol.passes(observed, stored) else FAIL)


def _marker_base(nodeid: str | None) -> PathBase | None:
    """The folder of the test file of ``nodeid`` (relative paths in its scenario resolve against it)."""
    rootdir = _config.current().rootdir
    if not nodeid or rootdir is None:
        return None
    return PathBase.marker(Path(rootdir) / nodeid.split("::", 1)[0])


def _compare(base: Baseline, result: PlaytestResult, tols: list[Tolerance], alpha: float, machine: str,
             lenient: bool, scenario: Mapping[str, Any] | None, paths: PathBase | None,
             nodeid: str | None) -> Verdict:
    notes: list[str] = []
    details: dict[str, Any] = {"path": str(base.path), "machine": machine}
    success = _success_row(base, result, alpha, details)
    rows = [success] if success is not None else []
    rows += [r for t in tols if (r := _tolerance_row(t, base, result, machine, lenient, notes)) is not None]
    content = PathBase.content(base.path)
    # both sides as the baseline stores them (paths relative to it, system binaries by name), read back
    current = resolve_paths(store_paths(scenario if scenario is not None else (result.scenario or {}), base.path,
                                        paths), content)
    changes = _scenario_changes(base.scenario, current)
    if changes:
        notes.append("the scenario changed since the baseline was recorded: " + "; ".join(changes))
    stored_engine = base.engine
    engine = resolve_paths(store_paths(result.engine or {}, base.path), content)
    diff = identity_changes(stored_engine, engine) if stored_engine and engine else []
    if diff:
        notes.append("the game build differs from the baseline's: " + "; ".join(diff))
    failed = any(r.failed for r in rows)
    if failed:
        notes.append(f"if the new behaviour is intended, update the baseline: {update_command(nodeid)}")
    title = f"playtest {'regressed from' if failed else 'matches'} its baseline {base.path}"
    return Verdict(outcome=FAILED if failed else PASS, title=title, rows=rows, notes=notes, details=details)


def _update(path: Path, result: PlaytestResult, tols: list[Tolerance], nodeid: str | None, machine: str,
            scenario: Mapping[str, Any] | None, paths: PathBase | None) -> Verdict:
    write_baseline(path, result, nodeid=nodeid, scenario=scenario, machine=machine, paths=paths)
    notes: list[str] = []
    rows = [r for t in tols if t.kind == "absolute"
            if (r := _tolerance_row(t, None, result, machine, False, notes)) is not None]
    failed = any(r.failed for r in rows)
    title = f"baseline written to {path}" + ("; but an absolute budget is exceeded" if failed else "")
    return Verdict(outcome=FAILED if failed else UPDATED, title=title, rows=rows, notes=notes,
                   details={"path": str(path), "machine": machine})


def assert_matches_baseline(result: PlaytestResult, baseline: str | Path,
                            tolerances: Iterable[str | Tolerance] | str | None = None, *, alpha: float = 0.05,
                            nodeid: str | None = None, update: bool | None = None,
                            scenario: Mapping[str, Any] | None = None, machine: str | None = None,
                            paths: PathBase | None = None) -> Verdict:
    """Assert that a playtest has not regressed from its stored baseline.

    Checks, each a row of the table: the success rate is not significantly below the stored one
    (Fisher's exact one-sided test of ``H0: rate >= baseline rate``, failing when ``p <= alpha``), and
    every tolerance expression (see :mod:`.tolerances`; default :data:`DEFAULT_TOLERANCES`).
    Frame-time (``*_ms``) baselines are per machine: on a machine without one they are reported as
    not judged, with a :class:`~.errors.BaselineWarning`. A tolerance naming a metric the game does not
    report fails at once (:class:`~.errors.MissingMetricError`), in an update run too, writing nothing.

    With ``update=True`` (default ``--rl-update-baselines``) the baseline is written instead and
    only absolute budgets are checked.

    Args:
        result: the playtest.
        baseline: the baseline file.
        tolerances: expressions like ``"return:10%"``; validated before anything runs.
        alpha: level of the success-rate test.
        nodeid: the test (for messages and the update command); default: the running test.
        update: write instead of compare.
        scenario: the scenario description to store (default ``result.scenario``).
        machine: machine id for timing metrics (default :func:`.baselines.machine_id`).
        paths: the base of relative paths in the scenario description (default: the folder of the
            test file of ``nodeid``); stored paths are kept relative to the baseline file.

    Raises:
        BaselineMissing: no baseline file (the message names it and the flag that writes it).
        BaselineError: the file is malformed or of another schema version.
        ToleranceError: a tolerance expression is malformed.
        MissingMetricError: a tolerance names a metric the game does not report.
        VerdictFailure: a regression.
    """
    __tracebackhide__ = True
    lenient = tolerances is None
    tols = parse_tolerances(DEFAULT_TOLERANCES if tolerances is None else tolerances)
    if not 0.0 < alpha < 0.5:
        raise VerdictUsageError(f"alpha must be in (0, 0.5), got {alpha}")
    path = Path(baseline)
    nodeid = nodeid or current_nodeid()
    update = _config.current().update_baselines if update is None else update
    machine = machine or machine_id()
    paths = paths if paths is not None else _marker_base(nodeid)
    require_reported(result, [] if lenient else tols, update=update)
    if update:
        return conclude(_update(path, result, tols, nodeid, machine, scenario, paths))
    base = load_baseline(path, nodeid)
    if base is None:
        raise BaselineMissing(f"no baseline for {nodeid or 'this test'}: {path} does not exist\n"
                              f"record it with: {update_command(nodeid)}   (then commit the file)")
    return conclude(_compare(base, result, tols, alpha, machine, lenient, scenario, paths, nodeid))
