"""The README's generated parts stay in step with the code they document.

The options table comes from ``settings.OPTIONS``, the ``rl_scenario`` row and argument table from
``scenario.MARKER_ARGS``, the ``rl_smoke`` argument table from ``smoke.SMOKE_ARGS``. After changing one, regenerate them: ``python tests/plugin/test_readme.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- generated from {source}: python tests/plugin/test_readme.py -->\n"
END = "\n<!-- end generated -->"


def _blocks() -> dict[str, str]:
    """source name -> the text the README must hold between its markers."""
    from pytest_rlplaytest.scenario import marker_markdown
    from pytest_rlplaytest.settings import options_markdown
    from pytest_rlplaytest.smoke import smoke_markdown

    return {"settings.OPTIONS": options_markdown(), "scenario.MARKER_ARGS": marker_markdown().partition("\n\n")[2],
            "smoke.SMOKE_ARGS": smoke_markdown()}


def _marker_row() -> str:
    from pytest_rlplaytest.scenario import marker_markdown

    return marker_markdown().partition("\n\n")[0]


def _block_pattern(source: str) -> re.Pattern[str]:
    return re.compile(re.escape(BEGIN.format(source=source)) + "(.*?)" + re.escape(END), re.S)


def regenerate(text: str) -> str:
    """``text`` (the README) with every generated part rewritten from the code."""
    for source, block in _blocks().items():
        generated = BEGIN.format(source=source) + block + END
        text, count = _block_pattern(source).subn(lambda _, generated=generated: generated, text)
        assert count == 1, f"the README must have exactly one block generated from {source}"
    text, count = re.subn(r"^\| `rl_scenario\(.*$", lambda _: _marker_row(), text, flags=re.M)
    assert count == 1, "the README's markers table must have exactly one rl_scenario row"
    return text


def test_readme_options_and_marker_tables_match_the_code() -> None:
    text = README.read_text()
    assert regenerate(text) == text, "the README is out of date: run `python tests/plugin/test_readme.py`"


def test_every_option_and_marker_argument_is_documented() -> None:
    from pytest_rlplaytest.scenario import MARKER_ARGS
    from pytest_rlplaytest.settings import OPTIONS

    text = README.read_text()
    for option in OPTIONS:
        assert f"| `{option.ini}` | `{option.env}` |" in text, option.name
    for arg in MARKER_ARGS:
        assert re.search(rf"^\| `{arg.name}` \|", text, re.M), arg.name
    for flag in ("--rl-torch-threads", "--rl-machine-id", "RLPLAYTEST_BASELINES_DIR"):
        assert flag in text


def test_readme_documents_every_episode_attribute() -> None:
    import dataclasses

    from pytest_rlplaytest.playtest import Episode

    text = README.read_text()
    for f in dataclasses.fields(Episode):
        assert f"| `{f.name}` |" in text, f"README: document Episode.{f.name}"


if __name__ == "__main__":
    sys.path.insert(0, str(README.parent))
    README.write_text(regenerate(README.read_text()))
    print(f"regenerated {README}")
