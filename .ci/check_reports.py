"""Check what the example playtests (the main job) left where a game team looks.

    python .ci/check_reports.py REPORTS_DIR JOB_SUMMARY_FILE

* ``example-junit.xml``: scenario tests carry the ``rl_*`` properties, and their ``<system-out>``
  holds ``[[ATTACHMENT|path]]`` lines (GitLab, Jenkins, Azure) naming files that exist;
* the job summary (``$GITHUB_STEP_SUMMARY``, or the file the job pointed it at): the scenario table,
  and plot links that resolve to PNG files;
* ``example-report.html`` (pytest-html): opened in headless Chromium, every scenario row's plot has
  loaded (``naturalWidth > 0``) and the verdict tables show; ``example-report.png`` is its screenshot.

Exits non-zero naming the first thing missing. Without Chromium the browser check fails under
``CI=true`` (the CI installs it) and is reported as not run otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ATTACHMENT = re.compile(r"\[\[ATTACHMENT\|([^\]]+)\]\]")
LINK = re.compile(r"\]\(([^)]+\.png)\)")
IMAGE_LOADED = "const i = arguments[0]; return i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0;"


def check_junit(junit: Path) -> int:
    """Scenario test cases with rl_* properties and attachment lines naming existing files."""
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    scenario = [c for c in cases if any(p.get("name") == "rl_success_rate" for p in c.iter("property"))]
    print(f"{len(cases)} example tests, {len(scenario)} with rl_* JUnit properties")
    if not scenario:
        sys.exit(f"{junit}: no scenario test recorded rl_* properties")
    for case in scenario:
        out = "".join(e.text or "" for e in case.iter("system-out"))
        paths = ATTACHMENT.findall(out)
        name = f"{case.get('classname')}::{case.get('name')}"
        if not paths:
            sys.exit(f"{junit}: {name} has no [[ATTACHMENT|path]] line in its system-out")
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            sys.exit(f"{junit}: {name} attaches files that do not exist: {missing[:3]}")
    print(f"attachment lines: every scenario test attaches its artifacts ({len(scenario)} tests)")
    return len(scenario)


def check_job_summary(summary: Path, root: Path) -> None:
    """The scenario table and plot links that resolve to files."""
    text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    if "| scenario |" not in text and "|scenario|" not in text.replace(" ", ""):
        sys.exit(f"{summary}: no scenario table in the job summary")
    links = LINK.findall(text)
    if not links:
        sys.exit(f"{summary}: the job summary links no plot")
    missing = [link for link in links if not (root / link).is_file() and not Path(link).is_file()]
    if missing:
        sys.exit(f"{summary}: plot links that resolve to no file: {missing[:3]}")
    print(f"job summary: scenario table and {len(links)} plot links, all present")


def check_html(report: Path, shot: Path) -> None:
    """Open the pytest-html report in headless Chromium: plots loaded, verdict tables shown."""
    browser, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver_bin is None:
        message = "HTML report: not opened, no chromium/chromedriver (apt-get install chromium chromium-driver)"
        sys.exit(message) if os.environ.get("CI") else print(message)
        return
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1400,3000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_bin))
    try:
        driver.get(report.resolve().as_uri() + "?collapsed=")
        wait = WebDriverWait(driver, 20)
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "tbody.results-table-row"))
        with_plots = [r for r in rows if any(i.get_dom_attribute("src") for i in  # pytest-html keeps an
                                             r.find_elements(By.CSS_SELECTOR, ".media-container__viewport img"))]
        # empty <img> in the media viewer of rows without media
        if not with_plots:
            sys.exit(f"{report}: no test row carries a plot")
        for row in with_plots:
            image = row.find_element(By.CSS_SELECTOR, ".media-container__viewport img")
            if not wait.until(lambda d, i=image: d.execute_script(IMAGE_LOADED, i)):
                sys.exit(f"{report}: a plot did not load in {row.text.splitlines()[0]}")
        tables = driver.find_elements(By.CSS_SELECTOR, "table.rl-verdict")
        if not any(t.is_displayed() for t in tables):
            sys.exit(f"{report}: no verdict table shows")
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    print(f"HTML report: {len(with_plots)} rows with loaded plots, {len(tables)} verdict tables; screenshot {shot}")


def main(argv: list[str]) -> None:
    """Run the three checks on REPORTS_DIR and the job summary file."""
    reports, summary = Path(argv[0]), Path(argv[1])
    check_junit(reports / "example-junit.xml")
    check_job_summary(summary, Path.cwd() / "example_project")
    check_html(reports / "example-report.html", reports / "example-report.png")


if __name__ == "__main__":
    main(sys.argv[1:])
