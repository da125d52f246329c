"""ONNX export agrees with SB3's greedy actions for every supported algorithm family."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(("algo", "env"), [("PPO", "CartPole-v1"), ("A2C", "Pendulum-v1"), ("DQN", "CartPole-v1"),
                                           ("SAC", "Pendulum-v1"), ("TD3", "Pendulum-v1")])
def test_export_matches_sb3(tmp_path: Path, algo: str, env: str) -> None:
    import stable_baselines3 as sb3

    from pytest_rlplaytest.agents import check_onnx_matches, export_onnx

    model = getattr(sb3, algo)("MlpPolicy", env, seed=1, device="cpu")
    out = export_onnx(model, tmp_path / "policy.onnx")
    assert check_onnx_matches(model, out, n=300, seed=2) == 1.0


def test_recurrent_policies_are_refused(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    from pytest_rlplaytest.agents import AgentError, export_onnx

    with pytest.raises(AgentError, match=r"no export in the plugin.s layout.*cannot carry a recurrent state"):
        export_onnx(RecurrentPPO("MlpLstmPolicy", "CartPole-v1", device="cpu"), tmp_path / "x.onnx")
