"""The package stays easy to change: no function grows past a screen.

A long function is where a second concern hides; the limit is checked on the whole package so a
merge that adds one shows up here, with the place to split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_rlplaytest

PACKAGE = Path(pytest_rlplaytest.__file__).parent
MAX_FUNCTION_LINES = 60


def _long_functions(limit: int) -> list[str]:
    """Every function of the package longer than ``limit`` lines, as ``file:line name (n lines)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_longer_than_a_screen() -> None:
    too_long = _long_functions(MAX_FUNCTION_LINES)
    assert not too_long, (f"functions longer than {MAX_FUNCTION_LINES} lines (split them):\n  "
                          + "\n  ".join(too_long))


def test_the_scan_sees_functions() -> None:
    # The scan itself: with a limit of one line every function is reported, so an empty result
    # above means short functions, not a scan that looked at nothing.
    assert len(_long_functions(1)) > 200
