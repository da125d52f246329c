"""Fixtures for the curriculum tests (the game: ``curriculum_games.py``)."""

from __future__ import annotations

import pytest
from curriculum_games import GAMES


@pytest.fixture
def ladder_game(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest registers ``Ladder-v0``."""
    pytester.makeconftest(GAMES)
    return pytester


@pytest.fixture
def godot_probe(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder with a copy of tests/godot/probe_project (addon installed) in ``game/``;
    skips without a Godot binary (fails under --rl-require-engines)."""
    import shutil
    from pathlib import Path

    from pytest_rlplaytest.engines.base import EngineUnavailable, skip_or_fail_unavailable
    from pytest_rlplaytest.engines.godot.binary import find_godot
    from pytest_rlplaytest.engines.godot.install import install_godot_addon
    from pytest_rlplaytest.plugin import get_settings

    settings = get_settings(pytester._request.config)
    try:
        find_godot(settings.godot_bin)
    except EngineUnavailable as exc:
        skip_or_fail_unavailable(settings, "godot", exc)
    shutil.copytree(Path(__file__).resolve().parents[1] / "godot" / "probe_project", pytester.path / "game")
    install_godot_addon(pytester.path / "game")
    return pytester
