"""TEST DOUBLE: the modules the fake SpacetimeDB server hosts, as Python twins of the Rust modules.

Not SpacetimeDB. Each :class:`ModuleDef` declares tables, reducers and named types the way the Rust
crate's macros would (``#[spacetimedb::table(accessor = …)]``, ``#[spacetimedb::reducer(…)]``), and a
state class implements the reducers:

* ``blackholio``: ``example_project/spacetimedb/blackholio`` (players steer circles, eat food, grow);
  class :class:`World`, same constants as its ``src/lib.rs``.
* ``wire_types``: ``tests/spacetimedb/wire_types_module`` (one column of every wire shape the client
  decodes: Identity, ``Option<ConnectionId>``, Timestamp, TimeDuration, ``Option<String>``, a user enum
  with a payload, a unit and a struct variant, ``Vec<String>``; lifecycle reducers that log into a
  table); class :class:`WireTypes`.

Names follow the 2.x crate (a V10 module): tables, columns and reducers snake_case, user enum variants
camelCase (``crates/schema/src/def/validate/v9.rs:657-729 @2.8.3``: ``SnakeCase`` is the default
policy, ``crates/lib/src/db/raw_def/v10.rs:142-149``); a 1.x module (V9) keeps the Rust spelling.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_sats import (
    CONNECTION_ID,
    F32,
    IDENTITY,
    SCHEDULE_AT,
    STRING,
    TIME_DURATION,
    TIMESTAMP,
    U32,
    U64,
    UNIT,
    Arr,
    Named,
    Prod,
    SumT,
    option,
)

__all__ = [
    "Ctx",
    "Delta",
    "ModuleDef",
    "ReducerDef",
    "ReducerFailed",
    "TableDef",
    "WireTypes",
    "World",
    "module_for_package",
    "now_us",
]


def now_us() -> int:
    return int(time.time() * 1_000_000)


class ReducerFailed(Exception):
    """The reducer returned ``Err(message)``: the transaction is rolled back."""


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


@dataclass(frozen=True)
class Ctx:
    """``ReducerContext``: ``sender()``, ``connection_id()`` (None for the scheduler), ``timestamp``
    (``crates/bindings/src/lib.rs:980-1107 @2.8.3``)."""

    sender: str
    connection_id: int | None
    timestamp: int


@dataclass(frozen=True)
class TableDef:
    name: str
    row: Prod
    primary_key: str
    public: bool = True
    scheduled: str | None = None
    struct: str = ""  # the Rust struct's name (default: the table name in PascalCase)

    @property
    def type_name(self) -> str:
        return self.struct or "".join(part.title() for part in self.name.split("_"))


@dataclass(frozen=True)
class ReducerDef:
    name: str
    params: tuple[tuple[str, Any], ...]
    fn: Callable[..., None]
    lifecycle: str | None = None  # "Init" | "OnConnect" | "OnDisconnect"
    scheduled: bool = False


@dataclass(frozen=True)
class ModuleDef:
    """A module: what its schema reports, plus how to make its state and which timers tick."""

    name: str
    tables: tuple[TableDef, ...]
    reducers: tuple[ReducerDef, ...]
    named_types: tuple[Named, ...]
    make_state: Callable[..., Any]
    timers: tuple[tuple[str, str], ...] = ()  # (scheduled reducer, option name of its period in ms)

    def table(self, name: str) -> TableDef | None:
        return next((t for t in self.tables if t.name == name), None)

    def reducer(self, name: str) -> tuple[int, ReducerDef] | None:
        return next(((i, r) for i, r in enumerate(self.reducers) if r.name == name), None)


class Store:
    """Rows per table keyed by primary key, writes recorded in a :class:`Delta`."""

    primary_keys: dict[str, str] = {}

    def __init__(self) -> None:
        self.rows: dict[str, dict[Any, dict[str, Any]]] = {t: {} for t in self.primary_keys}

    def _insert(self, d: Delta, table: str, row: dict[str, Any]) -> None:
        self.rows[table][row[self.primary_keys[table]]] = row
        d.insert(table, row)

    def _delete(self, d: Delta, table: str, key: Any) -> None:
        row = self.rows[table].pop(key, None)
        if row is not None:
            d.delete(table, row)

    def _update(self, d: Delta, table: str, row: dict[str, Any]) -> None:
        key = row[self.primary_keys[table]]
        old = self.rows[table].get(key)
        if old == row:
            return
        if old is not None:
            d.delete(table, old)
        self.rows[table][key] = row
        d.insert(table, row)


# == blackholio ======================================================================================
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


def mass_to_radius(mass: float) -> float:
    return math.sqrt(mass)


def max_move_speed(mass: float) -> float:
    return 2.0 * START_SPEED / (1.0 + math.sqrt(mass / START_MASS))


class World(Store):
    """The Blackholio state and reducers (Python twin of ``example_project/spacetimedb/blackholio``)."""

    primary_keys = {"config": "id", "entity": "entity_id", "circle": "entity_id", "player": "identity",
                    "food": "entity_id", "move_all_players_timer": "scheduled_id",
                    "spawn_food_timer": "scheduled_id"}

    def __init__(self, world_size: int = 200, target_food: int = 120, seed: int = 0, **_: Any) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.next_entity = 1
        self.next_player = 1
        self.target_food = target_food
        self.rows["config"][0] = {"id": 0, "world_size": world_size}
        # init: the timers (Interval 50 ms / 500 ms in the Rust module)
        self.rows["move_all_players_timer"][1] = {"scheduled_id": 1, "scheduled_at": ("Interval", 50_000)}
        self.rows["spawn_food_timer"][1] = {"scheduled_id": 1, "scheduled_at": ("Interval", 500_000)}

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

    def _spawn_initial(self, d: Delta, player_id: int, ts: int) -> None:
        r = mass_to_radius(START_MASS)
        size = self.world_size
        self._spawn_circle(d, player_id, START_MASS, self.rng.uniform(r, size - r), self.rng.uniform(r, size - r), ts)

    # client reducers ----------------------------------------------------------------------------
    def enter_game(self, d: Delta, ctx: Ctx, name: str) -> None:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LEN:
            raise ReducerFailed(f"name must be 1 to {MAX_NAME_LEN} characters")
        if ctx.sender in self.rows["player"]:
            raise ReducerFailed("this identity already entered the game")
        pid = self.next_player
        self.next_player += 1
        self._insert(d, "player", {"identity": ctx.sender, "player_id": pid, "name": name})
        self._spawn_initial(d, pid, ctx.timestamp)

    def update_player_input(self, d: Delta, ctx: Ctx, direction: dict[str, float]) -> None:
        x, y = direction["x"], direction["y"]
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ReducerFailed("direction must be finite")
        player = self.player_of(ctx.sender)
        mag = math.hypot(x, y)
        unit = {"x": x / mag, "y": y / mag} if mag > 1e-6 else {"x": 0.0, "y": 0.0}
        speed = min(max(mag, 0.0), 1.0)
        for c in self.circles_of(player["player_id"]):
            self._update(d, "circle", {**c, "direction": unit, "speed": speed})

    def player_split(self, d: Delta, ctx: Ctx) -> None:
        player = self.player_of(ctx.sender)
        circles = self.circles_of(player["player_id"])
        count = len(circles)
        for c in circles:
            if count >= MAX_CIRCLES:
                break
            ent = self.rows["entity"][c["entity_id"]]
            if ent["mass"] < MIN_MASS_TO_SPLIT:
                continue
            half = ent["mass"] // 2
            pos = ent["position"]
            self._spawn_circle(d, player["player_id"], half, pos["x"] + c["direction"]["x"],
                               pos["y"] + c["direction"]["y"], ctx.timestamp)
            self._update(d, "entity", {**ent, "mass": ent["mass"] - half})
            self._update(d, "circle", {**c, "last_split_time": ctx.timestamp})
            count += 1

    def respawn(self, d: Delta, ctx: Ctx) -> None:
        player = self.player_of(ctx.sender)
        if self.circles_of(player["player_id"]):
            raise ReducerFailed(f"Player {player['player_id']} already has a circle")
        self._spawn_initial(d, player["player_id"], ctx.timestamp)

    def suicide(self, d: Delta, ctx: Ctx) -> None:
        player = self.player_of(ctx.sender)
        for c in self.circles_of(player["player_id"]):
            self._delete(d, "entity", c["entity_id"])
            self._delete(d, "circle", c["entity_id"])

    # lifecycle --------------------------------------------------------------------------------------
    def connect(self, d: Delta, ctx: Ctx) -> None:
        """``client_connected``: nothing (the Rust module only logs)."""

    def disconnect(self, d: Delta, ctx: Ctx) -> None:
        """``client_disconnected``: the caller's player and circles are deleted."""
        player = self.rows["player"].get(ctx.sender)
        if player is None:
            return
        self.suicide(d, ctx)
        self._delete(d, "player", ctx.sender)

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
    def spawn_food(self, d: Delta, ctx: Ctx, timer: Any = None) -> None:
        if not self.rows["player"]:
            return
        size = self.world_size
        while len(self.rows["food"]) < self.target_food:
            mass = self.rng.randint(FOOD_MASS_MIN, FOOD_MASS_MAX)
            r = mass_to_radius(mass)
            position = {"x": self.rng.uniform(r, size - r), "y": self.rng.uniform(r, size - r)}
            eid = self.next_entity
            self.next_entity += 1
            self._insert(d, "entity", {"entity_id": eid, "position": position, "mass": mass})
            self._insert(d, "food", {"entity_id": eid})

    def move_all_players(self, d: Delta, ctx: Ctx, timer: Any = None) -> None:
        self._move(d)
        self._eat(d)
        self._recombine(d, ctx.timestamp)

    def _move(self, d: Delta) -> None:
        size = self.world_size
        entities = self.rows["entity"]
        for c in sorted(self.rows["circle"].values(), key=lambda c: c["entity_id"]):
            ent = entities[c["entity_id"]]
            r = mass_to_radius(ent["mass"])
            step = c["speed"] * max_move_speed(ent["mass"])
            x = min(max(ent["position"]["x"] + c["direction"]["x"] * step, r), size - r)
            y = min(max(ent["position"]["y"] + c["direction"]["y"] * step, r), size - r)
            self._update(d, "entity", {**ent, "position": {"x": x, "y": y}})

    def _eat(self, d: Delta) -> None:
        """In entity-id order, each surviving circle eats overlapping food and smaller foreign circles."""
        entities = self.rows["entity"]
        for cid in sorted(self.rows["circle"]):
            circle = self.rows["circle"].get(cid)
            if circle is None:
                continue  # eaten earlier in this tick
            me = dict(entities[cid])
            eaten = 0
            for other in [e for e in entities.values() if e["entity_id"] != cid and self._overlapping(me, e)]:
                oid = other["entity_id"]
                if oid not in entities:
                    continue
                if oid in self.rows["food"]:
                    self._delete(d, "food", oid)
                    self._delete(d, "entity", oid)
                    eaten += other["mass"]
                    continue
                oc = self.rows["circle"].get(oid)
                if oc is not None and oc["player_id"] != circle["player_id"] \
                        and other["mass"] < EAT_MASS_RATIO * me["mass"]:
                    self._delete(d, "circle", oid)
                    self._delete(d, "entity", oid)
                    eaten += other["mass"]
            if eaten:
                me["mass"] += eaten
                self._update(d, "entity", me)

    def _recombine(self, d: Delta, ts: int) -> None:
        """A player's circles merge once the delay passed since its latest split."""
        entities = self.rows["entity"]
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
        pa, pb = a["position"], b["position"]
        dx, dy = pa["x"] - pb["x"], pa["y"] - pb["y"]
        reach = (math.sqrt(a["mass"]) + math.sqrt(b["mass"])) * (1.0 - OVERLAP_PCT)  # mass_to_radius
        return dx * dx + dy * dy <= reach * reach


DB_VECTOR2 = Named("DbVector2", Prod((("x", F32), ("y", F32))))


def _timer_row() -> Prod:
    return Prod((("scheduled_id", U64), ("scheduled_at", SCHEDULE_AT)))


def _r(name: str, params: tuple[tuple[str, Any], ...] = (), **kw: Any) -> ReducerDef:
    return ReducerDef(name, params, lambda state, *a: getattr(state, name)(*a), **kw)


def blackholio_module(major: int = 2) -> ModuleDef:
    """``example_project/spacetimedb/blackholio/src/lib.rs``: tables and reducers in declaration order."""
    tables = (
        TableDef("config", Prod((("id", U32), ("world_size", U64))), "id"),
        TableDef("entity", Prod((("entity_id", U32), ("position", DB_VECTOR2), ("mass", U32))), "entity_id"),
        TableDef("circle", Prod((("entity_id", U32), ("player_id", U32), ("direction", DB_VECTOR2),
                                 ("speed", F32), ("last_split_time", TIMESTAMP))), "entity_id"),
        TableDef("player", Prod((("identity", IDENTITY), ("player_id", U32), ("name", STRING))), "identity"),
        TableDef("food", Prod((("entity_id", U32),)), "entity_id"),
        TableDef("move_all_players_timer", _timer_row(), "scheduled_id", public=False, scheduled="move_all_players"),
        TableDef("spawn_food_timer", _timer_row(), "scheduled_id", public=False, scheduled="spawn_food"),
    )
    reducers = (
        _r("init", lifecycle="Init"), _r("connect", lifecycle="OnConnect"),
        _r("disconnect", lifecycle="OnDisconnect"), _r("enter_game", (("name", STRING),)),
        _r("update_player_input", (("direction", DB_VECTOR2),)), _r("player_split"), _r("respawn"),
        _r("suicide"),
        _r("spawn_food", (("_timer", Named("SpawnFoodTimer", _timer_row())),), scheduled=True),
        _r("move_all_players", (("_timer", Named("MoveAllPlayersTimer", _timer_row())),), scheduled=True),
    )
    return ModuleDef("blackholio", tables, reducers, (DB_VECTOR2,), World,
                     timers=(("move_all_players", "tick_ms"), ("spawn_food", "food_ms")))


# == wire types ======================================================================================
class WireTypes(Store):
    """``tests/spacetimedb/wire_types_module/src/lib.rs``."""

    primary_keys = {"sample": "id", "lifecycle_event": "id", "tick_timer": "scheduled_id"}

    def __init__(self, **_: Any) -> None:
        super().__init__()
        self.next_id = {"sample": 1, "lifecycle_event": 1}
        self.rows["tick_timer"][1] = {"scheduled_id": 1, "scheduled_at": ("Interval", 3_600_000_000)}

    def _auto(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] += 1
        return value

    def add_sample(self, d: Delta, ctx: Ctx, label: str | None, shape: Any, tags: list[str]) -> None:
        self._insert(d, "sample", {"id": self._auto("sample"), "owner": ctx.sender, "conn": ctx.connection_id,
                                   "at": ctx.timestamp, "every": 50_000, "label": label, "shape": shape,
                                   "tags": tags})

    def fail(self, d: Delta, ctx: Ctx, message: str) -> None:
        raise ReducerFailed(message)

    def _event(self, d: Delta, ctx: Ctx, kind: str) -> None:
        self._insert(d, "lifecycle_event", {"id": self._auto("lifecycle_event"), "kind": kind,
                                            "who": ctx.sender, "conn": ctx.connection_id})

    def connect(self, d: Delta, ctx: Ctx) -> None:
        self._event(d, ctx, "connect")

    def disconnect(self, d: Delta, ctx: Ctx) -> None:
        self._event(d, ctx, "disconnect")

    def tick(self, d: Delta, ctx: Ctx, timer: Any = None) -> None:
        """The scheduled reducer: does nothing (its timer fires once an hour)."""


def wire_types_module(major: int = 2) -> ModuleDef:
    """The conformance module; 2.x canonical names make enum variants camelCase."""
    variant = (lambda name: name[0].lower() + name[1:]) if major >= 2 else (lambda name: name)
    size = Named("Size", Prod((("w", U32), ("h", U32))))
    shape = Named("Shape", SumT(((variant("Circle"), F32), (variant("Rect"), size), (variant("Empty"), UNIT))))
    tables = (
        TableDef("sample", Prod((("id", U64), ("owner", IDENTITY), ("conn", option(CONNECTION_ID)),
                                 ("at", TIMESTAMP), ("every", TIME_DURATION), ("label", option(STRING)),
                                 ("shape", shape), ("tags", Arr(STRING)))), "id"),
        TableDef("lifecycle_event", Prod((("id", U64), ("kind", STRING), ("who", IDENTITY),
                                          ("conn", option(CONNECTION_ID)))), "id"),
        TableDef("tick_timer", _timer_row(), "scheduled_id", public=False, scheduled="tick"),
    )
    reducers = (
        _r("init", lifecycle="Init"), _r("connect", lifecycle="OnConnect"),
        _r("disconnect", lifecycle="OnDisconnect"),
        _r("add_sample", (("label", option(STRING)), ("shape", shape), ("tags", Arr(STRING)))),
        _r("fail", (("message", STRING),)),
        _r("tick", (("_timer", Named("TickTimer", _timer_row())),), scheduled=True),
    )
    return ModuleDef("wire_types", tables, reducers, (size, shape), WireTypes)


#: Cargo package name of a module folder -> its twin (the fake CLI publishes by package name)
PACKAGES: dict[str, Callable[[int], ModuleDef]] = {
    "blackholio-rlplaytest": blackholio_module,
    "rlplaytest-wire-types": wire_types_module,
}
MODULES: dict[str, Callable[[int], ModuleDef]] = {"blackholio": blackholio_module, "wire_types": wire_types_module}


def module_for_package(package: str, major: int = 2) -> ModuleDef:
    return PACKAGES[package](major)
