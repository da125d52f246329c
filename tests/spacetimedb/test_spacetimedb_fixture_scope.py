"""The spacetimedb_instance fixture against the fake standard install: its scope follows
--spacetimedb-scope, and its clients call reducers over their own WebSocket (an HTTP call is wrapped in
the module's connect/disconnect lifecycle and undone by Blackholio's disconnect)."""

from __future__ import annotations

from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "example_project" / "spacetimedb" / "blackholio"

TESTS = f"""
def test_a(spacetimedb_instance):
    print("URL", spacetimedb_instance.url)

def test_b(spacetimedb_instance):
    print("URL", spacetimedb_instance.url)

def test_reducers_over_the_websocket(spacetimedb_instance):
    db = spacetimedb_instance.publish({str(MODULE)!r}, "game")
    with spacetimedb_instance.connect(db) as client:
        client.subscribe(["SELECT * FROM player"])
        client.call_reducer("enter_game", "ws")
        assert [p["name"] for p in client.rows("player")] == ["ws"]
        _, token = spacetimedb_instance.new_identity()
        spacetimedb_instance.api.call_reducer(db, "enter_game", ["http"], token)
        rows = spacetimedb_instance.api.sql(db, "SELECT * FROM player")[0]["rows"]
        assert [r[2] for r in rows] == ["ws"]  # the HTTP player is gone: disconnect ran after the call
"""


@pytest.mark.parametrize(("args", "distinct"), [([], 1), (["--spacetimedb-scope=function"], 2)])
def test_scope_option(pytester: pytest.Pytester, fake_cli: Path, args: list[str], distinct: int) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-s", f"--spacetime-bin={fake_cli}", *args)
    result.assert_outcomes(passed=3)
    urls = {ln.split("URL ", 1)[1].split()[0] for ln in result.outlines if "URL http" in ln}
    assert len(urls) == distinct, result.outlines


def test_bad_scope_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--spacetimedb-scope=forever")
    assert result.ret != 0
    assert "--spacetimedb-scope: invalid value 'forever'" in result.stderr.str()
