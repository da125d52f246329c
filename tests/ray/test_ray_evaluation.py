"""Evaluation fan-out on the local cluster: shards by per-episode seed, merged in seed order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ray_games import KillOnce, PoleHeuristic

from pytest_rlplaytest.distributed.evaluation import SeedOrder, episode_seeds, play_sharded, shard_of
from pytest_rlplaytest.playtest import Episode, PlaytestResult


def _episode(seed: int, ret: float) -> Episode:
    return Episode(index=-1, env_index=3, seed=seed, total_return=ret, length=1, outcome="terminated",
                   final_info={})


def _records(result: PlaytestResult) -> list[tuple[Any, ...]]:
    return [(e.index, e.env_index, e.seed, e.total_return, e.length, e.outcome, e.success, e.metrics, e.events)
            for e in result.episodes]


def test_seed_order_releases_episodes_in_seed_order_whatever_finished_first() -> None:
    seen: list[list[int]] = []

    def stop(episodes: Any) -> bool:
        seen.append([e.index for e in episodes])
        return len(episodes) == 3

    merger = SeedOrder(5, lambda e: e.total_return > 0, stop)
    for j in (2, 4, 1):  # finished before episode 0
        merger.add(j, [_episode(100 + j, j)], None)
        assert merger.episodes == [] and seen == []
    merger.add(0, [_episode(100, 0.0)], None)
    assert [e.index for e in merger.episodes] == [0, 1, 2]
    assert seen == [[0], [0, 1], [0, 1, 2]]  # the rule read them in seed order, one at a time
    assert merger.stopped == "sequential test decided" and merger.done
    assert [e.success for e in merger.episodes] == [False, True, True] and {e.env_index for e in merger.episodes} == {0}


def test_a_step_cap_stops_the_merge_at_that_episode() -> None:
    merger = SeedOrder(3, None, None)
    merger.add(1, [], "step cap of 10000 reached")
    merger.add(0, [_episode(1, 1.0)], None)
    assert [e.index for e in merger.episodes] == [0] and merger.stopped == "episode 1: step cap of 10000 reached"


def test_shards_take_the_episodes_round_robin() -> None:
    assert shard_of(5, 2) == [[0, 2, 4], [1, 3]]
    assert episode_seeds(3, 4) == episode_seeds(3, 6)[:4] and len(set(episode_seeds(3, 50))) == 50


def test_one_shard_and_two_shards_give_the_same_playtest_result(ray_engine: Any) -> None:
    from stable_baselines3 import PPO

    engine = ray_engine("gym", "CartPole-v1", max_episode_steps=60)
    shipment = engine.shipment()
    agent = PPO("MlpPolicy", engine.inner.make_vec_env(1), seed=5, device="cpu")  # untrained, seeded
    one = play_sharded(shipment, agent, 6, shards=1, seed=11, success=lambda e: e.total_return >= 20,
                       deterministic=False)
    two = play_sharded(shipment, agent, 6, shards=2, seed=11, success=lambda e: e.total_return >= 20,
                       deterministic=False)
    assert _records(one) == _records(two)
    assert one.table().equals(two.table()) and one.summary()["success_rate"] == two.summary()["success_rate"]
    assert [e.seed for e in one.episodes] == episode_seeds(11, 6) and [e.index for e in one.episodes] == list(range(6))
    assert len({e.total_return for e in one.episodes}) > 1  # the seeds really differ (a real check)


def test_a_sequential_test_stops_at_the_same_episode_with_one_or_two_shards(ray_engine: Any) -> None:
    from pytest_rlplaytest.verdicts import sequential_stopper

    engine = ray_engine("gym", "CartPole-v1", max_episode_steps=100)
    many, one = (play_sharded(engine.shipment(), PoleHeuristic(), 40, shards=shards, seed=4,
                              success=lambda e: e.total_return >= 100, stop=sequential_stopper(0.5, cap=40))
                 for shards in (2, 1))
    assert many.stopped_early == one.stopped_early == "sequential test decided"
    assert _records(many) == _records(one) and many.n_episodes < 40
    assert many.sequential_test.decision == one.sequential_test.decision


def test_a_killed_ray_worker_is_retried_and_the_result_is_unchanged(ray_engine: Any, tmp_path: Path) -> None:
    seeds = episode_seeds(9, 6)
    marker = tmp_path / "killed"
    engine = ray_engine("gym", KillOnce, env_kwargs={"marker": str(marker), "kill_seed": seeds[3]})
    killed = play_sharded(engine.shipment(), PoleHeuristic(), 6, shards=2, seed=9)
    assert marker.is_file(), "the worker did not kill itself: the test tested nothing"
    untouched = play_sharded(engine.shipment(), PoleHeuristic(), 6, shards=2, seed=9)  # the marker exists now
    assert _records(killed) == _records(untouched) and killed.n_episodes == 6
    from pytest_rlplaytest.distributed.cluster import live_actor_count

    assert live_actor_count() == 0


@pytest.mark.parametrize("episodes", [1])
def test_more_shards_than_episodes_play_each_episode_once(ray_engine: Any, episodes: int) -> None:
    engine = ray_engine("gym", "CartPole-v1", max_episode_steps=30)
    result = play_sharded(engine.shipment(), PoleHeuristic(), episodes, shards=3, seed=1)
    assert [e.seed for e in result.episodes] == episode_seeds(1, episodes)
