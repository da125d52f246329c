"""Tolerance expressions: how far a metric may move from its baseline, or an absolute budget.

Grammar (spaces are ignored)::

    <metric>[.<stat>]:<sign><amount>[%|ms]     relative to the stored baseline
    <metric>[.<stat>]<op><value>[ms]            absolute budget, needs no baseline  (op: <= < >= >)

``metric`` is ``return`` (episode return), ``length`` (episode length) or any numeric per-step
``info`` key the game reports (``frame_ms``, ``object_count``...). ``stat`` is ``mean`` (default),
``median``, ``min``, ``max``, ``std``, ``iqm`` (episode metrics only) or a percentile ``p<q>``
such as ``p95``/``p99``/``p99.9``. Per-step metrics are pooled over every step of every episode;
``return``/``length`` statistics are over episodes.

``amount`` with ``%`` is relative to the baseline value (``return:10%``), otherwise absolute
(``return:25``, ``frame_ms.p99:2ms``). ``sign`` chooses which direction counts as a regression:

* ``-`` the value may fall by at most the amount (rises are fine);
* ``+`` the value may rise by at most the amount (falls are fine);
* ``±`` (or ``+-``) both;
* no sign: the metric's natural direction — ``return`` may not fall; ``*_ms``, ``*_mb``,
  ``*_seconds``, ``object_count`` and ``memory`` metrics may not rise; anything else, both.

Examples: ``"return:10%"``, ``"frame_ms.p99:10%"``, ``"length:±20%"``, ``"frame_ms.p99<=16.6ms"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ToleranceError

__all__ = ["EPISODE_METRICS", "Tolerance", "metric_value", "natural_direction", "parse_tolerance",
           "parse_tolerances"]

#: metrics measured once per episode (all others are per-step ``info`` values)
EPISODE_METRICS = ("return", "length")

_PATTERN = re.compile(
    r"""^(?P<metric>[A-Za-z_][A-Za-z0-9_]*)
        (?:\.(?P<stat>[A-Za-z0-9_.]+?))?
        (?:
           :(?P<sign>\+-|±|\+|-)?(?P<amount>\d+(?:\.\d*)?|\.\d+)(?P<unit>%|ms)?
         | (?P<op><=|>=|<|>)(?P<value>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<vunit>ms)?
        )$""",
    re.VERBOSE,
)
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_STATS = ("mean", "median", "min", "max", "std", "iqm")
_COST_SUFFIXES = ("_ms", "_us", "_seconds", "_mb", "_bytes", "_kb")
_COST_NAMES = ("object_count", "memory", "draw_calls")


def natural_direction(metric: str) -> str:
    """Which change is a regression when an expression gives no sign: ``-``, ``+`` or ``±``."""
    if metric == "return":
        return "-"
    if metric.endswith(_COST_SUFFIXES) or metric in _COST_NAMES:
        return "+"
    return "±"


@dataclass(frozen=True)
class Tolerance:
    """One parsed tolerance expression.

    Attributes:
        text: the expression as written.
        metric: ``return``, ``length`` or a per-step ``info`` key.
        stat: ``mean``, ``median``, ``min``, ``max``, ``std``, ``iqm`` or ``p<q>``.
        kind: ``relative`` (to a baseline) or ``absolute`` (a fixed budget).
        direction: for relative tolerances, ``-``, ``+`` or ``±`` (see the module docs).
        amount: the allowed change (relative: a fraction when ``percent``), or the budget value.
        percent: the amount is a fraction of the baseline value.
        op: for absolute budgets, ``<=``, ``<``, ``>=`` or ``>``.
    """

    text: str
    metric: str
    stat: str
    kind: str
    direction: str = "±"
    amount: float = 0.0
    percent: bool = False
    op: str = ""

    @property
    def key(self) -> str:
        """``metric.stat`` (``return.mean``, ``frame_ms.p99``)."""
        return f"{self.metric}.{self.stat}"

    @property
    def is_episode_metric(self) -> bool:
        """True for ``return``/``length`` (per-episode), False for per-step ``info`` metrics."""
        return self.metric in EPISODE_METRICS

    @property
    def needs_baseline(self) -> bool:
        """Relative tolerances compare with a baseline; absolute budgets do not."""
        return self.kind == "relative"

    def allowed_range(self, baseline: float | None = None) -> tuple[float, float]:
        """The interval the observed value must fall in (``baseline`` needed when relative)."""
        if self.kind == "absolute":
            if self.op in ("<=", "<"):
                return (-math.inf, self.amount)
            return (self.amount, math.inf)
        if baseline is None:
            raise ToleranceError(f"tolerance {self.text!r} is relative and needs a baseline value")
        delta = abs(baseline) * self.amount if self.percent else self.amount
        low = baseline - delta if self.direction in ("-", "±") else -math.inf
        high = baseline + delta if self.direction in ("+", "±") else math.inf
        return (low, high)

    def passes(self, observed: float, baseline: float | None = None) -> bool:
        """Whether ``observed`` is within the tolerance (NaN never passes)."""
        if observed != observed:
            return False
        if self.kind == "absolute":
            return {"<=": observed <= self.amount, "<": observed < self.amount,
                    ">=": observed >= self.amount, ">": observed > self.amount}[self.op]
        low, high = self.allowed_range(baseline)
        # a tiny slack so that a value equal to the bound, up to float rounding, passes
        slack = 1e-9 * max(1.0, abs(baseline or 0.0))
        return low - slack <= observed <= high + slack

    def describe_allowed(self, baseline: float | None = None) -> str:
        """Human text of what is allowed, e.g. ``>= 180.0 (-10%)`` or ``<= 16.6``."""
        if self.kind == "absolute":
            return f"{self.op} {_fmt(self.amount)}"
        amount = f"{self.amount * 100:g}%" if self.percent else _fmt(self.amount)
        if baseline is None:
            return f"{self.direction}{amount}"
        low, high = self.allowed_range(baseline)
        if self.direction == "-":
            return f">= {_fmt(low)} (-{amount})"
        if self.direction == "+":
            return f"<= {_fmt(high)} (+{amount})"
        return f"{_fmt(low)}..{_fmt(high)} (±{amount})"

    def __str__(self) -> str:
        return self.text


def _fmt(value: float) -> str:
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.6g}"


def parse_tolerance(text: str) -> Tolerance:
    """Parse one expression; raises :class:`ToleranceError` naming it and saying what is wrong."""
    if not isinstance(text, str):
        raise ToleranceError(f"tolerance {text!r} must be a string like 'return:10%'")
    compact = re.sub(r"\s+", "", text)
    m = _PATTERN.match(compact)
    if not m:
        raise ToleranceError(
            f"tolerance {text!r} is not understood: write '<metric>[.<stat>]:[+|-|±]<amount>[%]' "
            f"(e.g. 'return:10%', 'frame_ms.p99:+10%') or '<metric>[.<stat>]<=<value>' "
            f"(e.g. 'frame_ms.p99<=16.6ms')"
        )
    metric = m.group("metric")
    if metric in ("success", "success_rate"):
        raise ToleranceError(
            f"tolerance {text!r}: the success rate is judged by Fisher's exact test against the "
            "baseline's counts, not by a tolerance; pass alpha= to change its level"
        )
    stat = (m.group("stat") or "mean").lower()
    if stat == "p50":
        stat = "median"
    pm = _PERCENTILE.match(stat)
    if pm:
        q = float(pm.group(1))
        if not 0.0 < q <= 100.0:
            raise ToleranceError(f"tolerance {text!r}: percentile {stat!r} must be between p0 and p100")
        stat = f"p{q:g}"
    elif stat not in _STATS:
        raise ToleranceError(
            f"tolerance {text!r}: unknown statistic {stat!r}; use one of {', '.join(_STATS)} or p<q> (p95, p99)"
        )
    if stat == "iqm" and metric not in EPISODE_METRICS:
        raise ToleranceError(f"tolerance {text!r}: iqm is available for return and length only")
    unit = m.group("unit") or m.group("vunit")
    if unit == "ms" and not metric.endswith("_ms"):
        raise ToleranceError(f"tolerance {text!r}: the unit 'ms' only fits metrics in milliseconds (*_ms)")
    if m.group("op"):
        return Tolerance(text=text, metric=metric, stat=stat, kind="absolute",
                         amount=float(m.group("value")), op=m.group("op"))
    sign = m.group("sign")
    direction = natural_direction(metric) if sign is None else ("±" if sign in ("±", "+-") else sign)
    amount = float(m.group("amount"))
    percent = unit == "%"
    if percent:
        amount /= 100.0
    if not math.isfinite(amount):
        raise ToleranceError(f"tolerance {text!r}: the amount must be a finite number")
    return Tolerance(text=text, metric=metric, stat=stat, kind="relative", direction=direction,
                     amount=amount, percent=percent)


def parse_tolerances(texts: Iterable[str | Tolerance] | str | None) -> list[Tolerance]:
    """Parse a list of expressions (a single string is one expression); validates all of them."""
    if texts is None:
        return []
    if isinstance(texts, (str, Tolerance)):
        texts = [texts]
    out: list[Tolerance] = []
    seen: dict[str, str] = {}
    for item in texts:
        tol = item if isinstance(item, Tolerance) else parse_tolerance(item)
        marker = f"{tol.key}:{tol.kind}:{tol.op}"
        if marker in seen:
            raise ToleranceError(f"tolerance {tol.text!r} repeats {seen[marker]!r}")
        seen[marker] = tol.text
        out.append(tol)
    return out


def metric_value(values: Sequence[float] | np.ndarray, stat: str) -> float:
    """Compute ``stat`` (``mean``, ``median``, ``min``, ``max``, ``std``, ``iqm``, ``p<q>``) of
    ``values``; NaN when there are none."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan")
    if stat == "mean":
        return float(arr.mean())
    if stat == "median":
        return float(np.median(arr))
    if stat == "min":
        return float(arr.min())
    if stat == "max":
        return float(arr.max())
    if stat == "std":
        return float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    if stat == "iqm":
        from ..playtest import interquartile_mean

        return interquartile_mean(arr.tolist())
    pm = _PERCENTILE.match(stat)
    if pm:
        return float(np.percentile(arr, float(pm.group(1))))
    raise ToleranceError(f"unknown statistic {stat!r}")
