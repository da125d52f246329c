"""TEST DOUBLE: a fake SpacetimeDB server speaking ``v1.json.spacetimedb`` and the HTTP API.

This is not SpacetimeDB. It is rebuilt behaviour by behaviour from the server's source
(``clockworklabs/SpacetimeDB``; ``@2.8.3`` = tag v2.8.3, ``@1.12`` = tag v1.12.0; each rule below cites
``file:line``), so the client, the env and short PPO runs are exercised end to end over real sockets on
127.0.0.1 where no ``spacetime`` binary is installed. It encodes with its own code (:mod:`fake_sats`),
never the plugin's codec. ``server_version`` picks the 1.12 or 2.8.3 rules where they differ and
``module_major`` the module's crate (1: a V9 module, 2: a V10 module).

HTTP (``crates/client-api/src/routes/database.rs @2.8.3``; :meth:`FakeSpacetimeDB._route`): ping, health,
``POST /v1/identity``, publish (``PUT /v1/database/:name``), the schema endpoint, reducer calls wrapped in
the lifecycle reducers, SQL. WebSocket (``routes/subscribe.rs @2.8.3``; :meth:`FakeSpacetimeDB._on_frame`):
subprotocol negotiation, ``IdentityToken`` first, request-id-0 message errors, keyed rows in stored-table
answers and positional rows in deltas, empty tables left out, light or full updates to other clients.

The HTTP front is our own small asyncio server (websockets parses only bodiless GETs); WebSocket
upgrades are piped to a ``websockets`` server on an internal port.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fake_modules import (
    MODULES,
    Ctx,
    Delta,
    ModuleDef,
    ReducerDef,
    ReducerFailed,
    World,
    blackholio_module,
    now_us,
)
from fake_sats import (
    ArgError,
    Prod,
    positional,
    product_json,
    read_product,
    row_json,
    socket_identity,
    type_json,
)
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

V1_JSON = "v1.json.spacetimedb"
#: the server's subprotocols in its preference order; it takes the first of these the client offered
#: (``routes/subscribe.rs:164-193 @2.8.3``, ``crates/client-api/src/util/websocket.rs:40-51 @2.8.3``;
#: 1.12 has only v1.bsatn and v1.json: ``routes/subscribe.rs:134-137 @1.12``)
PROTOCOLS = {(2, 8, 3): ("v3.bsatn.spacetimedb", "v2.bsatn.spacetimedb", "v1.bsatn.spacetimedb", V1_JSON),
             (1, 12, 0): ("v1.bsatn.spacetimedb", V1_JSON)}
U32_MAX = 4294967295
#: ``u32::MAX``: the reducer id of a message error naming no known reducer (``message_handlers_v1.rs:137``)
NO_REDUCER_ID = U32_MAX


# -- tokens ---------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class AuthError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class Tokens:
    """JWT-shaped tokens signed with the server's key (HMAC here; ES256 in SpacetimeDB).

    A token that is not a JWT -> 400 ``Authorization is invalid: malformed token``; one signed by another
    key -> 401 ``Authorization failed: token not signed by this instance`` (``crates/client-api/src/auth.rs:
    436-456 @2.8.3``). No token -> a new identity (``anon_auth_middleware``, ``auth.rs:553-563 @2.8.3``).
    """

    def __init__(self, key: bytes) -> None:
        self.key = key

    def issue(self, identity: str) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"hex_identity": identity, "sub": identity, "iss": "localhost",
                                  "aud": ["spacetimedb"], "iat": int(time.time())}).encode())
        sig = _b64(hmac.new(self.key, f"{head}.{claims}".encode(), hashlib.sha256).digest())
        return f"{head}.{claims}.{sig}"

    def new_identity(self) -> tuple[str, str]:
        identity = "00" + secrets.token_hex(31)  # a leading zero byte: exercises the stripped socket form
        return identity, self.issue(identity)

    def verify(self, token: str) -> str:
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not a JWT")
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            identity = str(claims["hex_identity"])
        except (ValueError, KeyError, TypeError):
            raise AuthError(400, "Authorization is invalid: malformed token") from None
        want = _b64(hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, parts[2]):
            raise AuthError(401, "Authorization failed: token not signed by this instance")
        return identity


# -- databases and queries ------------------------------------------------------------------------
@dataclass
class Database:
    name: str
    identity: str
    owner: str
    module: ModuleDef
    state: Any


@dataclass(frozen=True)
class Query:
    sql: str
    table: str
    where: tuple[str, Any] | None = None

    def matches(self, row: dict[str, Any]) -> bool:
        return self.where is None or row.get(self.where[0]) == self.where[1]


_SELECT = re.compile(r"^\s*SELECT\s+\*\s+FROM\s+([A-Za-z_]\w*)(?:\s+WHERE\s+([A-Za-z_]\w*)\s*=\s*(.+?))?\s*;?\s*$",
                     re.IGNORECASE | re.DOTALL)


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return float(text) if "." in text else int(text)


def compile_query(db: Database, sql: str, caller: str) -> Query:
    """``SELECT * FROM t [WHERE col = literal]`` against the module; private tables are invisible to
    everyone but the owner.

    Raises:
        ValueError: with the server's text (``crates/expr/src/errors.rs:10-18 @2.8.3``;
            ``crates/sql-parser/src/parser/errors.rs:12-19``).
    """
    m = _SELECT.match(sql)
    if m is None:
        word = sql.strip().split(maxsplit=1)[0].upper() if sql.strip() else ""
        if word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
            raise ValueError("Unsupported: Non-SELECT queries")
        raise ValueError(f"sql parser error: Expected: an SQL statement, found: {sql.strip()[:40]}")
    table = db.module.table(m.group(1))
    if table is None or (not table.public and caller != db.owner):
        raise ValueError(f"no such table: `{m.group(1)}`. If the table exists, it may be marked private.")
    if m.group(2) is None:
        return Query(sql, table.name)
    if m.group(2) not in [n for n, _ in table.row.fields]:
        raise ValueError(f"`{table.name}` does not have a field `{m.group(2)}`")
    try:
        return Query(sql, table.name, (m.group(2), _literal(m.group(3))))
    except ValueError:
        raise ValueError("Cannot resolve type for literal expression") from None


def with_sql(error: str, sql: str) -> str:
    """``DBError::WithSql``'s display, ``"{error}, executing: `{sql}`"`` (``crates/engine/src/error.rs:
    146-151 @2.8.3``)."""
    return f"{error}, executing: `{sql}`"


# -- messages ---------------------------------------------------------------------------------------
def table_id(db: Database, table: str) -> int:
    return 4096 + [t.name for t in db.module.tables].index(table)


def table_update(db: Database, table: str, deletes: list[str], inserts: list[str]) -> dict[str, Any]:
    """``TableUpdate`` (``websocket/v1.rs``; ``websocket.rs:646-661 @1.12``): JSON ``QueryUpdate`` is
    uncompressed ``{deletes, inserts}`` (``websocket.rs:707-723,821-825 @1.12``)."""
    return {"table_id": table_id(db, table), "table_name": table, "num_rows": len(deletes) + len(inserts),
            "updates": [{"deletes": deletes, "inserts": inserts}]}


def stored_rows(db: Database, query: Query) -> list[str]:
    """Rows read from the committed table: keyed by column (``bflatn_from.rs:60-87 @2.8.3``)."""
    row_type = db.module.table(query.table).row  # type: ignore[union-attr]
    return [row_json(r, row_type, keyed_row=True) for r in db.state.rows[query.table].values() if query.matches(r)]


def initial_tables(db: Database, queries: list[Query]) -> list[dict[str, Any]]:
    """One ``TableUpdate`` per query; queries reading an empty table are left out
    (``crates/core/src/subscription/mod.rs:185-192 @2.8.3``, ``:258-265 @1.12``)."""
    return [table_update(db, q.table, [], stored_rows(db, q)) for q in queries if db.state.rows[q.table]]


@dataclass
class Event:
    """What a transaction reports: ``ModuleEvent`` (``host/module_host.rs``)."""

    reducer: str
    reducer_id: int
    args: str
    caller_identity: str
    caller_connection_id: int  # ZERO for the scheduler (``messages.rs:446 @2.8.3``)
    request_id: int
    status: dict[str, Any]
    timestamp: int = field(default_factory=now_us)


def transaction_update(event: Event, tables: list[dict[str, Any]] | None, request_id: int) -> str:
    """``TransactionUpdate`` (``websocket.rs:534-599 @1.12``; ``messages.rs:398-470 @2.8.3``)."""
    status = {"Committed": {"tables": tables or []}} if "Committed" in event.status else event.status
    return json.dumps({"TransactionUpdate": {
        "status": status,
        "timestamp": {"__timestamp_micros_since_unix_epoch__": event.timestamp},
        "caller_identity": {"__identity__": socket_identity(event.caller_identity)},
        "caller_connection_id": {"__connection_id__": event.caller_connection_id},
        "reducer_call": {"reducer_name": event.reducer, "reducer_id": event.reducer_id, "args": event.args,
                         "request_id": request_id},
        "energy_quanta_used": {"quanta": 0},
        "total_host_execution_duration": {"__time_duration_micros__": 17}}})


@dataclass(eq=False)
class Client:
    ws: ServerConnection
    db: Database
    identity: str
    connection_id: int
    light: bool = False
    legacy: list[Query] = field(default_factory=list)
    multi: dict[int, list[Query]] = field(default_factory=dict)

    def queries(self) -> list[Query]:
        return self.legacy + [q for qs in self.multi.values() for q in qs]


class CloseClient(Exception):
    """Close the WebSocket with code 1011 and this reason (a message the server cannot decode:
    ``routes/subscribe.rs:853-877 @2.8.3``)."""


def _random_connection_id() -> int:
    """A random non-zero u128 (``routes/subscribe.rs:113-115,142-147 @2.8.3``)."""
    return secrets.randbits(128) or 1


class FakeSpacetimeDB:
    """The test double server. ``await start()`` returns the base URL (``http://127.0.0.1:PORT``).

    Args:
        databases: database name -> module name (``blackholio`` or ``wire_types``), created at start.
        server_version: ``(2, 8, 3)`` or ``(1, 12, 0)`` rules.
        module_major: 2 -> a 2.x-crate (V10) module; 1 -> a 1.x (V9) module.
        tick_ms / food_ms: scheduled reducer periods (Blackholio's timers).
        world_size / target_food / seed: the Blackholio world.
        ping_interval: seconds between server pings (the real server: 15).
        jwt_key: the key that signs tokens (a fresh one by default).
    """

    def __init__(self, *, databases: dict[str, str] | tuple[str, ...] = ("blackholio",),
                 server_version: tuple[int, int, int] = (2, 8, 3), module_major: int = 2,
                 tick_ms: float = 20.0, food_ms: float = 100.0, world_size: int = 200,
                 target_food: int = 120, ping_interval: float | None = 15.0, seed: int = 0,
                 jwt_key: bytes | None = None) -> None:
        if server_version not in PROTOCOLS:
            raise ValueError(f"server_version must be one of {sorted(PROTOCOLS)}")
        self.server_version = server_version
        self.module_major = module_major
        self.options = {"tick_ms": tick_ms, "food_ms": food_ms, "world_size": world_size,
                        "target_food": target_food, "seed": seed}
        self.ping_interval = ping_interval
        self.tokens = Tokens(jwt_key or secrets.token_bytes(32))
        self.owner_identity, self.owner_token = self.tokens.new_identity()
        self.dbs: dict[str, Database] = {}
        wanted = databases if isinstance(databases, dict) else {name: "blackholio" for name in databases}
        for name, module in wanted.items():
            self.create_database(name, MODULES[module](module_major), self.owner_identity)
        self.clients: dict[str, list[Client]] = {}
        self.port = 0
        self._front: asyncio.AbstractServer | None = None
        self._ws_server: Any = None
        self._ws_port = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.received: list[dict[str, Any]] = []  # every client message, for assertions
        #: (identity, frame) of the latest messages sent, for assertions
        self.sent: collections.deque[tuple[str, str]] = collections.deque(maxlen=4000)
        self.ticks = 0
        #: when set, the next CallReducer of this name gets a garbage frame instead of an answer
        self.garble_reducer: str | None = None
        #: when set, the next CallReducer of this name closes every connection instead of answering
        self.drop_on_reducer: str | None = None
        #: reducer name -> event: calls of that reducer wait for the event before running
        self.hold: dict[str, asyncio.Event] = {}

    # -- compatibility with the tests of the game -------------------------------------------------
    @property
    def worlds(self) -> dict[str, Any]:
        return {name: db.state for name, db in self.dbs.items()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v2(self) -> bool:
        return self.server_version >= (2, 0, 0)

    def issue_identity(self) -> tuple[str, str]:
        """What ``POST /v1/identity`` answers: a new identity (64 hex) and its token."""
        return self.tokens.new_identity()

    def create_database(self, name: str, module: ModuleDef, owner: str) -> Database:
        state = module.make_state(**self.options)
        db = Database(name, secrets.token_hex(32), owner, module, state)
        self.dbs[name] = db
        return db

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> str:
        self._ws_server = await serve(self._ws_handler, "127.0.0.1", 0, subprotocols=list(PROTOCOLS[self.server_version]),  # type: ignore[arg-type]
                                      select_subprotocol=self._select_subprotocol, ping_interval=self.ping_interval,
                                      ping_timeout=30, max_size=None,
                                      # no permessage-deflate: the server's tokio-tungstenite has no deflate
                                      # feature enabled (Cargo.toml:326 @2.8.3)
                                      compression=None)
        self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        self._front = await asyncio.start_server(self._http_connection, "127.0.0.1", port)
        self.port = self._front.sockets[0].getsockname()[1]
        for reducer, option in self._timers():
            self._tasks.append(asyncio.create_task(self._timer(self.options[option] / 1000.0, reducer)))
        for db in self.dbs.values():  # the food timer's first run (init schedules it)
            if isinstance(db.state, World):
                db.state.spawn_food(Delta(), Ctx(db.identity, None, now_us()))
        return self.url

    def _timers(self) -> set[tuple[str, str]]:
        return {t for db in self.dbs.values() for t in db.module.timers}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in (self._front, self._ws_server):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 5)
        self._front = self._ws_server = None

    async def mutate(self, db: str, change: Any) -> Any:
        """Run ``change(state, delta)`` as a transaction and broadcast it (test hook)."""
        d = Delta()
        result = change(self.dbs[db].state, d)
        database = self.dbs[db]
        event = Event("test_hook", NO_REDUCER_ID, "[]", database.identity, 0, 0, {"Committed": {}})
        await self._broadcast(database, d, event, caller=None)
        return result

    async def drop_all_connections(self) -> None:
        """Simulate a crash: close every client connection abruptly (no close frame)."""
        for clients in self.clients.values():
            for c in list(clients):
                c.ws.transport.abort()

    # -- HTTP front -------------------------------------------------------------------------------
    async def _http_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, headers = _parse_head(head)
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            if headers.get("upgrade", "").lower() == "websocket":
                await self._upgrade(reader, writer, head, target, headers)
                return
            status, ctype, payload = await self._route(method, target, headers, body)
            _write_response(writer, status, ctype, payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _upgrade(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes,
                       target: str, headers: dict[str, str]) -> None:
        """Check what the real server checks before upgrading, then pipe the connection to the
        internal WebSocket server."""
        refusal = self._refuse_upgrade(target, headers)
        if refusal is not None:
            _write_response(writer, refusal[0], "text/plain; charset=utf-8", refusal[1].encode())
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._ws_port)
        up_writer.write(head)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    def _refuse_upgrade(self, target: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """Auth (``auth.rs:436-456``), the database (404), then the subprotocol: none of ours offered ->
        400 ``no valid protocol selected`` (``routes/subscribe.rs:195-201 @2.8.3``)."""
        path, query = _split_target(target)
        m = re.fullmatch(r"/v1/database/([^/]+)/subscribe", path)
        if m is None:
            return 404, ""
        try:
            self._identity_from(headers, query)
        except AuthError as exc:
            return exc.status, exc.text
        if unquote(m.group(1)) not in self.dbs:
            return 404, ""
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        if not any(p in offered for p in PROTOCOLS[self.server_version]):
            return 400, "no valid protocol selected"
        return None

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> str | None:
        return next((p for p in PROTOCOLS[self.server_version] if p in offered), None)

    def _identity_from(self, headers: dict[str, str], query: dict[str, str]) -> tuple[str, str] | None:
        """``Authorization: Bearer`` wins over ``?token=`` (``auth.rs:24-28,65-78 @2.8.3``); None: anonymous."""
        auth = headers.get("authorization")
        token = auth.removeprefix("Bearer ").strip() if auth else query.get("token")
        if not token:
            return None
        return self.tokens.verify(token), token

    async def _route(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        """The HTTP routes (``routes/database.rs:1525-1580 @2.8.3``, ``routes/mod.rs``)."""
        path, query = _split_target(target)
        if path == "/v1/ping" and method == "GET":
            return 200, "text/plain", b""
        if path == "/v1/health" and method == "GET":
            return 200, "application/json", json.dumps({
                "package_name": "spacetimedb-client-api (test double)", "version": ".".join(map(str, self.server_version)),
                "nodes": [0], "schedulable": True}).encode()
        try:
            caller = self._identity_from(headers, query) or self.tokens.new_identity()
        except AuthError as exc:
            return exc.status, "text/plain; charset=utf-8", exc.text.encode()
        if path == "/v1/identity" and method == "POST":
            return 200, "application/json", json.dumps({"identity": caller[0], "token": caller[1]}).encode()
        m = re.fullmatch(r"/v1/database/([^/]+)(/.*)?", path)
        if m is None:
            return 404, "text/plain", b""
        name, rest = unquote(m.group(1)), m.group(2) or "/"
        if method == "PUT" and rest == "/":
            return self._publish(name, caller[0], query, body)
        db = self.dbs.get(name)
        if db is None:
            return 404, "text/plain; charset=utf-8", b"No such database."  # database.rs:96 @2.8.3
        return await self._database_route(db, method, rest, query, headers, body, caller[0])

    async def _database_route(self, db: Database, method: str, rest: str, query: dict[str, str],
                              headers: dict[str, str], body: bytes, caller: str) -> tuple[int, str, bytes]:
        if rest == "/schema" and method == "GET":
            versions = ("9", "10") if self.v2 else ("9",)  # database.rs:490-500 @2.8.3; only 9 @1.12
            if query.get("version") not in versions:
                return 400, "text/plain", b"Failed to deserialize query string: unknown variant"
            if query["version"] == "10":
                return 400, "text/plain", b"the test double serves only the RawModuleDefV9 (version=9)"
            return 200, "application/json", json.dumps(module_def_v9(db.module)).encode()
        if rest.startswith("/call/") and method == "POST":
            return await self._http_call(db, unquote(rest[len("/call/"):]), headers, body, caller)
        if rest == "/sql" and method == "POST":
            return self._sql(db, body.decode(), caller)
        return 404, "text/plain", b""

    def _publish(self, name: str, caller: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        """``PUT /v1/database/:name`` (``database.rs:910-1040 @2.8.3``); the double's "wasm" is the module's
        Cargo package name. A new name -> ``Created``; an existing one -> ``Updated`` (``?clear=true``:
        fresh state)."""
        from fake_modules import PACKAGES

        package = body.decode().strip()
        if package not in PACKAGES:
            return 400, "text/plain", f"the test double has no twin of module package {package!r}".encode()
        existing = self.dbs.get(name)
        if existing is not None and existing.owner != caller:
            return 401, "application/json", json.dumps({"PermissionDenied": {"name": name}}).encode()
        op = "Updated" if existing is not None else "Created"
        if existing is None or query.get("clear") == "true":
            db = self.create_database(name, PACKAGES[package](self.module_major), caller)
        else:
            db = existing
        return 200, "application/json", json.dumps(
            {"Success": {"domain": name, "database_identity": db.identity, "op": op}}).encode()

    def _sql(self, db: Database, sql: str, caller: str) -> tuple[int, str, bytes]:
        """``POST /sql``: ``[{schema, rows, total_duration_micros, stats}]``, rows positional
        (``client-api-messages/src/http.rs:8-15 @2.8.3``)."""
        try:
            q = compile_query(db, sql, caller)
        except ValueError as exc:
            return 400, "text/plain; charset=utf-8", str(exc).encode()
        table = db.module.table(q.table)
        assert table is not None
        rows = [positional(r, table.row) for r in db.state.rows[q.table].values() if q.matches(r)]
        return 200, "application/json", json.dumps([{"schema": product_json(table.row, _refs(db.module)),
                                                      "rows": rows, "total_duration_micros": 5,
                                                      "stats": {"rows_inserted": 0}}]).encode()

    # -- reducer calls (shared by HTTP and WebSocket) -----------------------------------------------
    def _lookup(self, db: Database, name: str, caller: str) -> tuple[int, ReducerDef]:
        """``reducer_call_params`` (``host/module_host.rs:2309-2330 @2.8.3``): unknown -> ``no such
        reducer``; a lifecycle reducer -> ``can't directly call special {lifecycle:?} lifecycle reducer``;
        in a V10 module a scheduled reducer is private (``schema/src/def/validate/v10.rs:386-423``) and
        unknown to everyone but the owner.

        Raises:
            LookupError: with the server's text.
        """
        found = db.module.reducer(name)
        if found is None:
            raise LookupError("no such reducer")
        index, reducer = found
        if reducer.lifecycle is not None:
            raise LookupError(f"can't directly call special {reducer.lifecycle} lifecycle reducer")
        if reducer.scheduled and self.module_major >= 2 and caller != db.owner:
            raise LookupError("no such reducer")
        return index, reducer

    @staticmethod
    def _parse_args(reducer: ReducerDef, args_text: str) -> list[Any]:
        """The JSON arguments against the parameters (``host/mod.rs:56-79,133,158-166 @2.8.3``).

        Raises:
            ArgError: ``invalid arguments for reducer NAME: PATH: serde error`` (the real ``{:#}`` chain
                may repeat the cause).
        """
        try:
            value = json.loads(args_text)
        except ValueError as exc:
            raise ArgError("", f"{exc}") from None
        parsed = read_product(value, Prod(reducer.params), "")
        return [parsed[n] for n, _ in reducer.params]

    def _run(self, db: Database, reducer: ReducerDef, ctx: Ctx, args: list[Any]) -> tuple[Delta, str | None]:
        d = Delta()
        try:
            reducer.fn(db.state, d, ctx, *args)
        except ReducerFailed as exc:
            return Delta(), str(exc)  # rolled back (the reducers validate before writing)
        return d, None

    async def _lifecycle(self, db: Database, kind: str, ctx: Ctx) -> str | None:
        """Run the module's ``OnConnect``/``OnDisconnect`` reducer, if any, and broadcast its writes."""
        found = next(((i, r) for i, r in enumerate(db.module.reducers) if r.lifecycle == kind), None)
        if found is None:
            return None
        index, reducer = found
        d, error = self._run(db, reducer, ctx, [])
        if error is None:
            event = Event(reducer.name, index, "[]", ctx.sender, ctx.connection_id or 0, 0, {"Committed": {}})
            await self._broadcast(db, d, event, caller=None)
        return error

    async def _http_call(self, db: Database, name: str, headers: dict[str, str], body: bytes,
                         caller: str) -> tuple[int, str, bytes]:
        """``POST /call/:reducer`` (``database.rs:140-215,682-715 @2.8.3``): ``Content-Type`` must be
        exactly ``application/json``; a fresh connection id; ``client_connected`` (``Err`` -> 403), the
        reducer, then ``client_disconnected`` -- always. 200 empty, 530 the reducer's text, 400 bad
        arguments or a lifecycle reducer, 404 ``No such procedure`` (unknown names are tried as
        procedures, ``database.rs:177-186``; ``module_host.rs:1660``)."""
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return 415, "text/plain", b"Expected request with `Content-Type: application/json`"
        ctx = Ctx(caller, _random_connection_id(), now_us())
        rejected = await self._lifecycle(db, "OnConnect", ctx)
        if rejected is not None:
            return 403, "text/plain", rejected.encode()
        try:
            return await self._http_reducer(db, name, body.decode("utf-8", "replace"), ctx)
        finally:
            await self._lifecycle(db, "OnDisconnect", Ctx(caller, ctx.connection_id, now_us()))

    async def _http_reducer(self, db: Database, name: str, args_text: str, ctx: Ctx) -> tuple[int, str, bytes]:
        try:
            index, reducer = self._lookup(db, name, ctx.sender)
        except LookupError as exc:
            if str(exc) == "no such reducer":
                return 404, "text/plain", b"No such procedure"
            return 400, "text/plain", str(exc).encode()
        try:
            args = self._parse_args(reducer, args_text)
        except ArgError as exc:
            return 400, "text/plain", f"invalid arguments for reducer {name}: {exc}".encode()
        d, error = self._run(db, reducer, ctx, args)
        if error is not None:
            return 530, "text/plain", error.encode()
        event = Event(name, index, args_text, ctx.sender, ctx.connection_id or 0, 0, {"Committed": {}})
        await self._broadcast(db, d, event, caller=None)  # no caller: everybody is "other", request id 0
        return 200, "text/plain", b""

    # -- WebSocket side ---------------------------------------------------------------------------
    async def _ws_handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path, query = _split_target(ws.request.path)
        db = self.dbs[unquote(path.split("/")[3])]
        if ws.subprotocol != V1_JSON:
            await ws.close(1011, f"the test double speaks only {V1_JSON}, not {ws.subprotocol}")
            return
        known = self._identity_from({k.lower(): v for k, v in ws.request.headers.raw_items()}, query)
        identity, token = known or self.tokens.new_identity()
        client = Client(ws, db, identity, _random_connection_id(), light=query.get("light") == "true")
        # client_connected runs first; an Err drops the socket without a message (subscribe.rs:258-289)
        if await self._lifecycle(db, "OnConnect", Ctx(identity, client.connection_id, now_us())) is not None:
            ws.transport.abort()
            return
        await self._send(client, json.dumps({"IdentityToken": {  # the first message (subscribe.rs:313-330)
            "identity": {"__identity__": socket_identity(identity)}, "token": token,
            "connection_id": {"__connection_id__": client.connection_id}}}))
        self.clients.setdefault(db.name, []).append(client)
        try:
            async for frame in ws:
                try:
                    await self._on_frame(client, frame)
                except CloseClient as exc:
                    await ws.close(1011, str(exc)[:120])
                    break
        except ConnectionClosed:
            pass
        finally:
            if client in self.clients.get(db.name, []):
                self.clients[db.name].remove(client)
            await self._lifecycle(db, "OnDisconnect", Ctx(identity, client.connection_id, now_us()))

    async def _send(self, client: Client, frame: str) -> None:
        self.sent.append((client.identity, frame))
        with contextlib.suppress(ConnectionClosed):
            await client.ws.send(frame)

    async def _on_frame(self, client: Client, frame: str | bytes) -> None:
        """Decode a client message (``message_handlers_v1.rs:18-35 @2.8.3``) and dispatch it. Undecodable
        JSON, an unknown kind, a missing or unknown field or a wrong type closes the socket (1011)."""
        if isinstance(frame, bytes):
            raise CloseClient("invalid BSATN: a binary frame on a text connection")
        try:
            msg = json.loads(frame)
        except ValueError as exc:
            raise CloseClient(f"{exc}") from None
        self.received.append(msg)
        kind, body = _check_message(msg)
        if kind == "CallReducer":
            await self._call_reducer(client, body)
        elif kind == "Subscribe":
            await self._subscribe(client, body)
        elif kind == "SubscribeMulti":
            await self._subscribe_multi(client, body)
        elif kind == "OneOffQuery":
            await self._one_off_query(client, body)
        else:
            raise CloseClient(f"the test double does not implement {kind}")

    async def _message_error(self, client: Client, reducer: str | None, reducer_id: int | None, text: str) -> None:
        """A ``MessageExecutionError`` (``message_handlers_v1.rs:102-164 @2.8.3``;
        ``message_handlers.rs:153-204 @1.12``): a ``Failed`` update with request id 0, args ``"[]"``,
        reducer id ``u32::MAX`` unless the reducer exists; the name is the reducer's -- at 2.8.3 only a
        valid identifier, else ``""`` -- or, with no reducer, ``""`` (2.8.3) / ``"<none>"`` (1.12)."""
        if self.v2:
            name = reducer if reducer is not None and reducer.isidentifier() else ""
        else:
            name = reducer if reducer is not None else "<none>"
        event = Event(name, NO_REDUCER_ID if reducer_id is None else reducer_id, "[]", client.identity,
                      client.connection_id, 0, {"Failed": text})
        await self._send(client, transaction_update(event, None, 0))

    async def _call_reducer(self, client: Client, body: dict[str, Any]) -> None:
        name, args_text, request_id, flags = body["reducer"], body["args"], body["request_id"], body["flags"]
        if name in self.hold:
            await self.hold[name].wait()
        if self.drop_on_reducer == name:
            self.drop_on_reducer = None
            await self.drop_all_connections()
            return
        if self.garble_reducer == name:
            self.garble_reducer = None
            await client.ws.send('{"TransactionUpdate": {"status": 17}}')
            return
        db = client.db
        known = db.module.reducer(name)
        try:
            index, reducer = self._lookup(db, name, client.identity)
            args = self._parse_args(reducer, args_text)
        except LookupError as exc:
            await self._message_error(client, name, known[0] if known else None, str(exc))
            return
        except ArgError as exc:
            await self._message_error(client, name, index, f"invalid arguments for reducer {name}: {exc}")
            return
        d, error = self._run(db, reducer, Ctx(client.identity, client.connection_id, now_us()), args)
        status = {"Failed": error} if error is not None else {"Committed": {}}
        event = Event(name, index, args_text, client.identity, client.connection_id, request_id, status)
        caller = client if flags == 0 else None  # NoSuccessNotify: caller not singled out (client_connection.rs:1025-1030)
        if error is not None:
            # a failed reducer: only the caller hears of it; request id 0 at 1.12, the caller's at 2.8.3
            # (module_subscription_actor.rs:1764-1801 @2.8.3 + messages.rs:455-458; :1199-1221 @1.12)
            if caller is not None:
                await self._send(client, transaction_update(event, None, request_id if self.v2 else 0))
            return
        await self._broadcast(db, d, event, caller)

    async def _broadcast(self, db: Database, d: Delta, event: Event, caller: Client | None) -> None:
        """``eval_updates`` (``module_subscription_manager.rs:1950-1994 @2.8.3``): the caller always gets a
        full update with its request id (empty when nothing it subscribed changed); every other client
        gets one only when its queries gained or lost rows (positional rows: ``ProductValue``), full or
        light: light for a V10 module on a 2.x server, else only with ``?light=true`` (``:1616-1624 @1.12``)."""
        if caller is not None:
            await self._send(caller, transaction_update(event, self._delta_tables(db, d, caller), event.request_id))
        if not d.tables():
            return
        light_for_all = self.v2 and self.module_major >= 2
        for c in list(self.clients.get(db.name, [])):
            if c is caller:
                continue
            tables = self._delta_tables(db, d, c)
            if not tables:
                continue
            if light_for_all or c.light:
                frame = json.dumps({"TransactionUpdateLight": {"request_id": event.request_id,
                                                               "update": {"tables": tables}}})
            else:
                frame = transaction_update(event, tables, event.request_id)
            await self._send(c, frame)

    @staticmethod
    def _delta_tables(db: Database, d: Delta, client: Client) -> list[dict[str, Any]]:
        out = []
        for q in client.queries():
            row_type = db.module.table(q.table).row  # type: ignore[union-attr]
            deletes = [row_json(r, row_type, keyed_row=False) for r in d.deletes.get(q.table, []) if q.matches(r)]
            inserts = [row_json(r, row_type, keyed_row=False) for r in d.inserts.get(q.table, []) if q.matches(r)]
            if deletes or inserts:
                out.append(table_update(db, q.table, deletes, inserts))
        return out

    @staticmethod
    def _compile_all(client: Client, sqls: list[str]) -> list[Query]:
        """Compile every query; the first bad one raises :class:`_QueryError` naming its SQL."""
        out = []
        for sql in sqls:
            try:
                out.append(compile_query(client.db, sql, client.identity))
            except ValueError as exc:
                raise _QueryError(str(exc), sql) from None
        return out

    async def _subscribe(self, client: Client, body: dict[str, Any]) -> None:
        """Legacy ``Subscribe`` (``module_subscription_actor.rs:1609-1700 @2.8.3``): a bad query is a
        message error (``{:#}`` of ``WithSql``: the text, ``, executing: `sql```, then the cause again); success
        replaces the legacy set and answers ``InitialSubscription`` with the caller's request id."""
        try:
            queries = self._compile_all(client, body["query_strings"])
        except _QueryError as exc:
            await self._message_error(client, None, None, f"{with_sql(exc.text, exc.sql)}: {exc.text}")
            return
        client.legacy = queries
        await self._send(client, json.dumps({"InitialSubscription": {
            "database_update": {"tables": initial_tables(client.db, queries)}, "request_id": body["request_id"],
            "total_host_execution_duration": {"__time_duration_micros__": 42}}}))

    async def _subscribe_multi(self, client: Client, body: dict[str, Any]) -> None:
        """``SubscribeMulti`` (``module_subscription_actor.rs:1438-1469 @2.8.3``): errors are a
        ``SubscriptionError`` with ``Option`` fields ``{"some": …}`` / ``{"none": []}`` and the ``WithSql``
        text (``messages.rs:664-676 @2.8.3``)."""
        query_id = body["query_id"]["id"]
        try:
            queries = self._compile_all(client, body["query_strings"])
        except _QueryError as exc:
            await self._send(client, json.dumps({"SubscriptionError": {
                "total_host_execution_duration_micros": 5, "request_id": {"some": body["request_id"]},
                "query_id": {"some": query_id}, "table_id": {"none": []}, "error": with_sql(exc.text, exc.sql)}}))
            return
        client.multi[query_id] = queries
        await self._send(client, json.dumps({"SubscribeMultiApplied": {
            "request_id": body["request_id"], "total_host_execution_duration_micros": 42,
            "query_id": {"id": query_id}, "update": {"tables": initial_tables(client.db, queries)}}}))

    async def _one_off_query(self, client: Client, body: dict[str, Any]) -> None:
        """``OneOffQueryResponse`` with the same ``message_id``; ``error`` an ``Option`` (``{"some":
        text}`` and no tables on failure); rows keyed (``module_host.rs:3437-3470 @2.8.3``)."""
        resp: dict[str, Any] = {"message_id": body["message_id"], "error": {"none": []}, "tables": [],
                                "total_host_execution_duration": {"__time_duration_micros__": 3}}
        try:
            q = compile_query(client.db, body["query_string"], client.identity)
            resp["tables"] = [{"table_name": q.table, "rows": stored_rows(client.db, q)}]
        except ValueError as exc:
            resp["error"] = {"some": str(exc)}
        await self._send(client, json.dumps({"OneOffQueryResponse": resp}))

    async def _timer(self, period: float, reducer: str) -> None:
        """A scheduled reducer: caller = the database identity, no connection id (``host/scheduler.rs:525
        @1.12``), so every subscriber is an "other" and the request id is 0."""
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            for db in list(self.dbs.values()):
                found = db.module.reducer(reducer)
                if found is None:
                    continue
                d = Delta()
                found[1].fn(db.state, d, Ctx(db.identity, None, now_us()), None)
                if reducer == "move_all_players":
                    self.ticks += 1
                event = Event(reducer, found[0], "[]", db.identity, 0, 0, {"Committed": {}})
                await self._broadcast(db, d, event, caller=None)


class _QueryError(Exception):
    def __init__(self, text: str, sql: str) -> None:
        super().__init__(text)
        self.text, self.sql = text, sql


#: fields of every client message, with a type check each (``websocket/v1.rs:53-247 @2.8.3``); derived
#: message structs require every field and reject unknown ones (``bindings-macro/src/sats.rs:463,504``)
MESSAGE_FIELDS: dict[str, dict[str, Any]] = {
    "CallReducer": {"reducer": str, "args": str, "request_id": int, "flags": int},
    "Subscribe": {"query_strings": list, "request_id": int},
    "SubscribeMulti": {"query_strings": list, "request_id": int, "query_id": dict},
    "OneOffQuery": {"message_id": str, "query_string": str},
    "SubscribeSingle": {"query": str, "request_id": int, "query_id": dict},
    "Unsubscribe": {"request_id": int, "query_id": dict},
    "UnsubscribeMulti": {"request_id": int, "query_id": dict},
}


def _check_message(msg: Any) -> tuple[str, dict[str, Any]]:
    """serde's checks of a ``ClientMessage``; each failure closes the socket with its text.

    ``flags`` 0 is ``FullUpdate`` and 1 ``NoSuccessNotify``; anything else is a decode error
    (``websocket.rs:172-195 @1.12``). ``args`` must be a JSON *string* (``message_handlers_v1.rs:22-32``).
    """
    if not isinstance(msg, dict) or len(msg) != 1:
        raise CloseClient("invalid type: expected an enum with one variant")
    ((kind, body),) = msg.items()
    fields = MESSAGE_FIELDS.get(kind)
    if fields is None:
        raise CloseClient(f"unknown variant `{kind}`, expected one of {', '.join(MESSAGE_FIELDS)}")
    if not isinstance(body, dict):
        raise CloseClient(f"invalid type for {kind}: expected a struct")
    for key in body:
        if key not in fields:
            raise CloseClient(f"unknown field `{key}`")
    for key, typ in fields.items():
        if key not in body:
            raise CloseClient(f"missing field `{key}`")
        if not isinstance(body[key], typ) or isinstance(body[key], bool):
            raise CloseClient(f"invalid type: field `{key}` of {kind}")
    if kind == "CallReducer" and body["flags"] not in (0, 1):
        raise CloseClient(f"invalid value: flags {body['flags']}, expected 0 or 1")
    if kind in ("SubscribeMulti", "SubscribeSingle", "Unsubscribe", "UnsubscribeMulti") \
            and not isinstance(body["query_id"].get("id"), int):
        raise CloseClient("invalid type: query_id, expected {\"id\": u32}")
    return kind, body


def module_def_v9(module: ModuleDef) -> dict[str, Any]:
    """The module's ``RawModuleDefV9`` as the schema endpoint serialises it (``lib/src/db/raw_def/v9.rs:
    60-102,150-190,546-555 @2.8.3``; example ``docs/…/00300-database.md:302-415 @2.8.3``)."""
    refs = _refs(module)
    types: list[Any] = [type_json(t.inner, refs) for t in module.named_types]
    types += [{"Product": product_json(t.row, refs)} for t in module.tables]
    tables = []
    for i, t in enumerate(module.tables):
        names = [n for n, _ in t.row.fields]
        schedule = {"none": []} if t.scheduled is None else {"some": {
            "name": {"some": f"{t.name}_sched"}, "reducer_name": t.scheduled,
            "scheduled_at_column": names.index("scheduled_at")}}
        tables.append({"name": t.name, "product_type_ref": len(module.named_types) + i,
                       "primary_key": [names.index(t.primary_key)], "indexes": [], "constraints": [],
                       "sequences": [], "schedule": schedule, "table_type": {"User": []},
                       "table_access": {"Public": []} if t.public else {"Private": []}})
    reducers = [{"name": r.name, "params": product_json(Prod(r.params), refs),
                 "lifecycle": {"none": []} if r.lifecycle is None else {"some": {r.lifecycle: []}}}
                for r in module.reducers]
    named = [{"name": {"scope": [], "name": t.name}, "ty": i, "custom_ordering": True}
             for i, t in enumerate(module.named_types)]
    return {"typespace": {"types": types}, "tables": tables, "reducers": reducers, "types": named,
            "misc_exports": [], "row_level_security": []}


def _refs(module: ModuleDef) -> dict[str, int]:
    """Typespace indices: the named types first, then every table's row type (by its struct name, which
    a scheduled reducer's timer parameter refers to)."""
    refs = {t.name: i for i, t in enumerate(module.named_types)}
    refs.update({t.type_name: len(module.named_types) + i for i, t in enumerate(module.tables)})
    return refs


# -- HTTP plumbing ------------------------------------------------------------------------------------
def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return method, target, headers


def _split_target(target: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(target)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            415: "Unsupported Media Type", 530: "Site is frozen"}


def _write_response(writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
    writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class FakeServerThread:
    """Runs a :class:`FakeSpacetimeDB` on its own event loop in a daemon thread (for sync tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = FakeSpacetimeDB(**kwargs)
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-spacetimedb", daemon=True)

    def __enter__(self) -> FakeServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, coro: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop (e.g. ``server.drop_all_connections()``)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


__all__ = ["MODULES", "FakeServerThread", "FakeSpacetimeDB", "World", "blackholio_module", "module_def_v9"]


def _serve_forever(argv: list[str]) -> None:
    """``python fake_spacetimedb_server.py TICK_MS WORLD_SIZE TARGET_FOOD``: serve Blackholio in this process
    (the benchmark runs the double apart from the client, as a real server would be); prints the URL."""
    tick, world, food = float(argv[0]), int(argv[1]), int(argv[2])

    async def main() -> None:
        server = FakeSpacetimeDB(tick_ms=tick, food_ms=500, world_size=world, target_food=food, seed=1)
        print(await server.start(), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    import sys

    _serve_forever(sys.argv[1:])
