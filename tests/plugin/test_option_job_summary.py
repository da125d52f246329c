"""--rl-job-summary: the Markdown appended to $GITHUB_STEP_SUMMARY (scenario table, failed verdicts,
plot links), its off switch and the 1 MiB cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rlplaytest.reports.job_summary import LIMIT_BYTES, render_job_summary, truncate

CORRIDOR = (Path(__file__).parents[2] / "example_project" / "games" / "corridor.py").read_text() + (
    "\n__all__ = ['Corridor']\n")

PLAYTESTS = """
import pytest
from summary_games import Corridor

@pytest.mark.rl_scenario(env=Corridor, timesteps=128, episodes=2)
def test_plays(rl_playtest):
    rl_playtest()

@pytest.mark.rl_scenario(env=Corridor, timesteps=128, episodes=2)
def test_fails_verdict(rl_playtest):
    rl_playtest(at_least=0.99)
"""


def test_summary_appended_with_table_failures_and_plot_links(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.mkpydir("summary_games").joinpath("__init__.py").write_text(CORRIDOR)
    pytester.makepyfile(PLAYTESTS)
    target = pytester.path / "step_summary.md"
    target.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    pytester.runpytest("--rl-artifacts=out", "-p", "no:cacheprovider").assert_outcomes(passed=1, failed=1)
    text = target.read_text()
    assert text.startswith("earlier step output\n## rlplaytest")  # appended, not overwritten
    assert "| scenario | outcome | success [95% CI (Clopper-Pearson)] | mean return | episodes | timesteps |" in text
    row = next(line for line in text.splitlines() if line.startswith("| test_") and "test_plays" in line)
    assert "| passed |" in row and "| 2 | 128 |" in row
    folder = "out/test_summary_appended_with_table_failures_and_plot_links.py__test_plays"
    assert f"[visited cells]({folder}/heatmap.png)" in row
    assert f"[learning curve]({folder}/learning_curve.png)" in row
    assert "data:" not in text
    assert "### Failed verdicts" in text and "test_fails_verdict`" in text
    assert "VerdictFailure" in text and "0.99" in text


def test_off_writes_nothing_and_on_previews_locally(tiny_game: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_game.makepyfile(
        """
        import pytest
        @pytest.mark.rl_scenario(env="Coin-v0", timesteps=64, episodes=2)
        def test_one(rl_playtest):
            rl_playtest()
        """
    )
    target = tiny_game.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    tiny_game.runpytest("--rl-artifacts=out", "--rl-job-summary=off").assert_outcomes(passed=1)
    assert not target.exists()
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    tiny_game.runpytest("--rl-artifacts=out").assert_outcomes(passed=1)  # auto without the variable
    assert not (tiny_game.path / "out" / "job_summary.md").exists()
    tiny_game.runpytest("--rl-artifacts=out", "--rl-job-summary=on").assert_outcomes(passed=1)
    assert "test_one" in (tiny_game.path / "out" / "job_summary.md").read_text()


def test_cut_to_the_limit_with_a_note(tmp_path: Path) -> None:
    rows = [{"nodeid": f"t.py::test_{i}", "outcome": "failed", "message": "VerdictFailure: x\n" + "y" * 2000,
             "properties": {"rl_seed": 1}} for i in range(1000)]
    text = render_job_summary(rows, tmp_path)
    assert len(text.encode()) > LIMIT_BYTES
    cut = truncate(text, LIMIT_BYTES - 100)
    assert len(cut.encode()) <= LIMIT_BYTES - 100
    assert cut.rstrip().endswith("the full table is in the artifacts' report.md._")
    assert "job summary truncated" in cut
    assert truncate("short\n", 100) == "short\n"
