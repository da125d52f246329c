"""The artifact plots: the heatmap shows the plane agents move in, each agent from its own start;
the learning curve refuses to draw a curve from too few episodes; the diff and frame-cost maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_rlplaytest.playtest import Episode, PlaytestResult
from pytest_rlplaytest.reports.plots import (
    VisitsError,
    agent_tracks,
    frame_cost_grid,
    learning_curve_figure,
    load_visits,
    position_heatmap,
    spread_plane,
    visit_grid,
    visits_diff,
)


def _descents(starts: list[float], drift: float = 0.5, frame_ms: bool = False) -> PlaytestResult:
    """Agents spawned side by side along x at height 100 that descend 20 units in y, drifting in z."""
    episodes = []
    for i, x0 in enumerate(starts):
        steps = np.arange(21)
        positions = [[x0, 100.0 - s, drift * np.sin(s / 3 + i)] for s in steps]
        metrics = {"frame_ms": [5.0 if s < 10 else 50.0 for s in steps]} if frame_ms else {}
        episodes.append(Episode(index=i, env_index=i, seed=i, total_return=0.0, length=21, outcome="terminated",
                                final_info={}, positions=[[float(v) for v in p] for p in positions],
                                metrics=metrics))
    return PlaytestResult(episodes=episodes)


def test_heatmap_plane_and_per_agent_origin(tmp_path: Path) -> None:
    result = _descents([0.0, 10.0, 20.0, 30.0])  # absolute x spreads most, but no agent moves in x
    tracks = agent_tracks(result)
    assert len(tracks) == 4 and all(np.array_equal(t[0], [0, 0, 0]) for t in tracks)
    assert np.allclose(tracks[3][-1, :2], [0.0, -20.0])
    assert spread_plane(tracks) == (1, 2)  # y and z: the plane they move in, not x-z
    grid = visit_grid(result, bins=10)
    assert grid is not None and grid.axes == (1, 2) and grid.steps == 84 and grid.agents == 4
    assert grid.xedges[0] == pytest.approx(-20.0) and grid.xedges[-1] == pytest.approx(0.0)
    png = position_heatmap(result, tmp_path / "heatmap.png", bins=10)
    assert png is not None and png.read_bytes()[:4] == b"\x89PNG"
    stored = json.loads((tmp_path / "visits.json").read_text())
    assert stored["axes"] == [1, 2] and sum(map(sum, stored["counts"])) == 84
    assert np.array_equal(load_visits(tmp_path / "visits.json").counts, grid.counts)


def test_heatmap_diff_against_a_previous_run(tmp_path: Path) -> None:
    before = visit_grid(_descents([0.0, 5.0]), bins=8)
    assert before is not None
    same = visits_diff(_descents([40.0, 50.0]), before)  # other spawn points, same moves: no change
    assert same is not None and np.allclose(same[0], 0.0) and same[2] == 0
    wider = visits_diff(_descents([0.0, 5.0], drift=3.0), before)
    assert wider is not None and wider[2] > 0 and np.abs(wider[0]).max() > 0.01
    (tmp_path / "visits.json").write_text('{"schema_version": 1, "axes": [1]}')
    with pytest.raises(VisitsError, match="malformed"):
        load_visits(tmp_path / "visits.json")


def test_frame_cost_p99_per_cell() -> None:
    cost = frame_cost_grid(_descents([0.0, 3.0, 6.0], frame_ms=True), bins=4)
    assert cost is not None
    grid, p99 = cost
    assert grid.axes == (1, 2)
    by_row = np.nanmax(p99, axis=1)  # rows: y from -20 (bottom) to 0 (start)
    assert by_row[0] == pytest.approx(50.0) and by_row[-1] == pytest.approx(5.0)
    assert frame_cost_grid(_descents([0.0])) is None  # no frame_ms reported


def test_too_few_episodes_draw_no_curve() -> None:
    fig = learning_curve_figure([100, 200], [1.0, 2.0])
    ax = fig.axes[0]
    assert not ax.lines and "too few episodes to draw a curve" in ax.texts[0].get_text()
    assert "0 finished" in learning_curve_figure([], []).axes[0].texts[0].get_text()
    curve = learning_curve_figure([100, 200, 300, 400], [1.0, 2.0, 3.0, 4.0]).axes[0]
    assert len(curve.lines) == 2 and not curve.texts
