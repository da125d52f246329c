"""An asyncio client for SpacetimeDB's ``v1.json.spacetimedb`` WebSocket protocol.

Usage (from a pytest-asyncio test or any coroutine)::

    client = await SpacetimeClient.connect("http://127.0.0.1:3000", "blackholio", schemas=BLACKHOLIO.schemas)
    await client.subscribe(["SELECT * FROM player", "SELECT * FROM entity"])
    await client.call_reducer("enter_game", "bot")        # raises ReducerError with the server's message
    print(client.cache.rows("player"))
    await client.close()

A background task keeps receiving (the server pings every 15 s and drops a client from which it
received nothing for 30 s: ``crates/client-api/src/routes/subscribe.rs:415-489,955 @2.8.3``), applies
every table update to :attr:`SpacetimeClient.cache`, and resolves pending requests. When the connection
drops, every pending call fails at once with :class:`ConnectionLost`.

How answers are matched to requests (from the server's source, ``@1.12`` = v1.12.0, ``@2.8.3`` = v2.8.3):

* A reducer call is answered by a ``TransactionUpdate`` from our identity and connection carrying our
  request id (``module_subscription_manager.rs:1960-1978 @2.8.3``), or, when the server could not run it
  (unknown reducer, bad arguments, a lifecycle reducer) by a ``Failed`` update with request id **0**
  naming the reducer (``message_handlers_v1.rs:102-164 @2.8.3``); at 1.12 a reducer's own ``Err`` also
  comes with request id 0 (``module_subscription_actor.rs:1199-1221 @1.12``). A request-id-0 failure
  fails the oldest pending call of that reducer (same arguments first) at once with the server's text.
* A bad query in a legacy ``Subscribe`` is such a request-id-0 failure too, with reducer name ``""``
  (2.x) or ``"<none>"`` (1.x) (``module_subscription_actor.rs:1623-1635 @2.8.3``): it fails the oldest
  pending ``Subscribe``. ``SubscribeMulti`` errors are ``SubscriptionError`` messages.
* Tables with no rows are left out of a subscription's answer (``crates/core/src/subscription/mod.rs:
  185-192 @2.8.3``), so the column order of every table comes from the server's schema endpoint
  (:mod:`.schema`), with declared schemas as an override.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ...errors import RLPlaytestWarning
from ..base import EngineError
from . import codec
from .cache import TableCache
from .codec import (
    IdentityToken,
    InitialSubscription,
    OneOffQueryResponse,
    ProtocolError,
    ServerMessage,
    SubscribeMultiApplied,
    SubscriptionError,
    TableSchema,
    TransactionUpdate,
    TransactionUpdateLight,
)
from .schema import ModuleSchema, merge_schemas

log = logging.getLogger(__name__)

#: the subprotocols this client implements, newest first; all are offered and the server picks the
#: first of *its* list that we offered (``crates/client-api/src/util/websocket.rs:40-51 @2.8.3``; its list
#: is v3.bsatn, v2.bsatn, v1.bsatn, v1.json: ``routes/subscribe.rs:164-193 @2.8.3``). Only JSON is
#: implemented: BSATN v2 did not raise agent steps per second at Blackholio's 50 ms tick (see the README).
SUBPROTOCOLS: tuple[str, ...] = (codec.SUBPROTOCOL,)

#: what the server names a message error that involved no reducer (2.x: "", 1.x: "<none>")
NO_REDUCER_NAMES = ("", "<none>")


class SchemaUnavailableWarning(RLPlaytestWarning):
    """The server's schema endpoint could not be read; positional rows of undeclared tables will fail."""


class SpacetimeClientError(EngineError):
    """Base class of the client's errors."""


class ConnectionLost(SpacetimeClientError):
    """The WebSocket closed (server crash, network drop) while a request was pending."""


class ReducerError(SpacetimeClientError):
    """A reducer call failed on the server; ``server_message`` is the server's or the module's text."""

    def __init__(self, reducer: str, server_message: str, status: str = "failed", hint: str = "") -> None:
        super().__init__(f"reducer {reducer!r} failed on the server: {server_message}{hint}")
        self.reducer = reducer
        self.server_message = server_message
        self.status = status


class SubscriptionFailed(SpacetimeClientError):
    """The server rejected a subscription (``SubscriptionError``)."""


class QueryError(SpacetimeClientError):
    """A one-off SQL query failed on the server."""


class RequestTimeout(SpacetimeClientError):
    """The server did not answer a request in time."""


@dataclass
class _Pending:
    future: asyncio.Future[Any]
    what: str
    kind: str
    reducer: str | None = None
    args: Any = None


def websocket_url(base_url: str, database: str) -> str:
    """``http://host:port`` + db -> ``ws://host:port/v1/database/{db}/subscribe`` (https -> wss)."""
    parts = urlsplit(base_url if "://" in base_url else "http://" + base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"SpacetimeDB URL {base_url!r} should start with http://, https://, ws:// or wss://")
    path = parts.path.rstrip("/") + f"/v1/database/{quote(database, safe='')}/subscribe"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _refusal(exc: BaseException) -> str:
    """The HTTP status and body of a refused WebSocket handshake (``websockets.InvalidStatus``)."""
    response = getattr(exc, "response", None)
    if response is None:
        return str(exc)
    body = bytes(getattr(response, "body", b"") or b"").decode("utf-8", "replace").strip()
    return f"HTTP {getattr(response, 'status_code', '?')}" + (f": {body[:300]}" if body else "")


async def _open_socket(ws_url: str, token: str | None, timeout: float,
                       subprotocols: Sequence[str] | None = None) -> Any:
    from websockets.asyncio.client import connect as ws_connect

    offered = list(SUBPROTOCOLS if subprotocols is None else subprotocols)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    extra: dict[str, Any] = {}
    if "proxy" in inspect.signature(ws_connect.__init__).parameters:
        extra["proxy"] = None  # websockets >= 15 honours HTTP(S)_PROXY otherwise, even for loopback
    try:
        return await asyncio.wait_for(
            ws_connect(ws_url, subprotocols=offered,  # type: ignore[arg-type]
                       additional_headers=headers, max_size=None, open_timeout=timeout,
                       ping_interval=20, ping_timeout=timeout, **extra),
            timeout + 1,
        )
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectionLost(f"cannot connect to SpacetimeDB at {ws_url}: {exc!r}; is the server running "
                             "and the database published?") from exc
    except Exception as exc:  # websockets.InvalidStatus and friends
        raise ConnectionLost(f"SpacetimeDB at {ws_url} refused the WebSocket ({_refusal(exc)}); check the "
                             f"database name and the token (subprotocols offered: {', '.join(offered)})"
                             ) from exc


async def read_module_schema(url: str, database: str, token: str | None, timeout: float) -> ModuleSchema | None:
    """The module's schema from ``GET /v1/database/{db}/schema?version=9``; ``None`` (with a
    :class:`SchemaUnavailableWarning`) when it cannot be read."""
    import warnings

    from .server import HttpApi, HttpError

    try:
        return await asyncio.to_thread(HttpApi(url, timeout=timeout).schema, database, token)
    except (HttpError, ProtocolError) as exc:
        warnings.warn(SchemaUnavailableWarning(
            f"could not read the schema of SpacetimeDB database {database!r} ({exc}); rows of tables without "
            "a declared TableSchema decode only once a keyed row arrived"), stacklevel=2)
        return None


class SpacetimeClient:
    """One WebSocket connection (one identity) to one database.

    Create with :meth:`connect`. All methods must be awaited on the loop that connected.
    """

    def __init__(self, ws: Any, url: str, database: str, cache: TableCache, timeout: float) -> None:
        self._ws = ws
        self.url = url
        self.database = database
        self.cache = cache
        self.timeout = timeout
        self.identity: str = ""
        self.token: str = ""
        self.connection_id: Any = None
        self.subprotocol: str = getattr(ws, "subprotocol", None) or ""
        #: the module's schema from the server (None when not fetched)
        self.module: ModuleSchema | None = None
        #: request-id-0 failures that matched no pending request (kept for diagnosis)
        self.unmatched_errors: list[TransactionUpdate] = []
        self._ids = itertools.count(1)  # never 0: 0 marks the server's message errors
        self._pending: dict[tuple[str, Any], _Pending] = {}
        self._legacy_tables: set[str] = set()
        self._closed_error: EngineError | None = None
        self._closing = False
        self._identity_future: asyncio.Future[IdentityToken] = asyncio.get_running_loop().create_future()
        self._recv_task: asyncio.Task[None] | None = None
        self._tx_waiters: list[tuple[str | None, int, asyncio.Future[None]]] = []
        #: transactions applied (committed updates received, own or others', light or full)
        self.transactions = 0
        self._listeners: list[Callable[[ServerMessage, set[str]], None]] = []

    # -- lifecycle ------------------------------------------------------------------------------
    @classmethod
    async def connect(cls, url: str, database: str, token: str | None = None, *,
                      schemas: Iterable[TableSchema] = (), timeout: float = 30.0,
                      fetch_schema: bool = True) -> SpacetimeClient:
        """Open the WebSocket, wait for the ``IdentityToken`` and read the module's schema.

        Args:
            url: the server's base URL (``http://127.0.0.1:3000``).
            database: the database name or identity.
            token: a token from ``POST /v1/identity`` (None: the server makes an anonymous identity).
            schemas: declared table schemas; they override the server's for the same table.
            timeout: seconds for connecting and for every request.
            fetch_schema: read the table schemas from the server's schema endpoint.

        Raises:
            ConnectionLost: when the server cannot be reached or closes before identifying us.
            ProtocolError: when the server picks a subprotocol this client does not speak.
        """
        ws_url = websocket_url(url, database)
        ws = await _open_socket(ws_url, token, timeout)
        if ws.subprotocol not in SUBPROTOCOLS:
            await ws.close()
            raise ProtocolError(f"the server at {ws_url} chose the subprotocol {ws.subprotocol!r}; this client "
                                f"speaks {', '.join(SUBPROTOCOLS)}")
        declared = list(schemas)
        client = cls(ws, url, database, TableCache(declared), timeout)
        client._recv_task = asyncio.create_task(client._receive_loop(), name=f"spacetimedb-recv-{database}")
        try:
            ident = await asyncio.wait_for(asyncio.shield(client._identity_future), timeout)
            client.identity, client.token, client.connection_id = ident.identity, ident.token, ident.connection_id
            if fetch_schema:
                client.module = await read_module_schema(url, database, client.token, timeout)
                client.cache.add_schemas(merge_schemas(client.module, declared))
        except asyncio.TimeoutError:
            await client.close()
            raise RequestTimeout(f"{ws_url} sent no IdentityToken within {timeout:g} s") from None
        except BaseException:
            await client.close()
            raise
        return client

    async def close(self) -> None:
        """Close the connection cleanly and stop the receive task (idempotent)."""
        self._closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), 5)
        task = self._recv_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._fail_all(ConnectionLost(f"the client closed its connection to {self.database!r}"))

    @property
    def closed(self) -> bool:
        """True once the connection is gone (closed by us or dropped)."""
        return self._closed_error is not None

    async def __aenter__(self) -> SpacetimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed_error is not None:
            raise self._closed_error

    async def _request(self, key: tuple[str, Any], frame: str, what: str, reducer: str | None = None,
                       timeout: float | None = None, args: Any = None) -> Any:
        self._check_open()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = _Pending(fut, what, key[0], reducer, args)
        try:
            try:
                await self._ws.send(frame)
            except Exception as exc:
                raise self._lost(f"while sending {what}", exc) from exc
            limit = self.timeout if timeout is None else timeout
            try:
                return await asyncio.wait_for(fut, limit)
            except asyncio.TimeoutError:
                raise RequestTimeout(f"SpacetimeDB did not answer {what} within {limit:g} s "
                                     f"(database {self.database!r}); raise --rl-engine-timeout if the "
                                     "server is slow") from None
        finally:
            self._pending.pop(key, None)

    async def subscribe(self, queries: Sequence[str], timeout: float | None = None) -> InitialSubscription:
        """Send a legacy ``Subscribe`` (replacing the previous one) and wait for its
        ``InitialSubscription``, applied to the cache.

        Raises:
            SubscriptionFailed: with the server's error text (a bad query fails at once).
        """
        request_id = next(self._ids)
        return await self._request(("sub", request_id), codec.encode_subscribe(queries, request_id),  # type: ignore[no-any-return]
                                   f"Subscribe {list(queries)}", timeout=timeout, args=list(queries))

    async def subscribe_multi(self, queries: Sequence[str], timeout: float | None = None) -> int:
        """Send ``SubscribeMulti``; wait for ``SubscribeMultiApplied``; return its query id.

        Raises:
            SubscriptionFailed: with the server's error text.
        """
        request_id = next(self._ids)
        query_id = next(self._ids)
        await self._request(("multi", request_id),
                            codec.encode_subscribe_multi(queries, request_id, query_id),
                            f"SubscribeMulti {list(queries)}", timeout=timeout)
        return query_id

    async def call_reducer(self, reducer: str, *args: Any, timeout: float | None = None) -> TransactionUpdate:
        """Call ``reducer(*args)`` over this connection and wait for its ``TransactionUpdate``.

        Raises:
            ReducerError: the server could not run it (``no such reducer``, ``invalid arguments …``) or
                the reducer returned an error (``Failed``) or ran out of energy.
            ConnectionLost: the connection dropped before the answer.
            RequestTimeout: no answer in time.
        """
        request_id = next(self._ids)
        frame = codec.encode_call_reducer(reducer, args, request_id)
        update: TransactionUpdate = await self._request(("call", request_id), frame,
                                                        f"the call of reducer {reducer!r}", reducer, timeout,
                                                        args=list(args))
        if update.status != "committed":
            raise ReducerError(reducer, update.error or update.status, update.status, self._reducer_hint(
                reducer, update))
        return update

    def _reducer_hint(self, reducer: str, update: TransactionUpdate) -> str:
        if update.error != "no such reducer" or self.module is None:
            return ""
        if reducer in self.module.scheduled:
            return " (it is a scheduled reducer: 2.x modules make those private to the database owner)"
        return f" (the module's reducers: {', '.join(self.module.client_reducers()) or 'none'})"

    async def one_off_query(self, sql: str, timeout: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """Run a one-off SQL query; return decoded rows per table.

        Raises:
            QueryError: with the server's error text.
        """
        message_id = os.urandom(8).hex()
        resp: OneOffQueryResponse = await self._request(
            ("query", message_id), codec.encode_one_off_query(message_id, sql), f"OneOffQuery {sql!r}",
            timeout=timeout)
        if resp.error:
            raise QueryError(f"query {sql!r} failed on the server: {resp.error}")
        return {t.table_name: [codec.decode_row(r, self.cache.schema(t.table_name), t.table_name) for r in t.rows]
                for t in resp.tables}

    # -- transaction clock ----------------------------------------------------------------------
    def table_version(self, table: str | None = None) -> int:
        """Transactions applied so far that touched ``table`` (None: any table)."""
        return self.transactions if table is None else self.cache.table_versions.get(table, 0)

    async def wait_for_transactions(self, count: int, table: str | None = None,
                                    timeout: float | None = None, since: int | None = None) -> bool:
        """Wait until ``count`` more transactions touching ``table`` have been applied.

        Args:
            count: how many transactions to wait for, counted from ``since`` (default: now).
            table: only count updates touching this table (None: any update).
            timeout: give up after this many seconds and return False (None: wait forever).
            since: the :meth:`table_version` to count from.

        Raises:
            ConnectionLost: when the connection drops while waiting.
        """
        self._check_open()
        start = self.table_version(table) if since is None else since
        target = start + count
        if self.table_version(table) >= target:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (table, target, fut)
        self._tx_waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._tx_waiters.remove(entry)

    def add_listener(self, callback: Callable[[ServerMessage, set[str]], None]) -> None:
        """Call ``callback(message, touched_tables)`` after every applied server message."""
        self._listeners.append(callback)

    # -- receiving ------------------------------------------------------------------------------
    def _lost(self, when: str, exc: BaseException | None) -> ConnectionLost:
        code = getattr(exc, "rcvd", None)
        detail = f" (close code {code.code}: {code.reason or 'no reason'})" if code is not None else (
            f" ({exc!r})" if exc is not None else "")
        return ConnectionLost(f"the connection to SpacetimeDB database {self.database!r} at {self.url} was lost "
                              f"{when}{detail}; the server crashed or dropped the client")

    def _fail_all(self, error: EngineError) -> None:
        if self._closed_error is None:
            self._closed_error = error
        for key, pending in list(self._pending.items()):
            if not pending.future.done():
                pending.future.set_exception(
                    type(error)(f"{error} (while waiting for {pending.what})"))
            self._pending.pop(key, None)
        for _, _, fut in self._tx_waiters:
            if not fut.done():
                fut.set_exception(type(error)(str(error)))
        if not self._identity_future.done():
            self._identity_future.set_exception(type(error)(str(error)))

    async def _receive_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        error: EngineError | None = None
        try:
            async for frame in self._ws:
                try:
                    self._handle(codec.parse_server_message(frame))
                except ProtocolError as exc:
                    error = exc
                    log.error("SpacetimeDB protocol violation: %s", exc)
                    await self._ws.close(code=1002, reason="protocol error")
                    break
            if error is None:
                error = self._lost("(the server closed the connection)", None)
        except ConnectionClosed as exc:
            error = self._lost("(the connection closed)", exc)
        except asyncio.CancelledError:
            error = ConnectionLost(f"the client closed its connection to {self.database!r}")
            raise
        except Exception as exc:  # pragma: no cover - unexpected transport errors
            error = self._lost("(receive failed)", exc)
        finally:
            if self._closing and not isinstance(error, ProtocolError):
                error = ConnectionLost(f"the client closed its connection to {self.database!r}")
            self._fail_all(error or self._lost("", None))
            # retrieve exceptions nobody awaits, so asyncio does not warn about them
            if self._identity_future.done() and not self._identity_future.cancelled():
                self._identity_future.exception()

    def _resolve(self, key: tuple[str, Any], value: Any = None, error: BaseException | None = None) -> bool:
        pending = self._pending.get(key)
        if pending is None or pending.future.done():
            return False
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(value)
        return True

    def _handle(self, msg: ServerMessage) -> None:
        touched: set[str] = set()
        if isinstance(msg, IdentityToken):
            if not self._identity_future.done():
                self._identity_future.set_result(msg)
        elif isinstance(msg, InitialSubscription):
            touched = self._apply_initial_subscription(msg)
        elif isinstance(msg, SubscribeMultiApplied):
            touched = self.cache.apply(msg.tables)
            self._resolve(("multi", msg.request_id), msg)
        elif isinstance(msg, SubscriptionError):
            self._subscription_error(msg)
        elif isinstance(msg, TransactionUpdate):
            touched = self._transaction_update(msg)
        elif isinstance(msg, TransactionUpdateLight):
            touched = self.cache.apply(msg.tables)
            self._count_transaction(touched)
        elif isinstance(msg, OneOffQueryResponse):
            self._resolve(("query", msg.message_id), msg)
        else:
            log.debug("ignoring SpacetimeDB message %s", msg.kind)
        for callback in list(self._listeners):
            callback(msg, touched)

    def _apply_initial_subscription(self, msg: InitialSubscription) -> set[str]:
        """A legacy ``Subscribe`` *replaces* the client's legacy set (``module_subscription_actor.rs:
        1672-1681 @2.8.3``) and its answer leaves out empty tables, so the rows of every table of the old
        and the new set are dropped before the answer is applied."""
        pending = self._pending.get(("sub", msg.request_id))
        queries = pending.args if pending is not None and pending.args else []
        new_tables = {t for q in queries if (t := _select_table(q)) is not None} | {t.table_name for t in msg.tables}
        for table in self._legacy_tables | new_tables:
            self.cache.tables.pop(table, None)
        self._legacy_tables = new_tables
        touched = self.cache.apply(msg.tables)
        self._resolve(("sub", msg.request_id), msg)
        return touched

    def _subscription_error(self, msg: SubscriptionError) -> None:
        err = SubscriptionFailed(f"the server rejected the subscription: {msg.error}")
        if msg.request_id is not None and (self._resolve(("multi", msg.request_id), error=err)
                                           or self._resolve(("sub", msg.request_id), error=err)):
            return
        # no request waiting: a live subscription failed and the server dropped us; fail every subscription
        for key in [k for k in self._pending if k[0] in ("sub", "multi")]:
            self._resolve(key, error=err)
        log.error("SpacetimeDB subscription error: %s", msg.error)

    def _transaction_update(self, msg: TransactionUpdate) -> set[str]:
        touched: set[str] = set()
        if msg.status == "committed":
            touched = self.cache.apply(msg.tables)
            self._count_transaction(touched)
        if not self._is_from_us(msg):
            return touched  # another client's call (1.x full updates carry *its* request id)
        if msg.is_message_error:
            self._message_error(msg)
            return touched
        pending = self._pending.get(("call", msg.request_id))
        if pending is not None and (msg.reducer_name is None or pending.reducer is None
                                    or msg.reducer_name == pending.reducer):
            self._resolve(("call", msg.request_id), msg)
        return touched

    def _is_from_us(self, msg: TransactionUpdate) -> bool:
        if msg.caller_identity is not None and self.identity and msg.caller_identity != self.identity:
            return False
        return not (msg.caller_connection_id is not None and self.connection_id is not None
                    and msg.caller_connection_id != self.connection_id)

    def _message_error(self, msg: TransactionUpdate) -> None:
        """Fail the pending request a request-id-0 ``Failed`` update answers, at once."""
        name = msg.reducer_name or ""
        if name not in NO_REDUCER_NAMES:
            candidates = [k for k, p in self._pending.items() if p.kind == "call" and p.reducer == name]
            same_args = [k for k in candidates if self._pending[k].args == msg.args]
            candidates = same_args + [k for k in candidates if k not in same_args]
        else:  # a legacy Subscribe, or (2.x) a call whose reducer name is not an identifier
            candidates = [k for k, p in self._pending.items()
                          if p.kind == "sub" or (p.kind == "call" and not (p.reducer or "").isidentifier())]
        if not candidates:
            self.unmatched_errors.append(msg)
            log.warning("SpacetimeDB reported an error for no pending request: %s", msg.error)
            return
        key = candidates[0]
        if key[0] == "sub":
            self._resolve(key, error=SubscriptionFailed(f"the server rejected the subscription: {msg.error}"))
        else:
            self._resolve(key, msg)  # call_reducer raises ReducerError with the text

    def _count_transaction(self, touched: set[str]) -> None:
        self.transactions += 1
        if not self._tx_waiters:
            return
        for table, target, fut in self._tx_waiters:
            if not fut.done() and self.table_version(table) >= target:
                fut.set_result(None)


_SELECT_RE = re.compile(r"^\s*SELECT\s+\S+\s+FROM\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def _select_table(query: str) -> str | None:
    """The table a simple ``SELECT … FROM t`` reads (None for anything else)."""
    m = _SELECT_RE.match(query)
    return m.group(1) if m else None
