"""PNG plots for a test's artifacts: the learning curve and a heatmap of visited cells.

matplotlib is imported lazily with the non-interactive Agg backend, so plots work on headless CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..playtest import PlaytestResult


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def learning_curve(timesteps: Sequence[float], returns: Sequence[float], out: Path, title: str = "") -> Path | None:
    """Plot training episode returns against timesteps with a moving average; None if no episodes."""
    if len(returns) == 0:
        return None
    plt = _pyplot()
    x = np.asarray(timesteps, dtype=float)
    y = np.asarray(returns, dtype=float)
    window = max(1, min(50, len(y) // 10))
    smooth = np.convolve(y, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(x, y, ".", alpha=0.25, markersize=3, label="episode return")
    ax.plot(x[window - 1:], smooth, "-", linewidth=2, label=f"mean of {window}")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("return")
    ax.set_title(title or "learning curve", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def position_heatmap(result: PlaytestResult, out: Path, bins: int = 40, title: str = "") -> Path | None:
    """Heatmap of the cells visited during evaluation (first two coordinates of ``info["position"]``,
    or x/z for 3D positions, the ground plane); None when the game reports no positions."""
    points = [p for e in result.episodes for p in e.positions if len(p) >= 2]
    if not points:
        return None
    arr = np.asarray([[p[0], p[2]] if len(p) >= 3 else p[:2] for p in points], dtype=float)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    counts, xedges, yedges = np.histogram2d(arr[:, 0], arr[:, 1], bins=bins)
    image = ax.imshow(np.log1p(counts.T), origin="lower", aspect="auto", cmap="magma",
                      extent=(xedges[0], xedges[-1], yedges[0], yedges[-1]))
    fig.colorbar(image, ax=ax, label="log(1 + visits)")
    ax.set_xlabel("x")
    ax.set_ylabel("z" if len(points[0]) >= 3 else "y")
    ax.set_title(title or f"visited cells ({len(points)} steps)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
