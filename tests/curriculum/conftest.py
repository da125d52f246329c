"""Fixtures for the curriculum tests (the game: ``curriculum_games.py``)."""

from __future__ import annotations

import pytest
from curriculum_games import GAMES
from probe_game import copy_probe_game


@pytest.fixture
def ladder_game(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest registers ``Ladder-v0``."""
    pytester.makeconftest(GAMES)
    return pytester


@pytest.fixture
def godot_probe(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder with a copy of tests/godot/probe_project (addon installed) in ``game/``;
    skips without a Godot binary (fails under --rl-require-engines)."""
    copy_probe_game(pytester)
    return pytester
