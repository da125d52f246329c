"""The probe Godot game in a pytester folder, for plugin tests that need a real engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROBE_PROJECT = Path(__file__).resolve().parent / "godot" / "probe_project"


def copy_probe_game(pytester: pytest.Pytester) -> Path:
    """Copy tests/godot/probe_project (addon installed) to ``game/`` of the pytester folder; skips
    without a Godot binary (fails under --rl-require-engines)."""
    from pytest_rlplaytest.engines.base import EngineUnavailable, skip_or_fail_unavailable
    from pytest_rlplaytest.engines.godot.binary import find_godot
    from pytest_rlplaytest.engines.godot.install import install_godot_addon
    from pytest_rlplaytest.plugin import get_settings

    settings = get_settings(pytester._request.config)
    try:
        find_godot(settings.godot_bin)
    except EngineUnavailable as exc:
        skip_or_fail_unavailable(settings, "godot", exc)
    game = pytester.path / "game"
    shutil.copytree(PROBE_PROJECT, game)
    install_godot_addon(game)
    return game


def older_addon(project: Path, dest: Path, *lines: str) -> Path:
    """A copy of ``project`` at ``dest`` whose addon sync.gd lacks ``lines`` (whole lines, as a later
    change added them): the addon as an older release shipped it."""
    shutil.copytree(project, dest)
    sync = dest / "addons" / "rlplaytest" / "sync.gd"
    text = sync.read_text()
    for line in lines:
        assert line in text, f"sync.gd no longer holds {line!r}"
        text = text.replace(line, "")
    sync.write_text(text)
    return dest
