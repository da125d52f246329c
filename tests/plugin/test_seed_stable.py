"""A test's derived seed does not depend on the rootdir or the folders above its file."""

from __future__ import annotations

import pytest

from pytest_rlplaytest.scenario import derive_seed, seed_key


def test_seed_key_drops_the_folders() -> None:
    assert seed_key("example_project/tests/test_a.py::test_b[x/y]") == "test_a.py::test_b[x/y]"
    assert seed_key("tests/test_a.py::Cls::test_b") == "test_a.py::Cls::test_b"
    assert derive_seed(0, seed_key("a/test_a.py::t")) == derive_seed(0, seed_key("b/c/test_a.py::t"))
    assert derive_seed(0, seed_key("a/test_a.py::t")) != derive_seed(1, seed_key("a/test_a.py::t"))


def test_same_seed_from_either_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    sub = pytester.mkpydir("game")
    (sub / "test_seeded.py").write_text(
        "import pytest\n"
        "@pytest.mark.rl_scenario(env='CartPole-v1')\n"
        "def test_s(rl_scenario):\n"
        "    print('SEED=%d' % rl_scenario.seed)\n"
    )
    from_root = pytester.runpytest("game/test_seeded.py", "-s", "--rootdir", str(pytester.path))
    from_game = pytester.runpytest("game/test_seeded.py", "-s", "--rootdir", str(sub))
    seeds = [next(ln for ln in r.outlines if "SEED=" in ln).split("SEED=")[1][:10] for r in (from_root, from_game)]
    from_root.assert_outcomes(passed=1)
    from_game.assert_outcomes(passed=1)
    # the node ids differ (game/test_seeded.py::test_s vs test_seeded.py::test_s); the seeds do not
    assert seeds[0] == seeds[1]
