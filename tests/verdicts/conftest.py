"""Fixtures for the verdicts tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from verdict_helpers import build_result, counts_result

from pytest_rlplaytest.playtest import PlaytestResult


@pytest.fixture
def make_result() -> Callable[..., PlaytestResult]:
    return build_result


@pytest.fixture
def make_counts() -> Callable[..., PlaytestResult]:
    return counts_result


@pytest.fixture(autouse=True)
def _default_verdict_config() -> Iterator[None]:
    """Unit tests see the documented defaults, whatever --rl-* flags the outer run was given."""
    from pytest_rlplaytest.verdicts import config

    token = config.configure()
    yield
    config.restore(token)
