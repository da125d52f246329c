"""model={policy name: path}: resolved against the test file's folder, validated, described."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rlplaytest.scenario import ScenarioError, build_spec
from pytest_rlplaytest.settings import Settings


def _spec(tmp_path: Path, model: object):  # type: ignore[no-untyped-def]
    return build_spec(("CartPole-v1",), {"model": model}, nodeid="t.py::t", settings=Settings.defaults(tmp_path),
                      test_file=tmp_path / "sub" / "t.py")


def test_mapping_resolves_each_path_and_does_not_train(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"red": "agents/red.zip", "blue": "blue.onnx"})
    assert dict(spec.models) == {"red": tmp_path / "sub" / "agents" / "red.zip", "blue": tmp_path / "sub" / "blue.onnx"}
    assert spec.model is None and not spec.trains
    assert spec.describe()["model"] == {"red": "agents/red.zip", "blue": "blue.onnx"}


@pytest.mark.parametrize(("model", "message"), [
    ({}, "must not be empty"),
    ({"red": "red.txt"}, "must name a stored agent"),
    ({"red": "cache:"}, "'cache:' is for one shared policy"),
])
def test_bad_mappings_are_named(tmp_path: Path, model: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        _spec(tmp_path, model)


def test_mapping_on_a_one_policy_game_fails_naming_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rl_scenario(env="CartPole-v1", model={"red": "red.zip"})
        def test_one(rl_agent):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*maps policy names to models, but the scene's agents all train one policy; "
                                 "give model='<path>.zip' instead*"])
