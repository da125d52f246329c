"""The asyncio client against the fake server test double, over real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from fake_spacetimedb_server import FakeSpacetimeDB

from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO, SCHEMAS
from pytest_rlplaytest.engines.spacetimedb.client import (
    ConnectionLost,
    QueryError,
    ReducerError,
    SpacetimeClient,
    SubscriptionFailed,
    websocket_url,
)
from pytest_rlplaytest.engines.spacetimedb.codec import ProtocolError

ALL = list(BLACKHOLIO.subscriptions)


async def connect(server: FakeSpacetimeDB, token: str | None = None, timeout: float = 5.0) -> SpacetimeClient:
    return await SpacetimeClient.connect(server.url, "blackholio", token, schemas=SCHEMAS, timeout=timeout)


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll ``condition`` until true (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.01)


def test_websocket_url() -> None:
    assert websocket_url("http://127.0.0.1:3000", "my db") == "ws://127.0.0.1:3000/v1/database/my%20db/subscribe"
    assert websocket_url("https://h/base/", "x") == "wss://h/base/v1/database/x/subscribe"
    with pytest.raises(ValueError, match="http://"):
        websocket_url("ftp://h", "x")


@pytest.mark.asyncio
async def test_identity_subscribe_and_reducer_round_trip(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server)
    try:
        assert len(client.identity) == 64 and client.identity.startswith("00")  # socket form was 0x-stripped
        assert client.token.startswith("fake.")
        await client.subscribe(ALL)
        assert client.cache.rows("config") == [{"id": 0, "world_size": 200}]
        assert client.cache.count("food") == 0  # no players yet: no food spawned
        update = await client.call_reducer("enter_game", "bot")
        assert update.status == "committed" and update.reducer_name == "enter_game" and update.args == ["bot"]
        player = client.cache.find("player", client.identity)
        assert player is not None and player["name"] == "bot"
        (circle,) = client.cache.rows("circle")
        assert circle["player_id"] == player["player_id"] and isinstance(circle["last_split_time"], int)
        entity = client.cache.find("entity", circle["entity_id"])
        assert entity is not None and entity["mass"] == 15
        await client.call_reducer("update_player_input", {"x": 1.0, "y": 0.0})
        start_x = entity["position"]["x"]
        assert await client.wait_for_transactions(3, "entity", timeout=2.0)
        moved = client.cache.find("entity", circle["entity_id"])
        assert moved is not None and (moved["position"]["x"] > start_x or moved["position"]["x"] >= 200 - 4)
        assert await client.wait_for_transactions(1, "food", timeout=2.0)  # the food timer's light update
        assert client.cache.count("food") > fake_server.worlds["blackholio"].target_food // 2
        # what the server received: the args were a JSON string
        call = next(m["CallReducer"] for m in fake_server.received if "CallReducer" in m)
        assert call["args"] == '["bot"]'
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_failed_reducer_raises_with_the_server_message(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        await client.subscribe(ALL)
        with pytest.raises(ReducerError, match="Player not found; call enter_game first") as info:
            await client.call_reducer("respawn")
        assert info.value.server_message == "Player not found; call enter_game first"
        await client.call_reducer("enter_game", "bot")
        with pytest.raises(ReducerError, match="already has a circle"):
            await client.call_reducer("respawn")
        with pytest.raises(ReducerError, match="No such reducer"):
            await client.call_reducer("fly")
        # the connection is still usable after failures
        await client.call_reducer("suicide")
        await client.call_reducer("respawn")
        assert len(client.cache.rows("circle")) == 1


@pytest.mark.asyncio
async def test_other_clients_get_light_updates_and_caches_agree(fake_server: FakeSpacetimeDB) -> None:
    a = await connect(fake_server)
    b = await connect(fake_server)
    try:
        await a.subscribe(ALL)
        await b.subscribe(ALL)
        assert a.identity != b.identity
        await a.call_reducer("enter_game", "alice")
        await b.call_reducer("enter_game", "bob")
        await eventually(lambda: a.cache.count("player") == 2 == b.cache.count("player"))
        names = sorted(p["name"] for p in a.cache.rows("player"))
        assert names == ["alice", "bob"] == sorted(p["name"] for p in b.cache.rows("player"))
        await b.close()  # disconnect removes bob's player and circles for everyone
        await eventually(lambda: a.cache.count("player") == 1)
        assert [p["name"] for p in a.cache.rows("player")] == ["alice"]
        assert {c["player_id"] for c in a.cache.rows("circle")} == {a.cache.find("player", a.identity)["player_id"]}  # type: ignore[index]
        light = [m for m in fake_server.received if "CallReducer" in m]
        assert len(light) == 2
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_1x_modules_full_updates_for_others_do_not_resolve_our_calls() -> None:
    """With 1.x modules other clients get full TransactionUpdates; their request ids collide with ours."""
    server = FakeSpacetimeDB(module_major=1, tick_ms=10)
    await server.start()
    try:
        a = await connect(server)
        b = await connect(server)
        await a.subscribe(ALL)
        await b.subscribe(ALL)
        # both clients number requests 1, 2, 3...: b's request 2 equals a's request 2
        await asyncio.gather(a.call_reducer("enter_game", "alice"), b.call_reducer("enter_game", "bob"))
        release = server.hold["respawn"] = asyncio.Event()
        failing = asyncio.create_task(a.call_reducer("respawn"))  # request 3; fails: alice has a circle
        await asyncio.sleep(0.05)
        ok = await b.call_reducer("suicide")  # b's request 3 commits first; a sees it as a full update
        assert ok.request_id == 3 and not failing.done()
        release.set()
        with pytest.raises(ReducerError, match="already has a circle"):
            await failing
        assert ok.reducer_name == "suicide"
        await asyncio.sleep(0.05)
        assert sorted(p["name"] for p in a.cache.rows("player")) == ["alice", "bob"]
        assert a.transactions > 0
        await a.close()
        await b.close()
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_token_resumes_identity(fake_server: FakeSpacetimeDB) -> None:
    identity, token = fake_server.issue_identity()
    async with await connect(fake_server, token) as client:
        assert client.identity == identity and client.token == token


@pytest.mark.asyncio
async def test_bad_token_and_unknown_database_are_refused(fake_server: FakeSpacetimeDB) -> None:
    with pytest.raises(ConnectionLost, match="refused"):
        await connect(fake_server, "not-a-token")
    with pytest.raises(ConnectionLost, match="refused"):
        await SpacetimeClient.connect(fake_server.url, "nope", timeout=5)
    with pytest.raises(ConnectionLost, match="cannot connect"):
        await SpacetimeClient.connect("http://127.0.0.1:9", "x", timeout=2)


@pytest.mark.asyncio
async def test_subscription_error_and_subscribe_multi(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        with pytest.raises(SubscriptionFailed, match="no such table"):
            await client.subscribe(["SELECT * FROM dragons"])
        with pytest.raises(SubscriptionFailed, match="no such table"):
            await client.subscribe_multi(["SELECT * FROM player", "SELECT * FROM dragons"])
        query_id = await client.subscribe_multi(["SELECT * FROM config", "SELECT * FROM player"])
        assert isinstance(query_id, int)
        assert client.cache.rows("config") == [{"id": 0, "world_size": 200}]
        multi = next(m["SubscribeMulti"] for m in reversed(fake_server.received) if "SubscribeMulti" in m)
        assert multi["query_id"] == {"id": query_id}


@pytest.mark.asyncio
async def test_one_off_query_decodes_positional_rows(fake_server: FakeSpacetimeDB) -> None:
    async with await connect(fake_server) as client:
        await client.call_reducer("enter_game", "q")  # no subscription: the cache stays empty
        assert client.cache.count("player") == 0
        result = await client.one_off_query("SELECT * FROM player")
        assert result == {"player": [{"identity": client.identity, "player_id": 1, "name": "q"}]}
        with pytest.raises(QueryError, match="unsupported query"):
            await client.one_off_query("DROP TABLE player")


@pytest.mark.asyncio
async def test_dropped_connection_fails_the_pending_call_at_once(fake_server: FakeSpacetimeDB) -> None:
    client = await connect(fake_server, timeout=30.0)
    await client.subscribe(ALL)
    await client.call_reducer("enter_game", "bot")
    fake_server.drop_on_reducer = "update_player_input"
    started = time.perf_counter()
    with pytest.raises(ConnectionLost, match="lost") as info:
        await client.call_reducer("update_player_input", {"x": 1.0, "y": 0.0})
    assert time.perf_counter() - started < 2.0  # not the 30 s request timeout
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
    assert fake_server.clients["blackholio"] == []


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
        assert json.dumps(sorted(tx[-1]))
