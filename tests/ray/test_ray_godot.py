"""Godot games on the local Ray cluster: shards, replays, a killed or hanging game, build identity."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from ray_games import TowardsTarget

from pytest_rlplaytest.distributed.evaluation import play_sharded

pytestmark = pytest.mark.needs_godot


def _records(result: Any) -> list[tuple[Any, ...]]:
    return [(e.index, e.seed, round(e.total_return, 5), e.length, e.outcome, e.events) for e in result.episodes]


def _ray_games(marker: str = "rlplaytest-ray") -> list[int]:
    """Live godot processes started from a Ray node's game cache."""
    found = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "godot" in cmdline and marker in cmdline and state != "Z":
            found.append(int(pid_dir.name))
    return found


def test_godot_shards_agree_and_run_the_packed_game(ray_engine: Any, godot_probe: Path) -> None:
    engine = ray_engine("godot", str(godot_probe), seed=5, env_kwargs={"episode_steps": 40})
    shipment = engine.shipment()
    assert shipment.package is not None and shipment.identity["game_hash"]
    one = play_sharded(shipment, TowardsTarget(), 4, shards=1, seed=2, success="target_reached")
    two = play_sharded(shipment, TowardsTarget(), 4, shards=2, seed=2, success="target_reached")
    assert _records(one) == _records(two) and one.successes == two.successes > 0
    assert len({e.total_return for e in one.episodes}) == 4


def test_replays_and_shrinking_fan_out_with_log_signatures(ray_engine: Any, godot_probe: Path) -> None:
    from pytest_rlplaytest.bughunt.replay import Replayer
    from pytest_rlplaytest.bughunt.shrink import shrink
    from pytest_rlplaytest.bughunt.signature import BugSignature

    engine = ray_engine("godot", str(godot_probe), seed=5, godot_args=["--fault=log_line", "--fault_at=4"],
                        env_kwargs={"episode_steps": 40})
    venv = engine.make_replay_vec_env(2)
    replayer = Replayer(venv, BugSignature.parse("log:inventory desync"), venv.new_log_lines)
    outcomes = replayer.run(77, [[[0.5, 0.5]] * 8, [[0.0, 0.0]] * 3])
    assert [(o.reproduced, o.hit_step) for o in outcomes if o] == [(True, 4), (False, None)]
    shrunk = shrink(replayer, 77, [[0.5, 0.5]] * 12, max_replays=60)
    assert len(shrunk.actions) == 4 and shrunk.hit_step == 4


def test_a_killed_game_fails_with_its_signal_and_is_not_retried(ray_engine: Any, godot_probe: Path) -> None:
    engine = ray_engine("godot", str(godot_probe), seed=6, env_kwargs={"episode_steps": 400})
    before = set(_ray_games())
    errors: list[BaseException] = []

    def play() -> None:
        try:
            play_sharded(engine.shipment(), TowardsTarget(), 200, shards=1, seed=3)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=play)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (set(_ray_games()) - before):
        time.sleep(0.1)
    games = set(_ray_games()) - before
    assert games, "no game started on the Ray node"
    time.sleep(1.0)  # playing
    for pid in games:
        os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive() and errors, "the playtest went on after its game was killed"
    message = str(errors[0])
    assert "killed by SIGKILL" in message and "lines of the game's output" in message, message
    assert "Ray node" in message  # which node it ran on


def test_a_hanging_game_fails_as_on_the_driver_and_is_not_retried(ray_engine: Any, godot_probe: Path) -> None:
    from pytest_rlplaytest.engines.base import EngineError

    engine = ray_engine("godot", str(godot_probe), seed=6, timeout=2, godot_args=["--fault=hang", "--fault_at=20"])
    with pytest.raises(EngineError, match=r"sent nothing for 2 s while the driver waited for its step 20 reply "
                                          r"\(it hangs") as info:
        play_sharded(engine.shipment(), TowardsTarget(), 2, shards=1, seed=3)
    assert "Ray node" in str(info.value)


def test_a_node_with_another_build_refuses_naming_both(ray_engine: Any, ray_settings: Any, godot_probe: Path,
                                                        tmp_path: Path) -> None:
    from pytest_rlplaytest.distributed.game import BuildMismatch

    shared = tmp_path / "shared"
    shutil.copytree(godot_probe, shared / godot_probe.name)
    (shared / godot_probe.name / "probe.gd").write_text((godot_probe / "probe.gd").read_text() + "\n# edited\n")
    settings = ray_settings.replace(rootdir=godot_probe.parent, ray_game_root=str(shared))
    engine = ray_engine("godot", str(godot_probe), settings=settings)
    assert engine.shipment().shared_path == str(shared / godot_probe.name) and engine.shipment().package is None
    with pytest.raises(BuildMismatch) as info:
        play_sharded(engine.shipment(), TowardsTarget(), 1, shards=1, seed=1)
    message = str(info.value)
    driver_hash = engine.shipment().identity["game_hash"]
    assert "game_hash" in message and "driver's build" in message and "node's build" in message
    assert driver_hash in message and message.count("'game_hash'") == 2


def test_no_godot_process_or_game_actor_is_left(ray_cluster: Any) -> None:
    from pytest_rlplaytest.distributed.cluster import live_actor_count

    deadline = time.monotonic() + 15
    while _ray_games() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ray_games() == [] and live_actor_count() == 0
