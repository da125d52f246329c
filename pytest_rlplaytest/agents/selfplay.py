"""Self-play for symmetric two-seat games: an opponent pool, an opponent mix, matches and ratings.

A two-seat scene runs as one full ``VecEnv`` with one env per agent, seats interleaved: agent ``2k``
is seat A and agent ``2k + 1`` seat B of match ``k`` (the example's ``duel.tscn``). The learner plays
every seat A through a :class:`~.multiagent.PolicyView`; every seat B is acted for by a
:class:`SelfPlayOpponents` actor, which draws each episode's opponent from an :class:`OpponentMix`
on that seat's ``episode_start`` (seeded draws):

* ``"latest"``: the learner's current weights (acting stochastically, as it explores);
* ``"past"``: a snapshot drawn uniformly from the :class:`OpponentPool` (falls back to ``latest``
  while the pool is empty);
* any other name: a scripted opponent the test provides, a callable ``(obs, episode_start) ->
  actions`` (an :class:`~.multiagent.AgentActor`).

:class:`SnapshotCallback` saves the learner into the pool every ``snapshot_every`` timesteps
(``pool/snapshot_<timestep>.zip``); the pool and the mix (with how many episodes each opponent was
drawn for) are written to ``pool/pool.json``.

Evaluation: :func:`play_match` plays seat A against seat B and returns a
:class:`~..playtest.PlaytestResult` of seat A's episodes, each a success when seat A won
(``info["winner"] == info["seat"]``); a draw or time limit is not a win. :func:`assert_win_rate`
judges it with the project's one-sided exact binomial tests and Clopper-Pearson interval
(:func:`~..verdicts.success.success_rate_verdict`). :func:`rating_table` fits Elo-style ratings to
match results by Bradley-Terry maximum likelihood (scipy), see its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from ..common.files import atomic_write_text, dumps_json
from .base import AgentError
from .multiagent import AgentActor, PolicyView, policy_actor, take_rows

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from ..playtest import PlaytestResult
    from ..verdicts.verdict import Verdict

__all__ = ["LATEST", "PAST", "OpponentMix", "OpponentPool", "Rating", "SelfPlay", "SelfPlayError",
           "SelfPlayOpponents", "SnapshotCallback", "assert_win_rate", "match_counts", "play_match", "rating_table",
           "round_robin", "seat_a_won", "seats", "self_play_view", "train_self_play", "write_ratings"]

LATEST = "latest"
PAST = "past"


class SelfPlayError(AgentError, ValueError):
    """Self-play was set up wrongly (a mix naming no known opponent, an odd number of agents...)."""


def seats(n_agents: int) -> tuple[list[int], list[int]]:
    """Seat A's and seat B's agent indices of a full ``VecEnv`` of ``n_agents`` interleaved agents."""
    if n_agents < 2 or n_agents % 2:
        raise SelfPlayError(f"a two-seat game needs an even number of agents (2 per match), got {n_agents}; "
                            "give the scene agents=2k")
    return list(range(0, n_agents, 2)), list(range(1, n_agents, 2))


@dataclass(frozen=True)
class OpponentMix:
    """Weights of the opponents each episode is drawn from: ``latest``, ``past`` and scripted names."""

    weights: Mapping[str, float]

    @classmethod
    def parse(cls, weights: Mapping[str, float], scripted: Mapping[str, Any]) -> OpponentMix:
        """Check ``weights`` (non-negative, some positive, names known) against the scripted names."""
        known = {LATEST, PAST, *scripted}
        for name, w in weights.items():
            if name not in known:
                raise SelfPlayError(f"self-play mix names {name!r}, which is no opponent; use 'latest', 'past' "
                                    f"or a scripted opponent's name ({', '.join(sorted(scripted)) or 'none given'})")
            if not (isinstance(w, (int, float)) and w >= 0 and math.isfinite(w)):
                raise SelfPlayError(f"self-play mix weight of {name!r} is {w!r}; weights must be numbers >= 0")
        if not weights or sum(weights.values()) <= 0:
            raise SelfPlayError("self-play mix has no positive weight; e.g. mix={'latest': 0.5, 'past': 0.5}")
        return cls(dict(weights))

    def draw(self, rng: np.random.Generator) -> str:
        """One opponent name, drawn by weight."""
        names = sorted(self.weights)
        p = np.array([self.weights[n] for n in names], dtype=float)
        return names[int(rng.choice(len(names), p=p / p.sum()))]


@dataclass
class OpponentPool:
    """Snapshots of the learner saved in ``folder`` (``snapshot_<timestep>.zip``), loaded on demand."""

    folder: Path
    snapshots: list[tuple[str, int, Path]] = field(default_factory=list)
    _loaded: dict[str, Any] = field(default_factory=dict)

    def add(self, model: Any, timestep: int) -> str:
        """Save ``model`` as the snapshot at ``timestep``; returns its name."""
        from .training import save_model

        name = f"snapshot_{timestep}"
        path = save_model(model, self.folder / f"{name}.zip")
        self.snapshots.append((name, int(timestep), path))
        return name

    def load(self, name: str) -> Any:
        """The snapshot ``name`` as an SB3 model (loaded once, on the CPU)."""
        if name not in self._loaded:
            from .base import import_algo

            path = next((p for n, _, p in self.snapshots if n == name), None)
            if path is None:
                raise SelfPlayError(f"the pool has no snapshot {name!r} (it has {self.names()})")
            self._loaded[name] = import_algo("PPO").load(str(path), device="cpu")
        return self._loaded[name]

    def names(self) -> list[str]:
        """The snapshots' names, oldest first."""
        return [n for n, _, _ in self.snapshots]

    def write(self, mix: OpponentMix | None, drawn: Mapping[str, int]) -> Path:
        """``pool.json``: the snapshots (name, timestep, file relative to the pool folder), the mix and
        how many episodes each opponent was drawn for."""
        record = {"snapshots": [{"name": n, "timestep": t, "file": p.name} for n, t, p in self.snapshots],
                  "mix": dict(mix.weights) if mix is not None else None, "episodes_drawn": dict(sorted(drawn.items()))}
        return atomic_write_text(self.folder / "pool.json", dumps_json(record))


class SelfPlayOpponents:
    """An :class:`~.multiagent.AgentActor` for the opponents' seats: each seat's opponent is redrawn
    from ``mix`` on its ``episode_start`` (``rng`` seeded), and the seats are acted for by opponent.

    ``latest`` is the learner (``set_learner``), ``past`` a uniform draw from ``pool``'s snapshots
    (``latest`` while the pool is empty), other names the ``scripted`` actors. ``drawn`` counts the
    episodes each opponent (snapshots by their name) was drawn for.
    """

    def __init__(self, mix: OpponentMix, pool: OpponentPool | None, scripted: Mapping[str, AgentActor],
                 seed: int) -> None:
        self.mix, self.pool, self.scripted = mix, pool, dict(scripted)
        self.rng = np.random.default_rng(seed)
        self.current: list[str] = []
        self.drawn: dict[str, int] = {}
        self._actors: dict[str, AgentActor] = {}
        self._learner: Any = None

    def set_learner(self, model: Any) -> None:
        """The model ``latest`` acts with (the one being trained)."""
        self._learner = model
        self._actors.pop(LATEST, None)

    def _resolve(self, name: str) -> str:
        if name == PAST:
            names = self.pool.names() if self.pool is not None else []
            return names[int(self.rng.integers(len(names)))] if names else LATEST
        return name

    def _actor(self, name: str) -> AgentActor:
        if name not in self._actors:
            if name in self.scripted:
                self._actors[name] = self.scripted[name]
            elif name == LATEST:
                if self._learner is None:
                    raise SelfPlayError("self-play drew 'latest' before the learner was set (set_learner)")
                self._actors[name] = policy_actor(self._learner, deterministic=False)
            else:
                assert self.pool is not None
                self._actors[name] = policy_actor(self.pool.load(name), deterministic=True)
        return self._actors[name]

    def __call__(self, obs: Any, episode_start: np.ndarray) -> np.ndarray:
        """Actions for every opponent seat, each from the opponent drawn for its episode."""
        k = len(episode_start)
        if len(self.current) != k:
            self.current = [""] * k
        for i in np.flatnonzero(episode_start).tolist():
            self.current[i] = self._resolve(self.mix.draw(self.rng))
            self.drawn[self.current[i]] = self.drawn.get(self.current[i], 0) + 1
        out: list[Any] = [None] * k
        for name in sorted(set(self.current)):
            rows = np.array([i for i in range(k) if self.current[i] == name], dtype=np.int64)
            acted = np.asarray(self._actor(name)(take_rows(obs, rows), np.asarray(episode_start)[rows]))
            for j, i in enumerate(rows.tolist()):
                out[i] = acted[j]
        return np.stack([np.asarray(a) for a in out])


class SnapshotCallback(BaseCallback):  # type: ignore[misc]
    """Adds the learner to ``pool`` every ``every`` timesteps, tells ``opponents`` the learner, and
    writes ``pool.json`` after every snapshot and at the end of training."""

    def __init__(self, pool: OpponentPool, every: int, opponents: SelfPlayOpponents) -> None:
        super().__init__()
        if every < 1:
            raise SelfPlayError(f"snapshot_every={every!r}: give a number of timesteps >= 1")
        self.pool, self.every, self.opponents = pool, int(every), opponents
        self._next = self.every

    def _on_training_start(self) -> None:
        self.opponents.set_learner(self.model)
        self._next = int(self.model.num_timesteps) + self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.pool.add(self.model, int(self.num_timesteps))
            self.pool.write(self.opponents.mix, self.opponents.drawn)
            self._next += self.every
        return True

    def _on_training_end(self) -> None:
        self.pool.write(self.opponents.mix, self.opponents.drawn)


def self_play_view(venv: VecEnv, folder: Path, *, snapshot_every: int, mix: Mapping[str, float],
                   scripted: Mapping[str, AgentActor] | None = None,
                   seed: int = 0) -> tuple[PolicyView, SnapshotCallback]:
    """The learner's view of a two-seat ``venv`` (it plays seat A; seat B's opponents come from
    ``mix``) and the callback that fills the pool in ``folder``: give both to
    :func:`~.training.train_agent` (``train_agent(spec, view, artifacts, callbacks=[callback])``)."""
    scripted = dict(scripted or {})
    a, b = seats(venv.num_envs)
    pool = OpponentPool(Path(folder))
    opponents = SelfPlayOpponents(OpponentMix.parse(mix, scripted), pool, scripted, seed)
    return PolicyView(venv, a, [(b, opponents)]), SnapshotCallback(pool, snapshot_every, opponents)


class _ActorAgent:
    """An actor as an :class:`~.base.Agent` (``predict``), so :func:`~..playtest.run_playtest` plays it."""

    def __init__(self, actor: AgentActor) -> None:
        self.actor = actor

    def predict(self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        starts = (np.ones(_rows(observation), dtype=bool) if episode_start is None
                  else np.asarray(episode_start, dtype=bool))
        return np.asarray(self.actor(observation, starts)), None


def _rows(obs: Any) -> int:
    return len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)


def seat_a_won(episode: Any) -> bool:
    """The success rule of a match: seat A's episode ended with ``info["winner"] == info["seat"]``."""
    info = episode.final_info
    if "winner" not in info or "seat" not in info:
        raise SelfPlayError("a two-seat game must report info['winner'] and info['seat'] at each episode's end "
                            f"(this episode's final info has {sorted(info)})")
    return bool(info["winner"] == info["seat"])


def play_match(venv: VecEnv, seat_a: Any, seat_b: Any, games: int, *,
               seed: int, deterministic: bool = True) -> PlaytestResult:
    """Play ``games`` games of ``seat_a`` (an actor, or an agent with ``predict``) against ``seat_b``
    on the two-seat ``venv`` (reseeded with ``seed``); the result holds seat A's episodes, a success
    when seat A won."""
    from ..playtest import run_playtest
    from .base import seed_everything

    a, b = seats(venv.num_envs)
    seed_everything(seed)
    venv.seed(seed)
    actor_b = seat_b if not hasattr(seat_b, "predict") else policy_actor(seat_b, deterministic=deterministic)
    agent_a = seat_a if hasattr(seat_a, "predict") else _ActorAgent(seat_a)
    view = PolicyView(venv, a, [(b, actor_b)])
    return run_playtest(agent_a, view, games, success=seat_a_won, deterministic=deterministic, seed=seed)


def match_counts(result: PlaytestResult) -> tuple[int, int, int]:
    """``(seat A wins, seat B wins, draws)`` of a :func:`play_match` result."""
    wins = sum(1 for e in result.episodes if e.success)
    draws = sum(1 for e in result.episodes if e.final_info.get("winner") == "draw")
    return wins, result.n_episodes - wins - draws, draws


def assert_win_rate(result: PlaytestResult, at_least: float, *, against: str, alpha: float = 0.05,
                    inconclusive: str | None = None) -> Verdict:
    """Assert that seat A's win rate in ``result`` (:func:`play_match`) is at least ``at_least``
    against the opponent named ``against``: the success-rate verdict (one-sided exact binomial tests
    at level ``alpha``, 95% Clopper-Pearson interval shown), a draw counting as no win."""
    __tracebackhide__ = True
    from ..verdicts.ledger import record_verdict
    from ..verdicts.success import _check_request, success_rate_verdict
    from ..verdicts.verdict import conclude

    _check_request(result, at_least)
    verdict = success_rate_verdict(result, at_least, alpha)
    wins, losses, draws = match_counts(result)
    verdict.title = verdict.title.replace("success rate", f"win rate against {against!r}", 1)
    verdict.rows = [replace(row, metric=f"win_rate vs {against}") for row in verdict.rows]
    verdict.notes.insert(0, f"{wins} wins, {losses} losses, {draws} draws (a draw is no win)")
    verdict.details.update(against=against, wins=wins, losses=losses, draws=draws, metric="win_rate")
    record_verdict(verdict, result)
    return conclude(verdict, inconclusive)


@dataclass(frozen=True)
class Rating:
    """One player's Elo-style rating and its games."""

    player: str
    elo: float
    games: int
    score: float


def rating_table(results: Mapping[tuple[str, str], tuple[int, int, int]], *, anchor: str | None = None,
                 prior: float = 0.5) -> list[Rating]:
    """Elo-style ratings fitted to match results ``{(a, b): (a wins, b wins, draws)}``.

    Bradley-Terry maximum likelihood: ``P(a beats b) = 1 / (1 + 10 ** ((R_b - R_a) / 400))``; a draw
    counts as half a win for each side; each pair also gets ``prior`` virtual draws so that a player
    that wins every game gets a finite rating. Fitted with scipy's L-BFGS; ratings are shifted so that
    ``anchor`` (default: the first player) is at 1000. Sorted best first.
    """
    from scipy.optimize import minimize

    players = sorted({p for pair in results for p in pair})
    index = {p: i for i, p in enumerate(players)}
    rows = [(index[a], index[b], wa + d / 2 + prior / 2, wb + d / 2 + prior / 2) for (a, b), (wa, wb, d) in results.items()]
    scale = math.log(10) / 400

    def nll(r: np.ndarray) -> float:
        total = 0.0
        for i, j, si, sj in rows:
            diff = (r[i] - r[j]) * scale
            total += si * np.logaddexp(0, -diff) + sj * np.logaddexp(0, diff)
        return float(total)

    fit = minimize(nll, np.zeros(len(players)), method="L-BFGS-B")
    ratings = fit.x - fit.x[index[anchor if anchor is not None else players[0]]] + 1000.0
    games = dict.fromkeys(players, 0)
    score = dict.fromkeys(players, 0.0)
    for (a, b), (wa, wb, d) in results.items():
        games[a] += wa + wb + d
        games[b] += wa + wb + d
        score[a] += wa + d / 2
        score[b] += wb + d / 2
    out = [Rating(p, float(ratings[index[p]]), games[p], score[p] / games[p] if games[p] else float("nan"))
           for p in players]
    return sorted(out, key=lambda r: -r.elo)


def write_ratings(ratings: Sequence[Rating], folder: Path) -> Path:
    """``ratings.json`` (player, elo, games, score) and ``ratings.md`` (the table) in ``folder``;
    returns the JSON file."""
    from ..common.table import render_markdown_table

    rows = [[r.player, f"{r.elo:.0f}", str(r.games), f"{r.score:.3f}"] for r in ratings]
    atomic_write_text(Path(folder) / "ratings.md", "\n".join(render_markdown_table(["player", "elo", "games", "score"], rows)) + "\n")
    return atomic_write_text(Path(folder) / "ratings.json", dumps_json(
        {"method": "bradley-terry-mle", "scale": "elo (400 points = 10:1 odds)",
         "ratings": [{"player": r.player, "elo": round(r.elo, 1), "games": r.games, "score": round(r.score, 4)}
                     for r in ratings]}))


def round_robin(venv: VecEnv, players: Mapping[str, Any], games: int, *, seed: int,
                on_match: Callable[[str, str, PlaytestResult], None] | None = None
                ) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Every pair of ``players`` (actors or agents) plays ``games`` games (the first of the pair in
    seat A); ``{(a, b): (a wins, b wins, draws)}`` for :func:`rating_table`."""
    from ..scenario import derive_seed

    names: Sequence[str] = list(players)
    out = {}
    for x, a in enumerate(names):
        for b in names[x + 1:]:
            result = play_match(venv, players[a], players[b], games, seed=derive_seed(seed, "match", a, b))
            out[(a, b)] = match_counts(result)
            if on_match is not None:
                on_match(a, b, result)
    return out


def train_self_play(spec: Any, venv: VecEnv, artifacts: Path, plan: Any = None) -> tuple[Any, Any, OpponentPool]:
    """Train ``spec`` (its ``self_play`` marker argument) by self-play on the two-seat ``venv``:
    the learner in seat A, the pool in ``<artifacts>/pool``. Returns (agent, training report, pool)."""
    from .training import train_agent

    sp = spec.self_play
    view, callback = self_play_view(venv, artifacts / "pool", snapshot_every=int(sp["snapshot_every"]),
                                    mix=sp["mix"], scripted=sp["opponents"], seed=spec.seed)
    model, report = train_agent(spec, view, artifacts, plan=plan, callbacks=[callback])
    return model, report, callback.pool


class SelfPlay:
    """What the ``rl_selfplay`` fixture returns: matches of the scenario's agent (seat A) against
    named opponents, win-rate verdicts and the rating table.

    Opponent names: the marker's ``opponents``, ``"self"`` (the agent itself), a pool snapshot's
    name, or ``"pool"`` (each episode's opponent drawn uniformly from the pool's snapshots).
    """

    def __init__(self, item: Any, spec: Any, venv: VecEnv, agent: Any, artifacts: Path,
                 pool: OpponentPool | None) -> None:
        self.item, self.spec, self.venv, self.agent, self.artifacts = item, spec, venv, agent, artifacts
        self.pool = pool
        self.scripted: dict[str, AgentActor] = dict((spec.self_play or {}).get("opponents", {}))

    def opponent(self, name: str) -> Any:
        """The opponent called ``name`` (an actor or an agent); SelfPlayError naming the choices."""
        if name in self.scripted:
            return self.scripted[name]
        if name == "self":
            return self.agent
        names = self.pool.names() if self.pool is not None else []
        if name == "pool" and names:
            assert self.pool is not None
            return SelfPlayOpponents(OpponentMix({PAST: 1.0}), self.pool, {}, seed=self.spec.seed)
        if name in names:
            assert self.pool is not None
            return self.pool.load(name)
        raise SelfPlayError(f"rl_selfplay has no opponent {name!r}; choose one of "
                            f"{', '.join([*sorted(self.scripted), 'self', *(['pool'] if names else []), *names])}"
                            + ("" if names else " (no pool: the agent was not trained by self-play here)"))

    def match(self, against: str, games: int | None = None) -> PlaytestResult:
        """Play ``games`` (default: the scenario's ``episodes``) against ``against``, seeded per opponent."""
        from ..scenario import derive_seed

        result = play_match(self.venv, self.agent, self.opponent(against), games or self.spec.episodes,
                            seed=derive_seed(self.spec.seed, "selfplay", against),
                            deterministic=self.spec.deterministic)
        result.scenario = self.spec.describe()
        return result

    def win_rate(self, against: str, at_least: float, games: int | None = None, alpha: float = 0.05) -> Verdict:
        """The verdict: the agent's win rate against ``against`` is at least ``at_least``
        (:func:`assert_win_rate`); records the JUnit property ``rl_win_rate_<against>``."""
        __tracebackhide__ = True
        from ..reports.junit import set_property

        result = self.match(against, games)
        wins, _, _ = match_counts(result)
        set_property(self.item, f"rl_win_rate_{against}", f"{wins}/{result.n_episodes}")
        return assert_win_rate(result, at_least, against=against, alpha=alpha)

    def ratings(self, games: int = 32, snapshots: Sequence[str] | None = None) -> list[Rating]:
        """Round robin of the agent, the scripted opponents and the pool's ``snapshots`` (default
        all), ``games`` per pair; fitted by :func:`rating_table` (anchored at the agent), written to
        ``ratings.json`` / ``ratings.md`` and recorded as ``rl_ratings_json`` (the run report's table)."""
        from ..reports.junit import set_property

        pool_names = list(snapshots if snapshots is not None else (self.pool.names() if self.pool else []))
        players = {"agent": self.agent, **self.scripted, **{n: self.opponent(n) for n in pool_names}}
        ratings = rating_table(round_robin(self.venv, players, games, seed=self.spec.seed), anchor="agent")
        set_property(self.item, "rl_ratings_json", str(write_ratings(ratings, self.artifacts)))
        return ratings
