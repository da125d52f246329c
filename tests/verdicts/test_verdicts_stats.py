"""The pure-Python statistics against scipy and exact enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")

from pytest_rlplaytest.verdicts import stats  # noqa: E402


@pytest.mark.parametrize("a", [0.5, 1, 3, 17.5, 120, 900])
@pytest.mark.parametrize("b", [0.5, 1, 2, 40, 700])
def test_betainc_matches_scipy(a: float, b: float) -> None:
    for x in (1e-6, 0.01, 0.2, 0.5, 0.77, 0.95, 0.999999):
        assert stats.betainc(a, b, x) == pytest.approx(scipy_special.betainc(a, b, x), abs=1e-12, rel=1e-9)


def test_betainc_edges_and_errors() -> None:
    assert stats.betainc(2, 3, 0.0) == 0.0
    assert stats.betainc(2, 3, 1.0) == 1.0
    with pytest.raises(ValueError):
        stats.betainc(0, 1, 0.5)


@pytest.mark.parametrize("n", [1, 7, 30, 82, 400, 5000])
@pytest.mark.parametrize("p", [0.0, 0.03, 0.5, 0.8, 0.97, 1.0])
def test_binomial_cdf_and_sf_match_scipy(n: int, p: float) -> None:
    for k in sorted({0, 1, n // 3, n // 2, (4 * n) // 5, n - 1, n}):
        assert stats.binom_cdf(k, n, p) == pytest.approx(scipy_stats.binom.cdf(k, n, p), abs=1e-10)
        # binom_sf(k) is P(X >= k); scipy's sf(k) is P(X > k)
        assert stats.binom_sf(k, n, p) == pytest.approx(scipy_stats.binom.sf(k - 1, n, p), abs=1e-10)


@pytest.mark.parametrize("n", [1, 5, 20, 82, 300])
def test_clopper_pearson_matches_scipy(n: int) -> None:
    for k in range(0, n + 1, max(1, n // 10)):
        for alpha in (0.01, 0.05, 0.2):
            lower = 0.0 if k == 0 else scipy_stats.beta.ppf(alpha, k, n - k + 1)
            upper = 1.0 if k == n else scipy_stats.beta.ppf(1 - alpha, k + 1, n - k)
            assert stats.clopper_pearson_lower(k, n, alpha) == pytest.approx(lower, abs=1e-10)
            assert stats.clopper_pearson_upper(k, n, alpha) == pytest.approx(upper, abs=1e-10)
        ci = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert stats.clopper_pearson_interval(k, n, 0.95) == pytest.approx((ci.low, ci.high), abs=1e-10)


@pytest.mark.parametrize("n", [10, 50, 83])
def test_binomial_tests_match_scipy_and_are_dual_to_the_bounds(n: int) -> None:
    for k in range(n + 1):
        for p0 in (0.5, 0.8, 0.9):
            greater = stats.binom_test_greater(k, n, p0)
            less = stats.binom_test_less(k, n, p0)
            assert greater == pytest.approx(scipy_stats.binomtest(k, n, p0, alternative="greater").pvalue, abs=1e-12)
            assert less == pytest.approx(scipy_stats.binomtest(k, n, p0, alternative="less").pvalue, abs=1e-12)
            # duality: rejecting H0: p <= p0 at 0.05 <=> the 95% lower bound clears p0
            assert (greater <= 0.05) == (stats.clopper_pearson_lower(k, n, 0.05) >= p0)
            assert (less <= 0.05) == (stats.clopper_pearson_upper(k, n, 0.05) <= p0)


def test_counts_are_validated() -> None:
    with pytest.raises(ValueError, match="successes"):
        stats.binom_test_greater(5, 4, 0.5)
    with pytest.raises(ValueError, match="probability"):
        stats.binom_cdf(1, 4, 1.5)
    with pytest.raises(ValueError, match="alpha"):
        stats.clopper_pearson_lower(1, 4, 0.0)


def _power_scipy(n: int, p0: float, p1: float, alpha: float) -> float:
    # rejection region X >= c, c the smallest with P(X >= c | p0) <= alpha
    ks = np.arange(n + 2)
    tail = scipy_stats.binom.sf(ks - 1, n, p0)
    c = int(ks[np.argmax(tail <= alpha)])
    return float(scipy_stats.binom.sf(c - 1, n, p1))


@pytest.mark.parametrize(("p0", "p1"), [(0.8, 0.9), (0.5, 0.7), (0.9, 0.97), (0.3, 0.45)])
def test_plan_episodes_is_the_smallest_n_reaching_the_power(p0: float, p1: float) -> None:
    n = stats.plan_episodes(p0, p1, alpha=0.05, power=0.8)
    assert _power_scipy(n, p0, p1, 0.05) >= 0.8
    assert all(_power_scipy(m, p0, p1, 0.05) < 0.8 for m in range(1, n))
    assert stats.exact_power(n, p0, p1, 0.05) == pytest.approx(_power_scipy(n, p0, p1, 0.05), abs=1e-12)


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


def test_fisher_exact_matches_scipy() -> None:
    for k1, n1, k2, n2 in [(40, 50, 45, 50), (10, 20, 18, 20), (0, 5, 5, 5), (30, 30, 10, 40), (7, 9, 70, 90),
                           (150, 200, 900, 1000)]:
        expected = scipy_stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="less").pvalue
        assert stats.fisher_exact_less(k1, n1, k2, n2) == pytest.approx(expected, abs=1e-12, rel=1e-9)
    assert stats.fisher_exact_less(3, 5, 0, 0) == 1.0


@pytest.mark.parametrize("df", [1, 2.5, 9, 60])
def test_student_t_matches_scipy(df: float) -> None:
    for t in (-4.0, -0.3, 0.0, 1.2, 8.0):
        assert stats.student_t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-12)
    for q in (0.025, 0.3, 0.975):
        assert stats.student_t_ppf(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), rel=1e-9, abs=1e-9)


def test_t_interval_matches_scipy() -> None:
    values = np.random.default_rng(3).normal(10, 2, size=12)
    low, high = stats.t_interval(values)
    expected = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert (low, high) == pytest.approx(expected, rel=1e-9)
    assert all(math.isnan(v) for v in stats.t_interval([1.0]))


def test_runtime_imports_no_scipy() -> None:
    import subprocess
    import sys

    code = ("import sys; import pytest_rlplaytest.verdicts, pytest_rlplaytest.verdicts.cli; "
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
