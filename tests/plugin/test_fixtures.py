"""Fixture behaviour: envs closed at teardown (pass or fail), seeds stable, artifacts written."""

from __future__ import annotations

import json

import pytest


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
