"""The package stays easy to change: no function grows past a screen, and every public function,
method and class says what it does (a docstring).

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


def _undocumented(tree: ast.AST, prefix: str = "") -> list[str]:
    """Public functions, methods and classes of ``tree`` without a docstring (``Class.method``); the
    members of private classes are not public."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            if ast.get_docstring(node) is None:
                found.append(f"{node.lineno} {prefix}{node.name}")
            if isinstance(node, ast.ClassDef):
                found += _undocumented(node, f"{prefix}{node.name}.")
    return found


def test_every_public_function_has_a_docstring() -> None:
    missing = [f"{path.relative_to(PACKAGE)}:{place}" for path in sorted(PACKAGE.rglob("*.py"))
               for place in _undocumented(ast.parse(path.read_text(), filename=str(path)))]
    assert not missing, "public functions, methods and classes without a docstring:\n  " + "\n  ".join(missing)


def test_the_docstring_scan_sees_what_lacks_one() -> None:
    tree = ast.parse("class A:\n    def f(self):\n        pass\n    def _g(self):\n        pass\n"
                     "def h():\n    \"\"\"Says.\"\"\"\nclass _B:\n    def k(self):\n        pass\n")
    assert _undocumented(tree) == ["1 A", "2 A.f"]
