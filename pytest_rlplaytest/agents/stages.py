"""The ``curriculum=[...]`` marker argument: an ordered list of stages, checked into frozen :class:`Stage`\\ s.

A stage is a dict::

    dict(name="small", timesteps=2000, env_kwargs=dict(size=4), reward="dense", scene="res://small.tscn",
         promote=dict(at_least=0.8, confidence=0.95, episodes=20))

* ``name`` (required): letters, digits, ``_`` and ``-``; unique (it names the stage's JUnit properties).
* ``timesteps`` (required): the stage's training budget, capped by ``--rl-timesteps`` like the marker's.
* ``env_kwargs``: the game's arguments for this stage, over the marker's ``env_kwargs``.
* ``reward``: the reward mode, given to the game as the game argument :data:`REWARD_KWARG`
  (Gymnasium: the keyword argument ``reward_mode=...`` of ``gymnasium.make`` or the factory; Godot:
  ``--reward_mode=...`` on the game's command line). SpacetimeDB has no game arguments: use a
  ``mapping=`` per stage there.
* ``promote`` (required on every stage but the last): the promotion rule, judged after the stage's
  training on ``episodes`` evaluation episodes of its game (default: the scenario's ``episodes``):
  the success rate is at least ``at_least`` by the one-sided exact binomial test at level
  ``1 - confidence`` (:func:`~pytest_rlplaytest.verdicts.success.success_rate_verdict`).
* any engine option (Godot: ``scene=``, ``agents=``, ...): this stage's, over the marker's.

This module only parses (no SB3, no torch); :mod:`.curriculum` runs the stages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["PROMOTE_KEYS", "REWARD_KWARG", "STAGE_KEYS", "PromotionRule", "Stage", "check_stage_options",
           "parse_curriculum"]

#: the game argument a stage's ``reward=`` is given as
REWARD_KWARG = "reward_mode"
#: a stage's own keys (every other key must be an engine option)
STAGE_KEYS = ("name", "timesteps", "env_kwargs", "reward", "promote")
PROMOTE_KEYS = ("at_least", "confidence", "episodes")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
EXAMPLE = ("e.g. curriculum=[dict(name='small', timesteps=2000, env_kwargs=dict(size=4), "
           "promote=dict(at_least=0.8)), dict(name='large', timesteps=4000, env_kwargs=dict(size=8))]")


@dataclass(frozen=True)
class PromotionRule:
    """Promote when the success rate is shown to be at least ``at_least`` at ``confidence``.

    Attributes:
        at_least: the threshold, strictly between 0 and 1.
        confidence: ``1 - alpha`` of the one-sided exact binomial test (default 0.95).
        episodes: evaluation episodes that judge the stage (None: the scenario's ``episodes``).
    """

    at_least: float
    confidence: float = 0.95
    episodes: int | None = None

    @property
    def alpha(self) -> float:
        """The test's level: ``1 - confidence``."""
        return round(1.0 - self.confidence, 12)

    def describe(self, episodes: int) -> str:
        """The rule in words, for verdicts and reports."""
        return (f"success rate >= {self.at_least:g} by a one-sided exact binomial test at {self.confidence:g} "
                f"confidence (alpha={self.alpha:g}) over {episodes} episodes")

    def as_dict(self) -> dict[str, Any]:
        """The rule as the marker writes it."""
        return {"at_least": self.at_least, "confidence": self.confidence, "episodes": self.episodes}


@dataclass(frozen=True)
class Stage:
    """One curriculum stage.

    Attributes:
        name: the stage's name.
        timesteps: its training budget (after the ``--rl-timesteps`` cap).
        requested_timesteps: the budget the marker asked for.
        env_kwargs: the game's arguments in this stage (the marker's, the stage's, and
            :data:`REWARD_KWARG` for ``reward``), once the scenario is built.
        engine_options: the engine options in this stage (the marker's and the stage's), once built.
        reward: the reward mode, or None.
        promote: the promotion rule (None: the stage promotes once trained; the last stage only).
    """

    name: str
    timesteps: int
    requested_timesteps: int
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    reward: str | None = None
    promote: PromotionRule | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (reports, ``curriculum.json``)."""
        from ..scenario import jsonable

        return {"name": self.name, "timesteps": self.timesteps, "requested_timesteps": self.requested_timesteps,
                "env_kwargs": jsonable(dict(self.env_kwargs)), "engine_options": jsonable(dict(self.engine_options)),
                "reward": self.reward, "promote": self.promote.as_dict() if self.promote else None}


def _whole(value: Any, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def _unknown(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _promotion(value: Any, where: str) -> PromotionRule:
    """A stage's ``promote=`` dict checked into a :class:`PromotionRule`."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: promote must be a dict such as dict(at_least=0.8, confidence=0.95, episodes=20)")
    for key in value:
        if key not in PROMOTE_KEYS:
            raise ValueError(f"{where}: promote got an unknown key {key!r}{_unknown(str(key), PROMOTE_KEYS)} "
                             f"(keys: {', '.join(PROMOTE_KEYS)})")
    at_least = value.get("at_least")
    if isinstance(at_least, bool) or not isinstance(at_least, (int, float)) or not 0.0 < at_least < 1.0:
        raise ValueError(f"{where}: promote needs at_least= strictly between 0 and 1 (a rate of exactly 1 can never "
                         "be shown from finitely many episodes; use e.g. at_least=0.9)")
    confidence = value.get("confidence", 0.95)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 < confidence < 1.0:
        raise ValueError(f"{where}: promote's confidence must be strictly between 0.5 and 1 (e.g. 0.95)")
    episodes = value.get("episodes")
    if episodes is not None and not _whole(episodes, 1):
        raise ValueError(f"{where}: promote's episodes must be a whole number >= 1")
    return PromotionRule(float(at_least), float(confidence), episodes)


def _stage(value: Any, index: int, last: bool) -> Stage:
    """One stage dict checked (its engine options kept unchecked for :func:`check_stage_options`)."""
    where = f"stage {index + 1}"
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a dict with name=, timesteps= and promote= ({EXAMPLE})")
    name = value.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where} needs name= made of letters, digits, '_' and '-' (it names the stage's "
                         "JUnit properties), e.g. name='small'")
    where = f"stage {index + 1} ({name!r})"
    timesteps: Any = value.get("timesteps")
    if not _whole(timesteps, 1):
        raise ValueError(f"{where} needs timesteps= (its training budget): a whole number >= 1")
    env_kwargs = value.get("env_kwargs", {})
    if not isinstance(env_kwargs, Mapping):
        raise ValueError(f"{where}: env_kwargs must be a dict (the game's arguments in this stage)")
    reward = value.get("reward")
    if reward is not None and (not isinstance(reward, str) or not reward):
        raise ValueError(f"{where}: reward must be a non-empty string (given to the game as {REWARD_KWARG}=...)")
    if value.get("promote") is None and not last:
        raise ValueError(f"{where} needs promote= (every stage but the last has a promotion rule), e.g. "
                         "promote=dict(at_least=0.8, confidence=0.95, episodes=20)")
    promote = _promotion(value["promote"], where) if value.get("promote") is not None else None
    options = {k: v for k, v in value.items() if k not in STAGE_KEYS}
    return Stage(name=name, timesteps=int(timesteps), requested_timesteps=int(timesteps),
                 env_kwargs=MappingProxyType(dict(env_kwargs)), engine_options=MappingProxyType(options),
                 reward=reward, promote=promote)


def parse_curriculum(value: Any) -> tuple[Stage, ...]:
    """The marker's ``curriculum=`` checked into stages.

    Raises:
        ValueError: completing ``"curriculum ..."``: what is wrong, in which stage, and an example.
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"must be a list of stages (dicts), {EXAMPLE}")
    if len(value) < 2:
        raise ValueError(f"needs at least two stages (a single stage is the scenario itself: give its arguments to "
                         f"rl_scenario), {EXAMPLE}")
    stages = tuple(_stage(stage, i, i == len(value) - 1) for i, stage in enumerate(value))
    names = [stage.name for stage in stages]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"has two stages named {name!r}: stage names must be unique")
    return stages


def check_stage_options(stages: Sequence[Stage], allowed: Mapping[str, str], scenario_wide: Sequence[str],
                        scheme: str) -> None:
    """Every extra key of a stage must be one of the engine's options.

    Raises:
        ValueError: completing ``"curriculum ..."``, naming the stage, the key and the fix.
    """
    for i, stage in enumerate(stages):
        where = f"stage {i + 1} ({stage.name!r})"
        for key in stage.engine_options:
            if key in scenario_wide:
                raise ValueError(f"{where}: {key!r} is the same for every stage (one model trains through the "
                                 f"curriculum): give it to rl_scenario, not to a stage")
            if key not in allowed:
                known = [*STAGE_KEYS, *sorted(allowed)]
                raise ValueError(f"{where} got an unknown key {key!r}{_unknown(key, known)} (a stage's keys: "
                                 f"{', '.join(known)})")
        if stage.reward is not None and scheme == "spacetimedb":
            raise ValueError(f"{where}: reward= is given to the game as a game argument, and a SpacetimeDB module "
                             "has none; give the stage its own mapping= (a GameMapping with that reward) instead")
