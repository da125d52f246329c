"""``--rl-ray[=ADDRESS]``: parsed in its three spellings; opt-in (no ``import ray`` without it); a
scenario asking for Ray without the extra fails naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rlplaytest.distributed.cluster import INSTALL_HINT, ray_address
from pytest_rlplaytest.settings import SettingError, resolve_mapping

SCENARIO = """
import sys
import pytest

@pytest.mark.rl_scenario(env="CartPole-v1", timesteps=64, episodes=2, max_episode_steps=20,
                         algo_kwargs=dict(n_steps=32, batch_size=32, n_epochs=1))
def test_plays(rl_playtest):
    assert rl_playtest().n_episodes == 2

def test_ray_not_imported():
    assert sys.modules.get("ray") is None  # never imported (or blocked by the conftest)
"""


def test_the_address_is_local_auto_or_a_ray_client_address() -> None:
    assert [ray_address(v) for v in ("local", "AUTO", "ray://head:10001")] == ["local", "auto", "ray://head:10001"]
    for bad in ("", "head:6379", "ray://", "remote"):
        with pytest.raises(ValueError, match=r"local .* auto .* ray://HOST:PORT"):
            ray_address(bad)
    assert resolve_mapping({}, environ={"RLPLAYTEST_RAY": "auto"}).ray == "auto"
    assert resolve_mapping({}, environ={}, ini={"rl_ray": "ray://h:1"}).ray == "ray://h:1"
    assert resolve_mapping({}, environ={}).ray is None
    with pytest.raises(SettingError, match="RLPLAYTEST_RAY"):
        resolve_mapping({}, environ={"RLPLAYTEST_RAY": "yes"})


def test_the_bare_flag_means_a_local_cluster(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_setting(rl_settings):
            assert rl_settings.ray == "local" and rl_settings.sources["ray"] == "--rl-ray"
        """)
    pytester.runpytest_inprocess("--rl-ray", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_without_the_option_nothing_imports_ray(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_opt_in=SCENARIO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_scenario_asking_for_ray_without_the_extra_fails_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import sys\nsys.modules['ray'] = None  # as if Ray were not installed\n")
    pytester.makepyfile(test_opt_in=SCENARIO)
    result = pytester.runpytest_subprocess("--rl-ray=local", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert f"--rl-ray needs Ray, which is not installed: {INSTALL_HINT}" in result.stdout.str()


def test_receive_spin_auto_is_off_on_ray_nodes() -> None:
    """A game actor cannot see the other actors sharing its node's cores: auto spins nowhere there,
    an explicit --rl-recv-spin-us is kept."""
    from pytest_rlplaytest.distributed.game import node_settings
    from pytest_rlplaytest.settings import RECV_SPIN_AUTO, Settings

    base = Settings.defaults(Path.cwd())
    assert base.recv_spin_us == RECV_SPIN_AUTO
    assert node_settings(base).recv_spin_us == 0
    assert node_settings(base.replace(recv_spin_us=300)).recv_spin_us == 300
    assert node_settings(base).replace(recv_spin_us=RECV_SPIN_AUTO) == base  # nothing else changes
