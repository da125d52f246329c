"""The statistics (scipy's distributions under our tests, bounds, planning and SPRT), checked against
exact enumeration with ``math.comb`` and against simulation, not against the library they call."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from pytest_rlplaytest.verdicts import stats


def at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed term by term."""
    return math.fsum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(max(k, 0), n + 1))


def at_most(k: int, n: int, p: float) -> float:
    return math.fsum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(0, min(k, n) + 1))


@pytest.mark.parametrize("n", [1, 5, 20, 82, 300])
def test_clopper_pearson_bounds_solve_their_defining_equations(n: int) -> None:
    for k in range(0, n + 1, max(1, n // 10)):
        for alpha in (0.01, 0.05, 0.2):
            lower, upper = stats.clopper_pearson_lower(k, n, alpha), stats.clopper_pearson_upper(k, n, alpha)
            assert lower == 0.0 if k == 0 else at_least(k, n, lower) == pytest.approx(alpha, abs=1e-9)
            assert upper == 1.0 if k == n else at_most(k, n, upper) == pytest.approx(alpha, abs=1e-9)
            assert 0.0 <= lower <= k / n <= upper <= 1.0


@pytest.mark.parametrize("n", [10, 40])
def test_clopper_pearson_coverage_is_guaranteed(n: int) -> None:
    """Enumerate every count: the lower bound is below the true rate with probability >= 1 - alpha."""
    lower = [stats.clopper_pearson_lower(k, n, 0.05) for k in range(n + 1)]
    interval = [stats.success_interval(k, n) for k in range(n + 1)]
    for p in np.linspace(0.02, 0.98, 49):
        pmf = [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]
        assert math.fsum(w for w, low in zip(pmf, lower) if low <= p) >= 0.95 - 1e-12
        assert math.fsum(w for w, (lo, hi) in zip(pmf, interval) if lo <= p <= hi) >= 0.95 - 1e-12


def test_success_interval_is_the_two_sided_95_interval_and_named() -> None:
    low, high = stats.success_interval(3, 3)
    assert low == pytest.approx(0.025 ** (1 / 3)) and high == 1.0  # 3/3: [0.292, 1]
    assert stats.success_interval(0, 0) == (0.0, 1.0)
    assert stats.CI_LABEL == "95% CI (Clopper-Pearson)" and stats.CI_METHOD == "clopper-pearson-95"


@pytest.mark.parametrize("n", [10, 50, 83])
def test_binomial_tests_are_the_exact_tails_and_dual_to_the_bounds(n: int) -> None:
    for k in range(n + 1):
        for p0 in (0.5, 0.8, 0.9):
            greater = stats.binom_test_greater(k, n, p0)
            less = stats.binom_test_less(k, n, p0)
            assert greater == pytest.approx(at_least(k, n, p0), abs=1e-12)
            assert less == pytest.approx(at_most(k, n, p0), abs=1e-12)
            # duality: rejecting H0: p <= p0 at 0.05 <=> the 95% lower bound clears p0
            assert (greater <= 0.05) == (stats.clopper_pearson_lower(k, n, 0.05) >= p0)
            assert (less <= 0.05) == (stats.clopper_pearson_upper(k, n, 0.05) <= p0)


def test_counts_are_validated() -> None:
    with pytest.raises(ValueError, match="successes"):
        stats.binom_test_greater(5, 4, 0.5)
    with pytest.raises(ValueError, match="probability"):
        stats.binom_test_less(1, 4, 1.5)
    with pytest.raises(ValueError, match="alpha"):
        stats.clopper_pearson_lower(1, 4, 0.0)


def power_by_enumeration(n: int, p0: float, p1: float, alpha: float) -> float:
    """Rejection region X >= c, c the smallest with P(X >= c | p0) <= alpha; power P(X >= c | p1)."""
    c = next((c for c in range(n + 2) if at_least(c, n, p0) <= alpha), n + 1)
    return at_least(c, n, p1) if c <= n else 0.0


@pytest.mark.parametrize(("p0", "p1"), [(0.8, 0.9), (0.5, 0.7), (0.9, 0.97), (0.3, 0.45)])
def test_plan_episodes_is_the_smallest_n_reaching_the_power(p0: float, p1: float) -> None:
    n = stats.plan_episodes(p0, p1, alpha=0.05, power=0.8)
    assert power_by_enumeration(n, p0, p1, 0.05) >= 0.8
    assert all(power_by_enumeration(m, p0, p1, 0.05) < 0.8 for m in range(1, n))
    assert stats.exact_power(n, p0, p1, 0.05) == pytest.approx(power_by_enumeration(n, p0, p1, 0.05), abs=1e-12)


def test_exact_power_agrees_with_simulating_the_test() -> None:
    rng = np.random.default_rng(5)
    n, p0, p1 = 60, 0.8, 0.9
    c = next(c for c in range(n + 2) if at_least(c, n, p0) <= 0.05)
    simulated = float(np.mean(rng.binomial(n, p1, size=20_000) >= c))
    assert stats.exact_power(n, p0, p1) == pytest.approx(simulated, abs=4 * math.sqrt(0.25 / 20_000))


def test_plan_for_the_brief_example() -> None:
    # 0.9 vs 0.8, alpha 0.05, power 0.8: the exact test needs 82 (83 by the normal approximation,
    # where the saw-tooth power of the exact test dips to 0.795)
    assert stats.plan_episodes(0.8, 0.9, 0.05, 0.8) == 82
    assert stats.exact_power(82, 0.8, 0.9) == pytest.approx(0.806, abs=1e-3)
    assert stats.exact_power(83, 0.8, 0.9) < 0.8


def test_plan_downward_alternative_is_the_mirror() -> None:
    assert stats.plan_episodes(0.8, 0.7) == stats.plan_episodes(0.2, 0.3)
    assert stats.exact_power(50, 0.8, 0.7) == pytest.approx(stats.exact_power(50, 0.2, 0.3))
    with pytest.raises(ValueError, match="differ"):
        stats.plan_episodes(0.8, 0.8)
    with pytest.raises(ValueError, match="no sample size"):
        stats.plan_episodes(0.5, 0.5001, max_n=100)


def test_sprt_bounds_and_decisions() -> None:
    t = stats.SPRT.for_threshold(0.8, delta=0.1, alpha=0.05, beta=0.2)
    assert (t.p0, t.p1) == (0.8, pytest.approx(0.9))
    assert t.log_a == pytest.approx(math.log(0.8 / 0.05))
    assert t.log_b == pytest.approx(math.log(0.2 / 0.95))
    # a failure costs log(0.1/0.2); three failures in a row cross log B = -1.558
    assert t.update([False, False]) == stats.CONTINUE
    assert t.update(False) == stats.ACCEPT_H0
    assert t.decided_at == 3
    assert t.update(True) == stats.ACCEPT_H0 and t.n == 3  # ignored once decided
    up = stats.SPRT(0.8, 0.9)
    needed = math.ceil(up.log_a / up.step_success)
    assert up.update([True] * (needed - 1)) == stats.CONTINUE
    assert up.update(True) == stats.ACCEPT_H1
    with pytest.raises(ValueError, match="delta"):
        stats.SPRT.for_threshold(0.95, delta=0.1)
    with pytest.raises(ValueError):
        stats.SPRT(0.9, 0.8)


def test_sprt_operating_characteristics_match_wald_roughly_and_sum_to_one() -> None:
    t = stats.SPRT(0.8, 0.9)
    for p in (0.7, 0.8, 0.85, 0.9):
        oc = stats.sprt_operating_characteristics(p, 0.8, 0.9, cap=3000)
        assert oc.accept_h1 + oc.accept_h0 + oc.undecided == pytest.approx(1.0, abs=1e-9)
        # Wald's approximation ignores the overshoot: it is below the exact expectation, not far off
        assert 0.75 * oc.expected_episodes < t.expected_episodes(p) <= oc.expected_episodes
    at_p0 = stats.sprt_operating_characteristics(0.8, 0.8, 0.9)
    at_p1 = stats.sprt_operating_characteristics(0.9, 0.8, 0.9)
    assert at_p0.accept_h1 <= 0.05 / 0.8  # Wald: alpha' <= alpha / (1 - beta)
    assert at_p1.accept_h0 <= 0.2 / 0.95
    assert at_p1.expected_episodes < stats.plan_episodes(0.8, 0.9)


def fisher_by_enumeration(k1: int, n1: int, k2: int, n2: int) -> float:
    """P(X <= k1) for the hypergeometric X (n1 drawn from n1 + n2 with k1 + k2 marked), exactly."""
    total, marked = n1 + n2, k1 + k2
    denominator = math.comb(total, n1)
    tail = sum(Fraction(math.comb(marked, x) * math.comb(total - marked, n1 - x), denominator)
               for x in range(max(0, marked - n2), k1 + 1))
    return float(tail)


def test_fisher_exact_is_the_hypergeometric_tail() -> None:
    for k1, n1, k2, n2 in [(40, 50, 45, 50), (10, 20, 18, 20), (0, 5, 5, 5), (30, 30, 10, 40), (7, 9, 70, 90),
                           (150, 200, 900, 1000)]:
        expected = fisher_by_enumeration(k1, n1, k2, n2)
        assert stats.fisher_exact_less(k1, n1, k2, n2) == pytest.approx(expected, abs=1e-12, rel=1e-9)
    assert stats.fisher_exact_less(3, 5, 0, 0) == 1.0


def test_t_interval_covers_the_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(3)
    sims = 4000
    covered = 0
    for _ in range(sims):
        low, high = stats.t_interval(rng.normal(10.0, 2.0, size=6))
        covered += low <= 10.0 <= high
    assert abs(covered / sims - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / sims)
    values = [1.0, 2.0, 3.0]  # mean 2, s = 1, t_{0.975, 2} = 4.302653
    assert stats.t_interval(values) == pytest.approx((2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)))
    assert all(math.isnan(v) for v in stats.t_interval([1.0]))


def test_loading_the_verdicts_does_not_import_scipy() -> None:
    """scipy is imported on the first statistic, so the plugin starts fast."""
    import subprocess
    import sys

    code = ("import sys; import pytest_rlplaytest.verdicts, pytest_rlplaytest.verdicts.hooks; "
            "a = 'scipy' in sys.modules; from pytest_rlplaytest.verdicts import stats; "
            "stats.success_interval(3, 3); print(a, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
