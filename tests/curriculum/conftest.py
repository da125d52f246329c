"""Fixtures for the curriculum tests (the game: ``curriculum_games.py``)."""

from __future__ import annotations

import pytest
from curriculum_games import GAMES


@pytest.fixture
def ladder_game(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest registers ``Ladder-v0``."""
    pytester.makeconftest(GAMES)
    return pytester
