"""Assertions over a :class:`~pytest_rlplaytest.playtest.PlaytestResult`, with stated statistics.

* :func:`assert_success_rate` — one-sided exact binomial test (Clopper-Pearson bounds), or the
  SPRT decision when the result came from a sequential run (:func:`sequential_stopper`).
* :func:`assert_matches_baseline` — success rate not significantly below the stored one (Fisher's
  exact test on the counts), plus tolerance expressions on return and frame-time statistics.
* :func:`assert_frame_budget` — per-step ``frame_ms`` percentiles and FPS against fixed budgets.

Each returns a :class:`Verdict` when it passes and raises :class:`~.errors.VerdictFailure` (an
``AssertionError``) with a compact table when it fails. A statistically *inconclusive* verdict
fails, skips or passes (with an :class:`InconclusiveWarning`) according to ``inconclusive=`` or,
when that is not given, ``--rl-inconclusive`` (default ``fail``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.base import identity_changes
from . import config as _config
from .baselines import (
    Baseline,
    is_machine_metric,
    load_baseline,
    machine_id,
    update_command,
    write_baseline,
)
from .errors import BaselineMissing, MissingMetricError, ToleranceError, VerdictFailure
from .sequential import SequentialOutcome, sequential_outcome, sequential_stopper
from .stats import (
    ACCEPT_H0,
    ACCEPT_H1,
    binom_test_greater,
    binom_test_less,
    clopper_pearson_interval,
    clopper_pearson_lower,
    clopper_pearson_upper,
    exact_power,
    fisher_exact_less,
    plan_episodes,
    sprt_operating_characteristics,
    t_interval,
)
from .table import FAIL, INCONCLUSIVE, NOT_JUDGED, OK, Row, fmt, fmt_interval, render_table
from .tolerances import Tolerance, metric_value, parse_tolerances

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = [
    "DEFAULT_TOLERANCES",
    "BaselineWarning",
    "InconclusiveWarning",
    "Verdict",
    "assert_frame_budget",
    "assert_matches_baseline",
    "assert_success_rate",
    "episodes_to_decide",
    "sequential_stopper",
]

#: what ``assert_matches_baseline`` checks when given no tolerances (metrics the game does not
#: report are skipped for these defaults, but fail when named explicitly)
DEFAULT_TOLERANCES = ("return:10%", "frame_ms.p99:10%")

PASS = "pass"
FAILED = "fail"
UPDATED = "updated"


class InconclusiveWarning(UserWarning):
    """An inconclusive verdict was let pass (``--rl-inconclusive=pass``)."""


class BaselineWarning(UserWarning):
    """Part of a baseline comparison could not be made (e.g. no frame times for this machine)."""


@dataclass
class Verdict:
    """The outcome of one assertion.

    Attributes:
        outcome: ``pass``, ``fail``, ``inconclusive`` or ``updated`` (a baseline was written).
        title: one line saying what was judged and how it came out.
        rows: the table rows.
        notes: further lines (statistics used, power, how to decide or update).
        details: the numbers behind the verdict (p-values, bounds, counts) for programmatic use.
    """

    outcome: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True for ``pass`` and ``updated``."""
        return self.outcome in (PASS, UPDATED)

    @property
    def message(self) -> str:
        """Title, table and notes as one text."""
        parts = [self.title]
        if self.rows:
            parts.append(render_table(self.rows))
        parts.extend(self.notes)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.message


def _conclude(verdict: Verdict, inconclusive: str | None) -> Verdict:
    """Raise for a failure; apply the inconclusive policy; return the verdict otherwise."""
    __tracebackhide__ = True
    if verdict.outcome == FAILED:
        raise VerdictFailure(verdict.message)
    if verdict.outcome == INCONCLUSIVE:
        policy = inconclusive or _config.current().inconclusive
        if policy not in _config.INCONCLUSIVE_CHOICES:
            raise ValueError(f"inconclusive must be one of {', '.join(_config.INCONCLUSIVE_CHOICES)}, "
                             f"got {policy!r}")
        note = ("(an inconclusive verdict {}s under inconclusive={!r}; set it per assertion or for the run "
                "with --rl-inconclusive=fail|skip|pass)")
        if policy == "fail":
            raise VerdictFailure(verdict.message + "\n" + note.format("fail", policy))
        if policy == "skip":
            import pytest

            pytest.skip(verdict.message + "\n" + note.format("skip", policy))
        warnings.warn(InconclusiveWarning(verdict.message), stacklevel=3)
    return verdict


def _current_nodeid() -> str | None:
    """The running test's node id, from ``PYTEST_CURRENT_TEST``."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    return current.rsplit(" ", 1)[0] if current.endswith(")") else current


# -- success rate -----------------------------------------------------------------------------------
def _normal_episodes(p0: float, p1: float, alpha: float, power: float) -> float:
    """The normal-approximation sample size of a one-sided test of p0 against p1."""
    z = NormalDist()
    za, zb = z.inv_cdf(1 - alpha), z.inv_cdf(power)
    num = za * math.sqrt(p0 * (1 - p0)) + zb * math.sqrt(p1 * (1 - p1))
    return (num / abs(p1 - p0)) ** 2


def episodes_to_decide(successes: int, trials: int, threshold: float, alpha: float = 0.05,
                       power: float = 0.8, delta: float = 0.1, max_n: int = 20_000) -> tuple[int | None, float]:
    """How many episodes in all the fixed-size exact test needs to decide with ``power``.

    Assumes the true rate is the observed one (or ``threshold ± delta`` when the observed rate
    equals the threshold, since no sample can then decide). Returns ``(total or None, rate assumed)``;
    None when more than ``max_n`` would be needed.
    """
    rate = successes / trials if trials else threshold
    assumed = rate
    if abs(rate - threshold) < 1e-12:
        assumed = threshold + delta if threshold + delta < 1 else threshold - delta
    assumed = min(1.0, max(0.0, assumed))
    if _normal_episodes(threshold, assumed, alpha, power) > max_n:
        return None, assumed
    try:
        return plan_episodes(threshold, assumed, alpha, power, max_n=max_n), assumed
    except ValueError:
        return None, assumed


def assert_success_rate(result: PlaytestResult, at_least: float, alpha: float | None = None, *,
                        inconclusive: str | None = None, power: float = 0.8, delta: float = 0.1) -> Verdict:
    """Assert that the game's success rate is at least ``at_least``.

    Fixed-size runs use one-sided exact binomial tests, equivalently the exact Clopper-Pearson
    bounds ``L`` and ``U`` at level ``1 - alpha`` each:

    * **pass** when ``L >= at_least`` (``P(X >= k | at_least) <= alpha``: the data show the rate
      exceeds the threshold; at most ``alpha`` of games whose true rate is the threshold pass);
    * **fail** when ``U < at_least`` (``P(X <= k | at_least) <= alpha``: the data rule the threshold
      out; at most ``alpha`` of games at the threshold fail);
    * otherwise **inconclusive**: the message says how many episodes would decide.

    The message also reports the achieved power: the probability this many episodes would pass a
    game whose rate is ``at_least + delta`` and fail one whose rate is ``at_least - delta``.

    When ``result`` came from a run stopped by :func:`sequential_stopper`, the SPRT's decision is
    used instead (``accept H1`` -> pass, ``accept H0`` -> fail, undecided -> inconclusive).

    Args:
        result: the playtest.
        at_least: the threshold rate, strictly between 0 and 1.
        alpha: the error rate of each one-sided conclusion (default 0.05, or the sequential test's).
        inconclusive: ``fail``, ``skip`` or ``pass``; default ``--rl-inconclusive``.
        power: the power used to plan "how many more episodes".
        delta: the distance of the alternatives for the power report.

    Raises:
        VerdictFailure: the rate is below the threshold (or inconclusive under ``fail``).
        MissingMetricError: no episode has a success verdict.
    """
    __tracebackhide__ = True
    if not 0.0 < at_least < 1.0:
        raise ValueError(
            f"at_least={at_least!r} must be strictly between 0 and 1 (a rate of exactly 1 can never be "
            "shown from finitely many episodes; use e.g. at_least=0.99 with enough episodes)"
        )
    judged = len(result.judged)
    if judged == 0:
        raise MissingMetricError(
            f"no episode of the {result.n_episodes} has a success verdict: give the scenario "
            "success=<info key or callable(Episode)> or have the game report info['is_success']"
        )
    seq = sequential_outcome(result)
    if seq is not None:
        if abs(seq.threshold - at_least) > 1e-12:
            raise ValueError(f"the sequential run tested the threshold {seq.threshold}, but the assertion asks "
                             f"at_least={at_least}; use the same threshold in both")
        if alpha is not None and abs(alpha - seq.alpha) > 1e-12:
            raise ValueError(f"the sequential run used alpha={seq.alpha}, but the assertion asks alpha={alpha}")
        return _conclude(_sequential_verdict(seq, result), inconclusive)
    alpha = 0.05 if alpha is None else alpha
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    k, n, p = result.successes, judged, at_least
    lower, upper = clopper_pearson_lower(k, n, alpha), clopper_pearson_upper(k, n, alpha)
    p_pass, p_fail = binom_test_greater(k, n, p), binom_test_less(k, n, p)
    if p_pass <= alpha:
        outcome, row_verdict = PASS, OK
    elif p_fail <= alpha:
        outcome, row_verdict = FAILED, FAIL
    else:
        outcome, row_verdict = INCONCLUSIVE, INCONCLUSIVE
    conf = f"{1 - 2 * alpha:.0%} exact"
    row = Row(metric="success_rate", observed=f"{k / n:.3f} ({k}/{n})",
              interval=fmt_interval(lower, upper, conf), allowed=f">= {p:g}", verdict=row_verdict)
    power_pass = exact_power(n, p, p + delta, alpha) if p + delta < 1 else None
    power_fail = exact_power(n, p, p - delta, alpha) if p - delta > 0 else None
    words = {PASS: "passes", FAILED: "is below", INCONCLUSIVE: "is inconclusive against"}[outcome]
    title = (f"success rate {k / n:.3f} ({k}/{n} episodes) {words} the threshold {p:g} "
             f"(alpha={alpha:g})")
    notes = [
        f"one-sided exact binomial tests: P(X >= {k} | n={n}, p={p:g}) = {p_pass:.4g} "
        f"(pass if <= {alpha:g}); P(X <= {k} | n={n}, p={p:g}) = {p_fail:.4g} (fail if <= {alpha:g}); "
        f"Clopper-Pearson bounds [{lower:.4f}, {upper:.4f}]",
    ]
    power_bits = []
    if power_fail is not None:
        power_bits.append(f"{power_fail:.2f} to fail a game whose true rate is {p - delta:.3g}")
    if power_pass is not None:
        power_bits.append(f"{power_pass:.2f} to pass one whose true rate is {p + delta:.3g}")
    if power_bits:
        notes.append(f"achieved power with {n} episodes: " + "; ".join(power_bits))
    total = None
    if outcome == INCONCLUSIVE:
        total, assumed = episodes_to_decide(k, n, p, alpha, power, delta)
        if total is None:
            notes.append(f"deciding would take more than 20000 episodes if the true rate is {assumed:.3g}")
        else:
            more = max(total - n, 1)
            notes.append(f"about {more} more episodes ({max(total, n + 1)} in all, e.g. episodes={max(total, n + 1)}) "
                         f"would decide with {power:.0%} power if the true rate is {assumed:.3g}")
    verdict = Verdict(outcome=outcome, title=title, rows=[row], notes=notes, details={
        "successes": k, "episodes": n, "threshold": p, "alpha": alpha, "lower": lower, "upper": upper,
        "p_value_pass": p_pass, "p_value_fail": p_fail, "power_pass": power_pass, "power_fail": power_fail,
        "episodes_to_decide": total, "method": "exact-binomial",
    })
    return _conclude(verdict, inconclusive)


def _sprt_cap_hint(seq: SequentialOutcome, rate: float) -> int | None:
    """Smallest cap (doubling from 50) at which the truncated SPRT stays undecided <= 5% at ``rate``."""
    rate = min(max(rate, seq.threshold), seq.alternative)
    cap = 50
    while cap <= 6400:
        oc = sprt_operating_characteristics(rate, seq.threshold, seq.alternative, seq.alpha, seq.beta, cap=cap)
        if oc.undecided <= 0.05:
            return cap
        cap *= 2
    return None


def _sequential_verdict(seq: SequentialOutcome, result: PlaytestResult) -> Verdict:
    k, n = seq.successes, seq.episodes_used
    outcome = {ACCEPT_H1: PASS, ACCEPT_H0: FAILED}.get(seq.decision, INCONCLUSIVE)
    row = Row(metric="success_rate (SPRT)", observed=f"{k / n:.3f} ({k}/{n})" if n else "- (0 episodes)",
              interval=f"LLR {seq.llr:.3f} vs [{seq.log_b:.3f}, {seq.log_a:.3f}]",
              allowed=f">= {seq.threshold:g}", verdict={PASS: OK, FAILED: FAIL}.get(outcome, INCONCLUSIVE))
    words = {PASS: "passes", FAILED: "is below", INCONCLUSIVE: "is undecided against"}[outcome]
    title = f"success rate {words} the threshold {seq.threshold:g} by a sequential test after {n} episodes"
    notes = [
        f"Wald SPRT of H0: rate = {seq.threshold:g} vs H1: rate = {seq.alternative:g} "
        f"(alpha={seq.alpha:g}, beta={seq.beta:g}; bounds log A = log((1-beta)/alpha) = {seq.log_a:.3f}, "
        f"log B = log(beta/(1-alpha)) = {seq.log_b:.3f}): "
        + {ACCEPT_H1: "accepted H1", ACCEPT_H0: "accepted H0"}.get(seq.decision, "no bound crossed"),
    ]
    if outcome == INCONCLUSIVE:
        limit = f"the cap of {seq.cap}" if seq.cap is not None and n >= seq.cap else "the run's episodes"
        hint = _sprt_cap_hint(seq, k / n if n else seq.threshold)
        more = (f"; with a cap of {hint} episodes the test decides at least 95% of the time at the observed rate"
                if hint else "")
        notes.append(f"{limit} ran out before a decision{more}")
    verdict = Verdict(outcome=outcome, title=title, rows=[row], notes=notes, details={
        "successes": k, "episodes": n, "threshold": seq.threshold, "alternative": seq.alternative,
        "alpha": seq.alpha, "beta": seq.beta, "llr": seq.llr, "decision": seq.decision,
        "method": "sprt", "episodes_in_result": result.n_episodes,
    })
    return verdict


# -- frame budget -----------------------------------------------------------------------------------
def assert_frame_budget(result: PlaytestResult, p99_ms: float | None = None, *, fps_at_least: float | None = None,
                        p50_ms: float | None = None, p95_ms: float | None = None, mean_ms: float | None = None,
                        max_ms: float | None = None, key: str = "frame_ms") -> Verdict:
    """Assert per-step frame times are within budget.

    Judged on every per-step ``frame_ms`` value of every episode (``result.step_values``): the
    percentiles are plain sample percentiles (numpy's linear interpolation) and the FPS is
    ``1000 / mean(frame_ms)`` (frames per second of game work). These are point estimates
    against fixed budgets, not statistical tests: frame times are strongly autocorrelated.

    Args:
        result: the playtest.
        p99_ms, p50_ms, p95_ms, mean_ms, max_ms: upper budgets in milliseconds.
        fps_at_least: lower budget on ``1000 / mean(frame_ms)``.
        key: the per-step metric (default ``frame_ms``, see :mod:`pytest_rlplaytest.telemetry`).

    Raises:
        VerdictFailure: a budget is exceeded.
        MissingMetricError: the game reported no ``frame_ms``.
    """
    __tracebackhide__ = True
    given = {"p50": p50_ms, "p95": p95_ms, "p99": p99_ms, "mean": mean_ms, "max": max_ms}
    budgets: dict[str, float] = {k: float(v) for k, v in given.items() if v is not None}
    if not budgets and fps_at_least is None:
        raise ValueError("assert_frame_budget needs a budget: p99_ms=, p95_ms=, p50_ms=, mean_ms=, max_ms= "
                         "or fps_at_least=")
    values = result.step_values(key)
    if values.size == 0:
        reported = ", ".join(result.metric_names) or "none"
        raise MissingMetricError(
            f"the game reported no {key!r} in any step's info ({result.n_episodes} episodes; numeric info keys "
            f"reported: {reported}); engines must put the frame's work time in milliseconds in "
            f"info[{key!r}] (see pytest_rlplaytest.telemetry)"
        )
    rows = []
    for stat, budget in budgets.items():
        observed = metric_value(values, "median" if stat == "p50" else stat)
        rows.append(Row(metric=f"{key}.{stat}", observed=f"{fmt(observed)} ms", allowed=f"<= {budget:g} ms",
                        verdict=OK if observed <= budget else FAIL))
    if fps_at_least is not None:
        mean = float(values.mean())
        fps = 1000.0 / mean if mean > 0 else math.inf
        rows.append(Row(metric="fps (1000/mean frame_ms)", observed=fmt(fps), allowed=f">= {fps_at_least:g}",
                        verdict=OK if fps >= fps_at_least else FAIL))
    failed = any(r.failed for r in rows)
    title = (f"frame budget {'exceeded' if failed else 'met'}: {values.size} frames over "
             f"{result.n_episodes} episodes")
    verdict = Verdict(outcome=FAILED if failed else PASS, title=title, rows=rows,
                      notes=[f"per-step {key} percentiles are sample percentiles over all steps (point estimates)"],
                      details={"frames": int(values.size)})
    return _conclude(verdict, None)


# -- baselines --------------------------------------------------------------------------------------
def _observed_values(result: PlaytestResult, metric: str) -> np.ndarray:
    if metric == "return":
        return result.returns
    if metric == "length":
        return result.lengths
    return result.step_values(metric)


def _unit(metric: str) -> str:
    return " ms" if metric.endswith("_ms") else ""


_SCENARIO_KEYS = ("env", "engine", "kind", "algo", "timesteps", "model", "episodes", "seed", "success",
                  "deterministic")


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
    low, high = clopper_pearson_interval(k, judged, 0.95)
    details.update(success_p_value=p_value, baseline_successes=kb, baseline_episodes=nb)
    return Row(metric="success_rate", baseline=base_text, observed=f"{k / judged:.3f} ({k}/{judged})",
               interval=fmt_interval(low, high, "95% exact"),
               allowed=f"not lower: Fisher p={p_value:.3g}, need > {alpha:g}",
               verdict=FAIL if p_value <= alpha else OK)


def _tolerance_row(tol: Tolerance, base: Baseline | None, result: PlaytestResult, machine: str, lenient: bool,
                   notes: list[str]) -> Row | None:
    values = _observed_values(result, tol.metric)
    unit = _unit(tol.metric)
    observed = metric_value(values, tol.stat)
    interval = "-"
    if tol.stat == "mean" and tol.is_episode_metric and values.size > 1:
        interval = fmt_interval(*t_interval(values), "95% t")
    entry = base.metric_entry(tol.metric, machine) if base is not None else None
    base_value: float | None = None
    if entry is not None:
        if tol.stat not in entry:
            stored = ", ".join(k for k in entry if k not in ("n", "ci_low", "ci_high", "ci_method"))
            raise ToleranceError(
                f"tolerance {tol.text!r}: the baseline {base.path if base else ''} stores {tol.metric} as "
                f"{stored}, not {tol.stat}; use one of those statistics"
            )
        base_value = entry[tol.stat]
    base_text = "-" if base_value is None else f"{fmt(base_value)}{unit}"
    obs_text = "(not reported)" if values.size == 0 else f"{fmt(observed)}{unit}"
    if values.size == 0:
        if lenient and base_value is None:
            return None
        return Row(metric=tol.key, baseline=base_text, observed=obs_text, allowed=tol.describe_allowed(base_value),
                   verdict=FAIL)
    if tol.kind == "absolute":
        return Row(metric=tol.key, baseline=base_text, observed=obs_text, interval=interval,
                   allowed=tol.describe_allowed(), verdict=OK if tol.passes(observed) else FAIL)
    if base_value is None:
        assert base is not None
        if is_machine_metric(tol.metric) and any(
                tol.metric in (m.get("metrics") or {}) for m in base.machines.values()):
            notes.append(f"{tol.key} not compared: the baseline has no timing for this machine ({machine}); "
                         f"record one here with --rl-update-baselines (other machines' entries are kept)")
            warnings.warn(BaselineWarning(f"{base.path}: no {tol.metric} baseline for machine {machine}"),
                          stacklevel=4)
            return Row(metric=tol.key, baseline=f"(none for {machine})", observed=obs_text, interval=interval,
                       allowed=tol.describe_allowed(), verdict=NOT_JUDGED)
        if lenient:
            notes.append(f"{tol.key} not compared: the baseline does not record {tol.metric}")
            return Row(metric=tol.key, baseline="(not recorded)", observed=obs_text, interval=interval,
                       allowed=tol.describe_allowed(), verdict=NOT_JUDGED)
        return Row(metric=tol.key, baseline="(not recorded)", observed=obs_text, interval=interval,
                   allowed=tol.describe_allowed(), verdict=FAIL)
    return Row(metric=tol.key, baseline=base_text, observed=obs_text, interval=interval,
               allowed=tol.describe_allowed(base_value), verdict=OK if tol.passes(observed, base_value) else FAIL)


def assert_matches_baseline(result: PlaytestResult, baseline: str | Path,
                            tolerances: Iterable[str | Tolerance] | str | None = None, *, alpha: float = 0.05,
                            nodeid: str | None = None, update: bool | None = None,
                            scenario: Mapping[str, Any] | None = None, machine: str | None = None) -> Verdict:
    """Assert that a playtest has not regressed from its stored baseline.

    Checks, each a row of the table:

    * the success rate is not significantly below the stored one: Fisher's exact one-sided test of
      ``H0: rate >= baseline rate`` on the two sets of counts, failing when ``p <= alpha``;
    * every tolerance expression (see :mod:`.tolerances`; default :data:`DEFAULT_TOLERANCES`,
      ``return:10%`` and ``frame_ms.p99:10%``). Frame-time (``*_ms``) baselines are per machine:
      on a machine without one they are reported as not judged, with a :class:`BaselineWarning`.

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

    Raises:
        BaselineMissing: no baseline file (the message names it and the flag that writes it).
        BaselineError: the file is malformed or of another schema version.
        ToleranceError: a tolerance expression is malformed.
        VerdictFailure: a regression.
    """
    __tracebackhide__ = True
    lenient = tolerances is None
    tols = parse_tolerances(DEFAULT_TOLERANCES if tolerances is None else tolerances)
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    path = Path(baseline)
    nodeid = nodeid or _current_nodeid()
    update = _config.current().update_baselines if update is None else update
    machine = machine or machine_id()
    notes: list[str] = []
    details: dict[str, Any] = {"path": str(path), "machine": machine}
    if update:
        write_baseline(path, result, nodeid=nodeid, scenario=scenario, machine=machine)
        rows = [r for t in tols if t.kind == "absolute"
                if (r := _tolerance_row(t, None, result, machine, lenient, notes)) is not None]
        failed = any(r.failed for r in rows)
        title = f"baseline written to {path}" + ("; but an absolute budget is exceeded" if failed else "")
        return _conclude(Verdict(outcome=FAILED if failed else UPDATED, title=title, rows=rows, notes=notes,
                                 details=details), None)
    base = load_baseline(path, nodeid)
    if base is None:
        raise BaselineMissing(
            f"no baseline for {nodeid or 'this test'}: {path} does not exist\n"
            f"record it with: {update_command(nodeid)}   (then commit the file)"
        )
    rows = []
    success_row = _success_row(base, result, alpha, details)
    if success_row is not None:
        rows.append(success_row)
    for tol in tols:
        row = _tolerance_row(tol, base, result, machine, lenient, notes)
        if row is not None:
            rows.append(row)
    current_scenario = scenario if scenario is not None else (result.scenario or {})
    changes = _scenario_changes(base.data.get("scenario") or {}, current_scenario)
    if changes:
        notes.append("the scenario changed since the baseline was recorded: " + "; ".join(changes))
    stored_engine, engine = base.data.get("engine") or {}, result.engine or {}
    diff = identity_changes(stored_engine, engine) if stored_engine and engine else []
    if diff:
        notes.append("the game build differs from the baseline's: " + "; ".join(diff))
    failed = any(r.failed for r in rows)
    if failed:
        title = f"playtest regressed from its baseline {path}"
        notes.append(f"if the new behaviour is intended, update the baseline: {update_command(nodeid)}")
    else:
        title = f"playtest matches its baseline {path}"
    return _conclude(Verdict(outcome=FAILED if failed else PASS, title=title, rows=rows, notes=notes,
                             details=details), None)

