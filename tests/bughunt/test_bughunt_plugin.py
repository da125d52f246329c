"""Bug hunts and replays through the plugin: rl_bughunt, rl_replay, xfail(strict), the CLI."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

LEDGE = Path(__file__).with_name("ledge.py")

HUNT = """
import pytest
from ledge import Ledge

@pytest.mark.rl_scenario(env=Ledge, kind="bug_repro", bug="out_of_world", timesteps=3000, n_envs=4, seed=11)
def test_hunt(rl_bughunt):
    result = rl_bughunt(parallel=2)
    assert result.found, "the ledge bug was not found"
    assert result.shrunk_length <= 0.25 * result.original_length
    print("HUNT", result.first_hit_timestep, result.original_length, result.shrunk_length, result.shrunk)
"""


@pytest.fixture
def ledge_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(LEDGE, pytester.path / "ledge.py")
    pytester.syspathinsert()
    return pytester


def _hunt(pytester: pytest.Pytester) -> tuple[Path, pytest.RunResult]:
    pytester.makepyfile(test_hunt=HUNT)
    result = pytester.runpytest("-s", "--rl-artifacts=art", "--junitxml=hunt.xml")
    result.assert_outcomes(passed=1)
    line = next(ln for ln in result.outlines if "HUNT " in ln).split("HUNT ")[1].split()
    return Path(line[3]), result


def test_hunt_records_shrinks_and_reports(ledge_dir: pytest.Pytester) -> None:
    shrunk, _ = _hunt(ledge_dir)
    bundle = json.loads(shrunk.read_text())
    assert bundle["actions"] == [1] * 10 and bundle["hit_step"] == 10
    assert bundle["env"] == "py:ledge:Ledge" and bundle["signature"] == "event:out_of_world"
    assert bundle["original_length"] > 10 and bundle["engine"]["engine"] == "gym"
    assert bundle["scenario"]["kind"] == "bug_repro" and bundle["scenario"]["bug"] == "event:out_of_world"
    hits = sorted((shrunk.parent).glob("hit-*.json"))
    assert hits, "every bug-hitting episode is kept as a bundle"
    for path in [shrunk, *hits]:  # committed bundles hold no absolute path of the machine that made them
        assert str(ledge_dir.path) not in path.read_text()
    props = {p.get("name"): p.get("value") for p in ET.parse(ledge_dir.path / "hunt.xml").getroot().iter("property")}
    assert props["rl_bug_found"] == "True" and int(props["rl_bug_first_hit_timestep"]) > 0
    assert props["rl_bug_shrunk_length"] == "10" and props["rl_replay_bundle"] == str(shrunk)


def test_replay_marker_with_strict_xfail_tracks_a_known_bug(ledge_dir: pytest.Pytester) -> None:
    shrunk, _ = _hunt(ledge_dir)
    shutil.copy(shrunk, ledge_dir.path / "ledge-bug.json")
    ledge_dir.makepyfile(test_replay="""
        import pytest

        @pytest.mark.xfail(strict=True, reason="known bug: no guard rail on the right ledge")
        @pytest.mark.rl_replay("ledge-bug.json", times=3)
        def test_no_fall_off_the_ledge(rl_replay):
            assert not rl_replay.reproduced, rl_replay.describe()

        @pytest.mark.rl_replay("ledge-bug.json", times=20, parallel=4)
        def test_bundle_replays_every_time(rl_replay):
            assert rl_replay.reproductions == 20
    """)
    result = ledge_dir.runpytest("test_replay.py", "-rxX")
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*known bug: no guard rail on the right ledge*"])
    # "fix" the bug: the bundle now names an event the game never emits; strict xfail turns into a failure
    data = json.loads((ledge_dir.path / "ledge-bug.json").read_text())
    data["signature"] = "event:never_happens"
    (ledge_dir.path / "ledge-bug.json").write_text(json.dumps(data))
    fixed = ledge_dir.runpytest("test_replay.py", "-k", "no_fall")
    fixed.assert_outcomes(failed=1)
    fixed.stdout.fnmatch_lines(["*XPASS(strict)*known bug*"])


def test_replay_warns_when_the_build_changed(ledge_dir: pytest.Pytester) -> None:
    shrunk, _ = _hunt(ledge_dir)
    data = json.loads(shrunk.read_text())
    data["engine"]["gymnasium"] = "0.0.1"
    (ledge_dir.path / "old.json").write_text(json.dumps(data))
    ledge_dir.makepyfile(test_old="""
        import pytest

        @pytest.mark.rl_replay("old.json")
        def test_old(rl_replay):
            assert rl_replay.reproduced
            assert rl_replay.build_changes
    """)
    result = ledge_dir.runpytest("test_old.py", "-W", "always")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*BuildChangedWarning*recorded on another build; gymnasium: recorded '0.0.1', now*"])


def test_cli_replay_and_shrink(ledge_dir: pytest.Pytester, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.cli import main

    shrunk, _ = _hunt(ledge_dir)
    hit = sorted(shrunk.parent.glob("hit-*.json"))[0]
    monkeypatch.syspath_prepend(str(ledge_dir.path))
    assert main(["replay", str(shrunk), "--times", "3"]) == 0
    assert "recurred in 3 of 3 replay(s) at step 10" in capsys.readouterr().out
    out = ledge_dir.path / "cli-shrunk.json"
    assert main(["shrink", str(hit), str(out)]) == 0
    assert json.loads(out.read_text())["actions"] == [1] * 10
    data = json.loads(shrunk.read_text())
    data["actions"] = [2] * 10
    (ledge_dir.path / "waits.json").write_text(json.dumps(data))
    assert main(["replay", str(ledge_dir.path / "waits.json")]) == 1
    assert "recurred in 0 of 1" in capsys.readouterr().out
    (ledge_dir.path / "broken.json").write_text("{")
    assert main(["replay", str(ledge_dir.path / "broken.json")]) == 2


def test_bughunt_needs_a_signature(ledge_dir: pytest.Pytester) -> None:
    ledge_dir.makepyfile("""
        import pytest
        from ledge import Ledge

        @pytest.mark.rl_scenario(env=Ledge, kind="bug_repro")
        def test_no_bug(rl_bughunt):
            pass

        @pytest.mark.rl_scenario(env=Ledge, bug="log:(")
        def test_bad_bug(rl_scenario):
            pass
    """)
    result = ledge_dir.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*rl_bughunt needs rl_scenario(bug=...)*",
                                 "*rl_scenario(bug='log:('): bug is not a valid regular expression after 'log:'*"])


def test_cli_restamp_records_the_build_only_when_the_bug_recurs(ledge_dir: pytest.Pytester,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.cli import main

    shrunk, _ = _hunt(ledge_dir)
    monkeypatch.syspath_prepend(str(ledge_dir.path))
    data = json.loads(shrunk.read_text())
    data["engine"]["gymnasium"] = "0.0.1"
    old, waits = ledge_dir.path / "old.json", ledge_dir.path / "waits.json"
    old.write_text(json.dumps(data))
    waits.write_text(json.dumps({**data, "actions": [2] * 10}))
    assert main(["replay", str(waits), "--restamp"]) == 1  # the bug does not recur: nothing is written
    assert "not restamped" in capsys.readouterr().err
    assert json.loads(waits.read_text())["engine"]["gymnasium"] == "0.0.1"
    assert main(["replay", str(old), "--times", "2", "--restamp"]) == 0
    assert "restamped" in capsys.readouterr().out and "gymnasium: recorded '0.0.1'" not in old.read_text()
    restamped = json.loads(old.read_text())
    assert restamped["engine"]["gymnasium"] != "0.0.1" and restamped["actions"] == data["actions"]
    assert str(ledge_dir.path) not in old.read_text()  # still no absolute path in the bundle
    import warnings

    with warnings.catch_warnings(record=True) as record:  # the restamped bundle: no changed build
        warnings.simplefilter("always")
        assert main(["replay", str(old)]) == 0
    assert not [w for w in record if "another build" in str(w.message)]
    assert "build changed" not in capsys.readouterr().out


PREDICATES = """
def past_the_edge(info):
    return info["position"][0] >= 10


def never(info):
    return False


NOT_CALLABLE = 3
"""


def test_cli_replays_restamps_and_shrinks_predicate_bundles_with_bug(ledge_dir: pytest.Pytester,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle recorded with a predicate (code, not data) replays from the CLI with --bug FILE.py:NAME,
    is restamped only when that predicate recurs, and shrinks with it; without --bug, with a bad spec,
    or on an event bundle the command names the fix."""
    from pytest_rlplaytest.cli import main

    shrunk, _ = _hunt(ledge_dir)
    monkeypatch.syspath_prepend(str(ledge_dir.path))
    monkeypatch.chdir(ledge_dir.path)
    (ledge_dir.path / "preds.py").write_text(PREDICATES)
    data = json.loads(shrunk.read_text())
    data["signature"] = "predicate:past_the_edge"
    data["engine"]["gymnasium"] = "0.0.1"
    bundle = ledge_dir.path / "pred.json"
    bundle.write_text(json.dumps({**data, "actions": [1] * 12, "hit_step": 10}))
    assert main(["replay", str(bundle)]) == 2
    assert "--bug FILE.py:NAME" in capsys.readouterr().err
    assert main(["replay", str(bundle), "--bug", "preds.py:never"]) == 1  # never true: no repro
    for spec, message in (("preds.py", "must be FILE.py:NAME"), ("nofile.py:x", "is not a file"),
                          ("preds.py:NOT_CALLABLE", "defines no callable 'NOT_CALLABLE'")):
        assert main(["replay", str(bundle), "--bug", spec]) == 2
        assert message in capsys.readouterr().err
    assert main(["replay", str(bundle), "--times", "2", "--bug", "preds.py:past_the_edge", "--restamp"]) == 0
    assert "restamped" in capsys.readouterr().out
    assert json.loads(bundle.read_text())["engine"]["gymnasium"] != "0.0.1"
    out = ledge_dir.path / "pred-shrunk.json"
    assert main(["shrink", str(bundle), str(out), "--bug", "preds.py:past_the_edge"]) == 0
    assert json.loads(out.read_text())["actions"] == [1] * 10
    assert main(["replay", str(shrunk), "--bug", "preds.py:past_the_edge"]) == 2  # an event bundle needs none
    assert "drop --bug" in capsys.readouterr().err
