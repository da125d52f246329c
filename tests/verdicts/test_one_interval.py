"""Issue 9, defect 5: one interval method everywhere, named in the output.

3/3 successes once showed [0.44, 1.00] (Wilson) in the run report beside a verdict computed from the
exact interval. Now the verdict table, the terminal summary, the run report, the JUnit properties,
summary.json and a recorded baseline all show the 95% Clopper-Pearson interval [0.292, 1.00] and
name it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

TEST = """
import pytest
from form_games import Pick

from pytest_rlplaytest import assert_success_rate


@pytest.mark.rl_scenario(env=Pick, model="good.zip", episodes=3)
def test_three(rl_playtest, rl_baseline):
    result = rl_playtest()
    verdict = assert_success_rate(result, at_least=0.3)
    print("VERDICT", verdict.rows[0].interval)
    rl_baseline.check(result)
"""

LOW = 0.025 ** (1 / 3)  # the 95% Clopper-Pearson lower bound of 3/3


def test_three_of_three_shows_the_same_interval_everywhere(form_project: pytest.Pytester) -> None:
    form_project.makepyfile(test_form=TEST)
    result = form_project.runpytest("-s", "--rl-artifacts=art", "--junitxml=r.xml", "--rl-update-baselines")
    result.assert_outcomes(passed=1)
    verdict = next(ln for ln in result.outlines if "VERDICT " in ln).split("VERDICT ", 1)[1]
    assert verdict == "[0.2924, 1] 95% CI (Clopper-Pearson)"
    result.stdout.re_match_lines([r"scenario +outcome +success \[95% CI \(Clopper-Pearson\)\]",
                                  r"test_form\.py::test_three +passed +1\.00 \[0\.29, 1\.00\] "])
    report = (form_project.path / "art" / "report.md").read_text()
    assert "95% CI (Clopper-Pearson)" in report and "| 1.00 [0.29, 1.00] |" in report
    props = {p.get("name"): p.get("value") for p in ET.parse(form_project.path / "r.xml").getroot().iter("property")}
    assert float(props["rl_success_ci_low"]) == pytest.approx(LOW, abs=1e-6)
    assert float(props["rl_success_ci_high"]) == 1.0 and props["rl_success_ci_method"] == "clopper-pearson-95"
    summary = json.loads((form_project.path / "art" / "test_form.py__test_three" / "summary.json").read_text())
    assert summary["summary"]["success_ci_low"] == pytest.approx(LOW, abs=1e-6)
    assert summary["summary"]["success_ci_method"] == "clopper-pearson-95"
    stored = json.loads((form_project.path / "baselines" / "test_form.py" / "test_three.json").read_text())
    assert stored["metrics"]["success"]["ci_low"] == pytest.approx(LOW, abs=1e-12)
    assert stored["metrics"]["success"]["ci_method"] == "clopper-pearson-95"
