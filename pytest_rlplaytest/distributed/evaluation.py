"""Evaluation fan-out: episodes split into shards by their per-episode seeds, merged in seed order.

Episode ``j`` of a sharded playtest has the seed ``derive_seed(seed, "episode", j)`` and is played
alone, from a reset with that seed, in a one-agent game instance (the replay contract of
``Engine.make_replay_vec_env``), so it depends on its seed only, not on which shard played it or
when. Shard ``k`` of ``K`` plays the episodes ``j = k, k + K, ...``, one call per episode, at most
two calls queued per shard. The driver puts the records back in seed order (episode ``j`` becomes
``Episode.index == j``, ``env_index == 0``) and reads them in that order only: the ``stop`` rule
(a sequential test) sees episode ``j`` only after every episode before it, so early stopping is
unbiased whatever finished first; episodes past the stopping point are dropped. The same seeds
therefore give the same :class:`~pytest_rlplaytest.playtest.PlaytestResult` with 1 shard and with
K (timings apart: ``eval_seconds`` and per-step wall-clock metrics such as Godot's ``frame_ms``).

Success is judged on the driver (the rule may be any callable); the agent travels once per shard:
an SB3 model as its saved ``.zip`` bytes, an ONNX agent as its file, anything else pickled.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..playtest import Episode, PlaytestResult, SuccessRule, finish_playtest, judge_success
from ..scenario import derive_seed

if TYPE_CHECKING:
    from .game import GameShipment

#: queued ``play`` calls per shard (one playing, one waiting: no idle gap, little overshoot)
QUEUE_DEPTH = 2
#: per-episode step cap on a shard (``run_playtest``'s 10,000 steps per episode)
STEPS_PER_EPISODE = 10_000


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """The seed of every episode of a sharded playtest, in seed order."""
    return [derive_seed(seed, "episode", j) for j in range(episodes)]


def shard_of(episodes: int, shards: int) -> list[list[int]]:
    """Which episode indices each shard plays: round robin, so the seed-order prefix fills evenly."""
    return [list(range(k, episodes, shards)) for k in range(shards)]


@dataclass
class AgentPayload:
    """An agent as it travels to a shard: ``kind`` is ``sb3`` (``data``: the saved .zip bytes,
    ``algo``: its class), ``onnx`` (``data``: the .onnx bytes) or ``object`` (``data``: the agent)."""

    kind: str
    data: Any
    algo: Any = None

    def load(self, venv: Any) -> Any:
        """The agent, rebuilt on the node (SB3 models on the CPU)."""
        if self.kind == "sb3":
            return self.algo.load(io.BytesIO(self.data), device="cpu")
        if self.kind == "onnx":
            import tempfile
            from pathlib import Path

            from ..agents.onnx import OnnxAgent

            folder = Path(tempfile.mkdtemp(prefix="rlplaytest-ray-agent-"))
            path = folder / "agent.onnx"
            path.write_bytes(self.data)
            return OnnxAgent(path, venv.action_space, venv.observation_space)
        return self.data


def pack_agent(agent: Any) -> AgentPayload:
    """The payload that rebuilds ``agent`` on a node."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    if isinstance(agent, BaseAlgorithm):
        buffer = io.BytesIO()
        agent.save(buffer)
        return AgentPayload("sb3", buffer.getvalue(), type(agent))
    from ..agents.onnx import OnnxAgent

    if isinstance(agent, OnnxAgent):
        return AgentPayload("onnx", agent.path.read_bytes())
    from .game import pickle_by_value_if_local

    pickle_by_value_if_local(type(agent))
    return AgentPayload("object", agent)


class SeedOrder:
    """Collects shard records as they arrive and releases them in seed order to the ``stop`` rule."""

    def __init__(self, total: int, success: SuccessRule, stop: Callable[[Sequence[Episode]], bool] | None) -> None:
        self.total, self.success, self.stop = total, success, stop
        self.arrived: dict[int, tuple[list[Episode], str | None]] = {}
        self.episodes: list[Episode] = []
        self.stopped: str | None = None

    @property
    def done(self) -> bool:
        """Every episode is in, or the stop rule (or a step cap) ended the playtest."""
        return self.stopped is not None or len(self.episodes) == self.total

    def add(self, index: int, records: list[Episode], stopped: str | None) -> None:
        """Episode ``index``'s record (none when the step cap cut it), then release what is in order."""
        self.arrived[index] = (records, stopped)
        while not self.done and len(self.episodes) in self.arrived:
            j = len(self.episodes)
            records, stopped = self.arrived.pop(j)
            if not records:
                self.stopped = f"episode {j}: {stopped or 'no episode finished'}"
                return
            episode = records[0]
            episode.index, episode.env_index = j, 0
            episode.success = judge_success(episode, self.success)
            self.episodes.append(episode)
            if self.stop is not None and self.stop(self.episodes):
                self.stopped = "sequential test decided"


class ShardPool:
    """``count`` evaluation shards (one-agent game actors), booted once and reused by every
    :meth:`play` until :meth:`close` (a failed playtest closes them: their games may be gone)."""

    def __init__(self, shipment: GameShipment, count: int) -> None:
        from .actors import fetch, spawn

        self.shipment, self.count = shipment, count
        self.actors = spawn(shipment, "replay", [(1, shipment.seed, f"eval-shard-{k}") for k in range(count)])
        try:
            fetch([actor.boot.remote() for actor in self.actors], "booting the evaluation shards")
        except BaseException:
            self.close()
            raise

    def play(self, agent: Any, episodes: int, *, success: SuccessRule = None, deterministic: bool = True,
             seed: int, stop: Callable[[Sequence[Episode]], bool] | None = None,
             record_actions: bool = False) -> PlaytestResult:
        """Play ``episodes`` evaluation episodes of ``agent`` on the shards (module docstring).

        Raises:
            EngineError: a game crashed or hung (not retried; its output tail in the message), or a
                node runs another build (:class:`~.game.BuildMismatch`).
            ClusterError: an actor was lost more often than Ray retries.
        """
        import ray

        from .actors import fetch

        start = time.perf_counter()
        seeds = episode_seeds(seed, episodes)
        actors = self.actors[:max(1, min(self.count, episodes))]
        merger = SeedOrder(episodes, success, stop)
        inflight: dict[Any, tuple[int, int]] = {}
        try:
            payload = [ray.put(pack_agent(agent))]  # in a list: the shards get the reference, load it once
            key = payload[0].hex()
            queues = shard_of(episodes, len(actors))

            def submit(k: int) -> None:
                if queues[k]:
                    j = queues[k].pop(0)
                    ref = actors[k].play.remote(payload, key, seeds[j], deterministic, record_actions,
                                                STEPS_PER_EPISODE)
                    inflight[ref] = (k, j)

            for k in range(len(actors)):
                for _ in range(QUEUE_DEPTH):
                    submit(k)
            while inflight and not merger.done:
                ready, _ = ray.wait(list(inflight), num_returns=1)
                k, j = inflight.pop(ready[0])
                records, stopped = fetch(ready[0], f"evaluation episode {j} (seed {seeds[j]}) on shard {k}")
                merger.add(j, records, stopped)
                submit(k)
            if inflight:  # episodes past the stopping point: let the shards finish them before reuse
                ray.wait(list(inflight), num_returns=len(inflight))
        except BaseException:
            self.close()
            raise
        return finish_playtest(merger.episodes, seed=seed, eval_seconds=time.perf_counter() - start,
                               stopped_early=merger.stopped, stop=stop)

    def close(self) -> None:
        """Kill the shards (their games close with them). Idempotent."""
        from .cluster import kill_actor

        actors, self.actors = self.actors, []
        for actor in actors:
            kill_actor(actor, graceful_seconds=2.0)


def play_sharded(
    shipment: GameShipment, agent: Any, episodes: int, *, shards: int, success: SuccessRule = None,
    deterministic: bool = True, seed: int, stop: Callable[[Sequence[Episode]], bool] | None = None,
    record_actions: bool = False,
) -> PlaytestResult:
    """Play ``episodes`` evaluation episodes of ``agent`` in ``shards`` game actors started for this
    playtest and killed after it (see :meth:`ShardPool.play`)."""
    pool = ShardPool(shipment, max(1, min(shards, episodes)))
    try:
        return pool.play(agent, episodes, success=success, deterministic=deterministic, seed=seed, stop=stop,
                         record_actions=record_actions)
    finally:
        pool.close()
