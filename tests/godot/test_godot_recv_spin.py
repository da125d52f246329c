"""--rl-recv-spin-us: when a Godot receive polls before it blocks (the decision, not its timing), that
a spinning receive still reads every message and reports a closed connection, and that our addon
spins when told to (its CPU time while the driver is idle) and older addons are never told."""

from __future__ import annotations

import json
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from probe_game import older_addon

from pytest_rlplaytest.engines.godot.protocol import (
    GAME_SPIN_AUTO_US,
    RECV_SPIN_AUTO_US,
    Connection,
    GodotCrashed,
    spin_plan,
)
from pytest_rlplaytest.settings import RECV_SPIN_AUTO, SettingError, resolve_mapping

AUTO = (RECV_SPIN_AUTO_US / 1e6, GAME_SPIN_AUTO_US)
OFF = (0.0, 0)


def _sides(setting: int, **kw: object) -> tuple[float, int]:
    plan = spin_plan(setting, **kw)  # type: ignore[arg-type]
    return plan.driver_s, plan.game_us


@pytest.mark.parametrize(
    ("workers", "instances", "cpus", "expected"),
    [(1, 1, 2, AUTO), (1, 2, 2, OFF), (2, 1, 2, OFF), (2, 2, 2, OFF), (1, 3, 4, AUTO), (4, 1, 2, OFF),
     (8, 1, 16, AUTO), (8, 2, 16, OFF), (1, 1, 1, OFF)],
)
def test_auto_spins_only_with_a_core_per_spinning_process(workers: int, instances: int, cpus: int,
                                                          expected: tuple[float, int]) -> None:
    # a step's processes: each worker's games (spinning while the driver computes) + its driver
    assert _sides(RECV_SPIN_AUTO, instances=instances, workers=workers, cpus=cpus, load=0.5) == expected


@pytest.mark.parametrize(("load", "expected"), [(0.0, AUTO), (1.9, AUTO), (2.0, AUTO), (2.1, OFF), (4.7, OFF)])
def test_auto_is_off_on_a_machine_busier_than_its_cores(load: float, expected: tuple[float, int]) -> None:
    assert _sides(RECV_SPIN_AUTO, instances=1, workers=1, cpus=2, load=load) == expected


def test_off_and_explicit_values() -> None:
    assert _sides(0, instances=1, workers=1, cpus=64) == OFF
    assert _sides(250, instances=8, workers=8, cpus=2, load=9.0) == (pytest.approx(250e-6), 250)  # asked: kept


def test_the_plan_says_why() -> None:
    assert "3 processes > 2 cores" in spin_plan(RECV_SPIN_AUTO, instances=2, workers=1, cpus=2, load=0.0).why
    assert "load average 3.50 > 2 cores" in spin_plan(RECV_SPIN_AUTO, instances=1, workers=1, cpus=2, load=3.5).why
    assert spin_plan(0, instances=1).why == "--rl-recv-spin-us off"


def test_auto_reads_the_xdist_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    assert _sides(RECV_SPIN_AUTO, instances=1, cpus=4, load=0.0) == OFF
    assert _sides(RECV_SPIN_AUTO, instances=1, cpus=6, load=0.0) == AUTO
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    assert _sides(RECV_SPIN_AUTO, instances=1, cpus=2, load=0.0) == AUTO


@pytest.mark.parametrize(("raw", "value"), [("auto", RECV_SPIN_AUTO), ("off", 0), ("0", 0), ("50", 50),
                                            ("1_000", 1000)])
def test_option_values(raw: str, value: int) -> None:
    assert resolve_mapping({"recv_spin_us": raw}).recv_spin_us == value


@pytest.mark.parametrize("raw", ["-5", "fast", "200000"])
def test_bad_option_values_name_the_choices(raw: str) -> None:
    with pytest.raises(SettingError, match=r"recv_spin_us|--rl-recv-spin-us.*auto, off, or whole microseconds"):
        resolve_mapping({"recv_spin_us": raw})


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack("<I", len(body)) + body


def test_spinning_receive_reads_early_and_late_replies(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, game = pair
    conn = Connection(ours, 5.0, lambda: True, lambda m: GodotCrashed(m))
    conn.spin_s = 0.002
    game.sendall(_frame({"type": "early"}))  # there before the spin starts
    assert conn.recv("x") == {"type": "early"}
    timer = threading.Timer(0.05, lambda: game.sendall(_frame({"type": "late"})))  # after the spin: blocking read
    timer.start()
    assert conn.recv("x") == {"type": "late"}
    timer.join()
    game.close()
    with pytest.raises(GodotCrashed, match="closed the connection"):
        conn.recv("x")


@pytest.mark.needs_godot
def test_engine_sets_the_spin_of_its_instances(make_engine, probe_project: Path) -> None:
    pytest.importorskip("stable_baselines3")
    engine = make_engine(probe_project)
    venv = engine.make_vec_env()
    expected = spin_plan(RECV_SPIN_AUTO, instances=len(engine.sessions))
    assert [s.conn.spin_s for s in engine.sessions] == [expected.driver_s] * len(engine.sessions)
    venv.reset()
    _, rewards, _, _ = venv.step(np.stack([venv.action_space.sample() for _ in range(venv.num_envs)]))
    assert len(rewards) == venv.num_envs  # the spinning receive read the real game's step reply


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (``/proc/<pid>/stat`` fields 14 and 15, in clock ticks)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(engine: object, venv: object) -> float:
    """The game's CPU seconds during 0.4 s in which the driver sends nothing (after one step)."""
    import time

    venv.reset()  # type: ignore[attr-defined]
    venv.step(np.zeros((venv.num_envs, 2), dtype=np.float32))  # type: ignore[attr-defined]
    pid = engine.sessions[0].process.pid  # type: ignore[attr-defined]
    before = _cpu_seconds(pid)
    time.sleep(0.4)
    return _cpu_seconds(pid) - before


def _without_recv_spin(project: Path, dest: Path) -> Path:
    """The probe project with the addon as it was before the game-side spin: env_info does not say
    recv_spin, and the message is unknown to it (it would answer with an error message)."""
    return older_addon(project, dest, '\t\t\t"recv_spin": true,\n', '\t\telif kind == "recv_spin":\n'
                       '\t\t\tspin_usec = int(clamp(float(message.get("usec", 0)), 0.0, 100000.0))\n')


@pytest.mark.needs_godot
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the game's CPU time from /proc")
def test_the_addon_spins_when_told_and_not_otherwise(make_engine, probe_project: Path) -> None:
    """With a 100 ms spin the real game burns CPU while the driver idles after a step (it polls its
    socket); with the spin off it sleeps in its blocking read."""
    pytest.importorskip("stable_baselines3")
    spinning = make_engine(probe_project, settings_changes={"recv_spin_us": 100_000})
    venv = spinning.make_vec_env().venv
    assert spinning.spin.game_us == 100_000 and venv.sessions[0].addon_info["recv_spin"] is True
    busy = _idle_cpu(spinning, venv)
    spinning.close()
    quiet = make_engine(probe_project, settings_changes={"recv_spin_us": 0})
    idle = _idle_cpu(quiet, quiet.make_vec_env().venv)
    assert busy >= 0.04, f"the game used {busy:.3f} s of CPU in 0.4 s idle with a 100 ms spin"
    assert idle <= 0.02, f"the game used {idle:.3f} s of CPU in 0.4 s idle without a spin"


@pytest.mark.needs_godot
def test_older_addons_are_not_sent_the_spin(make_engine, probe_project: Path, tmp_path: Path) -> None:
    """An addon whose env_info does not say recv_spin gets no recv_spin message: it would answer
    "unknown message type" and the next step would read that error instead of its reply."""
    pytest.importorskip("stable_baselines3")
    engine = make_engine(_without_recv_spin(probe_project, tmp_path / "old"), settings_changes={"recv_spin_us": 500})
    venv = engine.make_vec_env().venv
    assert "recv_spin" not in venv.sessions[0].addon_info and engine.spin.game_us == 500
    venv.reset()
    for _ in range(3):
        _, rewards, _, _ = venv.step(np.zeros((venv.num_envs, 2), dtype=np.float32))
    assert rewards.shape == (venv.num_envs,)
