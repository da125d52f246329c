"""Declarative mapping from a SpacetimeDB game's tables to RL observations, actions and rewards.

A :class:`GameMapping` names the tables and columns that matter; the functions here turn a
:class:`~.cache.TableCache` into an observation vector (own state + the k nearest entities, relative,
normalised, zero-padded) and score table deltas as rewards. Nothing here does I/O, so it can be
tested on a hand-filled cache. ``numpy`` is the only non-stdlib import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cache import TableCache
from .codec import TableSchema


@dataclass(frozen=True)
class ReducerCall:
    """A reducer and its arguments; the text ``"{name}"`` in an argument becomes the agent's name."""

    reducer: str
    args: tuple[Any, ...] = ()

    def render(self, name: str) -> tuple[Any, ...]:
        """The arguments with ``{name}`` substituted."""
        return tuple(a.replace("{name}", name) if isinstance(a, str) else a for a in self.args)


@dataclass(frozen=True)
class DiscreteActions:
    """``Discrete(len(choices))``: action ``i`` calls ``choices[i]``."""

    choices: tuple[ReducerCall, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("DiscreteActions needs at least one ReducerCall")


@dataclass(frozen=True)
class ContinuousAction:
    """``Box(-1, 1, (len(fields),))``: calls ``reducer({field: value, ...})`` (one struct argument).

    With ``as_struct=False`` the values are passed as separate positional arguments instead.
    """

    reducer: str
    fields: tuple[str, ...] = ("x", "y")
    as_struct: bool = True

    def args(self, action: Any) -> tuple[Any, ...]:
        """The reducer arguments for ``action`` (clipped to [-1, 1], made JSON-safe)."""
        values = [float(np.clip(v, -1.0, 1.0)) for v in np.asarray(action, dtype=np.float64).reshape(-1)]
        if len(values) != len(self.fields):
            raise ValueError(f"action has {len(values)} values, the mapping expects {len(self.fields)} "
                             f"({', '.join(self.fields)})")
        if self.as_struct:
            return (dict(zip(self.fields, values)),)
        return tuple(values)


ActionSpec = DiscreteActions | ContinuousAction


@dataclass(frozen=True)
class ObservationSpec:
    """Which tables/columns describe "me" and "what is around me" (Blackholio names by default).

    The observation is ``5 + 7 * k_nearest`` floats:

    * own state: ``alive, x, y`` (centre of mass, in [-1, 1] of the world), ``mass / mass_scale``,
      ``owned / max_owned``;
    * per nearby entity, nearest first, zero-padded: ``present, dx, dy, distance`` (relative to my
      centre, divided by ``distance_scale``), ``mass / my largest mass``, ``is_food``, ``is_enemy``.

    Values are clipped to ``[-clip, clip]``.
    """

    player_table: str = "player"
    player_identity: str = "identity"
    player_id: str = "player_id"
    owned_table: str = "circle"
    owned_entity: str = "entity_id"
    owned_player: str = "player_id"
    entity_table: str = "entity"
    entity_id: str = "entity_id"
    position: str = "position"
    mass: str = "mass"
    food_table: str = "food"
    food_entity: str = "entity_id"
    config_table: str = "config"
    world_size: str = "world_size"
    default_world_size: float = 1000.0
    k_nearest: int = 8
    distance_scale: float = 100.0
    mass_scale: float = 50.0
    max_owned: int = 16
    clip: float = 10.0

    @property
    def size(self) -> int:
        """Length of the observation vector."""
        return 5 + 7 * self.k_nearest


@dataclass(frozen=True)
class RewardSpec:
    """Reward per step: ``(own mass now - own mass before) / mass_scale``; ``-death_penalty`` when the
    last owned entity disappears (the episode then terminates); plus ``step_reward`` every step."""

    mass_scale: float = 10.0
    death_penalty: float = 1.0
    step_reward: float = 0.0


@dataclass(frozen=True)
class StepClock:
    """When a step ends, for a server that ticks on its own schedule.

    After the action's reducer call commits, wait for ``ticks`` transactions touching ``table``
    (None: any transaction), but at most ``max_wait_ms`` milliseconds.
    """

    table: str | None = "entity"
    ticks: int = 1
    max_wait_ms: float = 250.0


@dataclass(frozen=True)
class GameMapping:
    """Everything the env needs to know about one SpacetimeDB game."""

    name: str
    schemas: tuple[TableSchema, ...]
    subscriptions: tuple[str, ...]
    observation: ObservationSpec = field(default_factory=ObservationSpec)
    actions: ActionSpec = field(default_factory=lambda: DiscreteActions((ReducerCall("noop"),)))
    reward: RewardSpec = field(default_factory=RewardSpec)
    clock: StepClock = field(default_factory=StepClock)
    #: called once per agent if it has no player row (``{name}`` is replaced by the agent's name)
    enter_reducer: ReducerCall | None = None
    #: called at reset when the agent owns nothing
    respawn_reducer: ReducerCall | None = None
    #: called at reset when the agent still owns something (to start a fresh episode)
    kill_reducer: ReducerCall | None = None


@dataclass
class AgentState:
    """What one agent owns right now, read from the cache."""

    player_id: Any = None
    alive: bool = False
    mass: float = 0.0
    largest: float = 0.0
    center: tuple[float, float] = (0.0, 0.0)
    owned: int = 0
    owned_ids: frozenset[Any] = frozenset()


def _xy(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, Mapping):
        x, y = value.get("x"), value.get("y")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        x, y = value
    else:
        raise ValueError(f"{where}: position {value!r} is not {{x, y}}")
    fx, fy = float(x), float(y)  # type: ignore[arg-type]
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise ValueError(f"{where}: position {value!r} is not finite")
    return fx, fy


def world_size(cache: TableCache, spec: ObservationSpec) -> float:
    """The world's size from the config table (``default_world_size`` until it arrives)."""
    for row in cache.iter(spec.config_table):
        size = row.get(spec.world_size)
        if size:
            return float(size)
    return spec.default_world_size


def agent_state(cache: TableCache, spec: ObservationSpec, identity: str) -> AgentState:
    """Find the agent's player row and owned entities in ``cache``."""
    state = AgentState()
    for row in cache.iter(spec.player_table):
        if row.get(spec.player_identity) == identity:
            state.player_id = row.get(spec.player_id)
            break
    if state.player_id is None:
        return state
    owned = {row[spec.owned_entity] for row in cache.iter(spec.owned_table)
             if row.get(spec.owned_player) == state.player_id}
    entities = cache.tables.get(spec.entity_table, {})
    total = sx = sy = 0.0
    largest = 0.0
    for eid in owned:
        ent = entities.get(eid)
        if ent is None:
            continue  # circle row arrived before its entity row
        mass = float(ent[spec.mass])
        x, y = _xy(ent[spec.position], f"entity {eid}")
        total += mass
        sx += x * mass
        sy += y * mass
        largest = max(largest, mass)
    state.owned_ids = frozenset(owned)
    state.owned = len(owned)
    state.mass = total
    state.largest = largest
    state.alive = total > 0
    if total > 0:
        state.center = (sx / total, sy / total)
    return state


def observe(cache: TableCache, spec: ObservationSpec, me: AgentState) -> np.ndarray:
    """The observation vector (float32, length ``spec.size``) for agent state ``me``."""
    out = np.zeros(spec.size, dtype=np.float32)
    size = world_size(cache, spec)
    if not me.alive:
        return out
    cx, cy = me.center
    out[0] = 1.0
    out[1] = cx / size * 2 - 1
    out[2] = cy / size * 2 - 1
    out[3] = me.mass / spec.mass_scale
    out[4] = me.owned / spec.max_owned
    if spec.k_nearest <= 0:
        return np.clip(out, -spec.clip, spec.clip)
    food = cache.tables.get(spec.food_table, {})
    owner_of = {row[spec.owned_entity]: row.get(spec.owned_player) for row in cache.iter(spec.owned_table)}
    ids: list[Any] = []
    pos: list[tuple[float, float]] = []
    masses: list[float] = []
    for eid, ent in cache.tables.get(spec.entity_table, {}).items():
        if eid in me.owned_ids:
            continue
        ids.append(eid)
        pos.append(_xy(ent[spec.position], f"entity {eid}"))
        masses.append(float(ent[spec.mass]))
    if ids:
        arr = np.asarray(pos, dtype=np.float64)
        d = arr - np.asarray([cx, cy])
        dist = np.hypot(d[:, 0], d[:, 1])
        k = min(spec.k_nearest, len(ids))
        nearest = np.argpartition(dist, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
        nearest = nearest[np.argsort(dist[nearest], kind="stable")]
        largest = me.largest or 1.0
        for slot, idx in enumerate(nearest):
            base = 5 + 7 * slot
            eid = ids[idx]
            is_food = eid in food
            out[base:base + 7] = (
                1.0,
                d[idx, 0] / spec.distance_scale,
                d[idx, 1] / spec.distance_scale,
                dist[idx] / spec.distance_scale,
                masses[idx] / largest,
                1.0 if is_food else 0.0,
                1.0 if (not is_food and eid in owner_of and owner_of[eid] != me.player_id) else 0.0,
            )
    return np.clip(out, -spec.clip, spec.clip)


def reward(spec: RewardSpec, before: AgentState, after: AgentState) -> tuple[float, bool, list[str]]:
    """``(reward, died, events)`` for the change from ``before`` to ``after``."""
    events: list[str] = []
    value = spec.step_reward
    if before.alive and not after.alive:
        events.append("died")
        return value - spec.death_penalty, True, events
    if before.alive and after.alive:
        gained = after.mass - before.mass
        if gained > 0:
            events.append("gained_mass")
        elif gained < 0:
            events.append("lost_mass")
        value += gained / spec.mass_scale
    return value, False, events
