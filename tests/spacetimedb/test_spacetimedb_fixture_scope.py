"""The spacetimedb_instance fixture's scope follows --spacetimedb-scope (against the CLI test double)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = """
def test_a(spacetimedb_instance):
    print("URL", spacetimedb_instance.url)

def test_b(spacetimedb_instance):
    print("URL", spacetimedb_instance.url)
"""


@pytest.mark.parametrize(("args", "distinct"), [([], 1), (["--spacetimedb-scope=function"], 2)])
def test_scope_option(pytester: pytest.Pytester, fake_cli: Path, args: list[str], distinct: int) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-s", f"--spacetime-bin={fake_cli}", *args)
    result.assert_outcomes(passed=2)
    urls = {ln.split("URL ", 1)[1].split()[0] for ln in result.outlines if "URL http" in ln}
    assert len(urls) == distinct, result.outlines


def test_bad_scope_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("--spacetimedb-scope=forever")
    assert result.ret != 0
    assert "--spacetimedb-scope: invalid value 'forever'" in result.stderr.str()
