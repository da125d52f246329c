"""Pytest fixture bodies for SpacetimeDB, for the plugin (or a conftest) to register.

Wiring in ``plugin.py``::

    from .engines.spacetimedb.fixtures import spacetimedb_instance as _spacetimedb_instance
    spacetimedb_instance = pytest.fixture(scope="session")(_spacetimedb_instance)

A test then gets a running server (started once per session with an isolated root, or the one at
``--spacetimedb-url``) and publishes what it needs::

    def test_enter(spacetimedb_instance):
        db = spacetimedb_instance.publish("example_project/spacetimedb/blackholio")
        identity, token = spacetimedb_instance.new_identity()
        spacetimedb_instance.api.call_reducer(db, "enter_game", ["bot"], token)

Without the ``spacetime`` CLI (and without ``--spacetimedb-url``) the fixture skips the test with
the install hint, or fails it under ``--rl-require-engines``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..base import EngineUnavailable, skip_or_fail_unavailable
from .engine import database_name
from .server import HttpApi, PublishResult, SpacetimeServer, find_spacetime, publish_module, spacetime_version


@dataclass
class SpacetimeInstance:
    """A reachable SpacetimeDB server for a test session.

    Attributes:
        url: base URL (``http://127.0.0.1:PORT``).
        api: the :class:`~.server.HttpApi` of that server.
        rootdir: the pytest rootdir; relative module paths resolve against it.
        server: the process when this session started it (None for ``--spacetimedb-url``).
        binary: the ``spacetime`` CLI (None when unavailable and a URL was given).
        version: the CLI's version.
    """

    url: str
    api: HttpApi
    rootdir: Path
    server: SpacetimeServer | None = None
    binary: str | None = None
    version: tuple[int, int, int] | None = None
    cli_root: Path | None = None
    published: dict[str, PublishResult] = field(default_factory=dict)

    def publish(self, module_dir: str | Path, database: str | None = None, clear: bool = True) -> str:
        """Publish ``module_dir`` (relative to the rootdir) as ``database``; return the database name.

        Raises:
            EngineUnavailable: without the ``spacetime`` CLI.
        """
        path = Path(module_dir)
        if not path.is_absolute():
            path = (self.rootdir / path).resolve()
        db = database or database_name(path)
        if self.binary is None or self.version is None or self.cli_root is None:
            raise EngineUnavailable("publishing needs the `spacetime` CLI.",
                                    "Install it or set --spacetime-bin / SPACETIME_BIN.")
        if self.server is not None:
            result = self.server.publish(path, db, clear=clear)
        else:
            result = publish_module(self.binary, self.version, self.cli_root, self.url, path, db, clear=clear)
        self.published[db] = result
        return db

    def new_identity(self) -> tuple[str, str]:
        """A fresh identity and its token (``POST /v1/identity``)."""
        return self.api.create_identity()


def _settings(config: pytest.Config) -> Any:
    from ...settings import resolve

    return resolve(config)


def spacetimedb_instance(request: pytest.FixtureRequest) -> Iterator[SpacetimeInstance]:
    """Fixture body: a SpacetimeDB server for the session (see the module docstring for wiring)."""
    settings = _settings(request.config)
    timeout = settings.engine_timeout
    url = settings.spacetimedb_url
    rootdir = settings.rootdir
    try:
        binary: str | None = find_spacetime(settings.spacetime_bin)
    except EngineUnavailable as exc:
        if not url:
            skip_or_fail_unavailable(settings, "spacetimedb", exc)
        binary = None
    if url:
        api = HttpApi(str(url).rstrip("/"), timeout=timeout)
        if not api.ping():
            pytest.fail(f"--spacetimedb-url {url}: GET /v1/ping does not answer 200; start the server or drop "
                        "the option", pytrace=False)
        version = spacetime_version(binary, timeout) if binary else None
        with tempfile.TemporaryDirectory(prefix="rlplaytest-spacetime-cli-") as cli_root:
            yield SpacetimeInstance(api.base_url, api, rootdir, None, binary, version, Path(cli_root))
        return
    assert binary is not None
    server = SpacetimeServer(binary, timeout=timeout)
    try:
        server.start()
        yield SpacetimeInstance(server.url, HttpApi(server.url, timeout=timeout), rootdir, server, binary,
                                server.version, server.root)
    finally:
        server.stop()
