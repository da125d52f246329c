"""Training through a curriculum (``rl_scenario(curriculum=[...])``): one model, stage after stage.

For each stage in order (see :mod:`.stages` for the marker's format):

1. the stage's game is started (a new env per stage; the last stage's is the scenario's own
   ``rl_env``, so the test's playtest runs on it) and the model is moved onto it with
   ``model.set_env`` (the first stage builds the model);
2. the model trains for the stage's budget: ``learn(budget, reset_num_timesteps=False)``, counted per
   stage (``num_timesteps`` after minus before). On-policy rollouts are sized once, to fit the
   smallest stage's budget, and each stage trains the whole rollouts that fit its own: a budget is
   a cap, never exceeded;
3. the stage is judged by its promotion rule: ``episodes`` evaluation episodes of its game
   (greedy as the scenario says, seeded with ``derive_seed(seed, "curriculum", name)``), decided by
   :func:`~pytest_rlplaytest.verdicts.success.success_rate_verdict` (one-sided exact binomial tests
   at ``alpha = 1 - confidence``, the 95% Clopper-Pearson interval in the row);
4. a pass promotes to the next stage; a fail stops the curriculum; an inconclusive result follows
   ``--rl-inconclusive`` (``pass``: promote with an ``InconclusiveWarning``; ``fail``/``skip``: stop).

A stop leaves :attr:`CurriculumRun.stop`, a verdict naming the stage, its successes/episodes, the
interval and the rule, and the stages not run; the plugin concludes it as the test's call (the test
fails or skips, its body does not run). ``curriculum.json`` in the test's artifacts holds every
stage's budget, the timesteps it used, its timestep range and its verdict, written before any verdict
concludes; the model (``model.zip``), ``training_episodes.csv`` and ``learning_curve.png`` cover the
whole curriculum.

Not in a curriculum (yet): ``normalize=``, checkpoints and ``--rl-resume``, engine restarts, the agent cache.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.files import atomic_write_json
from ..scenario import ScenarioError, ScenarioSpec, derive_seed
from ..verdicts.errors import InconclusiveWarning
from .stages import Stage

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from ..playtest import PlaytestResult
    from ..verdicts.verdict import Verdict
    from .training import TrainingReport

__all__ = ["CURRICULUM_JSON", "NOT_RUN", "TRAINED", "CurriculumRun", "StageOutcome", "run_curriculum"]

CURRICULUM_JSON = "curriculum.json"
#: a stage after the one that stopped the curriculum
NOT_RUN = "not run"
#: a last stage without a promotion rule, trained
TRAINED = "trained"

#: ``(index, stage)`` -> a context that yields the stage's VecEnv and closes its game after
StageEnv = Callable[[int, Stage], AbstractContextManager["VecEnv"]]


@dataclass
class StageOutcome:
    """What one stage did: budget, timesteps used, and its verdict (``pass``, ``fail``,
    ``inconclusive``, :data:`TRAINED` or :data:`NOT_RUN`)."""

    stage: Stage
    index: int
    verdict: str = NOT_RUN
    timesteps: int = 0
    first_timestep: int | None = None
    seconds: float = 0.0
    successes: int | None = None
    episodes: int | None = None
    ci: tuple[float, float] | None = None
    rule: str | None = None
    title: str | None = None
    promoted: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The stage's entry in ``curriculum.json``."""
        from ..verdicts.stats import CI_METHOD

        return {**self.stage.describe(), "index": self.index + 1, "verdict": self.verdict, "promoted": self.promoted,
                "timesteps_used": self.timesteps, "first_timestep": self.first_timestep,
                "seconds": round(self.seconds, 3), "successes": self.successes, "episodes": self.episodes,
                "ci_low": self.ci[0] if self.ci else None, "ci_high": self.ci[1] if self.ci else None,
                "ci_method": CI_METHOD if self.ci else None, "rule": self.rule, "title": self.title}


@dataclass
class CurriculumRun:
    """A finished curriculum: the model, each stage's outcome, and the verdict that stopped it (if any)."""

    spec: ScenarioSpec
    outcomes: list[StageOutcome]
    model: Any = None
    stop: Verdict | None = None
    report: TrainingReport | None = None
    json_path: Path | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def summary(self) -> str:
        """``2 of 2 stages passed`` or ``stopped at stage 'large' (2 of 3)``."""
        n = len(self.outcomes)
        stopped = next((o for o in self.outcomes if o.verdict not in (NOT_RUN, TRAINED) and not o.promoted), None)
        if stopped is not None:
            return f"stopped at stage {stopped.stage.name!r} ({stopped.index + 1} of {n})"
        return f"{n} of {n} stages passed"

    def as_dict(self) -> dict[str, Any]:
        """``curriculum.json``."""
        return {"nodeid": self.spec.nodeid, "summary": self.summary,
                "timesteps": sum(o.timesteps for o in self.outcomes), "stages": [o.as_dict() for o in self.outcomes]}


class _Trainer:
    """The one model of a curriculum, built on the first stage's env and moved onto each next one."""

    def __init__(self, spec: ScenarioSpec, artifacts_dir: Path | None) -> None:
        from .training import TrainingLog, _progress_bar_available

        self.spec, self.artifacts_dir = spec, artifacts_dir
        self.model: Any = None
        self.rollout_steps: int | None = None
        self.bar = _progress_bar_available()
        self.log = TrainingLog(spec.timesteps, spec.nodeid, log_progress=not self.bar)

    def _build(self, venv: VecEnv) -> None:
        from .training import _DEFAULT_N_STEPS, _build_model, budget_kwargs, training_logger

        smallest = min(stage.timesteps for stage in self.spec.curriculum)
        kwargs, _ = budget_kwargs(dataclasses.replace(self.spec, timesteps=smallest), venv.num_envs)
        self.model = _build_model(self.spec, venv, kwargs)
        tb_dir = self.artifacts_dir / "tensorboard" if self.artifacts_dir is not None else None
        self.model.set_logger(training_logger(tb_dir))
        if self.spec.algo in _DEFAULT_N_STEPS:
            self.rollout_steps = int(self.model.n_steps)

    def _move(self, venv: VecEnv, stage: Stage) -> None:
        if venv.num_envs != self.model.n_envs:
            raise ScenarioError(f"{self.spec.nodeid}: curriculum stage {stage.name!r} runs {venv.num_envs} agents, the "
                                f"earlier stages {self.model.n_envs}: one model trains with one number of agents; set "
                                "n_envs= (Godot: agents=) so every stage's game has the same")
        try:
            self.model.set_env(venv)
        except ValueError as exc:
            raise ScenarioError(f"{self.spec.nodeid}: curriculum stage {stage.name!r}: its game's spaces differ from "
                                f"the earlier stages' ({exc}); every stage must observe and act alike") from None

    def budget(self, stage: Stage, n_envs: int) -> int:
        """What ``learn()`` is asked for in ``stage``: whole rollouts within its budget."""
        if self.rollout_steps is None:
            return stage.timesteps
        rollout = self.rollout_steps * max(n_envs, 1)
        return max(rollout, stage.timesteps // rollout * rollout)

    def train(self, stage: Stage, venv: VecEnv) -> tuple[int, int]:
        """Train ``stage`` on ``venv``; returns ``(first timestep, timesteps used)``."""
        from .training import check_algo_fits

        check_algo_fits(self.spec, venv)
        if self.model is None:
            self._build(venv)
        else:
            self._move(venv, stage)
        before = int(self.model.num_timesteps)
        self.model.learn(total_timesteps=self.budget(stage, venv.num_envs), callback=[self.log],
                         reset_num_timesteps=False, progress_bar=self.bar)
        return before, int(self.model.num_timesteps) - before


def judge_stage(spec: ScenarioSpec, stage: Stage, model: Any, venv: VecEnv) -> tuple[PlaytestResult, Verdict]:
    """Play the stage's evaluation episodes and judge them by its promotion rule (not concluded)."""
    from ..playtest import run_playtest
    from ..verdicts.errors import VerdictUsageError
    from ..verdicts.success import success_rate_verdict
    from .base import seed_everything

    rule = stage.promote
    assert rule is not None
    seed = derive_seed(spec.seed, "curriculum", stage.name)
    seed_everything(seed, spec.torch_threads)
    venv.seed(seed)
    result = run_playtest(model, venv, rule.episodes or spec.episodes, success=spec.success,
                          deterministic=spec.deterministic, seed=seed)
    try:
        return result, success_rate_verdict(result, rule.at_least, rule.alpha)
    except VerdictUsageError as exc:
        raise ScenarioError(f"{spec.nodeid}: curriculum stage {stage.name!r}: its promotion rule cannot be "
                            f"judged: {exc}") from None


def _stop_verdict(run: CurriculumRun, outcome: StageOutcome, verdict: Verdict) -> Verdict:
    """The verdict that stops the curriculum at ``outcome``'s stage (it names the stage, its
    successes/episodes, the interval, the rule and the stages not run)."""
    from ..verdicts.verdict import Verdict

    n = len(run.outcomes)
    later = [o.stage.name for o in run.outcomes[outcome.index + 1:]]
    budgets = "; ".join(f"{o.stage.name}: {o.timesteps}/{o.stage.timesteps} timesteps ({o.verdict})"
                        for o in run.outcomes[:outcome.index + 1])
    return Verdict(
        outcome=verdict.outcome,
        title=f"curriculum stopped at stage {outcome.stage.name!r} ({outcome.index + 1} of {n}): its {verdict.title}",
        rows=verdict.rows,
        notes=[f"promotion rule of stage {outcome.stage.name!r}: {outcome.rule}", *verdict.notes,
               f"budget used: {budgets}",
               f"stages not run: {', '.join(repr(name) for name in later)}" if later else "no later stage",
               "the scenario's own playtest did not run"],
        details={**verdict.details, "stage": outcome.stage.name, "not_run": later})


def _decide(run: CurriculumRun, outcome: StageOutcome, result: PlaytestResult, verdict: Verdict) -> bool:
    """Record the stage's verdict on ``outcome``; True to promote. A stop sets ``run.stop``."""
    from ..verdicts.stats import success_interval
    from ..verdicts.verdict import INCONCLUSIVE, PASS, inconclusive_policy

    rule = outcome.stage.promote
    assert rule is not None
    k, n = result.successes, len(result.judged)
    outcome.successes, outcome.episodes, outcome.ci = k, n, success_interval(k, n)
    outcome.verdict, outcome.title, outcome.rule = verdict.outcome, verdict.title, rule.describe(n)
    outcome.promoted = verdict.outcome == PASS
    if verdict.outcome == INCONCLUSIVE and inconclusive_policy(None) == "pass":
        warnings.warn(InconclusiveWarning(f"curriculum stage {outcome.stage.name!r} promoted on an inconclusive "
                                          f"verdict (--rl-inconclusive=pass): {verdict.message}"), stacklevel=2)
        outcome.promoted = True
    if not outcome.promoted:
        run.stop = _stop_verdict(run, outcome, verdict)
    return outcome.promoted


def _run_stage(run: CurriculumRun, trainer: _Trainer, outcome: StageOutcome, stage_env: StageEnv) -> bool:
    """Train and judge one stage; True to go on."""
    stage, start = outcome.stage, time.perf_counter()
    with stage_env(outcome.index, stage) as venv:
        outcome.first_timestep, outcome.timesteps = trainer.train(stage, venv)
        outcome.seconds = time.perf_counter() - start
        if stage.promote is None:
            outcome.verdict, outcome.promoted = TRAINED, True
            return True
        result, verdict = judge_stage(run.spec, stage, trainer.model, venv)
    return _decide(run, outcome, result, verdict)


def run_curriculum(spec: ScenarioSpec, stage_env: StageEnv, artifacts_dir: Path | None) -> CurriculumRun:
    """Train ``spec``'s model through its curriculum, stage after stage, until a stage fails its
    rule or every stage is done (see the module docs).

    Args:
        spec: a scenario with ``curriculum``.
        stage_env: gives each stage's env (started for the stage, closed after it).
        artifacts_dir: the test's artifact folder (``curriculum.json``, ``model.zip``, the training
            episodes and learning curve, TensorBoard); None writes nothing.

    Raises:
        ScenarioError: stages whose games differ in agents or spaces; a rule that cannot be judged.
    """
    if not spec.curriculum:
        raise ScenarioError(f"{spec.nodeid}: run_curriculum needs rl_scenario(curriculum=[...])")
    run = CurriculumRun(spec, [StageOutcome(stage, i) for i, stage in enumerate(spec.curriculum)])
    trainer = _Trainer(spec, artifacts_dir)
    for outcome in run.outcomes:
        if not _run_stage(run, trainer, outcome, stage_env):
            break
    run.model = trainer.model
    run.report = _finish(run, trainer, artifacts_dir)
    return run


def _finish(run: CurriculumRun, trainer: _Trainer, artifacts_dir: Path | None) -> TrainingReport:
    """The training report of the whole curriculum; with a folder, ``curriculum.json``, ``model.zip``,
    the training episodes and the learning curve."""
    from .training import TrainingReport, save_model, write_training_artifacts

    timesteps = sum(o.timesteps for o in run.outcomes)
    seconds = time.perf_counter() - run.started
    record = {"timesteps": timesteps, "seconds": seconds, "curriculum": run.summary}
    report = TrainingReport(timesteps, seconds, None, None, record=record)
    if artifacts_dir is None:
        return report
    run.json_path = atomic_write_json(artifacts_dir / CURRICULUM_JSON, run.as_dict())
    record["curriculum_json"] = CURRICULUM_JSON
    report.tensorboard_dir = artifacts_dir / "tensorboard"
    report.model_path = save_model(trainer.model, artifacts_dir / "model.zip")
    report.episodes_csv, report.learning_curve_png = write_training_artifacts(
        trainer.log.episodes, artifacts_dir, f"{run.spec.algo} curriculum on {run.spec.env_label} ({run.spec.nodeid})")
    return report
