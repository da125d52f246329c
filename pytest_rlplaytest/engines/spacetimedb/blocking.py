"""Synchronous use of the asyncio client: an event loop in a thread, and a blocking client on it.

* :class:`LoopThread` runs an asyncio loop forever in a daemon thread; the env and the engine share one.
* :class:`BlockingClient` is a :class:`~.client.SpacetimeClient` driven from synchronous code (a test, a
  fixture): reducer calls go over its own WebSocket, so they run inside that connection and not in the
  connect/disconnect lifecycle wrapped around HTTP calls (see :meth:`~.server.HttpApi.call_reducer`).

Nothing here imports gymnasium.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from ..base import EngineError
from .client import SpacetimeClient
from .codec import TableSchema, TransactionUpdate

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str = "spacetimedb-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result from any other thread.

        Raises:
            EngineError: when it does not finish within ``timeout`` seconds (it is then cancelled).
        """
        if self._closed:
            coro.close()
            raise EngineError("the SpacetimeDB event loop is closed; the env was closed already")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EngineError(f"a SpacetimeDB operation did not finish within {timeout:g} s; raise "
                              "--rl-engine-timeout if the server is slow") from None

    def close(self) -> None:
        """Stop the loop and join its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(_cancel_other_tasks(), self.loop).result(5)
        except Exception:  # pragma: no cover - best effort
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_other_tasks() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class BlockingClient:
    """A :class:`~.client.SpacetimeClient` for synchronous code; a context manager.

    Args:
        url: the server's base URL.
        database: the database name.
        token: a token from ``POST /v1/identity`` (None: a new anonymous identity).
        schemas: declared table schemas (they override the server's).
        timeout: seconds for connecting and for every request.
    """

    def __init__(self, url: str, database: str, token: str | None = None, *,
                 schemas: Iterable[TableSchema] = (), timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._loop = LoopThread(name=f"spacetimedb-client-{database}")
        try:
            self.client: SpacetimeClient = self._loop.run(
                SpacetimeClient.connect(url, database, token, schemas=tuple(schemas), timeout=timeout),
                timeout * 2 + 5)
        except BaseException:
            self._loop.close()
            raise

    @property
    def identity(self) -> str:
        """This connection's identity (64 hex digits)."""
        return self.client.identity

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro, self.timeout * 2 + 5)

    def subscribe(self, queries: Sequence[str]) -> None:
        """Legacy ``Subscribe`` (replaces the previous one); waits for the rows.

        Raises:
            SubscriptionFailed: with the server's text.
        """
        self._run(self.client.subscribe(list(queries)))

    def call_reducer(self, reducer: str, *args: Any) -> TransactionUpdate:
        """Call ``reducer(*args)`` over this connection's WebSocket and wait for the transaction.

        Raises:
            ReducerError: with the server's text.
        """
        return self._run(self.client.call_reducer(reducer, *args))

    def one_off_query(self, sql: str) -> dict[str, list[dict[str, Any]]]:
        """Run a one-off SQL query; rows per table."""
        return self._run(self.client.one_off_query(sql))

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The cached rows of a subscribed table."""
        return self._run(_snapshot(self.client, table))

    def close(self) -> None:
        """Close the connection and the loop (idempotent)."""
        if not self._loop.closed:
            try:
                self._run(self.client.close())
            finally:
                self._loop.close()

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _snapshot(client: SpacetimeClient, table: str) -> list[dict[str, Any]]:
    return client.cache.rows(table)  # read on the loop thread: the cache is only mutated there
