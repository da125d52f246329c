"""Agent roles in one SpacetimeDB world: ``rl_scenario(env="spacetimedb:...", roles={...})``.

Each role is a policy name with its own agents (connections) and, optionally, its own
:class:`~.mapping.GameMapping` (for instance another reward); all roles play in the same database.
The engine's ``VecEnv`` then carries ``policy_groups`` (role -> env indices) and ``policy_spaces``, so
the plugin trains one policy per role in the same world (:mod:`pytest_rlplaytest.agents.multipolicy`)
and reports each one separately, as it does for Godot scenes with several ``policy_name``\\ s.

The agents of every role share one ``ConcurrentVecEnv`` (a ``DummyVecEnv``, whose buffers have one
observation and one action space), so the roles' mappings must give the same spaces; rewards, clocks
and reducers may differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base import EngineError

if TYPE_CHECKING:
    from .mapping import GameMapping

__all__ = ["AgentRole", "parse_roles", "role_groups"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class AgentRole:
    """One role: its policy name, how many agents play it and the mapping they play with."""

    name: str
    agents: int
    mapping: GameMapping


def _role(name: Any, value: Any, resolve: Callable[[Any, str], GameMapping], default: GameMapping,
          where: str) -> AgentRole:
    if not isinstance(name, str) or not _NAME.match(name):
        raise EngineError(f"{where}: role name {name!r} must start with a letter and hold only letters, digits, "
                          "'_' and '-' (it becomes the policy's name in reports and JUnit properties)")
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"agents": value}
    if not isinstance(value, Mapping):
        raise EngineError(f"{where}: role {name!r} must be a number of agents or dict(agents=N, mapping=...), "
                          f"got {value!r}")
    unknown = sorted(set(value) - {"agents", "mapping"})
    if unknown:
        raise EngineError(f"{where}: role {name!r} has unknown keys {', '.join(unknown)}; a role takes agents= "
                          "and mapping=")
    agents = value.get("agents", 1)
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise EngineError(f"{where}: role {name!r}: agents must be a whole number >= 1, got {agents!r}")
    mapping = resolve(value["mapping"], f"roles[{name!r}]") if "mapping" in value else default
    return AgentRole(name, agents, mapping)


def parse_roles(value: Any, resolve: Callable[[Any, str], GameMapping], default: GameMapping,
                where: str) -> tuple[AgentRole, ...]:
    """The ``roles=`` engine option, checked: a dict of role name -> agents or dict(agents, mapping).

    ``resolve(choice, label)`` turns a mapping name or object into a :class:`~.mapping.GameMapping`;
    ``default`` is the scenario's own mapping. Roles whose mappings give different observation or
    action spaces are refused, naming both.
    """
    from .env import action_space, observation_space

    if not isinstance(value, Mapping) or len(value) < 2:
        raise EngineError(f"{where}: roles= must name at least two roles, e.g. roles=dict(grower=2, "
                          f"cautious=dict(agents=2, mapping='blackholio_cautious')); got {value!r}. For one "
                          "role use agents=N")
    roles = tuple(_role(name, spec, resolve, default, where) for name, spec in value.items())
    first = roles[0]
    for role in roles[1:]:
        a = (observation_space(first.mapping), action_space(first.mapping))
        b = (observation_space(role.mapping), action_space(role.mapping))
        if a != b:
            raise EngineError(
                f"{where}: roles {first.name!r} ({first.mapping.name}: {a[0]}, {a[1]}) and {role.name!r} "
                f"({role.mapping.name}: {b[0]}, {b[1]}) differ in their spaces; the roles of one world share "
                "one VecEnv, so give them mappings with the same ObservationSpec and actions (rewards may differ)")
    return roles


def role_groups(roles: tuple[AgentRole, ...]) -> dict[str, list[int]]:
    """Role name -> the env indices of its agents, in the order :func:`parse_roles` gave the roles."""
    groups: dict[str, list[int]] = {}
    i = 0
    for role in roles:
        groups[role.name] = list(range(i, i + role.agents))
        i += role.agents
    return groups
