"""--rl-recv-spin-us: when a Godot receive polls before it blocks (the decision, not its timing), and
that a spinning receive still reads every message and reports a closed connection."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.engines.godot.protocol import (
    RECV_SPIN_AUTO_US,
    Connection,
    GodotCrashed,
    recv_spin_seconds,
)
from pytest_rlplaytest.settings import RECV_SPIN_AUTO, SettingError, resolve_mapping

AUTO_S = RECV_SPIN_AUTO_US / 1e6


@pytest.mark.parametrize(
    ("workers", "instances", "cpus", "expected"),
    [(1, 1, 2, AUTO_S), (1, 2, 2, AUTO_S), (2, 1, 2, AUTO_S), (2, 2, 2, 0.0), (1, 3, 2, 0.0), (4, 1, 2, 0.0),
     (8, 2, 16, AUTO_S), (1, 1, 1, AUTO_S)],
)
def test_auto_spins_only_with_a_core_per_game(workers: int, instances: int, cpus: int, expected: float) -> None:
    assert recv_spin_seconds(RECV_SPIN_AUTO, instances=instances, workers=workers, cpus=cpus, load=0.5) == expected


@pytest.mark.parametrize(("load", "expected"), [(0.0, AUTO_S), (1.9, AUTO_S), (2.0, AUTO_S), (2.1, 0.0), (4.7, 0.0)])
def test_auto_is_off_on_a_machine_busier_than_its_cores(load: float, expected: float) -> None:
    assert recv_spin_seconds(RECV_SPIN_AUTO, instances=1, workers=1, cpus=2, load=load) == expected


def test_off_and_explicit_values() -> None:
    assert recv_spin_seconds(0, instances=1, workers=1, cpus=64) == 0.0
    assert recv_spin_seconds(250, instances=8, workers=8, cpus=2, load=9.0) == pytest.approx(250e-6)  # asked: kept


def test_auto_reads_the_xdist_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    assert recv_spin_seconds(RECV_SPIN_AUTO, instances=1, cpus=2, load=0.0) == 0.0
    assert recv_spin_seconds(RECV_SPIN_AUTO, instances=1, cpus=4, load=0.0) == AUTO_S
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    assert recv_spin_seconds(RECV_SPIN_AUTO, instances=1, cpus=1, load=0.0) == AUTO_S


@pytest.mark.parametrize(("raw", "value"), [("auto", RECV_SPIN_AUTO), ("off", 0), ("0", 0), ("50", 50),
                                            ("1_000", 1000)])
def test_option_values(raw: str, value: int) -> None:
    assert resolve_mapping({"recv_spin_us": raw}).recv_spin_us == value


@pytest.mark.parametrize("raw", ["-5", "fast", "200000"])
def test_bad_option_values_name_the_choices(raw: str) -> None:
    with pytest.raises(SettingError, match=r"recv_spin_us|--rl-recv-spin-us.*auto, off, or whole microseconds"):
        resolve_mapping({"recv_spin_us": raw})


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


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
    expected = recv_spin_seconds(RECV_SPIN_AUTO, instances=len(engine.sessions))
    assert [s.conn.spin_s for s in engine.sessions] == [expected] * len(engine.sessions)
    venv.reset()
    _, rewards, _, _ = venv.step(np.stack([venv.action_space.sample() for _ in range(venv.num_envs)]))
    assert len(rewards) == venv.num_envs  # the spinning receive read the real game's step reply
