"""Conformance: the same checks against the server double and, where the CLI is installed, a real server.

Each check states a behaviour of SpacetimeDB read from its source (the citations are in the double,
``fake_spacetimedb_server.py``, and in the client). The targets:

* ``double-2.8.3``: the double with the 2.8.3 rules and 2.x-crate modules;
* ``double-1.12``: the double with the 1.12 rules and 1.x-crate modules;
* ``real``: a local server started by the plugin's launcher from the installed ``spacetime`` (the
  proxy or the binaries), with ``example_project/spacetimedb/blackholio`` and
  ``tests/spacetimedb/wire_types_module`` published; skipped, with the reason, when the CLI or cargo
  is missing.

Raw checks read the server's frames over a plain ``websockets`` connection (the server's behaviour);
client checks go through :class:`~pytest_rlplaytest.engines.spacetimedb.client.SpacetimeClient`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import real_spacetime
from fake_spacetimedb_server import FakeServerThread
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from pytest_rlplaytest.engines.spacetimedb import codec
from pytest_rlplaytest.engines.spacetimedb.client import (
    QueryError,
    ReducerError,
    SpacetimeClient,
    SubscriptionFailed,
    websocket_url,
)
from pytest_rlplaytest.engines.spacetimedb.server import HttpApi, HttpError, SpacetimeServer

ROOT = Path(__file__).resolve().parents[2]
BLACKHOLIO_MODULE = ROOT / "example_project" / "spacetimedb" / "blackholio"
WIRE_MODULE = Path(__file__).resolve().parent / "wire_types_module"
#: a limit a request-id-0 failure must beat: hitting it fails the test with RequestTimeout
FAST = 0.9


@dataclass
class Target:
    name: str
    url: str
    version: tuple[int, int, int]
    module_major: int
    blackholio: str = "blackholio"
    wire: str = "wire-types"
    reset: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> HttpApi:
        return HttpApi(self.url, timeout=10)

    def variant(self, rust_name: str) -> str:
        """A user enum variant's name on the wire: camelCase in 2.x modules (canonical names)."""
        return rust_name[0].lower() + rust_name[1:] if self.module_major >= 2 else rust_name

    def fresh_wire(self) -> str:
        """The wire-types database with its tables emptied (re-published / re-created)."""
        self.reset()
        return self.wire


def _double(version: tuple[int, int, int], major: int) -> Iterator[Target]:
    with FakeServerThread(databases={"blackholio": "blackholio", "wire-types": "wire_types"},
                          server_version=version, module_major=major, tick_ms=20, food_ms=100) as srv:
        def reset() -> None:
            from fake_modules import wire_types_module

            srv.server.create_database("wire-types", wire_types_module(major), srv.server.owner_identity)

        yield Target(f"double-{'.'.join(map(str, version))}", srv.url, version, major, reset=reset)


def _real(tmp: Path) -> Iterator[Target]:
    binary = real_spacetime()
    if binary is None:
        pytest.skip("no real SpacetimeDB here: the `spacetime` CLI is not installed (put it on PATH or set "
                    "SPACETIME_BIN); these checks ran against the double only")
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed: publishing the Rust test modules to the real server needs it")
    server = SpacetimeServer(binary, root=tmp / "root", timeout=60)
    server.start()
    if server.version < (2, 0, 0):
        server.stop()
        pytest.skip(f"the installed SpacetimeDB is {server.version}: the test modules use the 2.x crate "
                    "(`#[table(accessor = …)]`), which a 1.x server cannot run")
    try:
        server.publish(BLACKHOLIO_MODULE, "blackholio")
        server.publish(WIRE_MODULE, "wire-types")
        major = 2 if server.version >= (2, 0, 0) else 1
        yield Target("real", server.url, server.version, major,
                     reset=lambda: server.publish(WIRE_MODULE, "wire-types", clear=True))
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["double-2.8.3", "double-1.12", "real"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "real":
        yield from _real(tmp_path_factory.mktemp("real-spacetimedb"))
    elif request.param == "double-1.12":
        yield from _double((1, 12, 0), 1)
    else:
        yield from _double((2, 8, 3), 2)


class Raw:
    """A plain WebSocket to a database: what the server sends, unparsed by the plugin."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.first: dict[str, Any] = {}

    @classmethod
    async def open(cls, url: str, db: str, token: str | None = None) -> Raw:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ws = await ws_connect(websocket_url(url, db), subprotocols=["v1.json.spacetimedb"],  # type: ignore[list-item]
                              additional_headers=headers, max_size=None, proxy=None)
        raw = cls(ws)
        raw.first = await raw.recv()
        return raw

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))

    async def send(self, kind: str, **body: Any) -> None:
        await self.ws.send(json.dumps({kind: body}))

    async def until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of ``kind`` (others are skipped)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            msg = await self.recv(max(0.05, deadline - asyncio.get_running_loop().time()))
            if kind in msg:
                return dict(msg[kind])

    async def call(self, reducer: str, args: list[Any], request_id: int) -> dict[str, Any]:
        await self.send("CallReducer", reducer=reducer, args=json.dumps(args), request_id=request_id, flags=0)
        while True:
            tx = await self.until("TransactionUpdate")
            if tx["reducer_call"]["request_id"] in (request_id, 0) and \
                    tx["caller_identity"] == self.first["IdentityToken"]["identity"]:
                return tx

    async def close(self) -> None:
        await self.ws.close()


def _rows(table_updates: list[dict[str, Any]], table: str) -> list[Any]:
    return [json.loads(r) for t in table_updates if t["table_name"] == table for u in t["updates"] for r in u["inserts"]]


# -- connection ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_identity_token_first_with_identity_and_connection_id_forms(target: Target) -> None:
    identity, token = target.api.create_identity()
    raw = await Raw.open(target.url, target.blackholio, token)
    try:
        first = raw.first["IdentityToken"]
        assert first["token"] == token
        assert first["identity"] == {"__identity__": "0x" + identity.lstrip("0")}  # u256: no leading zeros
        conn = first["connection_id"]["__connection_id__"]
        assert isinstance(conn, int) and 0 < conn < 2**128  # bare decimal u128
        assert codec.normalize_identity(first["identity"]) == identity
    finally:
        await raw.close()


@pytest.mark.asyncio
async def test_subprotocol_is_required(target: Target) -> None:
    with pytest.raises(InvalidStatus) as info:
        await ws_connect(websocket_url(target.url, target.blackholio), proxy=None)
    assert info.value.response.status_code == 400
    assert b"no valid protocol selected" in info.value.response.body
    with pytest.raises(InvalidStatus) as info:
        await ws_connect(websocket_url(target.url, target.blackholio), subprotocols=["v1.json.spacetimedb"],  # type: ignore[list-item]
                         additional_headers={"Authorization": "Bearer not-a-jwt"}, proxy=None)
    assert info.value.response.status_code == 400
    assert b"malformed token" in info.value.response.body


# -- schema -------------------------------------------------------------------------------------------
def test_schema_endpoint_types_every_column(target: Target) -> None:
    module = target.api.schema(target.wire)
    sample = module.tables["sample"]
    cols = dict(sample.columns)
    assert sample.primary_key == "id" and list(cols) == ["id", "owner", "conn", "at", "every", "label", "shape",
                                                         "tags"]
    assert (cols["owner"], cols["at"], cols["every"]) == (codec.IDENTITY, codec.TIMESTAMP, codec.TIME_DURATION)
    assert cols["conn"] == codec.OptionOf(codec.CONNECTION_ID) and cols["label"] == codec.OptionOf(None)
    shape = cols["shape"]
    assert isinstance(shape, codec.Sum)
    assert [n for n, _ in shape.variants] == [target.variant(v) for v in ("Circle", "Rect", "Empty")]
    assert cols["tags"] == codec.ArrayOf(None)
    assert module.reducers["connect"].lifecycle == "OnConnect" and "tick" in module.scheduled
    assert module.client_reducers() == ["add_sample", "fail"]
    assert "tick_timer" in module.tables and "tick_timer" not in module.public


# -- rows -----------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_empty_tables_left_out_then_positional_rows_decode_by_schema(target: Target) -> None:
    db = target.fresh_wire()
    client = await SpacetimeClient.connect(target.url, db, timeout=10)
    seen: list[codec.ServerMessage] = []
    client.add_listener(lambda msg, _: seen.append(msg))
    try:
        initial = await client.subscribe(["SELECT * FROM sample", "SELECT * FROM lifecycle_event"])
        assert [t.table_name for t in initial.tables] == ["lifecycle_event"]  # sample is empty: left out
        shapes = [[0, 2.5], [1, {"w": 3, "h": 4}], [2, []]]
        for i, shape in enumerate(shapes):
            await client.call_reducer("add_sample", None if i else codec.some("first"), shape, ["a", "b"][:i])
        rows = sorted(client.cache.rows("sample"), key=lambda r: r["id"])
        assert [r["shape"] for r in rows] == [(target.variant("Circle"), 2.5),
                                              (target.variant("Rect"), {"w": 3, "h": 4}),
                                              (target.variant("Empty"), None)]
        assert [r["label"] for r in rows] == ["first", None, None] and [r["tags"] for r in rows] == [[], ["a"], ["a", "b"]]
        assert {r["owner"] for r in rows} == {client.identity}
        assert {r["conn"] for r in rows} == {client.connection_id} and {r["every"] for r in rows} == {50_000}
        assert all(isinstance(r["at"], int) and r["at"] > 1_600_000_000_000_000 for r in rows)
        delta = [m for m in seen if isinstance(m, codec.TransactionUpdate)][-1].tables[0].inserts[0]
        assert isinstance(json.loads(delta), list)  # transaction deltas are positional
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_stored_rows_are_keyed_and_options_differ_in_and_outside_rows(target: Target) -> None:
    db = target.fresh_wire()
    writer = await Raw.open(target.url, db)
    try:
        await writer.send("Subscribe", query_strings=["SELECT * FROM sample"], request_id=1)
        await writer.until("InitialSubscription")
        tx = await writer.call("add_sample", [None, [2, []], []], 2)
        (positional,) = _rows(tx["status"]["Committed"]["tables"], "sample")
        assert positional[5] == [1, []] and positional[6] == [2, []]  # Option none / unit payload, positional
        assert positional[1] == [writer.first["IdentityToken"]["identity"]["__identity__"]]
        assert positional[2] == [0, [writer.first["IdentityToken"]["connection_id"]["__connection_id__"]]]
        assert isinstance(tx["timestamp"]["__timestamp_micros_since_unix_epoch__"], int)
        assert "__time_duration_micros__" in tx["total_host_execution_duration"]
        reader = await Raw.open(target.url, db)
        await reader.send("Subscribe", query_strings=["SELECT * FROM sample"], request_id=7)
        initial = await reader.until("InitialSubscription")
        await reader.close()
        (keyed,) = _rows(initial["database_update"]["tables"], "sample")
        assert initial["request_id"] == 7
        assert keyed["label"] == [1, {}] and keyed["shape"] == [2, {}]  # keyed rows: unit is {}
        assert keyed["owner"] == {"__identity__": positional[1][0]} and keyed["every"] == {"__time_duration_micros__": 50000}
        await writer.send("SubscribeMulti", query_strings=["SELECT * FROM nosuch"], request_id=3, query_id={"id": 9})
        error = await writer.until("SubscriptionError")
        assert error["request_id"] == {"some": 3} and error["query_id"] == {"some": 9}  # Options outside rows
        assert error["table_id"] == {"none": []} and "executing: `SELECT * FROM nosuch`" in error["error"]
    finally:
        await writer.close()


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_message_errors_come_with_request_id_zero(target: Target) -> None:
    raw = await Raw.open(target.url, target.blackholio)
    try:
        tx = await raw.call("no_such_reducer", [], 5)
        call = tx["reducer_call"]
        assert tx["status"] == {"Failed": "no such reducer"}
        assert (call["request_id"], call["reducer_id"], call["args"]) == (0, 4294967295, "[]")
        assert call["reducer_name"] == "no_such_reducer"
        tx = await raw.call("enter_game", [5], 6)
        assert tx["reducer_call"]["request_id"] == 0
        assert tx["status"]["Failed"].startswith("invalid arguments for reducer enter_game: ")
        await raw.send("Subscribe", query_strings=["SELECT * FROM nosuch"], request_id=8)
        tx = await raw.until("TransactionUpdate")
        assert tx["reducer_call"]["request_id"] == 0
        assert tx["reducer_call"]["reducer_name"] == ("" if target.version >= (2, 0, 0) else "<none>")
        assert "no such table: `nosuch`" in tx["status"]["Failed"]
        assert "executing: `SELECT * FROM nosuch`" in tx["status"]["Failed"]
    finally:
        await raw.close()


@pytest.mark.asyncio
async def test_client_fails_unknown_reducer_and_bad_query_at_once_with_the_server_text(target: Target) -> None:
    # the client's own timeout is 30 s; each request allows FAST: waiting for a timeout fails the test
    client = await SpacetimeClient.connect(target.url, target.blackholio, timeout=30)
    try:
        with pytest.raises(ReducerError, match=r"'fly' failed on the server: no such reducer") as info:
            await client.call_reducer("fly", timeout=FAST)
        assert info.value.server_message == "no such reducer" and "enter_game" in str(info.value)
        with pytest.raises(ReducerError, match="invalid arguments for reducer enter_game"):
            await client.call_reducer("enter_game", 5, timeout=FAST)
        with pytest.raises(ReducerError, match="can't directly call special OnConnect lifecycle reducer"):
            await client.call_reducer("connect", timeout=FAST)
        with pytest.raises(SubscriptionFailed, match=r"no such table: `dragons`.*executing: `SELECT \* FROM dragons`"):
            await client.subscribe(["SELECT * FROM dragons"], timeout=FAST)
        with pytest.raises(SubscriptionFailed, match="no such table: `dragons`"):
            await client.subscribe_multi(["SELECT * FROM dragons"], timeout=FAST)
        with pytest.raises(ReducerError, match="Player not found"):  # the module's own Err
            await client.call_reducer("respawn", timeout=FAST)
        await client.subscribe(["SELECT * FROM config"], timeout=FAST)  # still usable
        assert client.cache.rows("config")[0]["id"] == 0 and not client.unmatched_errors
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_no_success_notify_and_private_scheduled_reducers(target: Target) -> None:
    """``flags: 1`` (``NoSuccessNotify``): the caller is not singled out, so an unsubscribed caller hears
    nothing, even of a failure (``client_connection.rs:1025-1030 @2.8.3``); scheduled reducers of a 2.x
    module are private (``validate/v10.rs:386-423``)."""
    raw = await Raw.open(target.url, target.wire)
    try:
        await raw.send("CallReducer", reducer="fail", args='["quiet"]', request_id=20, flags=1)
        await raw.send("CallReducer", reducer="add_sample", args='[null, [2, []], []]', request_id=21, flags=1)
        await raw.send("CallReducer", reducer="fail", args='["loud"]', request_id=22, flags=0)
        tx = await raw.until("TransactionUpdate")  # the first answer at all is the flags-0 call's
        assert tx["status"] == {"Failed": "loud"}
        assert tx["reducer_call"]["request_id"] == (22 if target.version >= (2, 2, 0) else 0)
        timer = {"scheduled_id": 1, "scheduled_at": [0, {"__time_duration_micros__": 1}]}
        tx = await raw.call("tick", [timer], 23)
        if target.module_major >= 2:
            assert tx["status"] == {"Failed": "no such reducer"} and tx["reducer_call"]["request_id"] == 0
        else:
            assert "Committed" in tx["status"]  # a 1.x module's scheduled reducers are public
    finally:
        await raw.close()


@pytest.mark.asyncio
async def test_a_message_the_server_cannot_decode_closes_the_socket(target: Target) -> None:
    for body in ({"reducer": "fail", "args": "[]", "request_id": 1, "flags": 2},  # flags: 0 or 1
                 {"reducer": "fail", "args": ["x"], "request_id": 1, "flags": 0},  # args: a JSON string
                 {"reducer": "fail", "args": "[]", "request_id": 1}):  # every field is required
        raw = await Raw.open(target.url, target.wire)
        await raw.send("CallReducer", **body)
        with pytest.raises(ConnectionClosedError) as info:
            await raw.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011  # CloseCode::Error, reason = the error
        await raw.close()


@pytest.mark.asyncio
async def test_reducer_err_request_id_by_version(target: Target) -> None:
    raw = await Raw.open(target.url, target.wire)
    try:
        tx = await raw.call("fail", ["boom"], 4)
        assert tx["status"] == {"Failed": "boom"} and tx["reducer_call"]["args"] == '["boom"]'
        assert tx["reducer_call"]["request_id"] == (4 if target.version >= (2, 2, 0) else 0)
    finally:
        await raw.close()


@pytest.mark.asyncio
async def test_one_off_query_keyed_rows_and_option_error(target: Target) -> None:
    raw = await Raw.open(target.url, target.blackholio)
    try:
        await raw.send("OneOffQuery", message_id="0a0b", query_string="SELECT * FROM config")
        ok = await raw.until("OneOffQueryResponse")
        assert ok["message_id"] == "0a0b" and ok["error"] == {"none": []}
        assert isinstance(json.loads(ok["tables"][0]["rows"][0]), dict)  # keyed
        await raw.send("OneOffQuery", message_id="0c", query_string="SELECT * FROM nosuch")
        bad = await raw.until("OneOffQueryResponse")
        assert bad["tables"] == [] and "no such table" in bad["error"]["some"]
    finally:
        await raw.close()
    async with await SpacetimeClient.connect(target.url, target.blackholio, timeout=10) as client:
        assert (await client.one_off_query("SELECT * FROM config"))["config"][0]["id"] == 0
        with pytest.raises(QueryError, match="no such table"):
            await client.one_off_query("SELECT * FROM nosuch", timeout=FAST)


# -- updates to other clients ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_other_clients_get_light_or_full_updates(target: Target) -> None:
    db = target.fresh_wire()
    watcher = await Raw.open(target.url, db)
    actor = await Raw.open(target.url, db)
    try:
        await watcher.send("Subscribe", query_strings=["SELECT * FROM sample"], request_id=1)
        await watcher.until("InitialSubscription")
        await actor.call("add_sample", [{"some": "x"}, [2, []], []], 11)
        msg = await watcher.recv()
        light = target.version >= (2, 0, 0) and target.module_major >= 2
        kind = "TransactionUpdateLight" if light else "TransactionUpdate"
        assert kind in msg, msg
        request_id = msg[kind]["request_id"] if light else msg[kind]["reducer_call"]["request_id"]
        assert request_id == 11  # the caller's request id, not the watcher's
    finally:
        await watcher.close()
        await actor.close()


# -- HTTP calls and the lifecycle reducers ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_http_calls_run_connect_and_disconnect_around_the_reducer(target: Target) -> None:
    db = target.fresh_wire()
    identity, token = target.api.create_identity()
    client = await SpacetimeClient.connect(target.url, db, timeout=10)
    try:
        await client.subscribe(["SELECT * FROM lifecycle_event", "SELECT * FROM sample"])
        target.api.call_reducer(db, "add_sample", [{"some": "http"}, [0, 1.0], []], token)
        for _ in range(100):  # the subscriber hears of three transactions: connect, the call, disconnect
            events = sorted((e for e in client.cache.rows("lifecycle_event") if e["who"] == identity),
                            key=lambda e: e["id"])
            if len(events) == 2:
                break
            await asyncio.sleep(0.02)
        assert [e["kind"] for e in events] == ["connect", "disconnect"]
        (sample,) = [s for s in client.cache.rows("sample") if s["owner"] == identity]
        assert events[0]["conn"] == events[1]["conn"] == sample["conn"] is not None  # one fresh connection id
        with pytest.raises(HttpError) as info:
            target.api.call_reducer(db, "fail", ["nope"], token)
        assert info.value.status == 530 and info.value.body == "nope"
        with pytest.raises(HttpError) as info:
            target.api.call_reducer(db, "no_such", [], token)
        assert info.value.status == 404 and "No such procedure" in info.value.body
        with pytest.raises(HttpError) as info:
            target.api.call_reducer(db, "add_sample", [1], token)
        assert info.value.status == 400 and "invalid arguments for reducer add_sample" in info.value.body
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_http_enter_game_is_undone_by_blackholio_disconnect(target: Target) -> None:
    _, token = target.api.create_identity()
    client = await SpacetimeClient.connect(target.url, target.blackholio, timeout=10)
    try:
        await client.subscribe(["SELECT * FROM player"])
        before = client.table_version("player")
        target.api.call_reducer(target.blackholio, "enter_game", ["http"], token)  # 200: it committed...
        assert await client.wait_for_transactions(2, "player", timeout=5, since=before)
        assert "http" not in [p["name"] for p in client.cache.rows("player")]  # ...and disconnect deleted it
    finally:
        await client.close()
