"""Fixtures for the SpacetimeDB engine tests: the fake server test doubles and the real-server fixture."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

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


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``spacetime`` test double (see fake_spacetime_cli.py); argv log in FAKE_SPACETIME_LOG."""
    exe = tmp_path / "bin" / "spacetime"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_spacetime_cli.py"}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("FAKE_SPACETIME_LOG", str(tmp_path / "argv.jsonl"))
    monkeypatch.delenv("SPACETIME_BIN", raising=False)
    return exe


def real_spacetime_missing() -> bool:
    """True when no real ``spacetime`` CLI is reachable (PATH or SPACETIME_BIN)."""
    import shutil

    return not (os.environ.get("SPACETIME_BIN") or shutil.which("spacetime"))
