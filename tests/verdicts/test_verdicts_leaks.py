"""assert_no_growth: a one-sided slope test over per-episode counts (object-count leak checks)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_rlplaytest import assert_no_growth as top_level
from pytest_rlplaytest.verdicts import VerdictFailure, VerdictUsageError, assert_no_growth


def test_a_flat_series_passes_with_slope_zero() -> None:
    verdict = assert_no_growth([1087.0] * 10)
    assert verdict.passed and verdict.details["slope"] == 0.0 and verdict.details["p_value"] == 1.0
    assert top_level is assert_no_growth


def test_a_leak_of_three_objects_per_episode_fails() -> None:
    noise = np.random.default_rng(0).integers(-2, 3, 12)
    leaking = 1000 + 3 * np.arange(12) + noise
    with pytest.raises(VerdictFailure) as info:
        assert_no_growth(leaking, what="object_count after reset")
    text = str(info.value)
    assert "object_count after reset grows across 12 episodes" in text and "FAIL" in text
    assert "H0: slope <= 0" in text


def test_noise_and_shrinking_counts_pass() -> None:
    noise = 1000 + np.random.default_rng(1).integers(-2, 3, 12)
    assert assert_no_growth(noise).passed
    verdict = assert_no_growth(list(range(20, 0, -1)))  # shrinking: a one-sided test does not mind
    assert verdict.passed and verdict.details["slope"] < 0


@pytest.mark.parametrize("values, alpha", [([1.0, 2.0], 0.05), ([1.0, float("nan"), 2.0], 0.05),
                                           ([1.0, 2.0, 3.0], 1.5)])
def test_bad_input_is_an_error(values: list[float], alpha: float) -> None:
    with pytest.raises(VerdictUsageError, match="assert_no_growth"):
        assert_no_growth(values, alpha=alpha)
