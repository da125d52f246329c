"""Evaluation metrics as TensorBoard scalars, beside SB3's training logs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..playtest import PlaytestResult


def write_eval_scalars(result: PlaytestResult, log_dir: Path, step: int) -> Path | None:
    """Write ``eval/*`` scalars (success rate, returns, lengths, metric percentiles) at ``step``.

    Returns the folder, or None when TensorBoard's writer is unavailable.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        return None
    summary = result.summary()
    log_dir.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        scalars = {
            "eval/success_rate": summary["success_rate"],
            "eval/success_ci_low": summary["success_ci_low"],
            "eval/success_ci_high": summary["success_ci_high"],
            "eval/mean_return": summary["mean_return"],
            "eval/iqm_return": summary["iqm_return"],
            "eval/mean_length": summary["mean_length"],
            "eval/episodes": summary["episodes"],
        }
        for name, stats in summary["metrics"].items():
            for stat in ("mean", "p99", "max"):
                scalars[f"eval/{name}_{stat}"] = stats[stat]
        for tag, value in scalars.items():
            if value is not None:
                writer.add_scalar(tag, float(value), global_step=step)
    finally:
        writer.close()
    return log_dir
