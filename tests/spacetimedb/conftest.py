"""Fixtures for the SpacetimeDB engine tests: the server and CLI test doubles, and a fake standard install."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fake_spacetime_cli import VERSION_FILE  # noqa: E402
from fake_spacetimedb_server import FakeServerThread, FakeSpacetimeDB  # noqa: E402


@pytest_asyncio.fixture
async def fake_server() -> AsyncIterator[FakeSpacetimeDB]:
    """The test double server on the test's own event loop (fast ticks)."""
    server = FakeSpacetimeDB(tick_ms=10, food_ms=50)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def fake_server_thread() -> Iterator[FakeServerThread]:
    """The test double server in a background thread (for the synchronous env)."""
    with FakeServerThread(tick_ms=10, food_ms=50) as srv:
        yield srv


def _wrapper(path: Path) -> None:
    """An executable that runs the multicall double as ``path`` (its applet is the file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_spacetime_cli.py"}" "--exe={path}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@dataclass
class FakeInstall:
    """A standard install laid out by the official installer, with the doubles as binaries.

    ``bin_home/spacetime`` is the proxy; ``data_home/spacetime/bin/<version>/`` holds ``spacetimedb-cli``
    and ``spacetimedb-standalone``; ``current`` links to it (``crates/paths/src/lib.rs:76-108``).
    """

    base: Path
    version: str

    @property
    def bin_home(self) -> Path:
        return self.base / "home" / ".local" / "bin"

    @property
    def data_home(self) -> Path:
        return self.base / "home" / ".local" / "share"

    @property
    def config_home(self) -> Path:
        return self.base / "home" / ".config"

    @property
    def proxy(self) -> Path:
        return self.bin_home / "spacetime"

    @property
    def version_dir(self) -> Path:
        return self.data_home / "spacetime" / "bin" / self.version

    @property
    def cli(self) -> Path:
        return self.version_dir / "spacetimedb-cli"

    @property
    def standalone(self) -> Path:
        return self.version_dir / "spacetimedb-standalone"

    @property
    def log(self) -> Path:
        return self.base / "argv.jsonl"

    def calls(self) -> list[dict[str, Any]]:
        """Every invocation so far: ``{"applet", "argv"}``."""
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def user_files(self) -> list[str]:
        """Files written into the user's config and data directories (outside the versions)."""
        roots = [self.config_home, self.data_home / "spacetime" / "data"]
        return sorted(str(p.relative_to(self.base)) for r in roots if r.exists() for p in r.rglob("*") if p.is_file())


def make_fake_install(base: Path, version: str = "2.8.3", standalone: bool = True) -> FakeInstall:
    install = FakeInstall(base, version)
    _wrapper(install.proxy)
    _wrapper(install.cli)
    if standalone:
        _wrapper(install.standalone)
    (install.version_dir / VERSION_FILE).write_text(version)
    (install.bin_home / VERSION_FILE).write_text(version)  # the proxy is a copy of that version's updater
    (install.version_dir.parent / "current").symlink_to(version)
    return install


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeInstall:
    """A fake standard install (2.8.3); the user's XDG directories point into ``tmp_path``."""
    install = make_fake_install(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(install.data_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(install.config_home))
    monkeypatch.setenv("FAKE_SPACETIME_LOG", str(install.log))
    monkeypatch.delenv("SPACETIME_BIN", raising=False)
    monkeypatch.delenv("FAKE_SPACETIME_MODE", raising=False)
    return install


@pytest.fixture
def fake_cli(fake_install: FakeInstall) -> Path:
    """The ``spacetime`` proxy of :func:`fake_install` (what a standard install puts on PATH)."""
    return fake_install.proxy


def real_spacetime() -> str | None:
    """The real ``spacetime`` CLI (``SPACETIME_BIN`` or PATH), or None."""
    return os.environ.get("SPACETIME_BIN") or shutil.which("spacetime")
