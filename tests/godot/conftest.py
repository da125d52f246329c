"""Fixtures for the Godot engine tests.

Tests marked ``needs_godot`` run against the real Godot binary (``godot3-server`` here). Without
one they skip with the install hint, unless ``--rl-require-engines`` (or
``RLPLAYTEST_REQUIRE_ENGINES=1``) is given: then they fail, as CI wants.
"""

from __future__ import annotations

import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rlplaytest.engines.base import EngineContext, EngineUnavailable, skip_or_fail_unavailable
from pytest_rlplaytest.engines.godot.binary import GodotBinary, find_godot
from pytest_rlplaytest.engines.godot.engine import GodotEngine
from pytest_rlplaytest.engines.godot.install import install_godot_addon
from pytest_rlplaytest.plugin import get_settings
from pytest_rlplaytest.settings import Settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXAMPLE_PROJECT = REPO / "example_project" / "godot"


@pytest.fixture(scope="session")
def godot_binary(request: pytest.FixtureRequest) -> GodotBinary:
    """The real Godot binary, or a skip (a failure under --rl-require-engines)."""
    try:
        return find_godot(get_settings(request.config).godot_bin)
    except EngineUnavailable as exc:
        skip_or_fail_unavailable(get_settings(request.config), "godot", exc)


@pytest.fixture(autouse=True)
def _godot_marker_needs_binary(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("needs_godot") is not None:
        request.getfixturevalue("godot_binary")


@pytest.fixture(scope="session")
def probe_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/godot/probe_project with the addon installed (by install_godot_addon)."""
    dest = tmp_path_factory.mktemp("godot") / "probe_project"
    shutil.copytree(HERE / "probe_project", dest)
    install_godot_addon(dest)
    return dest


@pytest.fixture(scope="session")
def fake_godot4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable that behaves like Godot 4 running the official plugin (see fake_godot4.py)."""
    folder = tmp_path_factory.mktemp("fake_godot4")
    wrapper = folder / "godot4"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_godot4.py"}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    (folder / "project").mkdir()
    (folder / "project" / "project.godot").write_text("config_version=5\n")
    return wrapper


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., GodotEngine]]:
    """Build started GodotEngines (closed at teardown): ``make_engine(path, seed=, godot_bin=, **options)``."""
    engines: list[GodotEngine] = []

    def build(path: Any, seed: int = 1, godot_bin: str | None = None, engine_timeout: float = 20.0,
              **options: Any) -> GodotEngine:
        settings = Settings.defaults(REPO).replace(engine_timeout=engine_timeout, godot_bin=godot_bin)
        ctx = EngineContext(artifacts_dir=tmp_path / f"artifacts{len(engines)}", seed=seed, options=options,
                            settings=settings, nodeid="tests/godot")
        engine = GodotEngine(path, ctx)
        engines.append(engine)
        engine.start()
        return engine

    yield build
    for engine in engines:
        engine.close()
