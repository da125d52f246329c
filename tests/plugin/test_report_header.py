"""pytest_report_header: the engines found (versions, paths), seed, device, torch threads, Ray
address, artifacts and baselines folders."""

from __future__ import annotations

import shutil

import pytest

from pytest_rlplaytest.engines.godot.binary import probe_version


def test_header_names_settings_and_engines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--rl-seed=7", "--rl-torch-threads=2", "--rl-artifacts=arts",
                                "--rl-baselines-dir=bl", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    root = pytester.path
    result.stdout.fnmatch_lines([
        "rlplaytest: seed 7, device cpu, torch threads 2",
        f"rlplaytest: artifacts {root / 'arts'}, baselines {root / 'bl'}",
        "rlplaytest engines: gym (gymnasium *); godot *; spacetimedb *",
    ])
    line = next(ln for ln in result.outlines if ln.startswith("rlplaytest engines:"))
    godot = shutil.which("godot3-server")
    if godot is not None:  # the machine's Godot, with the version it prints
        assert f"godot {probe_version(godot)[0]} ({godot})" in line
    if shutil.which("spacetime") is None:
        assert "spacetimedb not found (" in line


def test_header_names_the_ray_address_and_a_missing_godot(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--rl-ray=ray://head:10001", "--godot-bin=no-such-godot", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["rlplaytest: seed 0, device cpu, torch threads 1, ray ray://head:10001",
                                 "*godot not found (the configured Godot binary 'no-such-godot'*"])
