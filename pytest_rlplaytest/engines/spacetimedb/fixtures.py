"""Pytest fixture bodies for SpacetimeDB, for the plugin (or a conftest) to register.

Wiring in ``plugin.py``::

    from .engines.spacetimedb.fixtures import spacetimedb_instance as _spacetimedb_instance
    spacetimedb_instance = pytest.fixture(scope="session")(_spacetimedb_instance)

A test then gets a running server (started once per session with an isolated root, or the one at
``--spacetimedb-url``), publishes what it needs and plays over a WebSocket::

    def test_enter(spacetimedb_instance):
        db = spacetimedb_instance.publish("example_project/spacetimedb/blackholio")
        with spacetimedb_instance.connect(db) as client:
            client.subscribe(["SELECT * FROM player"])
            client.call_reducer("enter_game", "bot")
            assert [p["name"] for p in client.rows("player")] == ["bot"]

Reducers are called over the connection's own WebSocket. ``spacetimedb_instance.api.call_reducer``
(HTTP) also exists, but the server runs the module's ``client_connected`` and ``client_disconnected``
around every HTTP call (``crates/client-api/src/routes/database.rs:682-715 @2.8.3``): on Blackholio the
disconnect deletes the caller's player, so an HTTP ``enter_game`` is undone at once.

Without the ``spacetime`` CLI (and without ``--spacetimedb-url``) the fixture skips the test with
the install hint, or fails it under ``--rl-require-engines``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..base import EngineUnavailable, skip_or_fail_unavailable
from .blocking import BlockingClient
from .codec import TableSchema
from .engine import database_name, remote_cli_root
from .install import INSTALL_HINT, SpacetimeInstall, find_spacetime
from .server import HttpApi, PublishResult, SpacetimeServer, publish_module


@dataclass
class SpacetimeInstance:
    """A reachable SpacetimeDB server for a test session.

    Attributes:
        url: base URL (``http://127.0.0.1:PORT``).
        api: the :class:`~.server.HttpApi` of that server.
        rootdir: the pytest rootdir; relative module paths resolve against it.
        server: the process when this session started it (None for ``--spacetimedb-url``).
        install: the SpacetimeDB binaries (None when unavailable and a URL was given).
        cli_root: where the CLI keeps its login for this server.
        timeout: seconds for connecting and for every request of :meth:`connect`'s clients.
    """

    url: str
    api: HttpApi
    rootdir: Path
    server: SpacetimeServer | None = None
    install: SpacetimeInstall | None = None
    cli_root: Path | None = None
    timeout: float = 30.0
    published: dict[str, PublishResult] = field(default_factory=dict)

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The version of the SpacetimeDB binaries (None without them)."""
        return self.install.version if self.install else None

    def publish(self, module_dir: str | Path, database: str | None = None, clear: bool = True) -> str:
        """Publish ``module_dir`` (relative to the rootdir) as ``database``; return the database name.

        Raises:
            EngineUnavailable: without the ``spacetime`` CLI.
        """
        path = Path(module_dir)
        if not path.is_absolute():
            path = (self.rootdir / path).resolve()
        db = database or database_name(path)
        if self.server is not None:
            result = self.server.publish(path, db, clear=clear)
        elif self.install is not None and self.cli_root is not None:
            result = publish_module(self.install, self.cli_root, self.url, path, db, clear=clear)
        else:
            raise EngineUnavailable("publishing needs the `spacetime` CLI.", INSTALL_HINT)
        self.published[db] = result
        return db

    def new_identity(self) -> tuple[str, str]:
        """A fresh identity and its token (``POST /v1/identity``)."""
        return self.api.create_identity()

    def connect(self, database: str, token: str | None = None,
                schemas: Iterable[TableSchema] = ()) -> BlockingClient:
        """A synchronous client with its own WebSocket (and identity: ``token``'s, or a new one);
        close it, or use it as a context manager."""
        return BlockingClient(self.url, database, token, schemas=schemas, timeout=self.timeout)


def spacetimedb_instance(request: pytest.FixtureRequest) -> Iterator[SpacetimeInstance]:
    """Fixture body: a SpacetimeDB server for the session (see the module docstring for wiring)."""
    from ...settings import resolve

    settings = resolve(request.config)
    timeout = settings.engine_timeout
    url = settings.spacetimedb_url
    try:
        install: SpacetimeInstall | None = SpacetimeInstall.locate(find_spacetime(settings.spacetime_bin), timeout)
    except EngineUnavailable as exc:
        if not url:
            skip_or_fail_unavailable(settings, "spacetimedb", exc)
        install = None
    if url:
        api = HttpApi(str(url).rstrip("/"), timeout=timeout)
        if not api.ping():
            pytest.fail(f"--spacetimedb-url {url}: GET /v1/ping does not answer 200; start the server or drop "
                        "the option", pytrace=False)
        yield SpacetimeInstance(api.base_url, api, settings.rootdir, None, install,
                                remote_cli_root(settings, api.base_url), timeout)
        return
    assert install is not None
    server = SpacetimeServer(install.entry, timeout=timeout, install=install)
    try:
        server.start()
        yield SpacetimeInstance(server.url, HttpApi(server.url, timeout=timeout), settings.rootdir, server,
                                install, server.root, timeout)
    finally:
        server.stop()
