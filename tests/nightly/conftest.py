"""Fixtures for the nightly-training tests (the games: ``nightly_games.py``)."""

from __future__ import annotations

import pytest
from nightly_games import GAMES
from probe_game import copy_probe_game


@pytest.fixture
def nightly_games(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest registers the games above."""
    pytester.makeconftest(GAMES)
    return pytester


@pytest.fixture
def godot_game(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> pytest.Pytester:
    """A pytester folder with the nightly games and a copy of tests/godot/probe_project (addon
    installed) in ``game/``; skips without a Godot binary (fails under --rl-require-engines)."""
    copy_probe_game(pytester)
    pytester.makeconftest(GAMES)
    return pytester
