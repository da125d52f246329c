"""Against a real SpacetimeDB server: skipped with a clear reason when the ``spacetime`` CLI is absent.

These publish ``example_project/spacetimedb/blackholio`` (a Rust module: the first publish compiles
it, which needs cargo and the wasm32 target) and check the client and HTTP API against the real
protocol, the facts the test double was built from.
"""

from __future__ import annotations

import pytest

from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO, SCHEMAS
from pytest_rlplaytest.engines.spacetimedb.client import ReducerError, SpacetimeClient
from pytest_rlplaytest.engines.spacetimedb.fixtures import SpacetimeInstance
from pytest_rlplaytest.engines.spacetimedb.server import HttpError

pytestmark = pytest.mark.needs_spacetime

MODULE = "example_project/spacetimedb/blackholio"


@pytest.fixture(scope="module")
def blackholio(spacetimedb_instance: SpacetimeInstance) -> tuple[SpacetimeInstance, str]:
    return spacetimedb_instance, spacetimedb_instance.publish(MODULE, "blackholio-rlplaytest")


@pytest.mark.asyncio
async def test_real_server_round_trip(blackholio: tuple[SpacetimeInstance, str]) -> None:
    instance, db = blackholio
    identity, token = instance.new_identity()
    client = await SpacetimeClient.connect(instance.url, db, token, schemas=SCHEMAS, timeout=30)
    try:
        assert client.identity == identity
        await client.subscribe(list(BLACKHOLIO.subscriptions))
        assert client.cache.rows("config") == [{"id": 0, "world_size": 400}]
        await client.call_reducer("enter_game", "real")
        player = client.cache.find("player", identity)
        assert player is not None and player["name"] == "real"
        (circle,) = [c for c in client.cache.rows("circle") if c["player_id"] == player["player_id"]]
        await client.call_reducer("update_player_input", {"x": 1.0, "y": 0.0})
        assert await client.wait_for_transactions(3, "entity", timeout=5)
        with pytest.raises(ReducerError, match="already has a circle"):
            await client.call_reducer("respawn")
        rows = await client.one_off_query("SELECT * FROM player")
        assert any(r["identity"] == identity for r in rows["player"])
        assert client.cache.find("entity", circle["entity_id"]) is not None
    finally:
        await client.close()


def test_real_server_http_reducer_errors(blackholio: tuple[SpacetimeInstance, str]) -> None:
    instance, db = blackholio
    _, token = instance.new_identity()
    with pytest.raises(HttpError) as info:
        instance.api.call_reducer(db, "respawn", [], token)
    assert info.value.status == 530 and "enter_game" in info.value.body
    instance.api.call_reducer(db, "enter_game", ["http"], token)
    with pytest.raises(HttpError) as info:
        instance.api.call_reducer(db, "no_such_reducer", [], token)
    assert info.value.status == 404
