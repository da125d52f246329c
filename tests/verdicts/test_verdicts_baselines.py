"""The baseline store: layout, round trip, atomic and concurrent writes, schema errors, usage."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from verdict_helpers import build_result, counts_result

from pytest_rlplaytest.settings import Settings
from pytest_rlplaytest.verdicts import BaselineCheck, BaselineError, BaselineUsage
from pytest_rlplaytest.verdicts import baselines as bl


def _game(successes: int = 30, n: int = 40, frame: float = 8.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(successes)
    return build_result(
        [True] * successes + [False] * (n - successes), returns=list(100 + rng.normal(0, 1, n)),
        frame_ms=[list(frame + rng.normal(0, 0.2, 20)) for _ in range(n)],
        extra_metrics={"object_count": [[100, 120]] * n},
        scenario={"env": "LunarLander-v3", "algo": "PPO", "timesteps": 1000, "episodes": n, "seed": 7},
        engine={"engine": "godot", "build": "abc123"},
    )


def test_layout_mirrors_the_test_file(tmp_path: Path) -> None:
    root = tmp_path
    path = bl.baseline_path(root / "baselines", root, root / "tests" / "test_game.py",
                            "tests/test_game.py::TestLander::test_lands")
    # the names are the package's one node-id-to-file-name rule
    assert path == root / "baselines" / "tests" / "test_game.py" / "TestLander__test_lands.json"
    odd = bl.baseline_path(root / "baselines", root, root / "tests" / "test_game.py",
                           "tests/test_game.py::test_lands[a/b]")
    assert odd.parent == path.parent and odd.name.startswith("test_lands_a.b-") and odd.suffix == ".json"
    other = bl.baseline_path(root / "baselines", root, root / "tests" / "test_game.py",
                             "tests/test_game.py::test_lands[a.b]")
    assert other != odd  # lossy naming adds a hash, so these do not collide
    long = bl.baseline_path(root / "baselines", root, root / "t.py", "t.py::test_" + "x" * 500)
    assert len(long.name) <= 125


def test_committed_baselines_keep_their_names() -> None:
    """Every committed baseline is where baseline_path puts the test that wrote it, whether the
    example project runs on its own (its pytest.ini) or from the repository root."""
    repo = Path(__file__).parents[2]
    committed = bl.list_baselines(repo / "baselines")
    assert committed
    for path in committed:
        base = bl.load_baseline(path)
        assert base is not None and base.nodeid
        project = repo / "example_project"
        test_file = project / base.nodeid.split("::", 1)[0]
        assert bl.baseline_path(repo / "baselines" / "example_project", project, test_file, base.nodeid) == path
        assert bl.baseline_path(repo / "baselines", repo, test_file, f"example_project/{base.nodeid}") == path


def test_baselines_are_written_with_ordinary_permissions(tmp_path: Path) -> None:
    path = bl.write_baseline(tmp_path / "b.json", _game())
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_paths_are_stored_relative_to_the_baseline_file(tmp_path: Path) -> None:
    from pytest_rlplaytest.common.paths import PathBase

    game = tmp_path / "project" / "godot"
    result = _game()
    result.engine = {"engine": "godot", "game_path": str(game), "godot_binary": str(tmp_path / "bin" / "godot")}
    result.scenario = {"env": "godot:godot", "model": "../models/agent.zip"}  # as written in the marker
    tests = PathBase.marker(tmp_path / "project" / "tests" / "test_g.py")
    path = bl.write_baseline(tmp_path / "project" / "baselines" / "tests" / "test_g.py" / "test_a.json", result,
                             paths=tests)
    text = path.read_text()
    assert str(tmp_path) not in text  # no absolute path of this machine
    data = json.loads(text)
    assert data["engine"]["game_path"] == "../../../godot"
    assert data["engine"]["godot_binary"] == "../../../../bin/godot"
    assert data["scenario"]["model"] == "../../../models/agent.zip"
    base = bl.load_baseline(path)
    assert base is not None
    assert base.engine["game_path"] == str(game)
    assert base.scenario["model"] == str(tmp_path / "project" / "models" / "agent.zip")
    # the whole project moved: the paths follow it
    moved = tmp_path / "elsewhere"
    (tmp_path / "project").rename(moved)
    base = bl.load_baseline(moved / "baselines" / "tests" / "test_g.py" / "test_a.json")
    assert base is not None and base.engine["game_path"] == str(moved / "godot")


def test_paths_outside_the_project_are_stored_by_name(tmp_path: Path) -> None:
    from pytest_rlplaytest.verdicts import config

    result = _game()
    result.engine = {"engine": "godot", "game_path": str(tmp_path / "project" / "game"),
                     "godot_binary": "/usr/bin/godot3-server"}
    result.scenario = {"model": str(tmp_path / "project" / "agent.zip")}
    token = config.configure(rootdir=tmp_path / "project")
    try:
        path = bl.write_baseline(tmp_path / "project" / "baselines" / "t.json", result)
    finally:
        config.restore(token)
    data = json.loads(path.read_text())
    assert data["engine"]["godot_binary"] == "godot3-server"  # a system binary: where it lives is not the build
    assert data["engine"]["game_path"] == "../game" and data["scenario"]["model"] == "../agent.zip"
    base = bl.load_baseline(path)
    assert base is not None and base.engine["godot_binary"] == "godot3-server"
    same_folder = bl.write_baseline(tmp_path / "b.json", build_result([True], engine={"game_path": str(tmp_path)}))
    assert json.loads(same_folder.read_text())["engine"]["game_path"] == "./"


def test_committed_baselines_hold_no_absolute_paths() -> None:
    repo = Path(__file__).parents[2]
    for path in bl.list_baselines(repo / "baselines"):
        data = json.loads(path.read_text())
        for section in ("scenario", "engine"):
            for key in bl.PATH_KEYS:
                value = (data.get(section) or {}).get(key)
                assert value is None or not os.path.isabs(value), (path, section, key, value)


def test_round_trip_records_everything(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    bl.write_baseline(path, _game(), nodeid="tests/test_game.py::test_lands", machine="m1")
    base = bl.load_baseline(path)
    assert base is not None
    data = base.data
    assert data["schema_version"] == bl.SCHEMA_VERSION
    assert data["plugin_version"] and data["nodeid"] == "tests/test_game.py::test_lands"
    assert data["scenario"]["env"] == "LunarLander-v3" and data["scenario"]["seed"] == 7
    assert data["engine"]["build"] == "abc123"
    assert base.success_counts == (30, 40)
    success = data["metrics"]["success"]
    assert success["ci_method"] == "clopper-pearson-95" and success["ci_low"] < 0.75 < success["ci_high"]
    assert data["metrics"]["return"]["n"] == 40 and "ci_low" in data["metrics"]["return"]
    # object_count is machine-independent; frame_ms lives under the machine
    assert "object_count" in data["metrics"]["steps"] and "frame_ms" not in data["metrics"]["steps"]
    machine = data["machines"]["m1"]
    assert set(machine["metrics"]) == {"frame_ms"}
    for stat in ("mean", "median", "p95", "p99", "max"):
        assert stat in machine["metrics"]["frame_ms"]
    info = machine["info"]
    for key in ("system", "machine", "cpu", "cpu_count", "python_version", "packages"):
        assert key in info
    assert base.metric_entry("frame_ms", "m1")["n"] == 800  # type: ignore[index]
    assert base.metric_entry("frame_ms", "m2") is None


def test_updates_keep_other_machines_and_replace_shared_metrics(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    bl.write_baseline(path, _game(30, frame=8.0), machine="m1")
    created = json.loads(path.read_text())["created"]
    bl.write_baseline(path, _game(35, frame=15.0), machine="m2")
    data = json.loads(path.read_text())
    assert set(data["machines"]) == {"m1", "m2"}
    assert data["machines"]["m1"]["metrics"]["frame_ms"]["mean"] < 9 < data["machines"]["m2"]["metrics"]["frame_ms"]["mean"]
    assert data["metrics"]["success"]["successes"] == 35
    assert data["created"] == created


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.json"
    bl.write_baseline(path, _game(30))
    before = path.read_text()
    seen: list[str] = []

    def broken_replace(src: str, dst: str) -> None:
        seen.append(src)
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        bl.write_baseline(path, _game(10))
    assert path.read_text() == before
    assert Path(seen[0]).parent == tmp_path  # the temp file is in the same folder (same filesystem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]  # no temp file left behind


def _write_many(path: str, machine: str, rounds: int) -> None:
    for i in range(rounds):
        bl.write_baseline(Path(path), _game(20 + i), machine=machine)


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_concurrent_updates_from_several_processes_merge(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "b.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(path), f"m{i}", 4)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    data = json.loads(path.read_text())  # never torn
    assert set(data["machines"]) == {"m0", "m1", "m2", "m3"}  # no update lost
    assert [p.name for p in path.parent.iterdir()] == ["b.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{ nope", "is not valid JSON"),
        ("[1, 2]", "is not a pytest-rlplaytest baseline"),
        (json.dumps({"metrics": {}}), "no schema_version"),
        (json.dumps({"schema_version": 0, "metrics": {}}), "invalid schema_version 0"),
        (json.dumps({"schema_version": 99, "metrics": {}}), "newer than this pytest-rlplaytest reads"),
        (json.dumps({"schema_version": "1", "metrics": {}}), "invalid schema_version"),
        (json.dumps({"schema_version": 1}), "missing its metrics"),
        (json.dumps({"schema_version": 1, "metrics": {"success": {"rate": 1}}}), "malformed success"),
    ],
)
def test_bad_files_name_the_file_and_how_to_regenerate(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=message) as info:
        bl.load_baseline(path, nodeid="tests/t.py::test_x")
    text = str(info.value)
    assert str(path) in text
    assert "--rl-update-baselines" in text


def test_regenerating_replaces_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema_version": 0}))
    bl.write_baseline(path, _game())
    assert bl.load_baseline(path) is not None


def test_missing_file_loads_as_none(tmp_path: Path) -> None:
    assert bl.load_baseline(tmp_path / "nope.json") is None


def test_machine_id_is_stable_and_overridable() -> None:
    from pytest_rlplaytest.verdicts import config

    token = config.configure(machine_id=None)
    try:
        assert bl.machine_id() == bl.machine_id()
        assert bl.machine_id().startswith(bl.machine_info()["system"].lower())
    finally:
        config.restore(token)
    token = config.configure(Settings.defaults().replace(machine_id="gh runner/linux"))
    try:
        assert bl.machine_id() == "gh_runner_linux"
    finally:
        config.restore(token)


def test_is_machine_metric() -> None:
    assert bl.is_machine_metric("frame_ms") and bl.is_machine_metric("physics_us")
    assert not bl.is_machine_metric("object_count") and not bl.is_machine_metric("static_memory_mb")


def test_baseline_check_uses_the_settings(tmp_path: Path) -> None:
    settings = Settings.defaults(tmp_path).replace(update_baselines=True)
    check = BaselineCheck("tests/test_g.py::test_a", tmp_path / "tests" / "test_g.py", settings)
    assert check.path == tmp_path / "baselines" / "tests" / "test_g.py" / "test_a.json"
    assert not check.exists
    assert check.check(counts_result(8, 10)).outcome == "updated"
    assert check.exists and check.load() is not None
    compare = BaselineCheck("tests/test_g.py::test_a", tmp_path / "tests" / "test_g.py",
                            Settings.defaults(tmp_path))
    assert compare.check(counts_result(8, 10)).outcome == "pass"


def test_unused_baselines_are_listed_not_deleted(tmp_path: Path) -> None:
    root = tmp_path
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("")
    bdir = root / "baselines"
    used = bl.write_baseline(bl.baseline_path(bdir, root, root / "tests/test_a.py", "tests/test_a.py::test_used"),
                             counts_result(1, 2))
    stale = bl.write_baseline(bl.baseline_path(bdir, root, root / "tests/test_a.py", "tests/test_a.py::test_gone"),
                              counts_result(1, 2))
    orphan = bl.write_baseline(bdir / "tests" / "test_deleted.py" / "test_x.json", counts_result(1, 2))
    other = bl.write_baseline(bdir / "tests" / "test_b.py" / "test_y.json", counts_result(1, 2))
    (root / "tests" / "test_b.py").write_text("")
    assert bl.list_baselines(bdir) == sorted([used, stale, orphan, other])
    found = bl.unused_baselines(bdir, [used], rootdir=root, scope=["tests/test_a.py"])
    assert found == sorted([stale, orphan])  # test_b.py was not selected: not reported
    assert set(bl.unused_baselines(bdir, [used], rootdir=root)) == {stale, orphan, other}
    assert all(p.exists() for p in (used, stale, orphan, other))


def test_usage_tracker_collects_items_and_merges_worker_output(tmp_path: Path) -> None:
    root = tmp_path
    (root / "tests").mkdir()
    test_file = root / "tests" / "test_a.py"
    test_file.write_text("")
    bdir = root / "baselines"
    bl.write_baseline(bl.baseline_path(bdir, root, test_file, "tests/test_a.py::test_used"), counts_result(1, 2))
    stale = bl.write_baseline(bl.baseline_path(bdir, root, test_file, "tests/test_a.py::test_gone"),
                              counts_result(1, 2))
    items = [SimpleNamespace(path=test_file, nodeid="tests/test_a.py::test_used", fixturenames=["rl_baseline"]),
             SimpleNamespace(path=test_file, nodeid="tests/test_a.py::test_other", fixturenames=[])]
    worker = BaselineUsage(bdir, root)
    worker.collect(items)
    config = SimpleNamespace(workeroutput={})
    worker.export(config)
    controller = BaselineUsage(bdir, root)
    assert controller.summary_lines() == []  # nothing selected, nothing reported
    controller.merge(config.workeroutput)
    assert controller.unused() == [stale]
    lines = controller.summary_lines()
    assert "1 stored baseline(s) not used" in lines[0] and "test_gone.json" in lines[1]
