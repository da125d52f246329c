"""Simulated error rates of the real assertions (vectorised with numpy).

The verdict of ``assert_success_rate`` depends only on (successes, episodes), so it is computed once
per possible count and then applied to thousands of simulated binomial draws. Each test checks the
exact probability (summing binomial probabilities over the verdict table) *and* the simulation.
Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from verdict_helpers import build_result, counts_result

from pytest_rlplaytest.verdicts import (
    InconclusiveWarning,
    VerdictFailure,
    assert_success_rate,
    plan_episodes,
    sequential_stopper,
)
from pytest_rlplaytest.verdicts.stats import sprt_operating_characteristics

N_SIMS = 4000
ALPHA = 0.05


def verdict_table(n: int, threshold: float, alpha: float = ALPHA) -> np.ndarray:
    """Outcome of assert_success_rate for k = 0..n: 1 pass, -1 fail, 0 inconclusive."""
    table = np.zeros(n + 1, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconclusiveWarning)
        for k in range(n + 1):
            try:
                verdict = assert_success_rate(counts_result(k, n), at_least=threshold, alpha=alpha,
                                              inconclusive="pass")
            except VerdictFailure:
                table[k] = -1
            else:
                table[k] = 1 if verdict.outcome == "pass" else 0
    return table


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """P(X = k) for k = 0..n, by enumeration (independent of the library under test)."""
    return np.array([math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)])


def exact_probability(table: np.ndarray, n: int, p: float, which: int) -> float:
    return float(binomial_pmf(n, p)[table == which].sum())


def three_se(rate: float, sims: int) -> float:
    return 3 * math.sqrt(max(rate * (1 - rate), 1e-4) / sims)


@pytest.mark.parametrize(("threshold", "n"), [(0.8, 20), (0.8, 82), (0.5, 40), (0.9, 60)])
def test_false_fail_rate_at_the_threshold_is_at_most_alpha(threshold: float, n: int) -> None:
    table = verdict_table(n, threshold)
    exact_fail = exact_probability(table, n, threshold, -1)
    exact_pass = exact_probability(table, n, threshold, 1)
    rng = np.random.default_rng(20240601 + n)
    draws = rng.binomial(n, threshold, size=N_SIMS)
    simulated_fail = float(np.mean(table[draws] == -1))
    simulated_pass = float(np.mean(table[draws] == 1))
    print(f"\nthreshold {threshold}, n={n}: false-fail exact {exact_fail:.4f}, simulated {simulated_fail:.4f} "
          f"({N_SIMS} sims); pass at the threshold exact {exact_pass:.4f}, simulated {simulated_pass:.4f}")
    assert exact_fail <= ALPHA
    assert exact_pass <= ALPHA
    assert simulated_fail <= ALPHA + three_se(ALPHA, N_SIMS)
    assert abs(simulated_fail - exact_fail) <= three_se(exact_fail, N_SIMS)


def test_power_at_threshold_plus_delta_with_the_planned_episodes() -> None:
    threshold, true_rate = 0.8, 0.9
    n = plan_episodes(threshold, true_rate, ALPHA, 0.8)
    table = verdict_table(n, threshold)
    exact_power = exact_probability(table, n, true_rate, 1)
    rng = np.random.default_rng(7)
    draws = rng.binomial(n, true_rate, size=N_SIMS)
    simulated_power = float(np.mean(table[draws] == 1))
    print(f"\nplanned n={n} for {true_rate} vs {threshold}: power exact {exact_power:.4f}, "
          f"simulated {simulated_power:.4f} ({N_SIMS} sims)")
    assert n == 82
    assert exact_power >= 0.8
    assert simulated_power >= 0.8 - three_se(0.8, N_SIMS)
    # and fewer episodes do not have the power
    assert exact_probability(verdict_table(n - 6, threshold), n - 6, true_rate, 1) < 0.8


def simulate_sprt(p: float, threshold: float = 0.8, delta: float = 0.1, alpha: float = ALPHA, beta: float = 0.2,
                  sims: int = N_SIMS, cap: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised SPRT: (decision per sim: 1 accept H1, -1 accept H0, 0 none; episodes used)."""
    p0, p1 = threshold, threshold + delta
    log_a, log_b = math.log((1 - beta) / alpha), math.log(beta / (1 - alpha))
    rng = np.random.default_rng(seed)
    outcomes = rng.random((sims, cap)) < p
    steps = np.where(outcomes, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
    llr = np.cumsum(steps, axis=1)
    crossed = (llr >= log_a) | (llr <= log_b)
    any_cross = crossed.any(axis=1)
    first = np.where(any_cross, crossed.argmax(axis=1), cap - 1)
    final = llr[np.arange(sims), first]
    decision = np.where(any_cross, np.where(final >= log_a, 1, -1), 0)
    return decision, first + 1


@pytest.mark.parametrize("p", [0.7, 0.8, 0.9])
def test_sprt_mean_episodes_and_error_rates(p: float) -> None:
    decision, used = simulate_sprt(p, seed=int(p * 100))
    exact = sprt_operating_characteristics(p, 0.8, 0.9, ALPHA, 0.2, cap=1000)
    mean = float(used.mean())
    se = float(used.std(ddof=1)) / math.sqrt(len(used))
    pass_rate = float(np.mean(decision == 1))
    print(f"\nSPRT 0.8 vs 0.9 (alpha 0.05, beta 0.2) at true rate {p}: mean episodes simulated {mean:.1f} "
          f"(exact {exact.expected_episodes:.1f}), P(pass) simulated {pass_rate:.4f} (exact {exact.accept_h1:.4f})")
    assert abs(mean - exact.expected_episodes) <= 4 * se
    assert abs(pass_rate - exact.accept_h1) <= three_se(exact.accept_h1, len(decision))
    if p <= 0.8:
        assert exact.accept_h1 <= ALPHA
    if p == 0.9:
        assert exact.accept_h1 >= 0.8
        assert exact.expected_episodes < 0.75 * plan_episodes(0.8, 0.9)  # ~57 vs 82


def test_sequential_stopper_agrees_with_the_vectorised_sprt() -> None:
    rng = np.random.default_rng(11)
    for p in (0.75, 0.85, 0.9):
        sims = 60
        outcomes = rng.random((sims, 400)) < p
        for row in outcomes:
            stop = sequential_stopper(0.8, alpha=ALPHA, beta=0.2, delta=0.1)
            result = build_result([bool(v) for v in row])
            finished = []
            for episode in result.episodes:
                finished.append(episode)
                if stop(finished):
                    break
            p0, p1 = 0.8, 0.9
            llr = np.cumsum(np.where(row, math.log(p1 / p0), math.log((1 - p1) / (1 - p0))))
            crossed = (llr >= math.log(0.8 / 0.05)) | (llr <= math.log(0.2 / 0.95))
            assert crossed.any()
            first = int(crossed.argmax())
            assert len(finished) == first + 1
            expected = "accept_h1" if llr[first] >= 0 else "accept_h0"
            assert stop.decision == expected
