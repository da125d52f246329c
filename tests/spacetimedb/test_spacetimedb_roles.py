"""Several competing roles in one SpacetimeDB world (``roles=``): one policy per role, trained in the
same database and reported per role, through the server double (fake_spacetimedb_server.py)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fake_spacetimedb_server import FakeServerThread
from test_spacetimedb_env import ROOT, engine_for

from pytest_rlplaytest.engines.base import EngineError
from pytest_rlplaytest.engines.spacetimedb.blackholio import BLACKHOLIO
from pytest_rlplaytest.engines.spacetimedb.mapping import ObservationSpec
from pytest_rlplaytest.settings import Settings


def settings(url: str | None = None) -> Settings:
    return Settings.defaults(ROOT).replace(engine_timeout=10.0, spacetimedb_url=url)


def test_roles_share_one_world_with_their_own_mappings(fake_server_thread: FakeServerThread, tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "", database="blackholio", max_episode_steps=15, step_max_ms=60,
                        roles={"grower": 2, "cautious": {"agents": 1, "mapping": "blackholio_cautious"}},
                        _settings=settings(fake_server_thread.url))
    engine.start()
    try:
        assert engine.agents == 3
        venv = engine.make_vec_env()
        assert venv.num_envs == 3
        assert venv.policy_groups == {"grower": [0, 1], "cautious": [2]}  # type: ignore[attr-defined]
        assert set(venv.policy_spaces) == {"grower", "cautious"}  # type: ignore[attr-defined]
        envs = [e.unwrapped for e in venv.envs]  # type: ignore[attr-defined]
        assert [e.mapping.reward.death_penalty for e in envs] == [1.0, 1.0, 5.0]
        venv.reset()
        venv.step(np.array([1, 2, 3]))
        players = fake_server_thread.server.worlds["blackholio"].rows["player"]
        assert sorted(p["name"] for p in players.values()) == ["cautious2", "grower0", "grower1"]
        assert engine.describe()["roles"] == {"grower": {"agents": 2, "mapping": "blackholio"},
                                              "cautious": {"agents": 1, "mapping": "blackholio_cautious"}}
        with pytest.raises(EngineError, match="with roles= drop n_envs"):
            engine.make_vec_env(5)
        venv.close()
    finally:
        engine.close()


@pytest.mark.parametrize(("roles", "extra", "message"), [
    ({"solo": 2}, {}, "at least two roles"),
    ({"a": 1, "b": 1}, {"agents": 2}, "give roles= or agents=, not both"),
    ({"a": 1, "9b": 1}, {}, "must start with a letter"),
    ({"a": 1, "b": 0}, {}, "agents must be a whole number >= 1"),
    ({"a": 1, "b": {"agents": 1, "map": "x"}}, {}, "unknown keys map"),
    ({"a": 1, "b": {"mapping": "pacman"}}, {}, r"roles\['b'\]='pacman'\): unknown mapping"),
    ({"a": 1, "b": {"mapping": dataclasses.replace(BLACKHOLIO, name="wide", observation=ObservationSpec(k_nearest=2))}},
     {}, "differ in their spaces"),
])
def test_bad_roles_name_the_fix(tmp_path: Path, roles: dict, extra: dict, message: str) -> None:
    engine = engine_for(tmp_path, "", database="x", roles=roles, **extra, _settings=settings())
    with pytest.raises(EngineError, match=message):
        _ = engine.roles


def test_each_role_trains_its_own_policy_and_is_reported(pytester: pytest.Pytester,
                                                         fake_server_thread: FakeServerThread) -> None:
    pytester.makepyfile(
        """
        import pytest

        ROLES = {"grower": 1, "cautious": {"agents": 1, "mapping": "blackholio_cautious"}}

        @pytest.mark.rl_scenario(env="spacetimedb:", database="blackholio", roles=ROLES, max_episode_steps=8,
                                 step_max_ms=40, timesteps=32, episodes=2, seed=5,
                                 algo_kwargs=dict(n_steps=8, batch_size=8, n_epochs=1))
        def test_roles(rl_playtest, rl_agent, rl_artifacts):
            assert rl_agent.groups == {"grower": [0], "cautious": [1]}
            assert all(m.num_timesteps == 32 for m in rl_agent.policies.values())
            result = rl_playtest()
            assert sorted(result.policies) == ["cautious", "grower"]
            assert all(r.n_episodes >= 1 for r in result.policies.values())
            for name in ("grower", "cautious"):
                assert (rl_artifacts / "policies" / name / "model.zip").is_file()
        """
    )
    result = pytester.runpytest(f"--spacetimedb-url={fake_server_thread.url}", "-p", "no:cacheprovider",
                                "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    case = next(ET.parse(pytester.path / "out.xml").getroot().iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["rl_policy_grower_timesteps"] == "32" and props["rl_policy_cautious_timesteps"] == "32"
    assert props["rl_timesteps"] == "64"
    assert int(props["rl_policy_grower_episodes"]) >= 1 and int(props["rl_policy_cautious_episodes"]) >= 1
    assert props["rl_policy_cautious_model"].endswith("model.zip")
