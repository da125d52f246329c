"""The Blackholio example game: its table schemas and the default observation/action/reward mapping.

Matches ``example_project/spacetimedb/blackholio`` (tables ``config``, ``entity``, ``circle``,
``player``, ``food``; reducers ``enter_game``, ``update_player_input``, ``player_split``,
``respawn``, ``suicide``; a scheduled ``move_all_players`` tick that moves circles and eats).
"""

from __future__ import annotations

import dataclasses
import math

from .codec import IDENTITY, TIMESTAMP, Product, TableSchema
from .mapping import (
    DiscreteActions,
    GameMapping,
    ObservationSpec,
    ReducerCall,
    RewardSpec,
    StepClock,
)

VECTOR2 = Product.of("x", "y")

CONFIG = TableSchema.of("config", ["id", "world_size"], primary_key="id")
ENTITY = TableSchema.of("entity", ["entity_id", ("position", VECTOR2), "mass"], primary_key="entity_id")
CIRCLE = TableSchema.of("circle", ["entity_id", "player_id", ("direction", VECTOR2), "speed",
                                   ("last_split_time", TIMESTAMP)], primary_key="entity_id")
PLAYER = TableSchema.of("player", [("identity", IDENTITY), "player_id", "name"], primary_key="identity")
FOOD = TableSchema.of("food", ["entity_id"], primary_key="entity_id")

SCHEMAS: tuple[TableSchema, ...] = (CONFIG, ENTITY, CIRCLE, PLAYER, FOOD)


def _compass(n: int) -> tuple[ReducerCall, ...]:
    """``stop`` then ``n`` unit directions evenly around the circle, as ``update_player_input`` calls."""
    calls = [ReducerCall("update_player_input", ({"x": 0.0, "y": 0.0},))]
    for i in range(n):
        angle = 2 * math.pi * i / n
        calls.append(ReducerCall("update_player_input",
                                 ({"x": round(math.cos(angle), 6), "y": round(math.sin(angle), 6)},)))
    return tuple(calls)


#: the default mapping: stop + 8 compass directions (``player_split`` is left out: splitting
#: does not help a lone agent gain mass); observe own circles and the 8 nearest entities;
#: reward = mass gained / 10, -1 when eaten; one step = one ``entity`` update (the move tick)
BLACKHOLIO = GameMapping(
    name="blackholio",
    schemas=SCHEMAS,
    subscriptions=tuple(f"SELECT * FROM {s.name}" for s in SCHEMAS),
    observation=ObservationSpec(),
    actions=DiscreteActions(_compass(8)),
    reward=RewardSpec(),
    clock=StepClock(table="entity", ticks=1, max_wait_ms=150.0),
    enter_reducer=ReducerCall("enter_game", ("{name}",)),
    respawn_reducer=ReducerCall("respawn", ()),
    kill_reducer=ReducerCall("suicide", ()),
)

#: the same game for a competing role that is punished harder for being eaten (five times the
#: default ``death_penalty``): same spaces, so it can share a world with ``blackholio`` agents
#: (``roles=`` engine option, :mod:`.roles`)
BLACKHOLIO_CAUTIOUS = dataclasses.replace(BLACKHOLIO, name="blackholio_cautious",
                                          reward=RewardSpec(death_penalty=5.0))

#: mappings by name, for the engine's ``mapping=`` marker argument (and each role's ``mapping``)
MAPPINGS: dict[str, GameMapping] = {"blackholio": BLACKHOLIO, "blackholio_cautious": BLACKHOLIO_CAUTIOUS}
