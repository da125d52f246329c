"""Exact small-sample statistics for playtest verdicts.

The distributions come from scipy (imported on first use, so loading the plugin stays fast):
binomial tails (``scipy.special.bdtr``/``bdtrc``), Beta quantiles (``betaincinv``), Student t
(``stdtrit``) and Fisher's exact test (``scipy.stats.fisher_exact``). What is ours is the verdict
logic on top of them: the exact tests and bounds, their planning and power, and Wald's SPRT with its
exact operating characteristic.

Statistics provided
-------------------
* :func:`clopper_pearson_lower` / :func:`clopper_pearson_upper` / :func:`clopper_pearson_interval`:
  the exact (Clopper-Pearson, 1934) confidence bounds of a binomial proportion. The one-sided lower
  bound ``L`` at level ``alpha`` solves ``P(X >= k | L) = alpha``.
* :func:`success_interval`: THE interval every report of a success rate shows (terminal, run report,
  JUnit, summaries, baselines, verdict tables): the two-sided 95% Clopper-Pearson interval, named
  :data:`CI_LABEL` for people and :data:`CI_METHOD` in stored files.
* :func:`binom_test_greater` / :func:`binom_test_less`: one-sided exact binomial tests
  (``H0: p <= p0`` vs ``H1: p > p0`` and ``H0: p >= p0`` vs ``H1: p < p0``). They are dual to the
  bounds: ``binom_test_greater(k, n, p0) <= alpha`` exactly when ``clopper_pearson_lower(k, n,
  alpha) >= p0``.
* :func:`plan_episodes` / :func:`exact_power`: sample size and achieved power of the fixed-size
  one-sided exact binomial test.
* :class:`SPRT` and :func:`sprt_operating_characteristics`: Wald's sequential probability ratio
  test for a Bernoulli rate, and its exact operating characteristic computed by dynamic programming.
* :func:`fisher_exact_less`: Fisher's exact one-sided test that one success rate is below another.
* :func:`t_interval`: Student-t confidence interval of a mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import VerdictUsageError

__all__ = [
    "ACCEPT_H0",
    "ACCEPT_H1",
    "CI_CONFIDENCE",
    "CI_LABEL",
    "CI_METHOD",
    "CONTINUE",
    "SPRT",
    "SPRTCharacteristics",
    "binom_test_greater",
    "binom_test_less",
    "clopper_pearson_interval",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "exact_power",
    "fisher_exact_less",
    "plan_episodes",
    "sprt_operating_characteristics",
    "success_interval",
    "t_interval",
]

#: the confidence of :func:`success_interval`
CI_CONFIDENCE = 0.95
#: how stored files (summaries, baselines, JUnit) name the success-rate interval
CI_METHOD = "clopper-pearson-95"
#: how people read it (terminal, run report, verdict tables)
CI_LABEL = "95% CI (Clopper-Pearson)"


# -- input checks -----------------------------------------------------------------------------------
def _check_counts(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise VerdictUsageError(f"need 0 <= successes <= trials, got successes={k}, trials={n}")


def _check_prob(p: float, name: str = "p") -> None:
    if not 0.0 <= p <= 1.0 or p != p:
        raise VerdictUsageError(f"{name} must be a probability in [0, 1], got {p}")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise VerdictUsageError(f"alpha must be in (0, 1), got {alpha}")


# -- binomial tails ---------------------------------------------------------------------------------
def _at_least(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``."""
    from scipy import special

    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(special.bdtrc(k - 1, n, p))


def _at_most(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``."""
    from scipy import special

    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return float(special.bdtr(k, n, p))


def binom_test_greater(successes: int, trials: int, p0: float) -> float:
    """One-sided exact binomial test of ``H0: p <= p0`` against ``H1: p > p0``.

    Returns the p-value ``P(X >= successes | n=trials, p=p0)``. Reject ``H0`` (conclude the rate
    exceeds ``p0``) when it is ``<= alpha``.
    """
    _check_counts(successes, trials)
    _check_prob(p0, "p0")
    return _at_least(successes, trials, p0)


def binom_test_less(successes: int, trials: int, p0: float) -> float:
    """One-sided exact binomial test of ``H0: p >= p0`` against ``H1: p < p0``.

    Returns the p-value ``P(X <= successes | n=trials, p=p0)``. Reject ``H0`` (conclude the rate is
    below ``p0``) when it is ``<= alpha``.
    """
    _check_counts(successes, trials)
    _check_prob(p0, "p0")
    return _at_most(successes, trials, p0)


# -- Clopper-Pearson --------------------------------------------------------------------------------
def clopper_pearson_lower(successes: int, trials: int, alpha: float = 0.05) -> float:
    """Exact one-sided lower confidence bound (level ``1 - alpha``) of a binomial proportion.

    ``L`` solves ``P(X >= k | n, L) = alpha``: the ``alpha`` quantile of Beta(k, n - k + 1); ``L = 0``
    when ``k = 0``. ``P(p >= L) >= 1 - alpha`` for every true ``p``.
    """
    from scipy import special

    _check_counts(successes, trials)
    _check_alpha(alpha)
    if successes == 0:
        return 0.0
    return float(special.betaincinv(successes, trials - successes + 1, alpha))


def clopper_pearson_upper(successes: int, trials: int, alpha: float = 0.05) -> float:
    """Exact one-sided upper confidence bound (level ``1 - alpha``) of a binomial proportion.

    ``U`` solves ``P(X <= k | n, U) = alpha``: the ``1 - alpha`` quantile of Beta(k + 1, n - k);
    ``U = 1`` when ``k = n``.
    """
    from scipy import special

    _check_counts(successes, trials)
    _check_alpha(alpha)
    if successes == trials:
        return 1.0
    return float(special.betaincinv(successes + 1, trials - successes, 1.0 - alpha))


def clopper_pearson_interval(successes: int, trials: int, confidence: float = CI_CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided Clopper-Pearson interval: each side at level ``(1 - confidence) / 2``.

    With no trials the interval is ``(0, 1)``.
    """
    if trials == 0:
        return (0.0, 1.0)
    half = (1.0 - confidence) / 2.0
    return (clopper_pearson_lower(successes, trials, half), clopper_pearson_upper(successes, trials, half))


def success_interval(successes: int, trials: int) -> tuple[float, float]:
    """The success-rate interval every report shows: two-sided 95% Clopper-Pearson (:data:`CI_LABEL`)."""
    return clopper_pearson_interval(successes, trials, CI_CONFIDENCE)


# -- planning the fixed-size exact test --------------------------------------------------------------
def _critical_successes(n: int, p0: float, alpha: float, start: int = 0) -> int:
    """Smallest ``c`` with ``P(X >= c | n, p0) <= alpha`` (``n + 1`` when the test cannot reject)."""
    c = start
    while c <= n and _at_least(c, n, p0) > alpha:
        c += 1
    return c


def exact_power(n: int, p0: float, p1: float, alpha: float = 0.05) -> float:
    """Power of the one-sided exact binomial test with ``n`` trials at level ``alpha``.

    For ``p1 > p0`` the test is ``H0: p <= p0`` vs ``H1: p > p0`` and rejects when ``X >= c`` (the
    smallest ``c`` with ``P(X >= c | p0) <= alpha``); the power is ``P(X >= c | p1)``. For
    ``p1 < p0`` the mirror-image test ``H0: p >= p0`` vs ``H1: p < p0`` is used, so the result is the
    probability of concluding the rate is below ``p0`` when it is really ``p1``.
    """
    _check_prob(p0, "p0")
    _check_prob(p1, "p1")
    _check_alpha(alpha)
    if n < 1:
        return 0.0
    if p1 < p0:
        return exact_power(n, 1.0 - p0, 1.0 - p1, alpha)
    return _at_least(_critical_successes(n, p0, alpha), n, p1)


def plan_episodes(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, *,
                  max_n: int = 100_000) -> int:
    """Smallest number of episodes for which the fixed-size one-sided exact binomial test at level
    ``alpha`` has at least ``power`` against the alternative ``p1``.

    With ``p1 > p0`` this is the test of ``H0: p <= p0`` (see :func:`exact_power`); with ``p1 < p0``
    the mirror test of ``H0: p >= p0``. The exact test's power is a saw-tooth in ``n`` (a slightly
    larger ``n`` can have slightly less power); this returns the smallest ``n`` reaching the target.

    Raises:
        VerdictUsageError: when ``p0 == p1``, or no ``n <= max_n`` reaches the power.
    """
    _check_prob(p0, "p0")
    _check_prob(p1, "p1")
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise VerdictUsageError(f"power must be in (0, 1), got {power}")
    if p1 == p0:
        raise VerdictUsageError("p1 must differ from p0: no sample size can tell equal rates apart")
    if p1 < p0:
        return plan_episodes(1.0 - p0, 1.0 - p1, alpha, power, max_n=max_n)
    c = 0
    for n in range(1, max_n + 1):
        # The critical value never decreases with n, and grows by at most one per extra trial.
        c = _critical_successes(n, p0, alpha, start=c)
        if c <= n and _at_least(c, n, p1) >= power:
            return n
    raise VerdictUsageError(f"no sample size up to {max_n} gives power {power} to tell {p1} from {p0} "
                            f"at alpha={alpha}")


# -- Wald's sequential probability ratio test ------------------------------------------------------
ACCEPT_H1 = "accept_h1"
ACCEPT_H0 = "accept_h0"
CONTINUE = "continue"


def _check_sprt(p0: float, p1: float, alpha: float, beta: float) -> None:
    if not 0.0 < p0 < p1 < 1.0:
        raise VerdictUsageError(f"the SPRT needs 0 < p0 < p1 < 1, got p0={p0}, p1={p1}")
    _check_alpha(alpha)
    if not 0.0 < beta < 1.0:
        raise VerdictUsageError(f"beta must be in (0, 1), got {beta}")
    if alpha + beta >= 1.0:
        raise VerdictUsageError(f"alpha + beta must be below 1, got alpha={alpha}, beta={beta}")


class SPRT:
    """Wald's sequential probability ratio test for a Bernoulli success rate.

    Hypotheses (simple vs simple): ``H0: p = p0`` against ``H1: p = p1`` with ``p1 > p0``. For a
    playtest threshold ``t`` use ``p0 = t`` and ``p1 = t + delta`` (see :meth:`for_threshold`):
    accepting ``H1`` means "the rate clears the threshold", accepting ``H0`` means "the rate is
    not above the threshold". Because the likelihood ratio is monotone in the rate, the error rates
    also hold for composite hypotheses: ``P(accept H1) <= ~alpha`` whenever ``p <= p0`` and
    ``P(accept H0) <= ~beta`` whenever ``p >= p1``; rates between ``p0`` and ``p1`` are an
    indifference zone.

    After each outcome the log-likelihood ratio ``llr = k log(p1/p0) + (n-k) log((1-p1)/(1-p0))``
    is compared with Wald's bounds ``log A`` and ``log B`` where ``A = (1 - beta) / alpha`` and
    ``B = beta / (1 - alpha)``: ``llr >= log A`` accepts ``H1``, ``llr <= log B`` accepts ``H0``,
    otherwise sampling continues. Wald's bounds are conservative (the realised error rates are at
    most about ``alpha / (1 - beta)`` and ``beta / (1 - alpha)``, usually below the nominal ones).
    """

    def __init__(self, p0: float, p1: float, alpha: float = 0.05, beta: float = 0.2) -> None:
        """Set up the test; ``alpha`` is P(accept H1 | p0), ``beta`` is P(accept H0 | p1)."""
        _check_sprt(p0, p1, alpha, beta)
        self.p0, self.p1, self.alpha, self.beta = p0, p1, alpha, beta
        self.log_a = math.log((1.0 - beta) / alpha)
        self.log_b = math.log(beta / (1.0 - alpha))
        self.step_success = math.log(p1 / p0)
        self.step_failure = math.log((1.0 - p1) / (1.0 - p0))
        self.llr = 0.0
        self.n = 0
        self.successes = 0
        self.decision = CONTINUE
        self.decided_at: int | None = None

    @classmethod
    def for_threshold(cls, threshold: float, delta: float = 0.1, alpha: float = 0.05,
                      beta: float = 0.2) -> SPRT:
        """The SPRT of ``H0: p = threshold`` against ``H1: p = threshold + delta``."""
        if delta <= 0:
            raise VerdictUsageError(f"delta must be > 0, got {delta}")
        if not 0.0 < threshold + delta < 1.0:
            raise VerdictUsageError(
                f"threshold + delta = {threshold + delta:g} must be below 1 for a sequential test; "
                f"use delta < {1.0 - threshold:g}"
            )
        return cls(threshold, threshold + delta, alpha, beta)

    def update(self, outcomes: bool | Iterable[bool]) -> str:
        """Add one outcome or several (True = success) and return the decision.

        Once decided, further outcomes are ignored: the decision is the one reached at the first
        crossing of a bound.
        """
        items = [outcomes] if isinstance(outcomes, (bool, np.bool_)) else list(outcomes)
        for success in items:
            if self.decision != CONTINUE:
                break
            self.n += 1
            if success:
                self.successes += 1
                self.llr += self.step_success
            else:
                self.llr += self.step_failure
            if self.llr >= self.log_a:
                self.decision, self.decided_at = ACCEPT_H1, self.n
            elif self.llr <= self.log_b:
                self.decision, self.decided_at = ACCEPT_H0, self.n
        return self.decision

    @property
    def decided(self) -> bool:
        """True once a bound was crossed."""
        return self.decision != CONTINUE

    def drift(self, p: float) -> float:
        """The expected change of the log-likelihood ratio per episode at the true rate ``p``."""
        return p * self.step_success + (1 - p) * self.step_failure

    def expected_episodes(self, p: float) -> float:
        """Wald's approximation of the expected number of trials when the true rate is ``p``
        (ignoring the overshoot of the bounds, so slightly low)."""
        drift = self.drift(p)
        if abs(drift) < 1e-12:
            second_moment = p * self.step_success ** 2 + (1 - p) * self.step_failure ** 2
            return -self.log_a * self.log_b / second_moment
        oc = self._wald_oc(p)  # P(accept H0)
        return (oc * self.log_b + (1 - oc) * self.log_a) / drift

    def _wald_oc(self, p: float) -> float:
        """Wald's approximate probability of accepting H0 at rate ``p``, through the nonzero root
        ``h`` of ``p (p1/p0)^h + (1-p) ((1-p1)/(1-p0))^h = 1`` (found with scipy's ``brentq``)."""
        from scipy.optimize import brentq

        def g(h: float) -> float:
            return p * math.exp(h * self.step_success) + (1 - p) * math.exp(h * self.step_failure) - 1

        drift = self.drift(p)
        if abs(drift) < 1e-12:
            return self.log_a / (self.log_a - self.log_b)
        # g(0) = 0 and g'(0) = drift: the other root lies on the side where g first dips below 0.
        sign = 1.0 if drift < 0 else -1.0
        far = sign
        while g(far) <= 0:
            far *= 2
        near = sign * 1e-9
        h = float(brentq(g, min(near, far), max(near, far)))
        a_h, b_h = math.exp(h * self.log_a), math.exp(h * self.log_b)
        return (a_h - 1) / (a_h - b_h)

    def __repr__(self) -> str:
        return (f"SPRT(p0={self.p0}, p1={self.p1}, alpha={self.alpha}, beta={self.beta}, n={self.n}, "
                f"successes={self.successes}, llr={self.llr:.3f}, decision={self.decision!r})")


@dataclass(frozen=True)
class SPRTCharacteristics:
    """Exact operating characteristic of a (truncated) SPRT at one true rate."""

    p: float
    accept_h1: float
    accept_h0: float
    undecided: float
    expected_episodes: float


def sprt_operating_characteristics(p: float, p0: float, p1: float, alpha: float = 0.05,
                                   beta: float = 0.2, cap: int = 2000) -> SPRTCharacteristics:
    """Exact probabilities of each SPRT decision and the expected number of episodes at rate ``p``.

    Computed by dynamic programming over (trials, successes) — the log-likelihood ratio depends only
    on those two counts — for the SPRT truncated at ``cap`` trials (paths still undecided at ``cap``
    count as ``undecided`` and contribute ``cap`` trials to the expectation).
    """
    _check_prob(p)
    test = SPRT(p0, p1, alpha, beta)
    alive = np.zeros(cap + 2)
    alive[0] = 1.0  # probability of being undecided with k successes after n trials
    acc1 = acc0 = expected = 0.0
    ks = np.arange(cap + 2)
    for n in range(1, cap + 1):
        new = np.empty_like(alive)
        new[0] = alive[0] * (1 - p)
        new[1:] = alive[1:] * (1 - p) + alive[:-1] * p
        llr = ks * test.step_success + (n - ks) * test.step_failure
        valid = ks <= n
        up, down = valid & (llr >= test.log_a), valid & (llr <= test.log_b)
        p_up, p_down = float(new[up].sum()), float(new[down].sum())
        acc1 += p_up
        acc0 += p_down
        expected += n * (p_up + p_down)
        new[up | down] = 0.0
        alive = new
    undecided = float(alive.sum())
    expected += cap * undecided
    return SPRTCharacteristics(p=p, accept_h1=acc1, accept_h0=acc0, undecided=undecided,
                               expected_episodes=expected)


# -- two proportions, means -------------------------------------------------------------------------
def fisher_exact_less(k1: int, n1: int, k2: int, n2: int) -> float:
    """Fisher's exact one-sided test that group 1's success rate is below group 2's.

    ``H0: p1 >= p2`` against ``H1: p1 < p2``, conditional on the total number of successes
    (hypergeometric): ``scipy.stats.fisher_exact([[k1, n1-k1], [k2, n2-k2]], alternative="less")``.
    An empty group gives 1 (no evidence).
    """
    from scipy.stats import fisher_exact

    _check_counts(k1, n1)
    _check_counts(k2, n2)
    if n1 == 0 or n2 == 0:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(fisher_exact(table, alternative="less").pvalue)


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t confidence interval of the mean: ``mean ± t_{df} * s / sqrt(n)``.

    Returns ``(nan, nan)`` with fewer than two values.
    """
    from scipy import special

    arr = np.asarray(values, dtype=float)
    n = len(arr)
    if n < 2:
        return (float("nan"), float("nan"))
    mean = float(arr.mean())
    quantile = float(special.stdtrit(n - 1, 1.0 - (1.0 - confidence) / 2.0))
    half = quantile * float(arr.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)
