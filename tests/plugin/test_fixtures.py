"""Fixture behaviour: envs closed at teardown (pass or fail), seeds stable, artifacts written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORRIDOR = (Path(__file__).parents[2] / "example_project" / "games" / "corridor.py").read_text() + (
    "\n__all__ = ['Corridor']\n")


def test_envs_closed_after_pass_and_failure(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        import conftest

        @pytest.mark.rl_scenario(env="Coin-v0", n_envs=2)
        def test_a_fails(rl_env):
            assert rl_env.num_envs == 2
            assert not conftest.CLOSED
            raise AssertionError("boom")

        def test_b_after():
            # the two envs of test_a were closed although it failed
            assert len(conftest.CLOSED) == 2
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(passed=1, failed=1)


def test_engine_closed_when_playtest_raises(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        import conftest

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=2, success=lambda ep: 1 / 0)
        def test_a(rl_playtest):
            rl_playtest()

        def test_b_after():
            # evaluation reuses the scenario's env: the one env was closed, once
            assert len(conftest.CLOSED) == 1
        """
    )
    result = tiny_game.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ZeroDivisionError*"])


def test_seed_derived_from_node_id_is_stable(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0")
        def test_one(rl_scenario):
            print("SEED", rl_scenario.seed)

        @pytest.mark.rl_scenario(env="Coin-v0")
        def test_two(rl_scenario):
            print("SEED", rl_scenario.seed)
        """
    )
    first = [ln for ln in tiny_game.runpytest("-s").outlines if "SEED " in ln]
    second = [ln for ln in tiny_game.runpytest("-s").outlines if "SEED " in ln]
    other_base = [ln for ln in tiny_game.runpytest("-s", "--rl-seed=1").outlines if "SEED " in ln]
    assert len(first) == 2 and first == second
    assert first[0] != first[1]  # each test its own seed
    assert other_base != first


def test_same_seed_same_training_and_episodes(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=128, episodes=5, deterministic=False)
        def test_run(rl_playtest):
            result = rl_playtest()
            print("TABLE", result.table()[["seed", "return"]].to_json())
        """
    )
    runs = [[ln for ln in tiny_game.runpytest("-s").outlines if "TABLE " in ln] for _ in range(2)]
    assert runs[0] and runs[0] == runs[1]


def test_artifacts_written(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=4)
        def test_art(rl_playtest):
            rl_playtest()
        """
    )
    tiny_game.runpytest("--rl-artifacts=out").assert_outcomes(passed=1)
    folder = tiny_game.path / "out" / "test_artifacts_written.py__test_art"
    assert (folder / "model.zip").is_file()
    assert (folder / "tensorboard").is_dir() and any((folder / "tensorboard").rglob("events.out.tfevents.*"))
    lines = (folder / "episodes.csv").read_text().splitlines()
    assert lines[0].startswith("episode,env,seed,success,return,length,outcome")
    assert "frame_ms_mean" in lines[0] and "hits_max" in lines[0]
    assert len(lines) == 5
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["summary"]["episodes"] == 4
    assert summary["summary"]["metrics"]["frame_ms"]["max"] == 4.0
    assert summary["scenario"]["env"] == "Coin-v0"
    assert (tiny_game.path / "out" / "report.md").read_text().count("test_art") >= 1


def test_plots_and_tensorboard_eval_scalars(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from plots_games import Corridor

        @pytest.mark.rl_scenario(env=Corridor, timesteps=1024, episodes=6)
        def test_plots(rl_playtest):
            rl_playtest()
        """
    )
    # a package name of its own: the example project's ``games`` may be imported in this process
    pytester.mkpydir("plots_games").joinpath("__init__.py").write_text(CORRIDOR)
    result = pytester.runpytest("--rl-artifacts=out", "--junitxml=r.xml")
    result.assert_outcomes(passed=1)
    folder = pytester.path / "out" / "test_plots_and_tensorboard_eval_scalars.py__test_plots"
    for name in ("learning_curve.png", "heatmap.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    rows = (folder / "training_episodes.csv").read_text().splitlines()
    assert rows[0] == "timestep,return,length" and len(rows) > 20
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tensorboard" / "eval1"))
    events.Reload()
    assert {"eval/success_rate", "eval/mean_return", "eval/mean_length"} <= set(events.Tags()["scalars"])
    assert events.Scalars("eval/episodes")[0].value == 6
    assert events.Scalars("eval/episodes")[0].step == 1024
    xml = (pytester.path / "r.xml").read_text()
    for prop in ("rl_learning_curve_png", "rl_heatmap_png", "rl_tensorboard", "rl_model"):
        assert f'name="{prop}"' in xml, prop
    report = (pytester.path / "out" / "report.md").read_text()
    assert "[learning curve](" in report and "[visited cells](" in report
    assert json.loads((folder / "visits.json").read_text())["schema_version"] == 1
    # a later run draws its visits against the first run's counts
    pytester.runpytest("--rl-artifacts=again", "--rl-visits-baseline=out", "--rl-timesteps=64").assert_outcomes(passed=1)
    again = pytester.path / "again" / folder.name
    assert (again / "heatmap-diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
