"""PNG plots for a test's artifacts: the learning curve and heatmaps of the cells agents visit.

The heatmaps show where agents actually move: each agent's positions are taken relative to its own
origin (the first position of its episode), so 16 agents spawned side by side that all descend
vertically land on one track instead of 16 dots in a row, and the plane plotted is the two axes with
the largest spread of those positions (not always x-z). Beside ``heatmap.png`` the visit counts go
to ``visits.json`` (:class:`VisitGrid`), so a later run can draw ``heatmap-diff.png`` against them
(``--rl-visits-baseline``, a previous run's artifacts folder); ``frame-cost.png`` shows the p99 of
``frame_ms`` per cell when the game reports it every step.

matplotlib is imported lazily with the non-interactive Agg backend, so plots work on headless CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..common.files import atomic_write_json
from ..errors import RLPlaytestError

if TYPE_CHECKING:
    from ..playtest import PlaytestResult

__all__ = ["PLOTS", "VisitGrid", "VisitsError", "agent_tracks", "frame_cost_grid", "frame_cost_heatmap", "learning_curve",
           "learning_curve_figure", "load_visits", "position_heatmap", "spread_plane", "visit_grid", "visits_diff",
           "visits_diff_heatmap", "visits_path"]

#: every plot a scenario test's artifacts may hold: (JUnit property naming its file, caption); the run
#: report, the job summary and the HTML report all show these, in this order
PLOTS = (
    ("rl_learning_curve_png", "learning curve"),
    ("rl_heatmap_png", "visited cells"),
    ("rl_heatmap_diff_png", "visited cells vs the previous run"),
    ("rl_frame_cost_png", "p99 frame_ms per cell"),
)

#: fewer training episodes than this draw no curve (a note says so)
MIN_CURVE_EPISODES = 3
#: a frame-cost cell needs this many steps for its p99 to be drawn
MIN_FRAME_SAMPLES = 3
AXIS_NAMES = "xyzw"
VISITS_VERSION = 1
VISITS_FILE = "visits.json"


class VisitsError(RLPlaytestError, ValueError):
    """A visit-counts file that cannot be compared against."""


def pyplot():  # type: ignore[no-untyped-def]
    """matplotlib.pyplot on the non-interactive Agg backend (headless CI)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path) -> Path:
    plt = pyplot()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def learning_curve_figure(timesteps: Sequence[float], returns: Sequence[float], title: str = "") -> Any:
    """The learning-curve figure: returns against timesteps with a moving average, or, with fewer
    than :data:`MIN_CURVE_EPISODES` episodes (none included), the words "too few episodes to draw a
    curve" and no points that would look like a result."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.set_title(title or "learning curve", fontsize=9)
    if len(returns) < MIN_CURVE_EPISODES:
        ax.text(0.5, 0.5, f"too few episodes to draw a curve\n({len(returns)} finished during training; "
                "train longer to see one)", ha="center", va="center", transform=ax.transAxes, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    x = np.asarray(timesteps, dtype=float)
    y = np.asarray(returns, dtype=float)
    window = max(1, min(50, len(y) // 10))
    smooth = np.convolve(y, np.ones(window) / window, mode="valid")
    ax.plot(x, y, ".", alpha=0.25, markersize=3, label="episode return")
    ax.plot(x[window - 1:], smooth, "-", linewidth=2, label=f"mean of {window}")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("return")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def learning_curve(timesteps: Sequence[float], returns: Sequence[float], out: Path, title: str = "") -> Path:
    """Write :func:`learning_curve_figure` to ``out``."""
    return _save(learning_curve_figure(timesteps, returns, title), out)


def agent_tracks(result: PlaytestResult) -> list[np.ndarray]:
    """Each episode's positions (one agent's episode) relative to its first position, as arrays of
    shape ``(steps, dims)``; all cut to the fewest dimensions any position has (at least 2)."""
    episodes = [e.positions for e in result.episodes if e.positions]
    dims = min((len(p) for ps in episodes for p in ps), default=0)
    if dims < 2:
        return []
    tracks = []
    for positions in episodes:
        arr = np.asarray([p[:dims] for p in positions], dtype=float)
        tracks.append(arr - arr[0])
    return tracks


def spread_plane(tracks: Sequence[np.ndarray]) -> tuple[int, int]:
    """The two axes (in index order) along which the pooled relative positions spread most
    (standard deviation; ties go to the lower axis)."""
    spread = np.concatenate(list(tracks)).std(axis=0)
    first, second = sorted(np.argsort(-spread, kind="stable")[:2].tolist())
    return int(first), int(second)


@dataclass(frozen=True)
class VisitGrid:
    """Visit counts per cell of the plane agents move in, relative to each agent's origin."""

    axes: tuple[int, int]
    xedges: np.ndarray
    yedges: np.ndarray
    counts: np.ndarray  # shape (len(xedges) - 1, len(yedges) - 1)
    agents: int

    @property
    def steps(self) -> int:
        """Agent-steps counted in the grid."""
        return int(self.counts.sum())

    def labels(self) -> tuple[str, str]:
        """The plot's axis labels."""
        return (f"{AXIS_NAMES[self.axes[0]]} (from each agent's start)",
                f"{AXIS_NAMES[self.axes[1]]} (from each agent's start)")

    def to_json(self) -> dict[str, Any]:
        """The grid as JSON (for ``--rl-visits-baseline``)."""
        return {"schema_version": VISITS_VERSION, "kind": "visits", "axes": list(self.axes),
                "origin": "first position of each agent's episode", "agents": self.agents,
                "xedges": self.xedges.tolist(), "yedges": self.yedges.tolist(), "counts": self.counts.tolist()}


def _plane_points(tracks: Sequence[np.ndarray], axes: tuple[int, int]) -> np.ndarray:
    return np.concatenate([t[:, list(axes)] for t in tracks])


def visit_grid(result: PlaytestResult, bins: int = 40) -> VisitGrid | None:
    """The visit counts of ``result`` on its :func:`spread_plane`; None when no positions."""
    tracks = agent_tracks(result)
    if not tracks:
        return None
    axes = spread_plane(tracks)
    pts = _plane_points(tracks, axes)
    counts, xedges, yedges = np.histogram2d(pts[:, 0], pts[:, 1], bins=bins)
    return VisitGrid(axes, xedges, yedges, counts, len(tracks))


def _grid_image(grid: VisitGrid, values: np.ndarray, out: Path, title: str, label: str, **style: Any) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    extent = (grid.xedges[0], grid.xedges[-1], grid.yedges[0], grid.yedges[-1])
    image = ax.imshow(values.T, origin="lower", aspect="auto", extent=extent, **style)
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel(grid.labels()[0])
    ax.set_ylabel(grid.labels()[1])
    ax.set_title(title, fontsize=8)
    return _save(fig, out)


def position_heatmap(result: PlaytestResult, out: Path, bins: int = 40, title: str = "") -> Path | None:
    """Heatmap of the visited cells (see the module docs) and its ``visits.json`` beside it (named
    after ``out``: ``heatmap.png`` -> ``visits.json``, ``playtest2-heatmap.png`` ->
    ``playtest2-visits.json``); None when the game reports no positions."""
    grid = visit_grid(result, bins)
    if grid is None:
        return None
    atomic_write_json(visits_path(out), grid.to_json())
    heading = f"{title or 'visited cells'}\n{grid.steps} steps of {grid.agents} agent episodes"
    return _grid_image(grid, np.log1p(grid.counts), out, heading, "log(1 + visits)", cmap="magma")


def visits_path(heatmap: Path) -> Path:
    """Where the visit counts of ``heatmap`` (a ``*heatmap.png``) are written."""
    return heatmap.with_name(heatmap.name.replace("heatmap.png", VISITS_FILE))


def load_visits(path: Path) -> VisitGrid:
    """Read a ``visits.json``.

    Raises:
        VisitsError: missing, not a visits file, or of another version (naming the file).
    """
    from ..common.versioned import load_versioned

    data = load_versioned(path, kind="visit counts", current=VISITS_VERSION, error=VisitsError,
                          fix="point --rl-visits-baseline at the --rl-artifacts folder of a previous run")
    try:
        axes = (int(data["axes"][0]), int(data["axes"][1]))
        grid = VisitGrid(axes, np.asarray(data["xedges"], dtype=float), np.asarray(data["yedges"], dtype=float),
                         np.asarray(data["counts"], dtype=float), int(data["agents"]))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise VisitsError(f"visit counts {path} are malformed ({exc!r}); write them again with a playtest run") from None
    if grid.counts.shape != (grid.xedges.size - 1, grid.yedges.size - 1):
        raise VisitsError(f"visit counts {path}: counts of shape {grid.counts.shape} do not match the edges")
    return grid


def visits_diff(result: PlaytestResult, previous: VisitGrid) -> tuple[np.ndarray, int, int] | None:
    """``this run - previous`` share of steps per cell of ``previous`` (its plane and cells), with
    this run's steps and how many of them fall outside the previous cells; None when this run has
    no positions, lacks the previous plane's axes, or the previous run has no steps."""
    tracks = agent_tracks(result)
    if not tracks or max(previous.axes) >= tracks[0].shape[1] or previous.steps == 0:
        return None
    pts = _plane_points(tracks, previous.axes)
    now, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=(previous.xedges, previous.yedges))
    return now / len(pts) - previous.counts / previous.steps, len(pts), len(pts) - int(now.sum())


def visits_diff_heatmap(result: PlaytestResult, previous: VisitGrid, out: Path, title: str = "") -> Path | None:
    """Plot :func:`visits_diff` (red: visited more now, blue: less); None when it is None."""
    diff = visits_diff(result, previous)
    if diff is None:
        return None
    values, steps, outside = diff
    limit = float(np.abs(values).max()) or 1.0
    heading = (f"visits: share of steps, this run - previous run\n{title}\n{steps} steps now "
               f"({outside} outside the previous cells), {previous.steps} before").replace("\n\n", "\n")
    return _grid_image(previous, values, out, heading, "share now - share before", cmap="RdBu_r",
                       vmin=-limit, vmax=limit)


def frame_cost_grid(result: PlaytestResult, bins: int = 20) -> tuple[VisitGrid, np.ndarray] | None:
    """The visit grid of the steps that report ``frame_ms`` and the p99 of ``frame_ms`` per cell
    (NaN where fewer than :data:`MIN_FRAME_SAMPLES` steps); None unless some episode reports
    ``frame_ms`` and a position on every step."""
    tracks = agent_tracks(result)
    costs = [np.asarray(e.metrics.get("frame_ms", []), dtype=float) for e in result.episodes if e.positions]
    pairs = [(t, c) for t, c in zip(tracks, costs) if len(c) == len(t) and len(c)]
    if not pairs:
        return None
    axes = spread_plane([t for t, _ in pairs])
    pts = _plane_points([t for t, _ in pairs], axes)
    ms = np.concatenate([c for _, c in pairs])
    counts, xedges, yedges = np.histogram2d(pts[:, 0], pts[:, 1], bins=bins)
    ix = np.clip(np.searchsorted(xedges, pts[:, 0], side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(yedges, pts[:, 1], side="right") - 1, 0, bins - 1)
    p99 = np.full((bins, bins), np.nan)
    for i, j in {(int(a), int(b)) for a, b in zip(ix, iy)}:
        cell = ms[(ix == i) & (iy == j)]
        if len(cell) >= MIN_FRAME_SAMPLES:
            p99[i, j] = np.percentile(cell, 99)
    return VisitGrid(axes, xedges, yedges, counts, len(pairs)), p99


def frame_cost_heatmap(result: PlaytestResult, out: Path, bins: int = 20, title: str = "") -> Path | None:
    """Plot :func:`frame_cost_grid`; None when it is None."""
    cost = frame_cost_grid(result, bins)
    if cost is None:
        return None
    grid, p99 = cost
    heading = (f"frame cost: p99 frame_ms per cell\n{title}\n{grid.steps} steps; blank: fewer than "
               f"{MIN_FRAME_SAMPLES} steps in the cell").replace("\n\n", "\n")
    return _grid_image(grid, p99, out, heading, "p99 frame_ms", cmap="viridis")
