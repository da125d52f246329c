"""Success-rate verdicts: the fixed-size exact binomial test and the sequential (SPRT) decision.

* :func:`assert_success_rate` — what a test calls on a result.
* :func:`decide_success_rate` — what ``rl_playtest(at_least=p)`` and
  ``rl_playtest(sequential=True, at_least=p)`` call on the result they produced, so that the call
  itself decides: a "worse" verdict fails the test and an inconclusive one follows
  ``--rl-inconclusive``, exactly as :func:`assert_success_rate` does.

Both judge a sequential run (a result carrying a :class:`~.sequential.SequentialOutcome`) by the
SPRT's decision and any other run by the one-sided exact binomial tests.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

from .errors import MissingMetricError, VerdictUsageError
from .ledger import record_verdict
from .sequential import SequentialOutcome, sequential_outcome
from .stats import (
    ACCEPT_H0,
    ACCEPT_H1,
    CI_LABEL,
    CI_METHOD,
    binom_test_greater,
    binom_test_less,
    clopper_pearson_lower,
    clopper_pearson_upper,
    exact_power,
    plan_episodes,
    sprt_operating_characteristics,
    success_interval,
)
from .table import FAIL, INCONCLUSIVE, OK, Row, fmt_interval
from .verdict import FAILED, PASS, Verdict, conclude

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = ["assert_success_rate", "decide_success_rate", "episodes_to_decide", "success_rate_verdict"]

#: the most episodes a plan suggests (beyond it, the message says so)
MAX_PLANNED = 20_000


def _normal_episodes(p0: float, p1: float, alpha: float, power: float) -> float:
    """The normal-approximation sample size of a one-sided test of p0 against p1."""
    z = NormalDist()
    za, zb = z.inv_cdf(1 - alpha), z.inv_cdf(power)
    num = za * math.sqrt(p0 * (1 - p0)) + zb * math.sqrt(p1 * (1 - p1))
    return (num / abs(p1 - p0)) ** 2


def episodes_to_decide(successes: int, trials: int, threshold: float, alpha: float = 0.05,
                       power: float = 0.8, delta: float = 0.1,
                       max_n: int = MAX_PLANNED) -> tuple[int | None, float]:
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
    except VerdictUsageError:
        return None, assumed


def _check_request(result: PlaytestResult, at_least: float) -> int:
    """Validate the threshold and that episodes were judged; return the judged count."""
    if not 0.0 < at_least < 1.0:
        raise VerdictUsageError(
            f"at_least={at_least!r} must be strictly between 0 and 1 (a rate of exactly 1 can never be "
            "shown from finitely many episodes; use e.g. at_least=0.99 with enough episodes)"
        )
    judged = len(result.judged)
    if judged == 0:
        raise MissingMetricError(
            f"no episode of the {result.n_episodes} has a success verdict: give the scenario "
            "success=<info key or callable(Episode)> or have the game report info['is_success']"
        )
    return judged


def _power_notes(n: int, p: float, alpha: float, delta: float) -> list[str]:
    bits = []
    if p - delta > 0:
        bits.append(f"{exact_power(n, p, p - delta, alpha):.2f} to fail a game whose true rate is {p - delta:.3g}")
    if p + delta < 1:
        bits.append(f"{exact_power(n, p, p + delta, alpha):.2f} to pass one whose true rate is {p + delta:.3g}")
    return [f"achieved power with {n} episodes: " + "; ".join(bits)] if bits else []


def _plan_note(k: int, n: int, p: float, alpha: float, power: float, delta: float) -> tuple[list[str], int | None]:
    total, assumed = episodes_to_decide(k, n, p, alpha, power, delta)
    if total is None:
        return [f"deciding would take more than {MAX_PLANNED} episodes if the true rate is {assumed:.3g}"], None
    more, all_ = max(total - n, 1), max(total, n + 1)
    return [f"about {more} more episodes ({all_} in all, e.g. episodes={all_}) would decide with "
            f"{power:.0%} power if the true rate is {assumed:.3g}"], total


def success_rate_verdict(result: PlaytestResult, at_least: float, alpha: float = 0.05, *, power: float = 0.8,
                         delta: float = 0.1) -> Verdict:
    """The fixed-size verdict (not concluded): one-sided exact binomial tests at level ``alpha``.

    **pass** when ``P(X >= k | at_least) <= alpha`` (the one-sided Clopper-Pearson lower bound clears
    the threshold), **fail** when ``P(X <= k | at_least) <= alpha`` (the upper bound is below it),
    otherwise **inconclusive**. The row shows the same interval as every report (:data:`CI_LABEL`).
    """
    n = _check_request(result, at_least)
    if not 0.0 < alpha < 0.5:
        raise VerdictUsageError(f"alpha must be in (0, 0.5), got {alpha}")
    k, p = result.successes, at_least
    lower, upper = clopper_pearson_lower(k, n, alpha), clopper_pearson_upper(k, n, alpha)
    p_pass, p_fail = binom_test_greater(k, n, p), binom_test_less(k, n, p)
    outcome = PASS if p_pass <= alpha else FAILED if p_fail <= alpha else INCONCLUSIVE
    low, high = success_interval(k, n)
    row = Row(metric="success_rate", observed=f"{k / n:.3f} ({k}/{n})", interval=fmt_interval(low, high, CI_LABEL),
              allowed=f">= {p:g}", verdict={PASS: OK, FAILED: FAIL}.get(outcome, INCONCLUSIVE))
    words = {PASS: "passes", FAILED: "is below", INCONCLUSIVE: "is inconclusive against"}[outcome]
    title = f"success rate {k / n:.3f} ({k}/{n} episodes) {words} the threshold {p:g} (alpha={alpha:g})"
    notes = [f"one-sided exact binomial tests: P(X >= {k} | n={n}, p={p:g}) = {p_pass:.4g} (pass if <= {alpha:g}); "
             f"P(X <= {k} | n={n}, p={p:g}) = {p_fail:.4g} (fail if <= {alpha:g}); one-sided "
             f"{1 - alpha:.0%} Clopper-Pearson bounds: lower {lower:.4f}, upper {upper:.4f}",
             *_power_notes(n, p, alpha, delta)]
    total = None
    if outcome == INCONCLUSIVE:
        plan, total = _plan_note(k, n, p, alpha, power, delta)
        notes += plan
    return Verdict(outcome=outcome, title=title, rows=[row], notes=notes, details={
        "successes": k, "episodes": n, "threshold": p, "alpha": alpha, "lower": lower, "upper": upper,
        "ci_low": low, "ci_high": high, "ci_method": CI_METHOD, "p_value_pass": p_pass, "p_value_fail": p_fail,
        "episodes_to_decide": total, "method": "exact-binomial",
    })


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


def _sprt_notes(seq: SequentialOutcome, undecided: bool) -> list[str]:
    notes = [
        f"Wald SPRT of H0: rate = {seq.threshold:g} vs H1: rate = {seq.alternative:g} "
        f"(alpha={seq.alpha:g}, beta={seq.beta:g}; bounds log A = log((1-beta)/alpha) = {seq.log_a:.3f}, "
        f"log B = log(beta/(1-alpha)) = {seq.log_b:.3f}): "
        + {ACCEPT_H1: "accepted H1", ACCEPT_H0: "accepted H0"}.get(seq.decision, "no bound crossed"),
    ]
    if undecided:
        n = seq.episodes_used
        limit = f"the cap of {seq.cap}" if seq.cap is not None and n >= seq.cap else "the run's episodes"
        hint = _sprt_cap_hint(seq, seq.successes / n if n else seq.threshold)
        more = (f"; with a cap of {hint} episodes the test decides at least 95% of the time at the observed rate"
                if hint else "")
        notes.append(f"{limit} ran out before a decision{more}")
    return notes


def sequential_verdict(seq: SequentialOutcome, result: PlaytestResult) -> Verdict:
    """The verdict of a sequential run (not concluded): the SPRT's decision."""
    k, n = seq.successes, seq.episodes_used
    outcome = {ACCEPT_H1: PASS, ACCEPT_H0: FAILED}.get(seq.decision, INCONCLUSIVE)
    low, high = success_interval(k, n)
    row = Row(metric="success_rate (SPRT)", observed=f"{k / n:.3f} ({k}/{n})" if n else "- (0 episodes)",
              interval=fmt_interval(low, high, CI_LABEL) if n else "-",
              allowed=f">= {seq.threshold:g}: LLR {seq.llr:.3f}, pass at >= {seq.log_a:.3f}, fail at <= {seq.log_b:.3f}",
              verdict={PASS: OK, FAILED: FAIL}.get(outcome, INCONCLUSIVE))
    words = {PASS: "passes", FAILED: "is below", INCONCLUSIVE: "is undecided against"}[outcome]
    title = f"success rate {words} the threshold {seq.threshold:g} by a sequential test after {n} episodes"
    return Verdict(outcome=outcome, title=title, rows=[row], notes=_sprt_notes(seq, outcome == INCONCLUSIVE),
                   details={"successes": k, "episodes": n, "threshold": seq.threshold, "alternative": seq.alternative,
                            "alpha": seq.alpha, "beta": seq.beta, "llr": seq.llr, "decision": seq.decision,
                            "ci_low": low, "ci_high": high, "ci_method": CI_METHOD,
                            "method": "sprt", "episodes_in_result": result.n_episodes})


def _matching_sequential(result: PlaytestResult, at_least: float, alpha: float | None,
                         beta: float | None) -> SequentialOutcome | None:
    """The result's sequential decision, checked against the threshold and error rates asked for."""
    seq = sequential_outcome(result)
    if seq is None:
        return None
    if abs(seq.threshold - at_least) > 1e-12:
        raise VerdictUsageError(f"the sequential run tested the threshold {seq.threshold}, but the verdict asks "
                                f"at_least={at_least}; use the same threshold in both")
    if alpha is not None and abs(alpha - seq.alpha) > 1e-12:
        raise VerdictUsageError(f"the sequential run used alpha={seq.alpha}, but the verdict asks alpha={alpha}")
    if beta is not None and abs(beta - seq.beta) > 1e-12:
        raise VerdictUsageError(f"the sequential run used beta={seq.beta}, but the verdict asks beta={beta}")
    return seq


def _decide(result: PlaytestResult, at_least: float, alpha: float | None, beta: float | None, power: float,
            inconclusive: str | None, delta: float) -> Verdict:
    __tracebackhide__ = True
    _check_request(result, at_least)
    seq = _matching_sequential(result, at_least, alpha, beta)
    if seq is not None:
        verdict = sequential_verdict(seq, result)
    else:
        if not 0.0 < power < 1.0:
            raise VerdictUsageError(f"power must be in (0, 1) (beta = 1 - power), got power={power}")
        verdict = success_rate_verdict(result, at_least, 0.05 if alpha is None else alpha, power=power, delta=delta)
    record_verdict(verdict, result)  # before concluding: failures are recorded too
    return conclude(verdict, inconclusive)


def decide_success_rate(result: PlaytestResult, at_least: float, alpha: float | None = None,
                        beta: float | None = None, inconclusive: str | None = None, *,
                        delta: float = 0.1) -> Verdict:
    """Decide whether the success rate of ``result`` is at least ``at_least``, and conclude.

    What ``rl_playtest(at_least=p)`` and ``rl_playtest(sequential=True, at_least=p)`` call on their
    result. A sequential run is judged by its SPRT (``alpha`` and ``beta``, when given, must be the
    run's); any other run by the one-sided exact binomial tests at level ``alpha`` (default 0.05),
    planning "how many more episodes" with power ``1 - beta`` (default 0.8).

    Returns the :class:`Verdict` when it passes (or is inconclusive under ``pass``).

    Raises:
        VerdictFailure: the rate is below the threshold, or inconclusive under ``fail``
            (``inconclusive=`` or ``--rl-inconclusive``).
        MissingMetricError: no episode has a success verdict.
        VerdictUsageError: a threshold outside (0, 1), alpha outside (0, 0.5), or a sequential run
            judged against another threshold or other error rates.
    """
    __tracebackhide__ = True
    return _decide(result, at_least, alpha, beta, 0.8 if beta is None else 1.0 - beta, inconclusive, delta)


def assert_success_rate(result: PlaytestResult, at_least: float, alpha: float | None = None, *,
                        inconclusive: str | None = None, power: float = 0.8, delta: float = 0.1) -> Verdict:
    """Assert that the game's success rate is at least ``at_least``.

    Fixed-size runs use one-sided exact binomial tests, equivalently the exact one-sided
    Clopper-Pearson bounds ``L`` and ``U`` at level ``1 - alpha`` each:

    * **pass** when ``L >= at_least`` (at most ``alpha`` of games whose true rate is the threshold pass);
    * **fail** when ``U < at_least`` (at most ``alpha`` of games at the threshold fail);
    * otherwise **inconclusive**: the message says how many episodes would decide.

    The message shows the 95% Clopper-Pearson interval (the one every report shows) and the achieved
    power: the probability this many episodes would pass a game whose rate is ``at_least + delta``
    and fail one whose rate is ``at_least - delta``. A result of a sequential run is judged by its
    SPRT's decision (``accept H1`` -> pass, ``accept H0`` -> fail, undecided -> inconclusive).

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
    return _decide(result, at_least, alpha, None, power, inconclusive, delta)
