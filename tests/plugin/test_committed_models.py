"""Committed agents hold no absolute path of the machine that trained them."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABSOLUTE = re.compile(r'"/(work|tmp|root|home|Users)/[^"]*"')


def _committed_zips() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "*.zip"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files cannot be listed")
    return [ROOT / line for line in out.stdout.split()]


def test_committed_models_hold_no_absolute_path() -> None:
    zips = _committed_zips()
    assert zips, "the example project commits agents; none were found"
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("data").decode()
        found = ABSOLUTE.findall(data)
        assert not found, f"{path.relative_to(ROOT)} holds an absolute path in its SB3 data: {found[:2]}"
        assert json.loads(data).get("tensorboard_log") is None, path
