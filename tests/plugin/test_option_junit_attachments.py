"""--rl-junit-attachments: [[ATTACHMENT|path]] lines for a scenario test's artifacts in its JUnit
system-out (on by default with --junitxml), next to the rl_* properties."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PLAYTEST = """
import pytest
@pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=2)
def test_one(rl_playtest):
    rl_playtest()

def test_plain():
    pass
"""


def _system_out(xml: Path, name: str) -> str:
    case = next(c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == name)
    return "".join(node.text or "" for node in case.iter("system-out"))


def test_attachment_lines_in_junit_system_out(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(PLAYTEST)
    tiny_game.runpytest("--rl-artifacts=out", "--junitxml=r.xml", "-o", "junit_logging=system-out",
                        "-o", "junit_family=xunit1").assert_outcomes(passed=2)
    out = _system_out(tiny_game.path / "r.xml", "test_one")
    paths = re.findall(r"^\[\[ATTACHMENT\|(.+)\]\]$", out, flags=re.M)
    folder = (tiny_game.path / "out" / "test_attachment_lines_in_junit_system_out.py__test_one").resolve()
    names = {Path(p).name for p in paths}
    assert {"episodes.csv", "summary.json", "model.zip"} <= names
    assert all(Path(p).is_absolute() and Path(p).is_file() and Path(p).parent == folder for p in paths)
    assert "ATTACHMENT" not in _system_out(tiny_game.path / "r.xml", "test_plain")
    xml = (tiny_game.path / "r.xml").read_text()
    assert 'name="rl_summary_json"' in xml and 'name="rl_episodes"' in xml  # properties kept


def test_off_and_without_junitxml(tiny_game: pytest.Pytester) -> None:
    tiny_game.makepyfile(PLAYTEST)
    tiny_game.runpytest("--rl-artifacts=out", "--junitxml=r.xml", "-o", "junit_logging=system-out",
                        "--rl-junit-attachments=off").assert_outcomes(passed=2)
    assert "ATTACHMENT" not in (tiny_game.path / "r.xml").read_text()
    result = tiny_game.runpytest("--rl-artifacts=out", "-rA")  # auto: no --junitxml, no lines
    assert "[[ATTACHMENT|" not in result.stdout.str()
    result = tiny_game.runpytest("--rl-artifacts=out", "-rA", "--rl-junit-attachments=on")
    result.stdout.fnmatch_lines(["*Captured stdout teardown*", "[[]*ATTACHMENT|*summary.json]]"])
