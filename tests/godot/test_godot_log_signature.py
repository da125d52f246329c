"""Log-pattern bug signatures on a real Godot game: a line the game prints during a step is seen at
that step, in every replay (the probe game logs "ERROR: inventory desync" at a chosen step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.bughunt.replay import Replayer
from pytest_rlplaytest.bughunt.signature import BugSignature

pytestmark = pytest.mark.needs_godot


def test_log_signature_hits_at_the_printing_step(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, godot_args=["--fault=log_line", "--fault_at=7"])
    venv = engine.make_replay_vec_env(2)
    replayer = Replayer(venv, BugSignature.parse("log:inventory desync at step \\d+"), venv.new_log_lines)
    still = [np.zeros(2, dtype=np.float32).tolist()] * 20
    for _ in range(3):  # every replay, in instances reused across replays, sees it at the same step
        outcomes = replayer.run(seed=11, candidates=[still, still, still[:5]])
        assert [o.reproduced for o in outcomes] == [True, True, False]
        assert [o.hit_step for o in outcomes[:2]] == [7, 7]
    assert venv.new_log_lines(0) == []  # nothing new since the last step that was read


def test_log_lines_are_per_instance(make_engine, probe_project: Path) -> None:
    engine = make_engine(probe_project, godot_args=["--fault=log_line", "--fault_at=3"])
    venv = engine.make_replay_vec_env(2)
    venv.reset()
    venv.new_log_lines(0), venv.new_log_lines(1)
    actions = np.zeros((2, 2), dtype=np.float32)
    seen: list[list[str]] = [[], []]
    for _ in range(4):
        venv.step(actions)
        for i in range(2):
            seen[i] += venv.new_log_lines(i)
    for lines in seen:  # each instance printed its own line once
        assert sum("inventory desync at step 3" in line for line in lines) == 1, lines
