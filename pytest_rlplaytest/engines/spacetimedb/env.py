"""Gymnasium environments over a SpacetimeDB game: one agent = one WebSocket connection.

* :class:`SpacetimeAgent` is the asyncio core (usable directly from pytest-asyncio tests).
* :class:`SpacetimeEnv` wraps it as a synchronous Gymnasium ``Env`` whose asyncio loop runs in a
  background thread (:class:`~.blocking.LoopThread`), so Stable-Baselines3 can call ``step()`` normally.
  Every reducer call goes over the agent's own WebSocket.
* :func:`concurrent_vec_env` builds an SB3 ``VecEnv`` whose agents step *concurrently* (one thread
  per agent, all sharing one loop), so N agents in one database advance together in one server tick
  instead of N ticks.

Importing this module imports gymnasium and stable-baselines3; the engine imports it lazily.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from ..base import EngineError
from .blocking import LoopThread
from .client import SpacetimeClient
from .mapping import (
    AgentState,
    ContinuousAction,
    DiscreteActions,
    GameMapping,
    ReducerCall,
    agent_state,
    observe,
    reward,
)

__all__ = ["ConcurrentVecEnv", "LoopThread", "SpacetimeAgent", "SpacetimeEnv", "concurrent_vec_env"]

log = logging.getLogger(__name__)

#: respawn calls at reset before giving up (a fresh circle can be eaten before we see it)
RESPAWN_ATTEMPTS = 5


class SpacetimeAgent:
    """One agent playing through its own connection; async ``reset``/``step``.

    Attributes:
        client: the :class:`~.client.SpacetimeClient` (its cache holds the subscribed tables).
        mapping: the :class:`~.mapping.GameMapping` in use.
        name: the agent's in-game name (used by the enter reducer).
    """

    def __init__(self, client: SpacetimeClient, mapping: GameMapping, name: str) -> None:
        self.client = client
        self.mapping = mapping
        self.name = name
        self.state = AgentState()
        self._last_call: tuple[str, tuple[Any, ...]] | None = None
        self.steps = 0

    @classmethod
    async def connect(cls, url: str, database: str, mapping: GameMapping, name: str = "agent",
                      token: str | None = None, timeout: float = 30.0) -> SpacetimeAgent:
        """Connect, subscribe to the mapping's queries and enter the game (once per identity)."""
        client = await SpacetimeClient.connect(url, database, token, schemas=mapping.schemas, timeout=timeout)
        agent = cls(client, mapping, name)
        try:
            await client.subscribe(list(mapping.subscriptions))
            agent.state = agent_state(client.cache, mapping.observation, client.identity)
            if agent.state.player_id is None and mapping.enter_reducer is not None:
                await agent._call(mapping.enter_reducer)
                agent.state = agent_state(client.cache, mapping.observation, client.identity)
        except BaseException:
            await client.close()
            raise
        return agent

    async def _call(self, call: ReducerCall) -> None:
        args = call.render(self.name)
        await self.client.call_reducer(call.reducer, *args)
        self._last_call = (call.reducer, args)

    def _state(self) -> AgentState:
        return agent_state(self.client.cache, self.mapping.observation, self.client.identity)

    def observation(self) -> np.ndarray:
        """The current observation vector."""
        return observe(self.client.cache, self.mapping.observation, self._state())

    async def reset(self) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a fresh episode: kill what the agent owns (if anything), then respawn.

        A respawned circle eaten before we see it is respawned again (up to ``RESPAWN_ATTEMPTS``
        times); if that keeps happening the episode starts dead and its first step terminates it.

        Raises:
            EngineError: when the agent has no player row, or owns nothing and the mapping has no
                respawn reducer (a mapping mistake).
        """
        m = self.mapping
        state = self._state()
        if state.player_id is None and m.enter_reducer is not None:
            await self._call(m.enter_reducer)
            state = self._state()
        if state.alive and m.kill_reducer is not None:
            await self._call(m.kill_reducer)
            state = self._state()
        for _ in range(RESPAWN_ATTEMPTS):
            # a fresh circle can be eaten by a bigger player before we look: try again
            if state.alive or m.respawn_reducer is None:
                break
            await self._call(m.respawn_reducer)
            state = self._state()
        if not state.alive and state.player_id is not None and m.respawn_reducer is not None:
            # spawn-killed every time (a crowded world): start dead; the first step ends the episode
            log.warning("agent %r was eaten right after each of %d respawns", self.name, RESPAWN_ATTEMPTS)
        elif not state.alive:
            raise EngineError(
                f"agent {self.name!r} owns nothing in table {m.observation.owned_table!r} after reset (player id "
                f"{state.player_id!r}, owned rows {sorted(state.owned_ids)}, "
                f"{self.client.cache.count(m.observation.entity_table)} {m.observation.entity_table!r} rows cached); "
                "check the mapping's enter/respawn reducers and that the subscriptions include the owned and "
                "entity tables"
            )
        self.state = state
        self._last_call = None
        self.steps = 0
        return observe(self.client.cache, m.observation, state), self._info(state, [], 0.0)

    def _action_call(self, action: Any) -> ReducerCall:
        actions = self.mapping.actions
        if isinstance(actions, DiscreteActions):
            index = int(np.asarray(action).reshape(-1)[0])
            if not 0 <= index < len(actions.choices):
                raise EngineError(f"action {index} is outside Discrete({len(actions.choices)})")
            return actions.choices[index]
        return ReducerCall(actions.reducer, actions.args(action))

    async def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Send the action's reducer call (skipped when it repeats the previous one), wait for the
        step clock, and score the change. Returns Gymnasium's 5-tuple."""
        m = self.mapping
        call = self._action_call(action)
        args = call.render(self.name)
        if (call.reducer, args) != self._last_call:
            await self.client.call_reducer(call.reducer, *args)
            self._last_call = (call.reducer, args)
        since = self.client.table_version(m.clock.table)
        started = time.perf_counter()
        await self.client.wait_for_transactions(m.clock.ticks, m.clock.table,
                                                timeout=m.clock.max_wait_ms / 1000.0, since=since)
        waited_ms = (time.perf_counter() - started) * 1000.0
        before, after = self.state, self._state()
        value, died, events = reward(m.reward, before, after)
        if not before.alive and not after.alive:
            died, events = True, ["dead"]  # started dead (spawn-killed): end the episode at once
        self.state = after
        self.steps += 1
        obs = observe(self.client.cache, m.observation, after)
        return obs, value, died, False, self._info(after, events, waited_ms)

    @staticmethod
    def _info(state: AgentState, events: list[str], waited_ms: float) -> dict[str, Any]:
        return {"mass": state.mass, "owned": state.owned, "position": [state.center[0], state.center[1]],
                "events": events, "tick_wait_ms": waited_ms}

    async def close(self) -> None:
        """Close the connection."""
        await self.client.close()


def observation_space(mapping: GameMapping) -> spaces.Box:
    """The Box the mapping's observations live in."""
    clip = mapping.observation.clip
    return spaces.Box(-clip, clip, shape=(mapping.observation.size,), dtype=np.float32)


def action_space(mapping: GameMapping) -> spaces.Space[Any]:
    """``Discrete`` for :class:`DiscreteActions`, ``Box(-1, 1)`` for :class:`ContinuousAction`."""
    actions = mapping.actions
    if isinstance(actions, DiscreteActions):
        return spaces.Discrete(len(actions.choices))
    if isinstance(actions, ContinuousAction):
        return spaces.Box(-1.0, 1.0, shape=(len(actions.fields),), dtype=np.float32)
    raise TypeError(f"unknown action spec {actions!r}")


class SpacetimeEnv(gym.Env):  # type: ignore[type-arg]
    """A synchronous Gymnasium env: one agent (one connection, one identity) in a SpacetimeDB game.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:3000``.
        database: the database name.
        mapping: how tables map to observations, actions and rewards (default: Blackholio).
        name: the agent's in-game name.
        token: a token from ``POST /v1/identity`` (None: a new anonymous identity).
        timeout: seconds for connecting and for every reducer call.
        loop: a shared :class:`LoopThread` (None: the env runs its own and closes it).
    """

    metadata = {"render_modes": []}

    def __init__(self, url: str, database: str, mapping: GameMapping | None = None, *, name: str = "agent",
                 token: str | None = None, timeout: float = 30.0, loop: LoopThread | None = None) -> None:
        from .blackholio import BLACKHOLIO

        self.mapping = mapping or BLACKHOLIO
        self.url, self.database, self.name, self.timeout = url, database, name, timeout
        self._own_loop = loop is None
        self.loop = loop or LoopThread()
        self.observation_space = observation_space(self.mapping)
        self.action_space = action_space(self.mapping)
        self._step_limit = timeout * 2 + self.mapping.clock.max_wait_ms / 1000.0 + 5
        try:
            self.agent = self.loop.run(
                SpacetimeAgent.connect(url, database, self.mapping, name, token, timeout), self._step_limit)
        except BaseException:
            if self._own_loop:
                self.loop.close()
            raise
        self._closed = False

    @property
    def client(self) -> SpacetimeClient:
        """The agent's connection."""
        return self.agent.client

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a fresh episode (the server's randomness is its own: ``seed`` seeds only the env)."""
        super().reset(seed=seed)
        return self.loop.run(self.agent.reset(), self._step_limit)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act, wait for the step clock, return ``(obs, reward, terminated, truncated, info)``."""
        return self.loop.run(self.agent.step(action), self._step_limit)

    def close(self) -> None:
        """Close the connection (and the loop when the env owns it); idempotent."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            if not self.loop.closed:
                self.loop.run(self.agent.close(), 10)
        except Exception:  # closing must never mask the test's own error
            pass
        finally:
            if self._own_loop:
                self.loop.close()


class ConcurrentVecEnv(DummyVecEnv):
    """An SB3 ``DummyVecEnv`` whose ``step`` runs every env's ``step`` concurrently in threads.

    Use it for agents sharing one server loop: their actions reach the server in the same tick, so one
    ``VecEnv.step`` takes one tick, not one per agent. Auto-reset and ``terminal_observation`` follow
    ``DummyVecEnv`` exactly.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]) -> None:  # type: ignore[type-arg]
        super().__init__(list(env_fns))
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.num_envs),
                                                           thread_name_prefix="spacetimedb-agent")

    def _step_one(self, i: int) -> Any:
        obs, rew, terminated, truncated, info = self.envs[i].step(self.actions[i])
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info: dict[str, Any] | None = None
        if done:
            info["terminal_observation"] = obs
            obs, reset_info = self.envs[i].reset()
        return obs, rew, done, info, reset_info

    def step_wait(self) -> Any:
        """Step every env at once; then fill the buffers like ``DummyVecEnv.step_wait``."""
        results = list(self._pool.map(self._step_one, range(self.num_envs)))
        for i, (obs, rew, done, info, reset_info) in enumerate(results):
            self.buf_rews[i] = rew
            self.buf_dones[i] = done
            self.buf_infos[i] = info
            if reset_info is not None:
                self.reset_infos[i] = reset_info
            self._save_obs(i, obs)
        return (self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones),
                deepcopy(self.buf_infos))

    def close(self) -> None:
        """Close every env and the thread pool."""
        try:
            super().close()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)


def concurrent_vec_env(env_fns: Sequence[Callable[[], gym.Env]]) -> ConcurrentVecEnv:  # type: ignore[type-arg]
    """A :class:`ConcurrentVecEnv` of ``env_fns`` (agents stepped concurrently)."""
    return ConcurrentVecEnv(env_fns)
