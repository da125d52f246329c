"""JUnit properties through ``item.user_properties`` (so they survive ``pytest -n``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from ..playtest import PlaytestResult

PREFIX = "rl_"


def set_property(item: pytest.Item, name: str, value: Any) -> None:
    """Record (or replace) one ``rl_*`` property on the test item."""
    if isinstance(value, float):
        value = "nan" if math.isnan(value) else round(value, 6)
    props = [(k, v) for (k, v) in item.user_properties if k != name]
    props.append((name, value))
    item.user_properties[:] = props


def record_result(item: pytest.Item, result: PlaytestResult) -> None:
    """Record the standard properties of a playtest result; the success interval is the 95%
    Clopper-Pearson one every report and verdict shows, named by ``rl_success_ci_method``."""
    from ..verdicts.stats import CI_METHOD

    low, high = result.success_interval
    judged = bool(result.judged)
    set_property(item, "rl_success_rate", result.success_rate if judged else "n/a")
    set_property(item, "rl_success_ci_low", low if judged else "n/a")
    set_property(item, "rl_success_ci_high", high if judged else "n/a")
    set_property(item, "rl_success_ci_method", CI_METHOD if judged else "n/a")
    set_property(item, "rl_mean_return", float(result.returns.mean()) if result.n_episodes else float("nan"))
    set_property(item, "rl_episodes", result.n_episodes)
    set_property(item, "rl_eval_seconds", round(result.eval_seconds, 3))
    if result.seed is not None:
        set_property(item, "rl_seed", result.seed)
    for name, sub in result.policies.items():  # a multi-policy scene: each policy's own figures
        low, high = sub.success_interval
        judged = bool(sub.judged)
        set_property(item, f"rl_policy_{name}_episodes", sub.n_episodes)
        set_property(item, f"rl_policy_{name}_mean_return", float(sub.returns.mean()) if sub.n_episodes else float("nan"))
        set_property(item, f"rl_policy_{name}_success_rate", sub.success_rate if judged else "n/a")
        set_property(item, f"rl_policy_{name}_success_ci_low", low if judged else "n/a")
        set_property(item, f"rl_policy_{name}_success_ci_high", high if judged else "n/a")
    if result.eval_backend:
        set_property(item, "rl_eval_backend", result.eval_backend["backend"])
        set_property(item, "rl_eval_backend_reason", result.eval_backend["reason"])


def rl_properties(user_properties: Any) -> dict[str, Any]:
    """The ``rl_*`` properties of a report, as a dict."""
    return {k: v for (k, v) in user_properties if isinstance(k, str) and k.startswith(PREFIX)}
