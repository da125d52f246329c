"""Exact small-sample statistics for playtest verdicts, with no scipy at runtime.

Everything here is a pure function (or the small :class:`SPRT` state machine) of counts. The
binomial and Student-t distributions are evaluated through the regularized incomplete beta function
``I_x(a, b)``, computed with the Lentz continued fraction (Numerical Recipes, 3rd ed., §6.4);
quantiles are found by bisection. Accuracy is better than 1e-10 absolute (lgamma round-off grows
slowly with the counts) for thousands of trials (the test-suite checks n up to 5000
against scipy).

Statistics provided
-------------------
* :func:`clopper_pearson_lower` / :func:`clopper_pearson_upper` / :func:`clopper_pearson_interval`:
  the exact (Clopper-Pearson, 1934) confidence bounds of a binomial proportion, by inverting the
  binomial CDF. The one-sided lower bound ``L`` at level ``alpha`` solves ``P(X >= k | L) = alpha``.
* :func:`binom_test_greater` / :func:`binom_test_less`: one-sided exact binomial tests
  (``H0: p <= p0`` vs ``H1: p > p0`` and ``H0: p >= p0`` vs ``H1: p < p0``). They are dual to the
  bounds: ``binom_test_greater(k, n, p0) <= alpha`` exactly when ``clopper_pearson_lower(k, n,
  alpha) >= p0``.
* :func:`plan_episodes` / :func:`exact_power`: sample size and achieved power of the fixed-size
  one-sided exact binomial test.
* :class:`SPRT` and :func:`sprt_operating_characteristics`: Wald's sequential probability ratio
  test for a Bernoulli rate, and its exact operating characteristic computed by dynamic programming.
* :func:`fisher_exact_less`: Fisher's exact one-sided test that one success rate is below another
  (conditional on the total number of successes, i.e. hypergeometric).
* :func:`t_interval`: Student-t confidence interval of a mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SPRT",
    "SPRTCharacteristics",
    "beta_ppf",
    "betainc",
    "binom_cdf",
    "binom_sf",
    "binom_test_greater",
    "binom_test_less",
    "clopper_pearson_interval",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "exact_power",
    "fisher_exact_less",
    "plan_episodes",
    "sprt_operating_characteristics",
    "student_t_cdf",
    "student_t_ppf",
    "t_interval",
]

_EPS = 1e-16
_FPMIN = 1e-300
_MAXIT = 100_000


# -- the regularized incomplete beta function --------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for ``I_x(a, b)`` (modified Lentz), converging for ``x < (a+1)/(a+b+2)``."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _FPMIN:
        d = _FPMIN
    d = 1.0 / d
    h = d
    for m in range(1, _MAXIT + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b) = B(x; a, b) / B(a, b)`` for ``a, b > 0``.

    This is the CDF of the Beta(a, b) distribution at ``x``.
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc needs a > 0 and b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(log_front) * _betacf(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b)


def beta_ppf(q: float, a: float, b: float) -> float:
    """Quantile of the Beta(a, b) distribution: the ``x`` with ``I_x(a, b) = q`` (bisection)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15:
            break
    return 0.5 * (lo + hi)


# -- binomial distribution -----------------------------------------------------------------------------
def _check_counts(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= successes <= trials, got successes={k}, trials={n}")


def _check_prob(p: float, name: str = "p") -> None:
    if not 0.0 <= p <= 1.0 or p != p:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")


def binom_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``; equals ``I_{1-p}(n - k, k + 1)``."""
    _check_prob(p)
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return betainc(n - k, k + 1, 1.0 - p)


def binom_sf(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)`` (note: *at least* k); equals ``I_p(k, n - k + 1)``."""
    _check_prob(p)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return betainc(k, n - k + 1, p)


def binom_test_greater(successes: int, trials: int, p0: float) -> float:
    """One-sided exact binomial test of ``H0: p <= p0`` against ``H1: p > p0``.

    Returns the p-value ``P(X >= successes | n=trials, p=p0)``. Reject ``H0`` (conclude the rate
    exceeds ``p0``) when it is ``<= alpha``.
    """
    _check_counts(successes, trials)
    return binom_sf(successes, trials, p0)


def binom_test_less(successes: int, trials: int, p0: float) -> float:
    """One-sided exact binomial test of ``H0: p >= p0`` against ``H1: p < p0``.

    Returns the p-value ``P(X <= successes | n=trials, p=p0)``. Reject ``H0`` (conclude the rate is
    below ``p0``) when it is ``<= alpha``.
    """
    _check_counts(successes, trials)
    return binom_cdf(successes, trials, p0)


def clopper_pearson_lower(successes: int, trials: int, alpha: float = 0.05) -> float:
    """Exact one-sided lower confidence bound (level ``1 - alpha``) of a binomial proportion.

    The Clopper-Pearson bound ``L`` solves ``P(X >= k | n, L) = alpha``, i.e. it is the ``alpha``
    quantile of Beta(k, n - k + 1); ``L = 0`` when ``k = 0``. ``P(p >= L) >= 1 - alpha`` for every
    true ``p`` (the coverage is guaranteed, not approximate).
    """
    _check_counts(successes, trials)
    _check_alpha(alpha)
    if successes == 0:
        return 0.0
    return beta_ppf(alpha, successes, trials - successes + 1)


def clopper_pearson_upper(successes: int, trials: int, alpha: float = 0.05) -> float:
    """Exact one-sided upper confidence bound (level ``1 - alpha``) of a binomial proportion.

    ``U`` solves ``P(X <= k | n, U) = alpha``, i.e. it is the ``1 - alpha`` quantile of
    Beta(k + 1, n - k); ``U = 1`` when ``k = n``.
    """
    _check_counts(successes, trials)
    _check_alpha(alpha)
    if successes == trials:
        return 1.0
    return beta_ppf(1.0 - alpha, successes + 1, trials - successes)


def clopper_pearson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided Clopper-Pearson interval: each side at level ``(1 - confidence) / 2``.

    With no trials the interval is ``(0, 1)``.
    """
    if trials == 0:
        return (0.0, 1.0)
    half = (1.0 - confidence) / 2.0
    return (clopper_pearson_lower(successes, trials, half), clopper_pearson_upper(successes, trials, half))


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


# -- planning the fixed-size exact test --------------------------------------------------------------
def _critical_successes(n: int, p0: float, alpha: float, start: int = 0) -> int:
    """Smallest ``c`` with ``P(X >= c | n, p0) <= alpha`` (``n + 1`` when the test cannot reject)."""
    c = start
    while c <= n and binom_sf(c, n, p0) > alpha:
        c += 1
    return c


def exact_power(n: int, p0: float, p1: float, alpha: float = 0.05) -> float:
    """Power of the one-sided exact binomial test with ``n`` trials at level ``alpha``.

    For ``p1 > p0`` the test is ``H0: p <= p0`` vs ``H1: p > p0`` and rejects when
    ``X >= c`` (the smallest ``c`` with ``P(X >= c | p0) <= alpha``); the power is
    ``P(X >= c | p1)``. For ``p1 < p0`` the mirror-image test ``H0: p >= p0`` vs ``H1: p < p0`` is
    used (rejecting for few successes), so the result is the probability of concluding the rate is
    below ``p0`` when it is really ``p1``.
    """
    _check_prob(p0, "p0")
    _check_prob(p1, "p1")
    _check_alpha(alpha)
    if n < 1:
        return 0.0
    if p1 < p0:
        return exact_power(n, 1.0 - p0, 1.0 - p1, alpha)
    c = _critical_successes(n, p0, alpha)
    return binom_sf(c, n, p1)


def plan_episodes(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, *,
                  max_n: int = 100_000) -> int:
    """Smallest number of episodes for which the fixed-size one-sided exact binomial test at level
    ``alpha`` has at least ``power`` against the alternative ``p1``.

    With ``p1 > p0`` this is the test of ``H0: p <= p0`` (see :func:`exact_power`); with ``p1 < p0``
    the mirror test of ``H0: p >= p0``. Because the exact test is discrete, its power is not monotone
    in ``n`` (a "saw-tooth"): a slightly larger ``n`` can have slightly less power. This returns the
    smallest ``n`` reaching the target, which is the conventional answer.

    Raises:
        ValueError: when ``p0 == p1``, or no ``n <= max_n`` reaches the power.
    """
    _check_prob(p0, "p0")
    _check_prob(p1, "p1")
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if p1 == p0:
        raise ValueError("p1 must differ from p0: no sample size can tell equal rates apart")
    if p1 < p0:
        return plan_episodes(1.0 - p0, 1.0 - p1, alpha, power, max_n=max_n)
    c = 0
    for n in range(1, max_n + 1):
        # The critical value never decreases with n, and grows by at most one per extra trial.
        c = _critical_successes(n, p0, alpha, start=c)
        if c <= n and binom_sf(c, n, p1) >= power:
            return n
    raise ValueError(f"no sample size up to {max_n} gives power {power} to tell {p1} from {p0} "
                     f"at alpha={alpha}")


# -- Wald's sequential probability ratio test ------------------------------------------------------
ACCEPT_H1 = "accept_h1"
ACCEPT_H0 = "accept_h0"
CONTINUE = "continue"


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
        if not 0.0 < p0 < p1 < 1.0:
            raise ValueError(f"the SPRT needs 0 < p0 < p1 < 1, got p0={p0}, p1={p1}")
        _check_alpha(alpha)
        if not 0.0 < beta < 1.0:
            raise ValueError(f"beta must be in (0, 1), got {beta}")
        if alpha + beta >= 1.0:
            raise ValueError(f"alpha + beta must be below 1, got alpha={alpha}, beta={beta}")
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
            raise ValueError(f"delta must be > 0, got {delta}")
        if not 0.0 < threshold + delta < 1.0:
            raise ValueError(
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

    def expected_episodes(self, p: float) -> float:
        """Wald's approximation of the expected number of trials when the true rate is ``p``
        (ignoring the overshoot of the bounds, so slightly low)."""
        oc = self._wald_oc(p)  # P(accept H0)
        drift = p * self.step_success + (1 - p) * self.step_failure
        if abs(drift) < 1e-12:
            second_moment = p * self.step_success ** 2 + (1 - p) * self.step_failure ** 2
            return -self.log_a * self.log_b / second_moment
        return (oc * self.log_b + (1 - oc) * self.log_a) / drift

    def _wald_oc(self, p: float) -> float:
        """Wald's approximate probability of accepting H0 at rate ``p`` (via the root ``h``)."""
        # Solve p (p1/p0)^h + (1-p) ((1-p1)/(1-p0))^h = 1 for h != 0 by bisection on a bracket.
        def g(h: float) -> float:
            return p * math.exp(h * self.step_success) + (1 - p) * math.exp(h * self.step_failure) - 1

        drift = p * self.step_success + (1 - p) * self.step_failure
        if abs(drift) < 1e-12:
            return self.log_a / (self.log_a - self.log_b)
        lo, hi = (1e-9, 1.0) if drift < 0 else (-1.0, -1e-9)
        while g(hi if drift < 0 else lo) <= 0:
            if drift < 0:
                hi *= 2
            else:
                lo *= 2
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if (g(mid) < 0) == (drift < 0):
                lo = mid
            else:
                hi = mid
        h = 0.5 * (lo + hi)
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
    acc1 = acc0 = 0.0
    expected = 0.0
    ks = np.arange(cap + 2)
    for n in range(1, cap + 1):
        new = np.empty_like(alive)
        new[0] = alive[0] * (1 - p)
        new[1:] = alive[1:] * (1 - p) + alive[:-1] * p
        llr = ks * test.step_success + (n - ks) * test.step_failure
        valid = ks <= n
        up = valid & (llr >= test.log_a)
        down = valid & (llr <= test.log_b)
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


# -- two proportions ---------------------------------------------------------------------------------
def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_less(k1: int, n1: int, k2: int, n2: int) -> float:
    """Fisher's exact one-sided test that group 1's success rate is below group 2's.

    ``H0: p1 >= p2`` against ``H1: p1 < p2``. Conditional on the total number of successes
    ``K = k1 + k2``, the successes of group 1 follow the hypergeometric distribution
    (``N = n1 + n2`` items, ``K`` marked, ``n1`` drawn); the p-value is ``P(X <= k1)``. Identical
    to ``scipy.stats.fisher_exact([[k1, n1-k1], [k2, n2-k2]], alternative="less")``.
    """
    _check_counts(k1, n1)
    _check_counts(k2, n2)
    if n1 == 0 or n2 == 0:
        return 1.0
    big_n, big_k = n1 + n2, k1 + k2
    lo = max(0, big_k - n2)
    denom = _log_comb(big_n, n1)
    logs = [_log_comb(big_k, x) + _log_comb(big_n - big_k, n1 - x) - denom for x in range(lo, k1 + 1)]
    if not logs:
        return 0.0
    top = max(logs)
    total = math.exp(top) * math.fsum(math.exp(v - top) for v in logs)
    return min(1.0, total)


# -- Student t ---------------------------------------------------------------------------------------
def student_t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t distribution (bisection on :func:`student_t_cdf`)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if q == 0.5:
        return 0.0
    lo, hi = -1.0, 1.0
    while student_t_cdf(lo, df) > q:
        lo *= 2
    while student_t_cdf(hi, df) < q:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, abs(mid)):
            break
    return 0.5 * (lo + hi)


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t confidence interval of the mean: ``mean ± t_{df} * s / sqrt(n)``.

    Returns ``(nan, nan)`` with fewer than two values.
    """
    arr = np.asarray(values, dtype=float)
    n = len(arr)
    if n < 2:
        return (float("nan"), float("nan"))
    mean = float(arr.mean())
    half = student_t_ppf(1.0 - (1.0 - confidence) / 2.0, n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)
