"""TEST DOUBLE: a fake SpacetimeDB server speaking the ``v1.json.spacetimedb`` protocol.

This is not SpacetimeDB. It is a test double built from ``shared/notes/spacetimedb-protocol.md``
so the client, the env and short PPO runs are exercised end to end over real WebSockets on
127.0.0.1 where the ``spacetime`` binary is not installed. It deliberately encodes messages with its
own code (not the plugin's codec), following the note:

* ``IdentityToken`` first; ``Authorization: Bearer <token>`` resumes an identity, none makes a new one;
* ``InitialSubscription`` / ``SubscribeMultiApplied`` rows keyed by column; transaction deltas as
  positional arrays; every row double-encoded (a JSON string inside the JSON);
* identities as ``{"__identity__": "0x<hex, leading zeros stripped>"}`` (``["0x…"]`` positionally),
  timestamps as ``{"__timestamp_micros_since_unix_epoch__": n}``;
* the caller gets ``TransactionUpdate`` (``Committed`` / ``Failed``); other subscribers get
  ``TransactionUpdateLight`` (``module_major=2``) or the full ``TransactionUpdate`` (``module_major=1``);
* ``SubscriptionError`` for unknown tables, ``OneOffQueryResponse``, pings every ``ping_interval``;
* ``GET /v1/ping`` and ``GET /v1/health`` on the same port.

The game implements the rules of ``example_project/spacetimedb/blackholio`` in Python, with a
ticking world (``move_all_players`` every ``tick_ms``, ``spawn_food`` every ``food_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

# -- game rules (same constants as example_project/spacetimedb/blackholio/src/lib.rs) -------------
START_MASS = 15
START_SPEED = 10.0
FOOD_MASS_MIN = 2
FOOD_MASS_MAX = 4
MIN_MASS_TO_SPLIT = 2 * START_MASS
MAX_CIRCLES = 16
EAT_MASS_RATIO = 0.85
OVERLAP_PCT = 0.1
RECOMBINE_DELAY_US = 5_000_000
MAX_NAME_LEN = 32

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "config": ("id", "world_size"),
    "entity": ("entity_id", "position", "mass"),
    "circle": ("entity_id", "player_id", "direction", "speed", "last_split_time"),
    "player": ("identity", "player_id", "name"),
    "food": ("entity_id",),
}
TABLE_IDS = {name: 4096 + i for i, name in enumerate(TABLE_COLUMNS)}
PRIMARY_KEYS = {"config": "id", "entity": "entity_id", "circle": "entity_id", "player": "identity",
                "food": "entity_id"}


def mass_to_radius(mass: float) -> float:
    return math.sqrt(mass)


def max_move_speed(mass: float) -> float:
    return 2.0 * START_SPEED / (1.0 + math.sqrt(mass / START_MASS))


def now_us() -> int:
    return int(time.time() * 1_000_000)


class ReducerFailed(Exception):
    """The reducer returned Err(message)."""


@dataclass
class Delta:
    """Rows deleted/inserted per table by one transaction (rows as plain dicts)."""

    deletes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def delete(self, table: str, row: dict[str, Any]) -> None:
        self.deletes.setdefault(table, []).append(dict(row))

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self.inserts.setdefault(table, []).append(dict(row))

    def tables(self) -> set[str]:
        return set(self.deletes) | set(self.inserts)


class World:
    """The Blackholio-style game state and reducers (Python twin of the Rust module)."""

    def __init__(self, world_size: int, target_food: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: dict[str, dict[Any, dict[str, Any]]] = {t: {} for t in TABLE_COLUMNS}
        self.next_entity = 1
        self.next_player = 1
        self.target_food = target_food
        self.rows["config"][0] = {"id": 0, "world_size": world_size}

    # row helpers --------------------------------------------------------------------------------
    def _insert(self, d: Delta, table: str, row: dict[str, Any]) -> None:
        self.rows[table][row[PRIMARY_KEYS[table]]] = row
        d.insert(table, row)

    def _delete(self, d: Delta, table: str, key: Any) -> None:
        row = self.rows[table].pop(key, None)
        if row is not None:
            d.delete(table, row)

    def _update(self, d: Delta, table: str, row: dict[str, Any]) -> None:
        key = row[PRIMARY_KEYS[table]]
        old = self.rows[table].get(key)
        if old == row:
            return
        if old is not None:
            d.delete(table, old)
        self.rows[table][key] = row
        d.insert(table, row)

    @property
    def world_size(self) -> float:
        return float(self.rows["config"][0]["world_size"])

    def player_of(self, identity: str) -> dict[str, Any]:
        player = self.rows["player"].get(identity)
        if player is None:
            raise ReducerFailed("Player not found; call enter_game first")
        return player

    def circles_of(self, player_id: int) -> list[dict[str, Any]]:
        return [c for c in self.rows["circle"].values() if c["player_id"] == player_id]

    def _spawn_circle(self, d: Delta, player_id: int, mass: int, x: float, y: float, ts: int) -> int:
        eid = self.next_entity
        self.next_entity += 1
        self._insert(d, "entity", {"entity_id": eid, "position": {"x": x, "y": y}, "mass": mass})
        self._insert(d, "circle", {"entity_id": eid, "player_id": player_id, "direction": {"x": 0.0, "y": 1.0},
                                   "speed": 0.0, "last_split_time": ts})
        return eid

    def _spawn_initial(self, d: Delta, player_id: int) -> None:
        r = mass_to_radius(START_MASS)
        size = self.world_size
        self._spawn_circle(d, player_id, START_MASS, self.rng.uniform(r, size - r), self.rng.uniform(r, size - r),
                           now_us())

    # client reducers ----------------------------------------------------------------------------
    def enter_game(self, d: Delta, sender: str, name: Any) -> None:
        if not isinstance(name, str):
            raise ReducerFailed("name must be a string")
        name = name.strip()
        if not name or len(name) > MAX_NAME_LEN:
            raise ReducerFailed(f"name must be 1 to {MAX_NAME_LEN} characters")
        if sender in self.rows["player"]:
            raise ReducerFailed("this identity already entered the game")
        pid = self.next_player
        self.next_player += 1
        self._insert(d, "player", {"identity": sender, "player_id": pid, "name": name})
        self._spawn_initial(d, pid)

    def update_player_input(self, d: Delta, sender: str, direction: Any) -> None:
        try:
            x, y = float(direction["x"]), float(direction["y"])
        except (TypeError, KeyError, ValueError):
            raise ReducerFailed(f"direction must be {{x, y}}, got {direction!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ReducerFailed("direction must be finite")
        player = self.player_of(sender)
        mag = math.hypot(x, y)
        unit = {"x": x / mag, "y": y / mag} if mag > 1e-6 else {"x": 0.0, "y": 0.0}
        speed = min(max(mag, 0.0), 1.0)
        for c in self.circles_of(player["player_id"]):
            self._update(d, "circle", {**c, "direction": unit, "speed": speed})

    def player_split(self, d: Delta, sender: str) -> None:
        player = self.player_of(sender)
        circles = self.circles_of(player["player_id"])
        count = len(circles)
        ts = now_us()
        for c in circles:
            if count >= MAX_CIRCLES:
                break
            ent = self.rows["entity"][c["entity_id"]]
            if ent["mass"] < MIN_MASS_TO_SPLIT:
                continue
            half = ent["mass"] // 2
            pos = ent["position"]
            self._spawn_circle(d, player["player_id"], half, pos["x"] + c["direction"]["x"],
                               pos["y"] + c["direction"]["y"], ts)
            self._update(d, "entity", {**ent, "mass": ent["mass"] - half})
            self._update(d, "circle", {**c, "last_split_time": ts})
            count += 1

    def respawn(self, d: Delta, sender: str) -> None:
        player = self.player_of(sender)
        if self.circles_of(player["player_id"]):
            raise ReducerFailed(f"Player {player['player_id']} already has a circle")
        self._spawn_initial(d, player["player_id"])

    def suicide(self, d: Delta, sender: str) -> None:
        player = self.player_of(sender)
        for c in self.circles_of(player["player_id"]):
            self._delete(d, "entity", c["entity_id"])
            self._delete(d, "circle", c["entity_id"])

    def disconnect(self, d: Delta, sender: str) -> None:
        player = self.rows["player"].get(sender)
        if player is None:
            return
        self.suicide(d, sender)
        self._delete(d, "player", sender)

    # test hooks (what an admin reducer would do) ------------------------------------------------
    def place_food(self, d: Delta, x: float, y: float, mass: int) -> int:
        eid = self.next_entity
        self.next_entity += 1
        self._insert(d, "entity", {"entity_id": eid, "position": {"x": x, "y": y}, "mass": mass})
        self._insert(d, "food", {"entity_id": eid})
        return eid

    def place_enemy(self, d: Delta, x: float, y: float, mass: int) -> str:
        identity = secrets.token_hex(32)
        pid = self.next_player
        self.next_player += 1
        self._insert(d, "player", {"identity": identity, "player_id": pid, "name": "enemy"})
        self._spawn_circle(d, pid, mass, x, y, now_us())
        return identity

    # scheduled reducers -------------------------------------------------------------------------
    def spawn_food(self, d: Delta) -> None:
        if not self.rows["player"]:
            return
        size = self.world_size
        while len(self.rows["food"]) < self.target_food:
            mass = self.rng.randint(FOOD_MASS_MIN, FOOD_MASS_MAX)
            r = mass_to_radius(mass)
            eid = self.next_entity
            self.next_entity += 1
            self._insert(d, "entity", {"entity_id": eid, "position": {"x": self.rng.uniform(r, size - r),
                                                                      "y": self.rng.uniform(r, size - r)},
                                       "mass": mass})
            self._insert(d, "food", {"entity_id": eid})

    def move_all_players(self, d: Delta) -> None:
        size = self.world_size
        entities = self.rows["entity"]
        for c in sorted(self.rows["circle"].values(), key=lambda c: c["entity_id"]):
            ent = entities[c["entity_id"]]
            r = mass_to_radius(ent["mass"])
            step = c["speed"] * max_move_speed(ent["mass"])
            x = min(max(ent["position"]["x"] + c["direction"]["x"] * step, r), size - r)
            y = min(max(ent["position"]["y"] + c["direction"]["y"] * step, r), size - r)
            self._update(d, "entity", {**ent, "position": {"x": x, "y": y}})
        # eating: circles in entity-id order eat overlapping food and smaller foreign circles
        for cid in sorted(self.rows["circle"]):
            circle = self.rows["circle"].get(cid)
            if circle is None:
                continue  # eaten earlier in this tick
            me = dict(entities[cid])
            eaten = 0
            for other in list(entities.values()):
                oid = other["entity_id"]
                if oid == cid or oid not in entities:
                    continue
                if not self._overlapping(me, other):
                    continue
                if oid in self.rows["food"]:
                    self._delete(d, "food", oid)
                    self._delete(d, "entity", oid)
                    eaten += other["mass"]
                else:
                    oc = self.rows["circle"].get(oid)
                    if oc is not None and oc["player_id"] != circle["player_id"] \
                            and other["mass"] < EAT_MASS_RATIO * me["mass"]:
                        self._delete(d, "circle", oid)
                        self._delete(d, "entity", oid)
                        eaten += other["mass"]
            if eaten:
                me["mass"] += eaten
                self._update(d, "entity", me)
        # recombine split circles once the delay passed since the player's latest split
        ts = now_us()
        by_player: dict[int, list[dict[str, Any]]] = {}
        for c in self.rows["circle"].values():
            by_player.setdefault(c["player_id"], []).append(c)
        for circles in by_player.values():
            if len(circles) < 2 or ts - max(c["last_split_time"] for c in circles) < RECOMBINE_DELAY_US:
                continue
            ents = [entities[c["entity_id"]] for c in circles]
            total = sum(e["mass"] for e in ents)
            cx = sum(e["position"]["x"] * e["mass"] for e in ents) / total
            cy = sum(e["position"]["y"] * e["mass"] for e in ents) / total
            keep = max(ents, key=lambda e: (e["mass"], -e["entity_id"]))
            for e in ents:
                if e is not keep:
                    self._delete(d, "circle", e["entity_id"])
                    self._delete(d, "entity", e["entity_id"])
            self._update(d, "entity", {**keep, "mass": total, "position": {"x": cx, "y": cy}})

    @staticmethod
    def _overlapping(a: dict[str, Any], b: dict[str, Any]) -> bool:
        dx = a["position"]["x"] - b["position"]["x"]
        dy = a["position"]["y"] - b["position"]["y"]
        reach = (mass_to_radius(a["mass"]) + mass_to_radius(b["mass"])) * (1.0 - OVERLAP_PCT)
        return dx * dx + dy * dy <= reach * reach


# -- wire encoding (the test double's own, from the note) -----------------------------------------
def socket_identity(hex64: str) -> str:
    return "0x" + (hex64.lstrip("0") or "0")


def encode_keyed(table: str, row: dict[str, Any]) -> str:
    """A stored-table row: an object keyed by column, as a JSON string."""
    out: dict[str, Any] = {}
    for col in TABLE_COLUMNS[table]:
        value = row[col]
        if col == "identity":
            value = {"__identity__": socket_identity(value)}
        elif col == "last_split_time":
            value = {"__timestamp_micros_since_unix_epoch__": value}
        out[col] = value
    return json.dumps(out)


def encode_positional(table: str, row: dict[str, Any]) -> str:
    """A delta row: a positional array in column order (nested products positional too)."""
    out: list[Any] = []
    for col in TABLE_COLUMNS[table]:
        value = row[col]
        if col == "identity":
            value = [socket_identity(value)]
        elif col == "last_split_time":
            value = [value]
        elif isinstance(value, dict):
            value = [value["x"], value["y"]]
        out.append(value)
    return json.dumps(out)


def table_update(table: str, deletes: list[str], inserts: list[str]) -> dict[str, Any]:
    return {"table_id": TABLE_IDS[table], "table_name": table, "num_rows": len(inserts) + len(deletes),
            "updates": [{"deletes": deletes, "inserts": inserts}]}


_SELECT = re.compile(r"^\s*select\s+\*\s+from\s+([A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)


@dataclass
class Client:
    ws: ServerConnection
    identity: str
    connection_id: int
    subscribed: set[str] = field(default_factory=set)


class FakeSpacetimeDB:
    """The test double server. ``await start()`` returns the base URL (``http://127.0.0.1:PORT``).

    Args:
        databases: database names that exist (others answer 404).
        module_major: 2 -> other clients get ``TransactionUpdateLight``; 1 -> full ``TransactionUpdate``.
        tick_ms / food_ms: scheduled reducer periods.
        world_size / target_food: the game's world.
        ping_interval: seconds between server pings (the real server: 15).
        seed: the world's random seed.
    """

    def __init__(self, *, databases: tuple[str, ...] = ("blackholio",), module_major: int = 2,
                 tick_ms: float = 20.0, food_ms: float = 100.0, world_size: int = 200,
                 target_food: int = 120, ping_interval: float | None = 15.0, seed: int = 0) -> None:
        self.databases = set(databases)
        self.module_major = module_major
        self.tick_s = tick_ms / 1000.0
        self.food_s = food_ms / 1000.0
        self.ping_interval = ping_interval
        self.worlds = {db: World(world_size, target_food, seed) for db in databases}
        self.module_identity = secrets.token_hex(32)
        self.tokens: dict[str, str] = {}
        self.clients: dict[str, list[Client]] = {db: [] for db in databases}
        self._next_conn = 1
        self._server: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0
        self.received: list[dict[str, Any]] = []  # every client message, for assertions
        self.ticks = 0
        #: when set, the next CallReducer of this name gets a garbage frame instead of an answer
        self.garble_reducer: str | None = None
        #: when set, the next CallReducer of this name closes every connection instead of answering
        self.drop_on_reducer: str | None = None
        #: reducer name -> event: calls of that reducer wait for the event before running
        self.hold: dict[str, asyncio.Event] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue_identity(self) -> tuple[str, str]:
        """What ``POST /v1/identity`` answers: a new identity (64 hex, leading zero possible) and token."""
        identity = "00" + secrets.token_hex(31)  # a leading zero: exercises the stripped socket form
        token = "fake." + secrets.token_urlsafe(24)
        self.tokens[token] = identity
        return identity, token

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> str:
        self._server = await serve(self._handler, "127.0.0.1", port, subprotocols=["v1.json.spacetimedb"],  # type: ignore[list-item]
                                   process_request=self._process_request, ping_interval=self.ping_interval,
                                   ping_timeout=30, max_size=None)
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks = [asyncio.create_task(self._timer(self.tick_s, "move_all_players")),
                       asyncio.create_task(self._timer(self.food_s, "spawn_food"))]
        for db in self.databases:  # init: the food timer's first run
            self.worlds[db].spawn_food(Delta())
        return self.url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def mutate(self, db: str, change: Any) -> Any:
        """Run ``change(world, delta)`` as a transaction and broadcast it (test hook)."""
        d = Delta()
        result = change(self.worlds[db], d)
        await self._broadcast(db, d, caller=None, reducer="test_hook")
        return result

    async def drop_all_connections(self) -> None:
        """Simulate a crash: close every client connection abruptly (no close frame)."""
        for clients in self.clients.values():
            for c in list(clients):
                c.ws.transport.abort()

    # -- HTTP side --------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/v1/ping":
            return connection.respond(HTTPStatus.OK, "")
        if path == "/v1/health":
            body = json.dumps({"package_name": "fake-spacetimedb-test-double", "version": "2.0.0-fake",
                               "nodes": [], "schedulable": True})
            resp = connection.respond(HTTPStatus.OK, body)
            resp.headers["Content-Type"] = "application/json"
            return resp
        m = re.fullmatch(r"/v1/database/([^/]+)/subscribe", path)
        if m is None:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no route {path}\n")
        if m.group(1) not in self.databases:
            return connection.respond(HTTPStatus.NOT_FOUND, f"database {m.group(1)} not found\n")
        auth = request.headers.get("Authorization")
        if auth is not None:
            token = auth.removeprefix("Bearer ").strip()
            if token not in self.tokens:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid token\n")
        return None

    # -- WebSocket side ---------------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        db = ws.request.path.split("/")[3]
        auth = ws.request.headers.get("Authorization")
        if auth:
            token = auth.removeprefix("Bearer ").strip()
            identity = self.tokens[token]
        else:
            identity, token = self.issue_identity()
        client = Client(ws, identity, self._next_conn)
        self._next_conn += 1
        await ws.send(json.dumps({"IdentityToken": {
            "identity": {"__identity__": socket_identity(identity)}, "token": token,
            "connection_id": {"__connection_id__": client.connection_id}}}))
        self.clients[db].append(client)
        try:
            async for frame in ws:
                await self._on_message(db, client, frame)
        except ConnectionClosed:
            pass
        finally:
            if client in self.clients[db]:
                self.clients[db].remove(client)
            d = Delta()
            self.worlds[db].disconnect(d, identity)
            await self._broadcast(db, d, caller=None, reducer="disconnect")

    async def _on_message(self, db: str, client: Client, frame: str | bytes) -> None:
        msg = json.loads(frame)
        self.received.append(msg)
        ((kind, body),) = msg.items()
        world = self.worlds[db]
        if kind in ("Subscribe", "SubscribeMulti"):
            tables = []
            for q in body["query_strings"]:
                m = _SELECT.match(q)
                if m is None or m.group(1) not in TABLE_COLUMNS:
                    await client.ws.send(json.dumps({"SubscriptionError": {
                        "total_host_execution_duration_micros": 5, "request_id": body.get("request_id"),
                        "query_id": body.get("query_id", {}).get("id") if kind == "SubscribeMulti" else None,
                        "table_id": None, "error": f"`{q}` is invalid: no such table or unsupported query"}}))
                    return
                tables.append(m.group(1))
            if kind == "Subscribe":
                client.subscribed = set(tables)
            else:
                client.subscribed |= set(tables)
            updates = [table_update(t, [], [encode_keyed(t, r) for r in world.rows[t].values()]) for t in tables]
            if kind == "Subscribe":
                await client.ws.send(json.dumps({"InitialSubscription": {
                    "database_update": {"tables": updates}, "request_id": body["request_id"],
                    "total_host_execution_duration": {"__time_duration_micros__": 42}}}))
            else:
                await client.ws.send(json.dumps({"SubscribeMultiApplied": {
                    "request_id": body["request_id"], "total_host_execution_duration_micros": 42,
                    "query_id": body["query_id"], "update": {"tables": updates}}}))
        elif kind == "CallReducer":
            await self._call_reducer(db, client, body)
        elif kind == "OneOffQuery":
            m = _SELECT.match(body["query_string"])
            if m is None or m.group(1) not in TABLE_COLUMNS:
                resp = {"message_id": body["message_id"], "error": f"unsupported query {body['query_string']!r}",
                        "tables": [], "total_host_execution_duration": {"__time_duration_micros__": 3}}
            else:
                t = m.group(1)
                resp = {"message_id": body["message_id"], "error": None,
                        "tables": [{"table_name": t, "rows": [encode_positional(t, r) for r in world.rows[t].values()]}],
                        "total_host_execution_duration": {"__time_duration_micros__": 3}}
            await client.ws.send(json.dumps({"OneOffQueryResponse": resp}))

    async def _call_reducer(self, db: str, client: Client, body: dict[str, Any]) -> None:
        name = body["reducer"]
        args_text = body["args"]
        request_id = body["request_id"]
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
        world = self.worlds[db]
        d = Delta()
        error: str | None = None
        try:
            if not isinstance(args_text, str):
                raise ReducerFailed("args must be a JSON string (double-encoded)")
            args = json.loads(args_text)
            fn = {"enter_game": world.enter_game, "update_player_input": world.update_player_input,
                  "player_split": world.player_split, "respawn": world.respawn,
                  "suicide": world.suicide}.get(name)
            if fn is None:
                raise ReducerFailed(f"No such reducer `{name}`")
            try:
                fn(d, client.identity, *args)
            except TypeError as exc:
                raise ReducerFailed(f"invalid arguments for reducer {name}: {exc}") from None
        except ReducerFailed as exc:
            error = str(exc)
            d = Delta()  # rolled back (reducers here validate before writing)
        call = {"reducer_name": name, "reducer_id": 7, "args": args_text, "request_id": request_id}
        status = {"Failed": error} if error is not None else {
            "Committed": {"tables": self._delta_tables(d, client.subscribed)}}
        await client.ws.send(json.dumps({"TransactionUpdate": {
            "status": status, "timestamp": {"__timestamp_micros_since_unix_epoch__": now_us()},
            "caller_identity": {"__identity__": socket_identity(client.identity)},
            "caller_connection_id": {"__connection_id__": client.connection_id},
            "reducer_call": call, "energy_quanta_used": {"quanta": 0},
            "total_host_execution_duration": {"__time_duration_micros__": 17}}}))
        if error is None:
            await self._broadcast(db, d, caller=client, reducer=name, request_id=request_id)

    @staticmethod
    def _delta_tables(d: Delta, subscribed: set[str]) -> list[dict[str, Any]]:
        out = []
        for t in sorted(d.tables() & subscribed):
            out.append(table_update(t, [encode_positional(t, r) for r in d.deletes.get(t, [])],
                                    [encode_positional(t, r) for r in d.inserts.get(t, [])]))
        return out

    async def _broadcast(self, db: str, d: Delta, caller: Client | None, reducer: str, request_id: int = 0) -> None:
        """Send a committed transaction to every subscriber except the caller (who got its own)."""
        if not d.tables():
            return
        for c in list(self.clients[db]):
            if c is caller:
                continue
            tables = self._delta_tables(d, c.subscribed)
            if not tables:
                continue
            if self.module_major >= 2:
                msg: dict[str, Any] = {"TransactionUpdateLight": {"request_id": request_id,
                                                                  "update": {"tables": tables}}}
            else:
                caller_id = caller.identity if caller is not None else self.module_identity
                msg = {"TransactionUpdate": {
                    "status": {"Committed": {"tables": tables}},
                    "timestamp": {"__timestamp_micros_since_unix_epoch__": now_us()},
                    "caller_identity": {"__identity__": socket_identity(caller_id)},
                    "caller_connection_id": {"__connection_id__": caller.connection_id if caller else 0},
                    "reducer_call": {"reducer_name": reducer, "reducer_id": 9, "args": "[]",
                                     "request_id": request_id},
                    "energy_quanta_used": {"quanta": 0},
                    "total_host_execution_duration": {"__time_duration_micros__": 9}}}
            with contextlib.suppress(ConnectionClosed):
                await c.ws.send(json.dumps(msg))

    async def _timer(self, period: float, reducer: str) -> None:
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            for db, world in self.worlds.items():
                d = Delta()
                getattr(world, reducer)(d)
                if reducer == "move_all_players":
                    self.ticks += 1
                # a scheduled reducer's caller is the module itself: every client gets it as "other"
                await self._broadcast(db, d, caller=None, reducer=reducer)


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


__all__ = ["FakeServerThread", "FakeSpacetimeDB", "Headers", "World"]
