"""A game build's identity compares only the keys each engine declares (defect 3 of issue 9):
timings, paths and binary locations never make a build "changed"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_rlplaytest.engines.base import Engine, identity_changes, identity_value
from pytest_rlplaytest.engines.registry import ENGINES, engine_class, identity_keys

BUNDLES = Path(__file__).resolve().parents[2] / "example_project" / "tests" / "bundles"
#: absolute paths of "this machine" and of "another checkout", made at run time (none committed)
HERE = Path(__file__).resolve().parent
ELSEWHERE = HERE.parent / "elsewhere"


def _godot(**changes: object) -> dict[str, object]:
    description: dict[str, object] = {
        "engine": "godot", "game": "../godot", "scene": "res://scenes/landing.tscn", "agents_per_instance": 16,
        "godot_version": "3.2.3.stable", "godot_binary": str(HERE / "bin" / "godot3-server"),
        "game_path": str(HERE / "a" / "godot"),
        "game_hash": "abc", "boot_seconds": 0.08,
        "addon": {"addon_version": "0.1.0", "env_seed": 7, "godot_version": "3.2.3-stable"},
    }
    description.update(changes)
    return description


def test_the_same_build_elsewhere_and_slower_is_unchanged() -> None:
    moved = _godot(godot_binary=str(ELSEWHERE / "godot"), game_path=str(ELSEWHERE / "checkout" / "godot"), game="godot",
                   boot_seconds=1.9,
                   agents_per_instance=4, addon={"addon_version": "0.1.0", "env_seed": 99})
    assert identity_changes(_godot(), moved) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"game_hash": "def"}, "game_hash: recorded 'abc', now 'def'"),
    ({"godot_version": "4.2.stable"}, "godot_version: recorded '3.2.3.stable', now '4.2.stable'"),
    ({"scene": "res://b.tscn"}, "scene: recorded 'res://scenes/landing.tscn', now 'res://b.tscn'"),
    ({"addon": {"addon_version": "0.2.0"}}, "addon.addon_version: recorded '0.1.0', now '0.2.0'"),
])
def test_a_changed_build_is_named(change: dict[str, object], expected: str) -> None:
    assert identity_changes(_godot(), _godot(**change)) == [expected]


def test_the_committed_bundles_match_a_fresh_description_of_their_build() -> None:
    """Every replay of a committed bundle used to warn: it compared boot_seconds and the binary path."""
    for bundle in sorted(BUNDLES.glob("*.json")):
        recorded = json.loads(bundle.read_text())["engine"]
        fresh = {**recorded, "boot_seconds": recorded.get("boot_seconds", 0) + 1.0,
                 "godot_binary": "/somewhere/else/godot", "game_path": "/another/checkout/godot"}
        assert identity_changes(recorded, fresh) == [], bundle.name


def test_keys_default_to_the_named_engines_declaration() -> None:
    for scheme in ENGINES:
        declared = engine_class(scheme).IDENTITY_KEYS
        assert declared[0] == "engine" and identity_keys({"engine": scheme}) == declared
        assert not any(k.endswith(("path", "binary", "seconds")) for k in declared), (scheme, declared)
    assert identity_keys({"engine": "homegrown"}) == Engine.IDENTITY_KEYS == ("engine",)
    gym = {"engine": "gym", "env": "CartPole-v1", "gymnasium": "1.0"}
    assert identity_changes(gym, {**gym, "gymnasium": "1.1"}) == ["gymnasium: recorded '1.0', now '1.1'"]
    assert identity_changes({"engine": "homegrown", "build": 1}, {"engine": "homegrown", "build": 2}) == []
    assert identity_changes({"build": 1}, {"build": 2}, keys=("build",)) == ["build: recorded 1, now 2"]


def test_a_key_missing_on_one_side_is_no_change() -> None:
    assert identity_changes(_godot(), {k: v for k, v in _godot().items() if k != "game_hash"}) == []
    assert identity_value({"a": {"b": 1}}, "a.b") == 1 and identity_value({"a": 3}, "a.b") is None
