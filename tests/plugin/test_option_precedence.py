"""Every option is a flag, an ini key and an environment variable: CLI > env > ini > default,
and the marker beats them all."""

from __future__ import annotations

import pytest

PROBE = """
import json
def test_probe(rl_settings):
    print("SETTINGS=" + json.dumps({k: getattr(rl_settings, k) for k in ("seed", "episodes", "device")})
          + " SOURCES=" + json.dumps(dict(rl_settings.sources)))
"""


def _values(result: pytest.RunResult) -> tuple[dict, dict]:
    import json

    line = next(ln for ln in result.outlines if "SETTINGS=" in ln)
    settings, sources = line.split("SETTINGS=", 1)[1].split(" SOURCES=")
    return json.loads(settings), json.loads(sources)


def test_defaults(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLPLAYTEST_SEED", raising=False)
    pytester.makepyfile(PROBE)
    values, sources = _values(pytester.runpytest("-s"))
    assert values == {"seed": 0, "episodes": 20, "device": "cpu"}
    assert sources["seed"] == "default"


def test_ini_beats_default(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nrl_seed = 11\nrl_device = auto\n")
    pytester.makepyfile(PROBE)
    values, sources = _values(pytester.runpytest("-s"))
    assert values["seed"] == 11 and values["device"] == "auto"
    assert sources["seed"] == "ini rl_seed"


def test_env_beats_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nrl_seed = 11\n")
    monkeypatch.setenv("RLPLAYTEST_SEED", "22")
    pytester.makepyfile(PROBE)
    values, sources = _values(pytester.runpytest("-s"))
    assert values["seed"] == 22
    assert sources["seed"] == "RLPLAYTEST_SEED"


def test_cli_beats_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nrl_seed = 11\n")
    monkeypatch.setenv("RLPLAYTEST_SEED", "22")
    pytester.makepyfile(PROBE)
    values, sources = _values(pytester.runpytest("-s", "--rl-seed=33"))
    assert values["seed"] == 33
    assert sources["seed"] == "--rl-seed"


def test_marker_beats_cli(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", seed=5, episodes=3, device="cpu")
        def test_pinned(rl_scenario):
            assert rl_scenario.seed == 5
            assert rl_scenario.episodes == 3

        @pytest.mark.rl_scenario(env="Coin-v0")
        def test_from_cli(rl_scenario):
            assert rl_scenario.episodes == 7
            assert rl_scenario.device == "auto"
        """
    )
    result = tiny_game.runpytest("--rl-seed=99", "--rl-episodes=7", "--rl-device=auto")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "env", "ini", "expected"),
    [
        (["--rl-seed=-3"], {}, "", "--rl-seed: invalid value '-3': must be a whole number >= 0"),
        (["--rl-timesteps=lots"], {}, "", "--rl-timesteps: invalid value 'lots'"),
        (["--rl-device=tpu"], {}, "", "must be one of cpu, cuda, auto"),
        ([], {"RLPLAYTEST_EPISODES": "0"}, "", "environment variable RLPLAYTEST_EPISODES='0' is invalid"),
        ([], {}, "rl_inconclusive = maybe", "ini option rl_inconclusive='maybe' is invalid"),
        ([], {"RLPLAYTEST_LONG": "perhaps"}, "", "environment variable RLPLAYTEST_LONG='perhaps' is invalid"),
    ],
)
def test_invalid_values_name_their_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], ini: str,
    expected: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret != 0
    assert expected in result.stderr.str()


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    from pytest_rlplaytest.settings import OPTIONS

    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in text, option.flag
        assert option.env in text, option.env


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.rl_scenario(env, kind='custom', algo='PPO'*",
                                 "@pytest.mark.long_training*"])
