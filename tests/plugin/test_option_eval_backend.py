"""--rl-eval-backend: evaluation on ONNX Runtime for exportable policies, torch otherwise (reason
recorded), torch when forced."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ONNX_RUN = """
    import numpy as np
    import pytest
    from pytest_rlplaytest.agents.onnx import OnnxAgent

    @pytest.mark.rl_scenario(env="Coin-v0", timesteps=256, episodes=4, n_envs=2)
    def test_onnx(rl_playtest, rl_agent, rl_env):
        first = rl_playtest()
        second = rl_playtest()
        assert first.eval_backend["backend"] == "onnx", first.eval_backend
        assert second.summary()["eval_backend"] == first.eval_backend
        onnx = rl_playtest.eval_backend(True).agent
        assert isinstance(onnx, OnnxAgent)
        # the observations the game sent, then sampled ones: ONNX acts exactly as torch does
        recorded = []
        obs = rl_env.reset()
        for _ in range(30):
            recorded.append(obs)
            torch_actions, _ = rl_agent.predict(obs, deterministic=True)
            obs, _, _, _ = rl_env.step(torch_actions)
        rng = np.random.default_rng(0)
        recorded.append(rng.uniform(-1, 1, (64, 1)).astype(np.float32))
        batch = np.concatenate(recorded)
        expected, _ = rl_agent.predict(batch, deterministic=True)
        got, _ = onnx.predict(batch)
        assert np.array_equal(np.asarray(expected), np.asarray(got))
"""


def _properties(xml: Path) -> dict[str, dict[str, str]]:
    """``{test name: {property: value}}`` of a JUnit XML report."""
    out: dict[str, dict[str, str]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        out[case.get("name", "")] = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
    return out


def test_auto_evaluates_on_onnx_with_torchs_actions(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(ONNX_RUN)
    result = tiny_game.runpytest("--junitxml=out.xml", "--rl-artifacts=art")
    result.assert_outcomes(passed=1)
    props = _properties(tiny_game.path / "out.xml")["test_onnx"]
    assert props["rl_eval_backend"] == "onnx"
    assert "exported and checked" in props["rl_eval_backend_reason"]
    assert len(list((tiny_game.path / "art" / "_onnx").glob("*.onnx"))) == 1  # exported once for two playtests


def test_unexportable_policy_falls_back_to_torch_with_reason(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=128, episodes=2, deterministic=False)
        def test_stochastic(rl_playtest):
            assert rl_playtest().eval_backend["backend"] == "torch"
        """
    )
    result = tiny_game.runpytest("--junitxml=out.xml", "--rl-artifacts=art", "-p", "no:warnings")
    result.assert_outcomes(passed=1)
    props = _properties(tiny_game.path / "out.xml")
    assert "stochastic evaluation" in props["test_stochastic"]["rl_eval_backend_reason"]
    assert not list((tiny_game.path / "art").glob("_onnx/*.onnx"))


def test_onnx_forced_fails_an_unexportable_policy(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=128, episodes=2, deterministic=False)
        def test_stochastic(rl_playtest):
            rl_playtest()
        """
    )
    result = tiny_game.runpytest("--rl-eval-backend=onnx")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--rl-eval-backend=onnx: cannot evaluate on ONNX: stochastic evaluation*"])


def test_torch_forced_never_exports(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=256, episodes=2)
        def test_torch(rl_playtest, rl_agent):
            result = rl_playtest()
            assert result.eval_backend == {"backend": "torch", "reason": "--rl-eval-backend=torch"}
            assert rl_playtest.eval_backend(True).agent is rl_agent
        """
    )
    result = tiny_game.runpytest("--rl-eval-backend=torch", "--rl-artifacts=art")
    result.assert_outcomes(passed=1)
    assert not (tiny_game.path / "art" / "_onnx").exists()


def test_bad_value_names_the_choices(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile("def test_nothing():\n    pass\n")
    result = tiny_game.runpytest("--rl-eval-backend=tensorrt")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--rl-eval-backend*must be one of auto, onnx, torch*"])
