"""Self-play's Elo-style rating table reaches the run report (rl_ratings_json -> report.md)."""

from __future__ import annotations

import pytest

TEST = """
import pytest
from form_games import Pick

from pytest_rlplaytest.agents.selfplay import rating_table, write_ratings


@pytest.mark.rl_scenario(env=Pick, model="good.zip", episodes=3)
def test_rated(rl_playtest, rl_artifacts, rl_property):
    rl_playtest()
    ratings = rating_table({("learner", "axis"): (30, 6, 4), ("axis", "random"): (25, 5, 0)}, anchor="axis")
    rl_property("rl_ratings_json", str(write_ratings(ratings, rl_artifacts)))
"""


def test_rating_table_is_in_the_run_report(form_project: pytest.Pytester) -> None:
    form_project.makepyfile(test_rated=TEST)
    result = form_project.runpytest("--rl-artifacts=art")
    result.assert_outcomes(passed=1)
    report = (form_project.path / "art" / "report.md").read_text()
    assert "## Ratings: test_rated.py::test_rated" in report
    assert "Fitted by bradley-terry-mle" in report
    rows = [ln for ln in report.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip() in
            ("learner", "axis", "random")]
    assert [r.split("|")[1].strip() for r in rows] == ["learner", "axis", "random"]
    assert "| axis | 1000 | 70 |" in report  # anchored at 1000; 40 + 30 games
    assert "[ratings](" in report  # the artifact link in the scenario table
