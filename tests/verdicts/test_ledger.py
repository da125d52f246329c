"""The verdict ledger: the plugin appends one line per success-rate verdict, and ``rlplaytest ledger``
flags a test that fails significantly more often than its alpha."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_rlplaytest.cli import main
from pytest_rlplaytest.common.files import append_line
from pytest_rlplaytest.verdicts.ledger import LedgerError, read_ledger, summarize

TEST = """
import pytest
from form_games import Pick


@pytest.mark.rl_scenario(env=Pick, model="good.zip", episodes=20)
def test_good(rl_playtest):
    rl_playtest(at_least=0.5, alpha=0.02)


@pytest.mark.rl_scenario(env=Pick, model="bad.zip", episodes=20)
def test_bad(rl_playtest):
    rl_playtest(sequential=True, at_least=0.5)
"""


def _write(path: Path, nodeid: str, outcomes: list[str], alpha: float = 0.05) -> None:
    for i, outcome in enumerate(outcomes):
        append_line(path, json.dumps({"nodeid": nodeid, "date": f"2026-11-{1 + i % 28:02d}", "n": 40,
                                      "successes": 10 if outcome == "fail" else 35, "threshold": 0.7,
                                      "alpha": alpha, "outcome": outcome, "seed": i, "build": {}}))


def test_a_test_failing_far_above_its_alpha_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    _write(ledger, "t.py::test_flaky", ["fail"] * 8 + ["pass"] * 32)  # 20% against alpha 0.05
    _write(ledger, "t.py::test_sound", ["fail"] * 2 + ["pass"] * 38)  # 5%: within alpha
    flaky, sound = summarize(read_ledger(ledger))
    assert (flaky.nodeid, flaky.runs, flaky.failures, flaky.flagged) == ("t.py::test_flaky", 40, 8, True)
    assert flaky.p_value < 0.01 and flaky.ci_low < 0.2 < flaky.ci_high
    assert (sound.runs, sound.failures, sound.flagged) == (40, 2, False)
    assert main(["ledger", str(ledger), "--plot", str(tmp_path / "trend.png")]) == 1
    out = capsys.readouterr().out
    flagged = [line for line in out.splitlines() if line.endswith("FLAG")]
    assert len(flagged) == 1 and flagged[0].startswith("t.py::test_flaky")
    assert "regressed" in out and "mis-sized" in out
    assert (tmp_path / "trend.png").stat().st_size > 1000
    # a laxer reading (flag only above 5 x alpha = 25%) flags neither
    assert main(["ledger", str(ledger), "--alpha-factor", "5"]) == 0


def test_malformed_lines_name_their_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    _write(ledger, "t.py::test_x", ["pass", "fail"])
    with ledger.open("a") as fh:
        fh.write("\n{not json\n")
    with pytest.raises(LedgerError, match=r"ledger.jsonl, line 4: not JSON"):
        read_ledger(ledger)
    ledger.write_text('{"nodeid": "t.py::x", "outcome": "pass"}\n')
    with pytest.raises(LedgerError, match=r"line 1: missing date, n, successes, threshold, alpha"):
        read_ledger(ledger)
    assert main(["ledger", str(ledger)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_the_plugin_appends_one_line_per_verdict(form_project: pytest.Pytester) -> None:
    form_project.makepyfile(test_form=TEST)
    form_project.runpytest("--rl-artifacts=art").assert_outcomes(passed=1, failed=1)
    form_project.runpytest("--rl-artifacts=art", "test_form.py::test_good").assert_outcomes(passed=1)
    entries = read_ledger(form_project.path / "art" / "ledger.jsonl")
    assert [(e["nodeid"], e["outcome"]) for e in entries] == [
        ("test_form.py::test_good", "pass"), ("test_form.py::test_bad", "fail"), ("test_form.py::test_good", "pass")]
    good = entries[0]
    assert (good["n"], good["successes"], good["threshold"], good["alpha"]) == (20, 20, 0.5, 0.02)
    assert good["build"]["engine"] == "gym" and good["seed"] is not None and len(good["date"]) == 10
    bad = entries[1]
    assert (bad["method"], bad["beta"], bad["successes"]) == ("sprt", 0.2, 0) and 0 < bad["n"] <= 20
    kept = form_project.path / "kept" / "history.jsonl"
    form_project.runpytest("--rl-artifacts=art", f"--rl-ledger={kept}", "-k", "bad").assert_outcomes(failed=1)
    assert [e["outcome"] for e in read_ledger(kept)] == ["fail"]


def _append_many(path: str, writer: int) -> None:
    for i in range(50):
        append_line(path, json.dumps({"writer": writer, "i": i, "pad": "x" * 2000}))


def test_concurrent_appends_keep_whole_lines(tmp_path: Path) -> None:
    """What xdist workers do: several processes append to one ledger; every line stays whole."""
    import multiprocessing

    path = tmp_path / "ledger.jsonl"
    procs = [multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((d["writer"], d["i"]) for d in lines) == [(w, i) for w in range(3) for i in range(50)]
    with pytest.raises(ValueError, match="one line"):
        append_line(path, "two\nlines")
