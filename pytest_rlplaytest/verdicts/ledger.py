"""The verdict ledger: one JSON line per decided success-rate verdict, kept across runs.

Every success-rate verdict (fixed-size exact test or SPRT) appends a line to ``--rl-ledger``
(default ``<artifacts>/ledger.jsonl``) *before* it concludes, so failing runs are recorded too::

    {"nodeid": ..., "build": {"engine": "godot", "game_hash": ...}, "date": "2026-12-02",
     "time": "...Z", "n": 40, "successes": 31, "threshold": 0.7, "alpha": 0.05, "beta": null,
     "method": "exact-binomial", "outcome": "pass", "seed": 0}

A test at its threshold fails at most ``alpha`` of the time (a sequential test fails a game at its
alternative at most ``beta`` of the time): the *allowed* failure rate. ``rlplaytest ledger PATH``
(:func:`summarize`) flags a test whose observed failure rate is significantly above it by a
one-sided exact binomial test: either the game regressed or the test is mis-sized (its threshold is
too close to the game's true rate for its episodes). Lines are appended with
:func:`~pytest_rlplaytest.common.files.append_line`, so xdist workers never interleave.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.files import append_line
from ..common.table import fmt_number, render_text_table
from ..errors import RLPlaytestError
from . import config as _config
from .stats import clopper_pearson_interval
from .verdict import INCONCLUSIVE, Verdict, current_nodeid

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = ["LedgerError", "TestHistory", "ledger_entry", "plot_ledger", "read_ledger", "record_verdict",
           "render_histories", "summarize"]

#: keys every ledger line must hold
REQUIRED = ("nodeid", "date", "n", "successes", "threshold", "alpha", "outcome")
OUTCOMES = ("pass", "fail", "inconclusive")
#: the default level of the one-sided test that flags a test
FLAG_LEVEL = 0.01


class LedgerError(RLPlaytestError, ValueError):
    """A ledger file that cannot be read (the message names the line)."""


def _build(engine: dict[str, Any]) -> dict[str, Any]:
    from ..engines.base import identity_value
    from ..engines.registry import identity_keys

    keys = identity_keys(engine) if engine else ()
    return {k: identity_value(engine, k) for k in keys if identity_value(engine, k) is not None}


def ledger_entry(verdict: Verdict, result: PlaytestResult, nodeid: str,
                 now: _dt.datetime | None = None) -> dict[str, Any]:
    """The ledger line of one decided success-rate verdict (see the module docs)."""
    d = verdict.details
    now = now or _dt.datetime.now(_dt.timezone.utc)
    outcome = {"pass": "pass", INCONCLUSIVE: "inconclusive"}.get(verdict.outcome, "fail")
    return {"nodeid": nodeid, "build": _build(result.engine), "date": now.date().isoformat(),
            "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"), "n": int(d["episodes"]),
            "successes": int(d["successes"]), "threshold": float(d["threshold"]), "alpha": float(d["alpha"]),
            "beta": d.get("beta"), "method": d.get("method"), "outcome": outcome, "seed": result.seed}


def record_verdict(verdict: Verdict, result: PlaytestResult) -> Path | None:
    """Append the verdict's line to the session's ledger; None outside a test or without a ledger."""
    path, nodeid = _config.current().ledger, current_nodeid()
    if path is None or nodeid is None:
        return None
    return append_line(path, json.dumps(ledger_entry(verdict, result, nodeid), sort_keys=True))


def _check_line(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise LedgerError(f"{where}: a ledger line is a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise LedgerError(f"{where}: missing {', '.join(missing)} (a line holds {', '.join(REQUIRED)})")
    if data["outcome"] not in OUTCOMES:
        raise LedgerError(f"{where}: outcome {data['outcome']!r} is not one of {', '.join(OUTCOMES)}")
    if not isinstance(data["alpha"], (int, float)) or not 0 < data["alpha"] < 1:
        raise LedgerError(f"{where}: alpha must be a number in (0, 1), got {data['alpha']!r}")
    return data


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """The ledger's lines (blank lines skipped).

    Raises:
        LedgerError: the file is missing, or a line is not a ledger entry (naming its number).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {path}: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise LedgerError(f"{where}: not JSON ({exc}); remove or fix the line") from None
        entries.append(_check_line(data, where))
    return entries


@dataclass(frozen=True)
class TestHistory:
    """One test's verdicts in the ledger, and whether it fails more often than it allows."""

    __test__ = False  # not a pytest test class

    nodeid: str
    runs: int
    failures: int
    allowed: float
    ci_low: float
    ci_high: float
    p_value: float
    flagged: bool


def _allowed(entry: dict[str, Any]) -> float:
    """The failure rate a test allows: ``beta`` for an SPRT, else ``alpha``."""
    beta = entry.get("beta")
    return float(beta) if entry.get("method") == "sprt" and isinstance(beta, (int, float)) else float(entry["alpha"])


def summarize(entries: Sequence[dict[str, Any]], *, alpha_factor: float = 1.0,
              level: float = FLAG_LEVEL) -> list[TestHistory]:
    """Per test (in node-id order): runs, failures, the 95% Clopper-Pearson interval of the failure
    rate, and a flag when ``P(X >= failures | runs, alpha_factor * allowed) <= level`` (one-sided
    exact binomial test, ``scipy.stats.binomtest``). The allowed rate is the latest line's."""
    from scipy.stats import binomtest

    if alpha_factor <= 0 or not 0 < level < 1:
        raise LedgerError(f"alpha_factor must be > 0 and level in (0, 1), got {alpha_factor}, {level}")
    by_test: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_test.setdefault(str(entry["nodeid"]), []).append(entry)
    out = []
    for nodeid in sorted(by_test):
        rows = by_test[nodeid]
        runs, failures = len(rows), sum(r["outcome"] == "fail" for r in rows)
        allowed = _allowed(rows[-1])
        p_value = float(binomtest(failures, runs, min(1.0, alpha_factor * allowed), alternative="greater").pvalue)
        low, high = clopper_pearson_interval(failures, runs)
        out.append(TestHistory(nodeid, runs, failures, allowed, low, high, p_value, p_value <= level))
    return out


def render_histories(histories: Sequence[TestHistory], *, alpha_factor: float = 1.0,
                     level: float = FLAG_LEVEL) -> list[str]:
    """The ledger table (``rlplaytest ledger``) and, when a test is flagged, what it may mean."""
    header = ["test", "runs", "failures", "failure rate", "95% CI (Clopper-Pearson)", "alpha", "p", "flag"]
    rows = [[h.nodeid, str(h.runs), str(h.failures), f"{h.failures / h.runs:.3f}",
             f"[{h.ci_low:.3f}, {h.ci_high:.3f}]", fmt_number(h.allowed), fmt_number(h.p_value, 3),
             "FLAG" if h.flagged else ""] for h in histories]
    lines = render_text_table(header, rows)
    factor = f"{alpha_factor:g} x " if alpha_factor != 1 else ""
    lines.append(f"FLAG: the failure rate is above {factor}alpha by a one-sided exact binomial test at level "
                 f"{level:g} (alpha: the failure rate the test allows; beta for a sequential test)")
    for h in histories:
        if h.flagged:
            lines.append(f"{h.nodeid} fails {h.failures}/{h.runs} runs against an allowed {h.allowed:g}: either "
                         "the game regressed (its true rate fell below the threshold), or the test is mis-sized "
                         "(the threshold is too close to the game's true rate for its episodes: raise episodes "
                         "or lower at_least)")
    return lines


def _rolling_by_date(rows: Sequence[dict[str, Any]], window: int) -> tuple[list[_dt.date], list[float]]:
    """One point per date: the failure rate of the last ``window`` runs up to that date's last run,
    from the first date with ``window`` runs behind it (all runs, if fewer in all)."""
    ordered = sorted(rows, key=lambda r: str(r.get("time") or r["date"]))
    fails = [r["outcome"] == "fail" for r in ordered]
    need = min(window, len(ordered))
    last: dict[_dt.date, int] = {}
    for i, r in enumerate(ordered):
        last[_dt.date.fromisoformat(str(r["date"])[:10])] = i
    points = [(d, i) for d, i in sorted(last.items()) if i + 1 >= need]
    return [d for d, _ in points], [sum(fails[max(0, i + 1 - window):i + 1]) / min(window, i + 1) for _, i in points]


def plot_ledger(entries: Sequence[dict[str, Any]], out: Path, window: int = 10) -> Path:
    """Trend plot: per test and date, the failure rate of the last ``window`` runs (dotted: alpha)."""
    from ..reports.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    by_test: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_test.setdefault(str(entry["nodeid"]), []).append(entry)
    for nodeid in sorted(by_test):
        dates, rates = _rolling_by_date(by_test[nodeid], window)
        line, = ax.plot(dates, rates, ".-", label=f"{nodeid} (alpha {_allowed(by_test[nodeid][-1]):g})")
        ax.axhline(_allowed(by_test[nodeid][-1]), color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("date (UTC)")
    ax.set_ylabel(f"failure rate of the last {window} runs")
    ax.set_title("verdict ledger: failure rate per test (dotted: the test's alpha)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
