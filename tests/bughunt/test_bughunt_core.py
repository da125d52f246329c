"""Signatures, bundles, deterministic replay and ddmin shrinking, on the Ledge game."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.bughunt.bundle import BundleError, ReplayBundle
from pytest_rlplaytest.bughunt.replay import Replayer
from pytest_rlplaytest.bughunt.shrink import shrink
from pytest_rlplaytest.bughunt.signature import BugSignature


def test_signature_forms() -> None:
    event = BugSignature.parse("out_of_world")
    assert event.hit({"events": ["landed", "out_of_world"]}) and not event.hit({"events": ["landed"]})
    assert event.hit({"events": "out_of_world"}) and not event.hit({})
    pred = BugSignature.parse(lambda info: info.get("y", 0) < -50)
    assert pred.hit({"y": -51}) and not pred.hit({"y": 0})
    log = BugSignature.parse("log:SCRIPT ERROR.*chunk_\\d+")
    assert log.uses_log and log.hit({}, ["x", "SCRIPT ERROR: in chunk_12"]) and not log.hit({}, ["SCRIPT ERROR"])
    assert BugSignature.parse(re.compile("boom")).describe() == "log:boom"
    for bad, message in (("log:(", "not a valid regular expression"), (3, "give an info event name"),
                         ("", "names no event")):
        with pytest.raises(ValueError, match=message):
            BugSignature.parse(bad)


@pytest.fixture
def replay_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    from ledge import Ledge

    from pytest_rlplaytest.engines.base import EngineContext
    from pytest_rlplaytest.engines.gym import GymEngine

    engine = GymEngine(Ledge, EngineContext(artifacts_dir=tmp_path, seed=0))
    engine.start()
    yield engine
    engine.close()


def _wandering_sequence(seed: int) -> list[int]:
    """A long, biased random walk that ends by falling off the right end."""
    rng = np.random.default_rng(seed)
    actions, x = [], 0
    while x < 10:
        a = int(rng.choice([0, 1, 2], p=[0.3, 0.45, 0.25]))
        actions.append(a)
        x = max(-10, x + {0: -1, 1: 1, 2: 0}[a])
    return actions


def test_replay_is_deterministic_and_finds_the_hit_step(replay_engine) -> None:  # type: ignore[no-untyped-def]
    actions = _wandering_sequence(3)
    replayer = Replayer(replay_engine.make_replay_vec_env(2), BugSignature.parse("out_of_world"))
    outcomes = replayer.run(seed=1234, candidates=[actions, actions, actions[:-1], [2] * 30])
    assert [o.reproduced for o in outcomes] == [True, True, False, False]
    assert outcomes[0].hit_step == outcomes[1].hit_step == len(actions)
    assert outcomes[0].events[-1] == [len(actions), "out_of_world"]
    assert outcomes[3].steps == 30 and not outcomes[3].ended_early
    assert replayer.replays == 4


def test_ddmin_shrinks_to_the_minimal_sequence(replay_engine) -> None:  # type: ignore[no-untyped-def]
    actions = _wandering_sequence(7)
    assert len(actions) > 60
    replayer = Replayer(replay_engine.make_replay_vec_env(3), BugSignature.parse("out_of_world"))
    result = shrink(replayer, seed=5, actions=actions)
    assert result.actions == [1] * 10  # 1-minimal: ten steps right, nothing else
    assert result.hit_step == 10 and result.original_length == len(actions)
    assert result.ratio <= 0.25
    assert result.replays < 600


def test_shrink_refuses_a_sequence_that_does_not_reproduce(replay_engine) -> None:  # type: ignore[no-untyped-def]
    replayer = Replayer(replay_engine.make_replay_vec_env(1), BugSignature.parse("out_of_world"))
    with pytest.raises(ValueError, match="do not reproduce the bug from their seed"):
        shrink(replayer, seed=1, actions=[0] * 20)


def test_bundle_round_trip_and_errors(tmp_path: Path) -> None:
    bundle = ReplayBundle(signature="event:out_of_world", env="py:ledge:Ledge", seed=9, actions=[1, 1, 2],
                          hit_step=3, engine={"engine": "gym", "gymnasium": "1.0"})
    path = bundle.save(tmp_path / "b.json")
    loaded = ReplayBundle.load(path)
    assert loaded.actions == [1, 1, 2] and loaded.seed == 9 and loaded.original_length == 3
    assert loaded.plugin_version and loaded.created and loaded.machine["python"]
    data = json.loads(path.read_text())
    data["schema_version"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="schema_version 0; this plugin reads 1: regenerate it"):
        ReplayBundle.load(path)
    path.write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        ReplayBundle.load(path)
    path.write_text(json.dumps({"schema_version": 1, "env": "x"}))
    with pytest.raises(BundleError, match="lacks signature, seed, actions, hit_step"):
        ReplayBundle.load(path)
    with pytest.raises(BundleError, match="does not exist"):
        ReplayBundle.load(tmp_path / "nope.json")
