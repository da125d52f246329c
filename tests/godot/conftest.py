"""Fixtures for the Godot engine tests.

Tests marked ``needs_godot`` run against the real Godot binary (``godot3-server`` here). Without
one they skip with the install hint, unless ``--rl-require-engines`` (or
``RLPLAYTEST_REQUIRE_ENGINES=1``) is given: then they fail, as CI wants.
"""

from __future__ import annotations

import shutil
import socket
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


def _fake_binary(folder: Path, script: str, class_cache: bool) -> Path:
    """A shell wrapper running ``script`` (a Python double of Godot), beside a ``project/`` folder."""
    wrapper = folder / script.removesuffix(".py")
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / script}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    project = folder / "project"
    project.mkdir()
    (project / "project.godot").write_text("config_version=5\n" if class_cache else "config_version=4\n")
    if class_cache:  # an imported Godot 4 checkout (see fake_godot4.py for a fresh one)
        (project / ".godot").mkdir()
        (project / ".godot" / "global_script_class_cache.cfg").write_text("list=[]\n")
    return wrapper


@pytest.fixture(scope="session")
def fake_godot4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable that behaves like Godot 4 running a game on the official plugin's main branch
    (see fake_godot4.py); its project is ``<parent>/project``."""
    return _fake_binary(tmp_path_factory.mktemp("fake_godot4"), "fake_godot4.py", class_cache=True)


@pytest.fixture(scope="session")
def fake_godot3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable that behaves like Godot 3 running a game on the plugin's godot3 branch
    (see fake_godot3.py); its project is ``<parent>/project``."""
    return _fake_binary(tmp_path_factory.mktemp("fake_godot3"), "fake_godot3.py", class_cache=False)


@pytest.fixture(scope="session")
def counter_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/godot/counter_project with rlplaytest's addon installed (for addon.tscn)."""
    dest = tmp_path_factory.mktemp("godot") / "counter_project"
    shutil.copytree(HERE / "counter_project", dest)
    install_godot_addon(dest)
    return dest


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., GodotEngine]]:
    """Build started GodotEngines (closed at teardown): ``make_engine(path, seed=, godot_bin=,
    settings_changes={setting: value}, **options)``."""
    engines: list[GodotEngine] = []

    def build(path: Any, seed: int = 1, godot_bin: str | None = None, engine_timeout: float = 20.0,
              settings_changes: dict[str, Any] | None = None, **options: Any) -> GodotEngine:
        settings = Settings.defaults(REPO).replace(engine_timeout=engine_timeout, godot_bin=godot_bin,
                                                   **(settings_changes or {}))
        ctx = EngineContext(artifacts_dir=tmp_path / f"artifacts{len(engines)}", seed=seed, options=options,
                            settings=settings, nodeid="tests/godot")
        engine = GodotEngine(path, ctx)
        engines.append(engine)
        engine.start()
        return engine

    yield build
    for engine in engines:
        engine.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected socket pair (driver side, game side), closed afterwards."""
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()
