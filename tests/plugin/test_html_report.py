"""pytest-html reports: each scenario test's row carries its verdict tables and plots as extras.

The report's rows are drawn by pytest-html's JavaScript from a JSON blob, so the structure is
checked in the blob and the drawn page in a real headless Chromium (selenium + chromedriver):
the images load (``naturalWidth > 0``) and the verdict table shows; a screenshot is kept.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_html", reason="pytest-html is not installed (pip install 'pytest-html>=4')")

WALK = '''
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Walk(gym.Env):
    """Step left or right on a line; the position goes to the heatmap; 4 steps per episode."""

    def __init__(self):
        self.observation_space = spaces.Box(-10.0, 10.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.x, self.t = 0.0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        self.x += 1.0 if int(action) else -1.0
        done = self.t >= 4
        info = {"position": [self.x, float(self.t)]}
        if done:
            info["is_success"] = self.x > 0
        return np.array([self.x], dtype=np.float32), float(self.x > 0), done, False, info


gym.register("Walk-v0", entry_point=Walk)
'''

TESTS = '''
import pytest

ALWAYS = dict(success=lambda ep: True)
NEVER = dict(success=lambda ep: False)


@pytest.mark.rl_scenario(env="Walk-v0", timesteps=64, episodes=20)
def test_walker_passes(rl_playtest):
    rl_playtest(at_least=0.5, **ALWAYS)


@pytest.mark.rl_scenario(env="Walk-v0", timesteps=64, episodes=20)
def test_walker_fails(rl_playtest):
    rl_playtest(at_least=0.5, **NEVER)


def test_plain():
    assert True
'''

#: Debian's packages chromium and chromium-driver
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"


def _report(pytester: pytest.Pytester, *args: str) -> Path:
    pytester.makeconftest(WALK)
    pytester.makepyfile(test_walk=TESTS)
    result = pytester.runpytest("--rl-artifacts=art", "--html=report.html", *args)
    result.assert_outcomes(passed=2, failed=1)
    return pytester.path / "report.html"


def _rows(report: Path) -> dict[str, list[dict[str, Any]]]:
    blob = re.search(r'data-jsonblob="([^"]*)"', report.read_text(encoding="utf-8"))
    assert blob, "pytest-html wrote no data blob"
    return json.loads(html.unescape(blob.group(1)))["tests"]  # type: ignore[no-any-return]


def _extras(rows: dict[str, list[dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [e for r in rows[f"test_walk.py::{name}"] for e in r["extras"]]


def test_scenario_rows_carry_verdict_tables_and_embedded_plots(pytester: pytest.Pytester) -> None:
    rows = _rows(_report(pytester, "--self-contained-html"))
    passed = _extras(rows, "test_walker_passes")
    tables = [e["content"] for e in passed if e["format_type"] == "html"]
    assert len(tables) == 1 and '<table class="rl-verdict">' in tables[0] and "<td>ok</td>" in tables[0]
    images = {e["name"]: e["content"] for e in passed if e["format_type"] == "image"}
    assert set(images) == {"learning curve", "visited cells"}
    assert all(c.startswith("data:image/png;base64,iVBORw0KGgo") for c in images.values())  # PNG signature
    failed = [e["content"] for e in _extras(rows, "test_walker_fails") if e["format_type"] == "html"]
    assert len(failed) == 1 and "<td>FAIL</td>" in failed[0]
    assert _extras(rows, "test_plain") == []


def test_no_html_report_means_no_extras_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_off(request):\n"
                        "    assert request.config.pluginmanager.get_plugin('rlplaytest-html') is None\n")
    pytester.runpytest().assert_outcomes(passed=1)


def _browser() -> Any:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} missing: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1400,1800"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(
        executable_path=shutil.which(CHROMEDRIVER)))


IMAGE_LOADED = "const i = arguments[0]; return i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0;"


def test_the_report_opens_in_chromium_with_loaded_plots_and_verdict_table(pytester: pytest.Pytester,
                                                                         tmp_path: Path) -> None:
    report = _report(pytester)  # plots as files in assets/, linked relatively
    assert len(list((report.parent / "assets").glob("*.png"))) == 4
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        driver.get(report.as_uri() + "?collapsed=")  # no row collapsed
        wait = WebDriverWait(driver, 10)
        row = wait.until(lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "tbody.results-table-row")
                                         if "test_walker_passes" in b.text), None))
        table = row.find_element(By.CSS_SELECTOR, "table.rl-verdict")
        assert table.is_displayed() and "ok" in table.text and "observed" in table.text
        image = row.find_element(By.CSS_SELECTOR, ".media-container__viewport img")
        names = []
        for _ in range(2):  # the row's media viewer shows one plot at a time
            width = wait.until(lambda d: d.execute_script(IMAGE_LOADED, image))
            assert width > 0
            names.append(row.find_element(By.CSS_SELECTOR, ".media__name").text)
            row.find_element(By.CSS_SELECTOR, ".media-container__nav--right").click()
        assert sorted(names) == ["learning curve", "visited cells"]
        failed = next(b for b in driver.find_elements(By.CSS_SELECTOR, "tbody.results-table-row")
                      if "test_walker_fails" in b.text)
        assert "FAIL" in failed.find_element(By.CSS_SELECTOR, "table.rl-verdict").text
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 0
    finally:
        driver.quit()


def test_verdicts_are_kept_until_the_last_recording_session_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_rlplaytest.verdicts.verdict import PASS, Verdict, conclude, record_verdicts, take_verdicts

    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::a (call)")
    record_verdicts(True)  # an outer session
    record_verdicts(True)  # a pytester run inside it
    record_verdicts(False)  # ... which ends
    try:
        conclude(Verdict(outcome=PASS, title="kept"))
        assert [v.title for v in take_verdicts("t.py::a")] == ["kept"]
        assert take_verdicts("t.py::a") == []  # taken once
    finally:
        record_verdicts(False)
    conclude(Verdict(outcome=PASS, title="not kept"))
    assert take_verdicts("t.py::a") == []
