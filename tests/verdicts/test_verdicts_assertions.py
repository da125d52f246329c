"""assert_success_rate, sequential runs, assert_frame_budget and assert_matches_baseline."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from verdict_helpers import build_result, counts_result

from pytest_rlplaytest.verdicts import (
    BaselineError,
    BaselineMissing,
    BaselineWarning,
    InconclusiveWarning,
    MissingMetricError,
    ToleranceError,
    VerdictFailure,
    assert_frame_budget,
    assert_matches_baseline,
    assert_success_rate,
    config,
    decide_success_rate,
    sequential_stopper,
    write_baseline,
)
from pytest_rlplaytest.verdicts.baselines import machine_id


# -- success rate -------------------------------------------------------------------------------------
def test_pass_when_the_lower_bound_clears_the_threshold() -> None:
    verdict = assert_success_rate(counts_result(78, 82), at_least=0.8)
    assert verdict.outcome == "pass"
    assert verdict.details["lower"] >= 0.8
    assert verdict.details["p_value_pass"] <= 0.05


def test_fail_when_the_data_rule_the_threshold_out() -> None:
    with pytest.raises(VerdictFailure) as info:
        assert_success_rate(counts_result(10, 20), at_least=0.8)
    text = str(info.value)
    assert "success rate 0.500 (10/20 episodes) is below the threshold 0.8" in text
    for column in ("metric", "baseline", "observed", "interval", "allowed", "verdict"):
        assert column in text
    assert "FAIL" in text
    assert "achieved power with 20 episodes" in text and "true rate is 0.7" in text


def test_inconclusive_fails_by_default_and_says_how_many_more_episodes() -> None:
    with pytest.raises(VerdictFailure) as info:
        assert_success_rate(counts_result(17, 20), at_least=0.8)
    text = str(info.value)
    assert "inconclusive" in text
    assert "more episodes" in text and "would decide with 80% power if the true rate is 0.85" in text
    assert "--rl-inconclusive" in text


def test_inconclusive_policies() -> None:
    result = counts_result(17, 20)
    with pytest.warns(InconclusiveWarning):
        verdict = assert_success_rate(result, at_least=0.8, inconclusive="pass")
    assert verdict.outcome == "inconclusive" and verdict.details["episodes_to_decide"] > 20
    with pytest.raises(pytest.skip.Exception, match="inconclusive"):
        assert_success_rate(result, at_least=0.8, inconclusive="skip")
    with pytest.raises(ValueError, match="inconclusive must be one of"):
        assert_success_rate(result, at_least=0.8, inconclusive="maybe")


def test_inconclusive_default_comes_from_the_configured_setting() -> None:
    before = config.current()
    token = config.configure(inconclusive="skip")
    try:
        with pytest.raises(pytest.skip.Exception):
            assert_success_rate(counts_result(17, 20), at_least=0.8)
    finally:
        config.restore(token)
    assert config.current() == before


def test_the_episodes_suggested_do_decide_at_the_observed_rate() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconclusiveWarning)
        verdict = assert_success_rate(counts_result(18, 20), at_least=0.8, inconclusive="pass")
    total = verdict.details["episodes_to_decide"]
    assert total == 82  # 0.9 observed vs 0.8: the planned size of the exact test
    assert assert_success_rate(counts_result(round(0.9 * total) + 2, total), at_least=0.8).outcome == "pass"


def test_invalid_requests() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        assert_success_rate(counts_result(5, 5), at_least=1.0)
    with pytest.raises(MissingMetricError, match="success"):
        assert_success_rate(build_result([None, None]), at_least=0.5)
    with pytest.raises(ValueError, match="alpha"):
        assert_success_rate(counts_result(5, 5), at_least=0.5, alpha=0.7)


def _feed(stop, outcomes):  # type: ignore[no-untyped-def]
    """Play like run_playtest: call stop with the growing list, then let it attach its decision."""
    result = build_result(outcomes)
    finished: list = []
    for episode in result.episodes:
        finished.append(episode)
        if stop(finished):
            break
    result.episodes = finished
    stop.attach(result)  # as run_playtest does for a stop rule with attach()
    return result


def test_sequential_run_passes_on_the_sprt_decision() -> None:
    result = _feed(sequential_stopper(0.8), [True] * 200)
    assert result.n_episodes < 30
    verdict = assert_success_rate(result, at_least=0.8)
    assert verdict.outcome == "pass" and verdict.details["method"] == "sprt"
    assert result.sequential_test.decision == "accept_h1"  # type: ignore[attr-defined]


def test_sequential_run_fails_with_the_hypotheses_in_the_message() -> None:
    result = _feed(sequential_stopper(0.8), [True, False, False, False] * 10)
    with pytest.raises(VerdictFailure) as info:
        assert_success_rate(result, at_least=0.8)
    text = str(info.value)
    assert "H0: rate = 0.8 vs H1: rate = 0.9" in text and "accepted H0" in text


def test_sequential_run_undecided_at_the_cap_is_inconclusive() -> None:
    outcomes = ([True] * 8 + [False] * 1) * 3  # near 0.87: inside the indifference zone
    result = _feed(sequential_stopper(0.8, cap=12), outcomes)
    assert result.n_episodes == 12
    with pytest.raises(VerdictFailure, match="the cap of 12 ran out before a decision"):
        assert_success_rate(result, at_least=0.8)


def test_sequential_run_must_assert_the_same_threshold() -> None:
    result = _feed(sequential_stopper(0.8), [True] * 50)
    with pytest.raises(ValueError, match=r"threshold 0\.8"):
        assert_success_rate(result, at_least=0.7)


def test_an_unrelated_result_is_judged_by_the_fixed_size_test() -> None:
    _feed(sequential_stopper(0.8), [True] * 50)
    assert assert_success_rate(counts_result(78, 82), at_least=0.8).details["method"] == "exact-binomial"


# -- decide_success_rate: what rl_playtest(at_least=...) calls ------------------------------------------
def test_decide_fails_a_bad_fixed_size_result_and_passes_a_good_one() -> None:
    with pytest.raises(VerdictFailure, match=r"is below the threshold 0\.8"):
        decide_success_rate(counts_result(0, 20), at_least=0.8, alpha=0.05, beta=0.2)
    assert decide_success_rate(counts_result(78, 82), at_least=0.8, alpha=0.05, beta=0.2).outcome == "pass"


def test_decide_plans_with_power_one_minus_beta() -> None:
    with pytest.raises(VerdictFailure, match="would decide with 90% power"):
        decide_success_rate(counts_result(17, 20), at_least=0.8, beta=0.1)
    with pytest.warns(InconclusiveWarning):
        assert decide_success_rate(counts_result(17, 20), at_least=0.8, inconclusive="pass").outcome == "inconclusive"


def test_decide_fails_a_sequential_run_that_never_succeeds() -> None:
    result = _feed(sequential_stopper(0.8), [False] * 200)
    assert result.n_episodes == 3
    with pytest.raises(VerdictFailure, match="accepted H0"):
        decide_success_rate(result, at_least=0.8, alpha=0.05, beta=0.2)


def test_decide_refuses_a_sequential_run_judged_with_other_rates() -> None:
    result = _feed(sequential_stopper(0.8, beta=0.2), [True] * 50)
    with pytest.raises(ValueError, match=r"beta=0\.2, but the verdict asks beta=0\.1"):
        decide_success_rate(result, at_least=0.8, beta=0.1)
    with pytest.raises(ValueError, match=r"alpha=0\.05, but the verdict asks alpha=0\.01"):
        decide_success_rate(result, at_least=0.8, alpha=0.01)
    with pytest.raises(MissingMetricError):
        decide_success_rate(build_result([None] * 4), at_least=0.8)


def test_errors_and_warnings_derive_from_the_package_roots() -> None:
    from pytest_rlplaytest.errors import RLPlaytestError, RLPlaytestWarning

    assert issubclass(VerdictFailure, RLPlaytestError) and issubclass(VerdictFailure, AssertionError)
    for cls in (BaselineError, ToleranceError, MissingMetricError):
        assert issubclass(cls, RLPlaytestError)
    assert issubclass(InconclusiveWarning, RLPlaytestWarning) and issubclass(BaselineWarning, RLPlaytestWarning)
    with pytest.raises(RLPlaytestError):
        assert_success_rate(counts_result(5, 5), at_least=1.0)


# -- frame budget -------------------------------------------------------------------------------------
def _frames(values: list[float], episodes: int = 3) -> list[list[float]]:
    return [values for _ in range(episodes)]


def test_frame_budget_pass_and_fail() -> None:
    steady = list(np.linspace(5.0, 9.0, 200))
    ok = build_result([True] * 3, frame_ms=_frames(steady))
    assert assert_frame_budget(ok, p99_ms=11.1, fps_at_least=90).passed
    spiky = steady[:-5] + [30.0] * 5
    bad = build_result([True] * 3, frame_ms=_frames(spiky))
    with pytest.raises(VerdictFailure) as info:
        assert_frame_budget(bad, p99_ms=11.1, fps_at_least=90)
    text = str(info.value)
    assert "frame_ms.p99" in text and "<= 11.1 ms" in text and "FAIL" in text
    assert "600 frames over 3 episodes" in text


def test_fps_is_1000_over_the_mean_frame_time() -> None:
    result = build_result([True], frame_ms=[[12.0] * 50])  # 83.3 fps
    with pytest.raises(VerdictFailure, match="fps"):
        assert_frame_budget(result, fps_at_least=90)
    assert assert_frame_budget(result, fps_at_least=80).passed


def test_frame_budget_without_frame_times_is_a_clear_error() -> None:
    result = build_result([True], extra_metrics={"object_count": [[3, 4]]})
    with pytest.raises(MissingMetricError, match=r"does not report 'frame_ms'.*object_count"):
        assert_frame_budget(result, p99_ms=11.1)
    with pytest.raises(ValueError, match="needs a budget"):
        assert_frame_budget(result)


# -- baselines ----------------------------------------------------------------------------------------
def _game(successes: int, n: int = 40, ret: float = 100.0, frame: float = 8.0, **kw):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(successes)
    returns = list(ret + rng.normal(0, 1, n))
    frames = [list(frame + rng.normal(0, 0.2, 50)) for _ in range(n)]
    return build_result([True] * successes + [False] * (n - successes), returns=returns, frame_ms=frames, **kw)


def test_missing_baseline_names_the_path_and_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "b" / "t.json"
    with pytest.raises(BaselineMissing) as info:
        assert_matches_baseline(_game(36), path, nodeid="tests/test_x.py::test_y", update=False)
    assert str(path) in str(info.value)
    assert "pytest tests/test_x.py::test_y --rl-update-baselines" in str(info.value)
    assert not path.exists()


def test_update_then_match_then_regress(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    written = assert_matches_baseline(_game(36), path, nodeid="t.py::test_a", update=True)
    assert written.outcome == "updated" and path.is_file()
    assert assert_matches_baseline(_game(35), path, nodeid="t.py::test_a", update=False).outcome == "pass"
    with pytest.raises(VerdictFailure) as info:
        assert_matches_baseline(_game(20, ret=80.0, frame=12.0), path, nodeid="t.py::test_a", update=False)
    text = str(info.value)
    assert "regressed" in text
    header = next(line for line in text.splitlines() if "metric" in line and "verdict" in line)
    assert [c.strip() for c in header.split("|")] == ["metric", "baseline", "observed", "interval", "allowed",
                                                        "verdict"]
    rows = {line.split("|")[0].strip(): line for line in text.splitlines() if "|" in line}
    assert "FAIL" in rows["success_rate"] and "Fisher" in rows["success_rate"]
    assert "FAIL" in rows["return.mean"] and "FAIL" in rows["frame_ms.p99"]
    assert "pytest t.py::test_a --rl-update-baselines" in text


def test_improvements_pass_and_tolerances_are_validated_before_comparing(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_baseline(path, _game(30), nodeid="t.py::test_a")
    assert assert_matches_baseline(_game(40, ret=150.0, frame=4.0), path, update=False).passed
    with pytest.raises(ToleranceError, match="'return:lots'"):
        assert_matches_baseline(_game(30), path, ["return:lots"], update=False)
    with pytest.raises(ToleranceError, match="stores frame_ms as"):
        assert_matches_baseline(_game(30), path, ["frame_ms.p75:10%"], update=False)


def test_default_tolerances_skip_metrics_the_game_does_not_report(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    plain = counts_result(30, 40, returns=[10.0] * 40)
    write_baseline(path, plain)
    verdict = assert_matches_baseline(plain, path, update=False)
    assert [r.metric for r in verdict.rows] == ["success_rate", "return.mean"]
    with pytest.raises(MissingMetricError, match="the game does not report 'frame_ms'"):
        assert_matches_baseline(plain, path, ["frame_ms.p99:10%"], update=False)
    fresh = tmp_path / "fresh.json"
    with pytest.raises(MissingMetricError, match="wrote no baseline"):
        assert_matches_baseline(plain, fresh, ["frame_ms.p99:10%"], update=True)
    assert not fresh.exists()


def test_a_game_that_stops_reporting_a_metric_fails_once_then_updates(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_baseline(path, _game(36), machine="m1")
    quiet = counts_result(36, 40, returns=list(_game(36).returns))
    with pytest.raises(VerdictFailure, match="the game no longer reports frame_ms"):
        assert_matches_baseline(quiet, path, update=False, machine="m1")
    assert assert_matches_baseline(quiet, path, update=True, machine="m1").outcome == "updated"
    assert "m1" not in json.loads(path.read_text())["machines"]  # its stale frame times are gone
    assert assert_matches_baseline(quiet, path, update=False, machine="m1").passed


def test_frame_times_are_per_machine(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_baseline(path, _game(36, frame=8.0), machine="ci-runner-a")
    write_baseline(path, _game(36, frame=20.0), machine="laptop-b")
    data = json.loads(path.read_text())
    assert set(data["machines"]) == {"ci-runner-a", "laptop-b"}
    slow = _game(36, frame=19.0)
    assert assert_matches_baseline(slow, path, update=False, machine="laptop-b").passed
    with pytest.raises(VerdictFailure, match=r"frame_ms\.p99"):
        assert_matches_baseline(slow, path, update=False, machine="ci-runner-a")
    with pytest.warns(BaselineWarning, match="no frame_ms baseline for machine new-box"):
        verdict = assert_matches_baseline(slow, path, update=False, machine="new-box")
    row = next(r for r in verdict.rows if r.metric == "frame_ms.p99")
    assert row.verdict == "not judged" and "new-box" in row.baseline
    assert any("no timing for this machine" in n for n in verdict.notes)


def test_absolute_budgets_need_no_baseline_and_apply_on_update(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    with pytest.raises(VerdictFailure, match=r"baseline written.*absolute budget"):
        assert_matches_baseline(_game(36, frame=20.0), path, ["frame_ms.p99<=16.6ms"], update=True)
    assert path.is_file()


def test_scenario_and_build_changes_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_baseline(path, _game(36, scenario={"env": "Lander", "episodes": 40},
                               engine={"engine": "godot", "game_hash": "1.0", "game_path": str(tmp_path / "dev" / "game"),
                                       "boot_seconds": 0.1}))
    game = _game(20, scenario={"env": "Lander", "episodes": 80},
                 engine={"engine": "godot", "game_hash": "1.1", "game_path": str(tmp_path / "ci" / "game"),
                         "boot_seconds": 0.2})
    with pytest.raises(VerdictFailure) as info:
        assert_matches_baseline(game, path, update=False)
    assert "episodes 40 -> 80" in str(info.value) and "game_hash: recorded '1.0', now '1.1'" in str(info.value)
    assert "boot_seconds" not in str(info.value)  # timings are not the build's identity
    assert "game_path" not in str(info.value)  # another checkout folder is the same build


def test_malformed_baseline_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{ not json")
    with pytest.raises(BaselineError, match=r"t\.json is not valid JSON.*--rl-update-baselines"):
        assert_matches_baseline(_game(30), path, nodeid="t.py::test_a", update=False)


def test_update_default_comes_from_the_configured_setting(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    token = config.configure(update_baselines=True)
    try:
        assert assert_matches_baseline(_game(30), path).outcome == "updated"
    finally:
        config.restore(token)
    assert path.is_file()
    assert machine_id() in json.loads(path.read_text())["machines"]


def test_sequential_stopper_with_the_real_run_playtest() -> None:
    gym = pytest.importorskip("gymnasium")
    vec_env = pytest.importorskip("stable_baselines3.common.vec_env")
    from pytest_rlplaytest.playtest import run_playtest

    class AlwaysLeft:
        def predict(self, obs, state=None, episode_start=None, deterministic=True):  # type: ignore[no-untyped-def]
            return np.zeros(len(obs), dtype=np.int64), None

    venv = vec_env.DummyVecEnv([lambda: gym.make("CartPole-v1")])
    venv.seed(3)
    try:
        # pushing left ends CartPole in ~10 steps: "success" (>= 50 steps) never happens
        stop = sequential_stopper(0.5, delta=0.2)
        result = run_playtest(AlwaysLeft(), venv, 100, success=lambda ep: ep.length >= 50, stop=stop)
    finally:
        venv.close()
    assert result.stopped_early == "sequential test decided" and result.n_episodes < 10
    with pytest.raises(VerdictFailure, match="accepted H0"):
        assert_success_rate(result, at_least=0.5)


def test_stored_paths_compare_equal_to_the_current_ones(tmp_path: Path) -> None:
    """A baseline keeps paths relative to itself (system binaries by name); comparing normalises the
    current run the same way, so an unchanged scenario and build are not reported as changed."""
    from pytest_rlplaytest.common.paths import PathBase

    project = tmp_path / "project"
    engine = {"engine": "godot", "game_path": str(project / "godot"),
              "godot_binary": str(tmp_path / "bin" / "godot3-server"),
              "godot_version": "3.2.3"}
    scenario = {"env": "godot:godot", "model": "../models/agent.zip", "episodes": 40}
    path = project / "baselines" / "tests" / "test_g.py" / "test_a.json"
    marker = PathBase.marker(project / "tests" / "test_g.py")
    token = config.configure(rootdir=project)
    try:
        write_baseline(path, _game(36, scenario=scenario, engine=engine), paths=marker)
        with pytest.raises(VerdictFailure) as info:
            assert_matches_baseline(_game(20, scenario=scenario, engine=engine), path, update=False, paths=marker)
    finally:
        config.restore(token)
    text = str(info.value)
    assert "regressed" in text
    assert "scenario changed" not in text and "game build differs" not in text
