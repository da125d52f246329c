"""The asyncio client against the server double, over real WebSockets on 127.0.0.1: matching answers to
requests, the cache, schemas, negotiation and failure paths (the server's own behaviour is checked by
test_spacetimedb_conformance.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from fake_spacetimedb_server import FakeSpacetimeDB

from pytest_rlplaytest.engines.spacetimedb import client as client_module
from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO, SCHEMAS
from pytest_rlplaytest.engines.spacetimedb.client import (
    SUBPROTOCOLS,
    ConnectionLost,
    ReducerError,
    RequestTimeout,
    SchemaUnavailableWarning,
    SpacetimeClient,
    SubscriptionFailed,
    websocket_url,
)
from pytest_rlplaytest.engines.spacetimedb.codec import IDENTITY, ProtocolError, TableSchema

ALL = list(BLACKHOLIO.subscriptions)
FAST = 0.9  # a request limit an immediate answer beats; hitting it raises RequestTimeout and fails the test


async def connect(server: FakeSpacetimeDB, token: str | None = None, timeout: float = 5.0,
                  **kwargs: object) -> SpacetimeClient:
    return await SpacetimeClient.connect(server.url, "blackholio", token, timeout=timeout, **kwargs)  # type: ignore[arg-type]


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll ``condition`` until true (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.01)


def sent_to(server: FakeSpacetimeDB, client: SpacetimeClient, kind: str) -> list[dict[str, object]]:
    return [json.loads(f)[kind] for who, f in server.sent if who == client.identity and f.startswith(f'{{"{kind}"')]


def test_websocket_url() -> None:
    assert websocket_url("http://127.0.0.1:3000", "my db") == "ws://127.0.0.1:3000/v1/database/my%20db/subscribe"
    assert websocket_url("https://h/base/", "x") == "wss://h/base/v1/database/x/subscribe"
    with pytest.raises(ValueError, match="http://"):
        websocket_url("ftp://h", "x")


@pytest.mark.asyncio
async def test_round_trip_with_schemas_from_the_server(fake_server: FakeSpacetimeDB) -> None:
    """No declared schemas: the column order of tables left out of the first answer comes from the schema
    endpoint, so their later positional rows decode."""
    client = await connect(fake_server)  # nothing declared
    try:
        assert len(client.identity) == 64 and client.identity.startswith("00")  # socket form was 0x-stripped
        assert client.subprotocol == "v1.json.spacetimedb" and client.module is not None
        initial = await client.subscribe(ALL)
        assert [t.table_name for t in initial.tables] == ["config"]  # everything else is empty: left out
        assert client.cache.rows("config") == [{"id": 0, "world_size": 200}]
        update = await client.call_reducer("enter_game", "bot")
        assert update.status == "committed" and update.reducer_name == "enter_game" and update.args == ["bot"]
        player = client.cache.find("player", client.identity)  # positional row, primary key from the schema
        assert player is not None and player["name"] == "bot"
        (circle,) = client.cache.rows("circle")
        assert circle["player_id"] == player["player_id"] and isinstance(circle["last_split_time"], int)
        entity = client.cache.find("entity", circle["entity_id"])
        assert entity is not None and entity["mass"] == 15 and set(entity["position"]) == {"x", "y"}
        await client.call_reducer("update_player_input", {"x": 1.0, "y": 0.0})
        assert await client.wait_for_transactions(3, "entity", timeout=2.0)
        # the food timer's light updates (positional rows of a table absent from the first answer)
        await eventually(lambda: client.cache.count("food") == fake_server.worlds["blackholio"].target_food)
        call = next(m["CallReducer"] for m in fake_server.received if "CallReducer" in m)
        assert call["args"] == '["bot"]'
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_without_the_schema_a_positional_row_of_an_undeclared_table_fails(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server, fetch_schema=False)
    await client.subscribe(ALL)
    with pytest.raises((ProtocolError, ConnectionLost), match="column order is unknown"):
        await client.call_reducer("enter_game", "bot")
    assert client.closed
    await client.close()


@pytest.mark.asyncio
async def test_declared_schemas_override_the_server(fake_server: FakeSpacetimeDB) -> None:
    by_id = TableSchema.of("player", [("identity", IDENTITY), "player_id", "name"], primary_key="player_id")
    async with await connect(fake_server, schemas=[by_id]) as client:
        await client.subscribe(["SELECT * FROM player"])
        await client.call_reducer("enter_game", "keyed-by-id")
        assert client.cache.schema("player") is by_id
        (row,) = client.cache.rows("player")
        assert client.cache.find("player", row["player_id"]) == row  # the declared primary key
        assert client.cache.schema("entity").primary_key == "entity_id"  # type: ignore[union-attr]  # the server's


@pytest.mark.asyncio
async def test_unreadable_schema_warns_and_keeps_declared_schemas(fake_server: FakeSpacetimeDB,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.engines.spacetimedb import server as server_module

    def broken(self: object, database: str, token: str | None = None) -> None:
        raise server_module.HttpError("GET schema answered 500", 500)

    monkeypatch.setattr(server_module.HttpApi, "schema", broken)
    with pytest.warns(SchemaUnavailableWarning, match="could not read the schema"):
        client = await connect(fake_server, schemas=SCHEMAS)
    async with client:
        await client.subscribe(ALL)
        await client.call_reducer("enter_game", "declared")  # positional rows decode by the declared schemas
        assert client.cache.find("player", client.identity) is not None


@pytest.mark.asyncio
async def test_request_id_zero_failures_fail_the_right_pending_call(fake_server: FakeSpacetimeDB) -> None:
    """Calls in flight together: a request-id-0 failure names its reducer, so it fails that call only."""
    async with await connect(fake_server, timeout=30) as client:
        await client.subscribe(ALL)
        release = fake_server.hold["enter_game"] = asyncio.Event()
        good = asyncio.create_task(client.call_reducer("enter_game", "held"))
        await asyncio.sleep(0.05)
        bad = asyncio.create_task(client.call_reducer("fly", timeout=FAST))  # answered while enter_game waits?
        release.set()
        with pytest.raises(ReducerError, match="no such reducer"):
            await bad
        assert (await good).status == "committed"
        (failure,) = [m for m in sent_to(fake_server, client, "TransactionUpdate") if "Failed" in m["status"]]  # type: ignore[operator]
        assert failure["reducer_call"]["request_id"] == 0  # type: ignore[index]


@pytest.mark.asyncio
async def test_a_bad_legacy_subscribe_fails_at_once_and_keeps_the_connection(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server, timeout=30) as client:
        with pytest.raises(SubscriptionFailed, match=r"no such table: `move_all_players_timer`.*marked private"):
            await client.subscribe(["SELECT * FROM move_all_players_timer"], timeout=FAST)  # private: invisible
        with pytest.raises(SubscriptionFailed, match="does not have a field `colour`"):
            await client.subscribe(["SELECT * FROM player WHERE colour = 'red'"], timeout=FAST)
        await client.subscribe(["SELECT * FROM config"], timeout=FAST)
        assert not client.closed and client.unmatched_errors == []


@pytest.mark.asyncio
async def test_scheduled_reducers_are_private_with_a_hint(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        with pytest.raises(ReducerError, match=r"no such reducer \(it is a scheduled reducer: 2.x modules make those"):
            await client.call_reducer("move_all_players", {"scheduled_id": 1, "scheduled_at": [0, [50000]]},
                                      timeout=FAST)


@pytest.mark.asyncio
async def test_1x_server_reducer_errors_with_request_id_zero_resolve_by_name_and_args() -> None:
    """1.12: a reducer's own ``Err`` also comes with request id 0, echoing the arguments."""
    server = FakeSpacetimeDB(server_version=(1, 12, 0), module_major=1, tick_ms=10)
    await server.start()
    try:
        async with await connect(server, timeout=30) as client:
            await client.subscribe(ALL)
            await client.call_reducer("enter_game", "one")
            with pytest.raises(ReducerError, match="this identity already entered the game"):
                await client.call_reducer("enter_game", "again", timeout=FAST)
            with pytest.raises(ReducerError, match="name must be 1 to 32 characters"):
                await client.call_reducer("enter_game", " ", timeout=FAST)
            with pytest.raises(SubscriptionFailed, match="no such table"):
                await client.subscribe(["SELECT * FROM nosuch"], timeout=FAST)  # reducer name "<none>"
            failures = [m for m in sent_to(server, client, "TransactionUpdate") if "Failed" in m["status"]]  # type: ignore[operator]
            assert {f["reducer_call"]["request_id"] for f in failures} == {0}  # type: ignore[index]
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_full_updates_of_other_clients_do_not_resolve_our_calls() -> None:
    """A V9 module: other clients get full ``TransactionUpdate``s carrying *their* caller's request id,
    which equals ours (both count from 1); only our identity's updates resolve our calls."""
    server = FakeSpacetimeDB(module_major=1, tick_ms=10)
    await server.start()
    try:
        a, b = await connect(server), await connect(server)
        await a.subscribe(ALL)
        await b.subscribe(ALL)
        await asyncio.gather(a.call_reducer("enter_game", "alice"), b.call_reducer("enter_game", "bob"))
        release = server.hold["respawn"] = asyncio.Event()
        failing = asyncio.create_task(a.call_reducer("respawn"))  # request 3; fails: alice has a circle
        await asyncio.sleep(0.05)
        ok = await b.call_reducer("suicide")  # b's request 3 commits first; a sees it as a full update
        assert ok.request_id == 3 and not failing.done()
        release.set()
        with pytest.raises(ReducerError, match="already has a circle"):
            await failing
        await eventually(lambda: a.cache.count("circle") == 1)
        await a.close()
        await b.close()
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_a_legacy_subscribe_replaces_the_previous_one(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        await client.subscribe(ALL)
        await client.call_reducer("enter_game", "bot")
        assert client.cache.count("player") == 1
        await client.subscribe(["SELECT * FROM config"])
        assert client.cache.count("player") == 0 and client.cache.count("config") == 1  # old rows dropped
        await client.call_reducer("suicide")
        assert client.cache.count("entity") == 0  # no longer subscribed: nothing arrives


@pytest.mark.asyncio
async def test_other_clients_get_light_updates_and_caches_agree(fake_server: FakeSpacetimeDB) -> None:
    a, b = await connect(fake_server), await connect(fake_server)
    try:
        await a.subscribe(ALL)
        await b.subscribe(ALL)
        await a.call_reducer("enter_game", "alice")
        await b.call_reducer("enter_game", "bob")
        await eventually(lambda: a.cache.count("player") == 2 == b.cache.count("player"))
        assert sorted(p["name"] for p in a.cache.rows("player")) == ["alice", "bob"]
        assert sent_to(fake_server, a, "TransactionUpdateLight")  # b's call reached a as a light update
        await b.close()  # disconnect removes bob's player and circles for everyone
        await eventually(lambda: a.cache.count("player") == 1)
        assert {c["player_id"] for c in a.cache.rows("circle")} == {a.cache.find("player", a.identity)["player_id"]}  # type: ignore[index]
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_token_resumes_identity_and_bad_tokens_are_refused(fake_server: FakeSpacetimeDB) -> None:
    identity, token = fake_server.issue_identity()
    async with await connect(fake_server, token) as client:
        assert client.identity == identity and client.token == token
    with pytest.raises(ConnectionLost, match=r"refused the WebSocket \(HTTP 400: Authorization is invalid"):
        await connect(fake_server, "not-a-token")
    other = FakeSpacetimeDB()
    _, foreign = other.issue_identity()
    with pytest.raises(ConnectionLost, match="HTTP 401: Authorization failed: token not signed by this instance"):
        await connect(fake_server, foreign)
    with pytest.raises(ConnectionLost, match=r"refused.*HTTP 404"):
        await SpacetimeClient.connect(fake_server.url, "nope", timeout=5)
    with pytest.raises(ConnectionLost, match="cannot connect"):
        await SpacetimeClient.connect("http://127.0.0.1:9", "x", timeout=2)


@pytest.mark.asyncio
async def test_negotiation_offers_what_we_implement_and_checks_the_choice(fake_server: FakeSpacetimeDB,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert SUBPROTOCOLS[-1] == "v1.json.spacetimedb"
    real_open = client_module._open_socket

    async def offering(*protocols: str) -> None:
        async def fake_open(url: str, token: str | None, timeout: float, subprotocols: object = None) -> object:
            return await real_open(url, token, timeout, subprotocols=protocols)
        monkeypatch.setattr(client_module, "_open_socket", fake_open)

    # the server picks from *its* list (v3, v2, v1 bsatn, v1 json), whatever our order: v2.bsatn here,
    # which this client does not implement and must refuse
    await offering("v1.json.spacetimedb", "v2.bsatn.spacetimedb")
    with pytest.raises(ProtocolError, match=r"chose the subprotocol 'v2.bsatn.spacetimedb'; this client speaks"):
        await connect(fake_server)
    await offering("v9.nothing")
    with pytest.raises(ConnectionLost, match="HTTP 400: no valid protocol selected"):
        await connect(fake_server)


@pytest.mark.asyncio
async def test_a_malformed_message_closes_the_socket_with_the_reason(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server, timeout=30)
    await client._ws.send(json.dumps({"CallReducer": {"reducer": "x", "args": [1], "request_id": 1, "flags": 0}}))
    with pytest.raises(ConnectionLost, match=r"close code 1011: invalid type: field `args`"):
        await client.call_reducer("enter_game", "late", timeout=FAST)
    await client.close()


@pytest.mark.asyncio
async def test_dropped_connection_fails_the_pending_call_at_once(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server, timeout=30.0)
    await client.subscribe(ALL)
    await client.call_reducer("enter_game", "bot")
    fake_server.drop_on_reducer = "update_player_input"
    with pytest.raises(ConnectionLost, match="lost") as info:
        await client.call_reducer("update_player_input", {"x": 1.0, "y": 0.0}, timeout=FAST)
    assert "update_player_input" in str(info.value)
    assert client.closed
    with pytest.raises(ConnectionLost):
        await client.call_reducer("suicide")
    with pytest.raises(ConnectionLost):
        await client.wait_for_transactions(1, timeout=1)
    await client.close()


@pytest.mark.asyncio
async def test_protocol_violation_fails_the_call_with_a_typed_error(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server)
    await client.call_reducer("enter_game", "bot")
    fake_server.garble_reducer = "suicide"
    with pytest.raises(ProtocolError, match="TransactionUpdate status"):
        await client.call_reducer("suicide")
    assert client.closed
    await client.close()


@pytest.mark.asyncio
async def test_a_silent_server_times_out(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        release = fake_server.hold["respawn"] = asyncio.Event()  # set only after the timeout
        with pytest.raises(RequestTimeout, match=r"did not answer the call of reducer 'respawn' within 0\.2 s"):
            await client.call_reducer("respawn", timeout=0.2)
        release.set()


@pytest.mark.asyncio
async def test_server_pings_keep_an_idle_client_alive() -> None:
    server = FakeSpacetimeDB(ping_interval=0.05, tick_ms=1000, food_ms=1000)
    await server.start()
    try:
        async with await connect(server) as client:
            await asyncio.sleep(0.4)  # several pings; we never send anything meanwhile
            assert not client.closed
            await client.call_reducer("enter_game", "idle")
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_close_is_clean_and_idempotent(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server)
    await client.close()
    await client.close()
    assert client.closed
    assert client._recv_task is not None and client._recv_task.done()
    with pytest.raises(ConnectionLost, match="closed"):
        await client.subscribe(ALL)
    await eventually(lambda: not fake_server.clients["blackholio"])


@pytest.mark.asyncio
async def test_listeners_see_every_applied_message(fake_server: FakeSpacetimeDB) -> None:
    seen: list[tuple[str, set[str]]] = []
    async with await connect(fake_server) as client:
        client.add_listener(lambda msg, touched: seen.append((type(msg).__name__, touched)))
        await client.subscribe(ALL)
        await client.call_reducer("enter_game", "l")
        assert ("InitialSubscription", {"config"}) in seen
        tx = [t for name, t in seen if name == "TransactionUpdate"]
        assert tx and {"player", "entity", "circle"} <= tx[-1]
