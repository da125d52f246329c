"""``rlplaytest baselines list|show|diff`` as plain functions."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest
from verdict_helpers import build_result

from pytest_rlplaytest.verdicts import baselines as bl
from pytest_rlplaytest.verdicts.cli import add_baselines_parser, run_baselines


def _game(successes: int, n: int = 40, ret: float = 100.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(successes)
    return build_result([True] * successes + [False] * (n - successes), returns=list(ret + rng.normal(0, 1, n)),
                        frame_ms=[[8.0, 9.0]] * n, scenario={"env": "CartPole-v1", "episodes": n})


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rlplaytest")
    add_baselines_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return run_baselines(_parse(argv), out), out.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    bdir = tmp_path / "baselines"
    bl.write_baseline(bl.baseline_path(bdir, tmp_path, tmp_path / "tests/test_g.py", "tests/test_g.py::test_a"),
                      _game(36), nodeid="tests/test_g.py::test_a", machine="m1")
    bl.write_baseline(bdir / "tests" / "test_g.py" / "test_b.json", _game(20), nodeid="tests/test_g.py::test_b")
    (bdir / "tests" / "test_g.py" / "broken.json").write_text("{")
    return tmp_path


def test_list(project: Path) -> None:
    code, out = _run(["baselines", "--rootdir", str(project), "list"])
    assert code == 0
    assert "tests/test_g.py::test_a" in out and "36/40" in out and "m1" in out
    assert "(unreadable)" in out and "3 baseline(s)" in out and "1 unreadable" in out
    code, out = _run(["baselines", "--rootdir", str(project), "list", "--json"])
    entries = json.loads(out)
    assert {e["path"] for e in entries} == {"baselines/tests/test_g.py/test_a.json",
                                             "baselines/tests/test_g.py/test_b.json",
                                             "baselines/tests/test_g.py/broken.json"}


def test_list_empty(tmp_path: Path) -> None:
    code, out = _run(["baselines", "--rootdir", str(tmp_path), "list"])
    assert code == 0 and "no baselines" in out


def test_show_by_node_id_and_by_path(project: Path) -> None:
    code, out = _run(["baselines", "--rootdir", str(project), "show", "tests/test_g.py::test_a"])
    assert code == 0
    assert "test: tests/test_g.py::test_a" in out and "success_rate" in out and "machine m1" in out
    assert "frame_ms.p99" in out and "env=CartPole-v1" in out
    path = project / "baselines/tests/test_g.py/test_a.json"
    code, out = _run(["baselines", "show", str(path), "--json"])
    assert code == 0 and json.loads(out)["nodeid"] == "tests/test_g.py::test_a"


def test_show_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["baselines", "--rootdir", str(project), "show", "tests/test_g.py::test_nope"])
    assert code == 2 and "no baseline at" in capsys.readouterr().err
    code, _ = _run(["baselines", "show", str(project / "baselines/tests/test_g.py/broken.json")])
    assert code == 2 and "not valid JSON" in capsys.readouterr().err


def test_diff_flags_a_significant_drop(project: Path) -> None:
    a = str(project / "baselines/tests/test_g.py/test_a.json")
    b = str(project / "baselines/tests/test_g.py/test_b.json")
    code, out = _run(["baselines", "diff", a, b])
    assert code == 1
    assert "significantly lower" in out and "36/40" in out and "20/40" in out
    assert "return.mean" in out
    code, out = _run(["baselines", "diff", b, a])
    assert code == 0 and "not significantly lower" in out


def test_diff_against_a_run_summary(project: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    _game(35).to_json(summary)
    code, out = _run(["baselines", "--rootdir", str(project), "diff", "tests/test_g.py::test_a", str(summary)])
    assert code == 0
    assert "return.mean" in out and "frame_ms.p99" in out and "35/40" in out


def test_the_rlplaytest_command_dispatches_here(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_rlplaytest.cli import main

    assert main(["baselines", "--rootdir", str(project), "list"]) == 0
    assert "tests/test_g.py::test_a" in capsys.readouterr().out
