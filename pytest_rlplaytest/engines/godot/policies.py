"""Several policies in one scene: the agents' ``policy_name``s and per-policy spaces.

The official plugin's ``main`` sends, in ``env_info``, one observation space and one action space
per Training agent (``sync.gd:98-102`` gathers them, ``sync.gd:428-438`` sends them; at bf5d6a2) and
``agent_policy_names`` (``sync.gd:380-383, 437``: each AIController's ``policy_name``, default
``"shared_policy"``); its ``godot3`` branch sends agent 0's spaces and no names (one policy). Our
addon sends ``agent_policy_names`` from each agent's ``policy_name`` (``addon/sync.gd``).

Agents that share a policy name must share their spaces (one network acts for them all); agents of
different policies may differ. When every agent has the same spaces the session's codecs are the
plain ones (observations one array); otherwise :class:`MixedObsCodec` / :class:`MixedActionCodec`
decode and encode each policy's agents with that policy's codec, and a batch of observations is a
list with one observation per agent (see :mod:`pytest_rlplaytest.agents.multiagent`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import EngineError
from .protocol import ProtocolError, encode_json
from .spaces import ActionCodec, ObsCodec

DEFAULT_POLICY = "shared_policy"  # main sync.gd:38 and ai_controller_3d.gd:31 (bf5d6a2)


class GodotMultiPolicyError(EngineError):
    """The agents of one policy declare different spaces (``agent_policy_names``, ``policy_name``)."""


def policy_names(info: dict[str, Any], n: int, where: str) -> list[str]:
    """Each Training agent's policy name (``agent_policy_names``; one shared policy when absent)."""
    names = info.get("agent_policy_names")
    if names is None:
        return [DEFAULT_POLICY] * n
    if not isinstance(names, list) or len(names) != n:
        raise ProtocolError(f"{where}: agent_policy_names must be a list of {n} names (one per agent), got "
                            f"{str(names)[:120]}")
    return [str(x) for x in names]


def group_agents(names: list[str]) -> dict[str, list[int]]:
    """Agent indices per policy name, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    return groups


def check_group_spaces(groups: dict[str, list[int]], obs_spaces: list[Any], act_spaces: list[Any],
                       where: str) -> None:
    """Every agent of a policy declares that policy's first agent's spaces."""
    for name, idx in groups.items():
        first = idx[0]
        for i in idx[1:]:
            if obs_spaces[i] != obs_spaces[first] or act_spaces[i] != act_spaces[first]:
                raise GodotMultiPolicyError(
                    f"{where}: agents {first} and {i} both train policy {name!r} but declare different spaces "
                    f"({obs_spaces[first]} / {act_spaces[first]} vs {obs_spaces[i]} / {act_spaces[i]}); one "
                    f"network acts for every agent of a policy, so they must observe and act alike. Give the "
                    f"agent its own policy_name (the scene's policies: {', '.join(map(repr, groups))}) or make "
                    "its spaces match")


class MixedObsCodec:
    """Observation decoding when the policies' spaces differ: each policy's agents by its codec; a
    batch is a list with one observation per agent."""

    flat = None
    width = 0

    def __init__(self, groups: dict[str, list[int]], codecs: dict[str, ObsCodec]) -> None:
        self.groups, self.codecs = groups, codecs
        self.of_agent = {i: codecs[name] for name, idx in groups.items() for i in idx}
        self.keys = tuple((name, tuple(codecs[name].keys)) for name in groups)

    def space(self) -> Any:
        """The first policy's observation space (each policy's own: ``GodotVecEnv.policy_spaces``)."""
        return next(iter(self.codecs.values())).space()

    def decode_batch(self, obs_list: Any, n_agents: int, where: Any) -> list[Any]:
        """One decoded observation per agent."""
        if not isinstance(obs_list, list) or len(obs_list) != n_agents:
            got = f"{len(obs_list)} entries" if isinstance(obs_list, list) else type(obs_list).__name__
            raise ProtocolError(f"{where}: 'obs' must be a list with one entry per agent ({n_agents}), got {got}")
        out: list[Any] = [None] * n_agents
        for name, idx in self.groups.items():
            batch = self.codecs[name].decode_batch([obs_list[i] for i in idx], len(idx),
                                                   f"{where} (policy {name!r}, agents {idx})")
            for k, i in enumerate(idx):
                out[i] = {key: v[k] for key, v in batch.items()} if isinstance(batch, dict) else batch[k]
        return out

    def decode_f32(self, block: Any, n_agents: int, where: Any) -> Any:  # pragma: no cover - never offered
        """Float32 blocks hold one layout; a scene whose policies' spaces differ sends JSON."""
        raise ProtocolError(f"{where}: a float32 block from a scene whose policies' spaces differ")

    def decode_one(self, obs: Any, where: str) -> Any:  # pragma: no cover - decode_agent is used
        """Not defined without the agent: use :meth:`decode_agent`."""
        raise TypeError("MixedObsCodec.decode_one needs the agent: use decode_agent")

    def decode_agent(self, agent: int, obs: Any, where: str) -> Any:
        """Agent ``agent``'s observation, by its policy's codec."""
        return self.of_agent[agent].decode_one(obs, where)


class MixedActionCodec:
    """Action encoding when the policies' spaces differ: ``actions`` is one action per agent."""

    def __init__(self, groups: dict[str, list[int]], codecs: dict[str, ActionCodec]) -> None:
        self.groups, self.codecs = groups, codecs
        self.keys = tuple((name, tuple(codecs[name].keys)) for name in groups)

    def space(self) -> Any:
        """The first policy's action space (each policy's own: ``GodotVecEnv.policy_spaces``)."""
        return next(iter(self.codecs.values())).space()

    def encode_json(self, actions: Any, n_agents: int) -> str:
        """The action list's JSON: each policy's agents encoded by its codec."""
        if len(actions) != n_agents:
            raise EngineError(f"{len(actions)} actions for {n_agents} agents: a scene whose policies' spaces "
                              "differ takes a list with one action per agent")
        out: list[Any] = [None] * n_agents
        for name, idx in self.groups.items():
            rows = np.stack([np.asarray(actions[i]) for i in idx])
            for i, encoded in zip(idx, self.codecs[name].encode_batch(rows, len(idx))):
                out[i] = encoded
        return encode_json(out)


def build_codecs(groups: dict[str, list[int]], obs_spaces: list[Any], act_spaces: list[Any],
                 where: str) -> tuple[Any, Any, dict[str, tuple[ObsCodec, ActionCodec]]]:
    """The session's observation and action codecs, and each policy's own pair."""
    per = {name: (ObsCodec(obs_spaces[idx[0]], where=f"{where} (policy {name!r})"),
                  ActionCodec(act_spaces[idx[0]], where=f"{where} (policy {name!r})"))
           for name, idx in groups.items()}
    same = all(obs_spaces[i] == obs_spaces[0] and act_spaces[i] == act_spaces[0] for i in range(len(obs_spaces)))
    if same:
        obs_codec, act_codec = next(iter(per.values()))
        return obs_codec, act_codec, per
    return (MixedObsCodec(groups, {k: v[0] for k, v in per.items()}),
            MixedActionCodec(groups, {k: v[1] for k, v in per.items()}), per)
