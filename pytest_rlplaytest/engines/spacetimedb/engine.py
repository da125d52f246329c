"""The SpacetimeDB engine: ``env="spacetimedb:<module dir>"`` in an ``rl_scenario`` marker.

::

    @pytest.mark.rl_scenario(env="spacetimedb:example_project/spacetimedb/blackholio", agents=4,
                             max_episode_steps=200, timesteps=20_000)
    def test_agents_gain_mass(rl_result): ...

``start()`` starts a local server (isolated root, free port) and publishes the module, or, with
``--spacetimedb-url URL``, connects to a running server and its already published database (pass
``publish=True`` to publish there too; the CLI's login for that server is kept under the artifacts
folder, so later sessions can publish over the same database again). Each agent is its own connection
and identity and calls reducers over its own WebSocket; all agents share one database and one asyncio
loop, and a ``VecEnv`` steps them concurrently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...scenario import derive_seed
from ..base import Engine, EngineContext, EngineError
from .install import SpacetimeInstall, find_spacetime
from .server import HttpApi, SpacetimeServer, publish_module

if TYPE_CHECKING:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecEnv

    from ...settings import Settings
    from .blocking import LoopThread
    from .mapping import GameMapping
    from .roles import AgentRole

#: episode length when the marker gives no ``max_episode_steps`` (Blackholio never ends by itself)
DEFAULT_EPISODE_STEPS = 200


def database_name(module_dir: Path | str) -> str:
    """A valid database name from a module folder name (``Blackholio_Server`` -> ``blackholio-server``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", Path(module_dir).name.lower()).strip("-")
    return name or "rlplaytest"


def remote_cli_root(settings: Settings, url: str) -> Path:
    """Where the CLI keeps its login (``cli.toml``) for the server at ``url``: one per server, under the
    artifacts folder, so the identity that created a database can publish over it again."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", url.split("://", 1)[-1]).strip("_") or "server"
    return Path(settings.artifacts) / "spacetimedb-cli" / slug


class SpacetimeEngine(Engine):
    """Runs a SpacetimeDB module and exposes its game as Gymnasium / SB3 environments."""

    scheme: ClassVar[str] = "spacetimedb"
    #: what identifies the build: the published module, the CLI version and the table mapping
    IDENTITY_KEYS: ClassVar[tuple[str, ...]] = ("engine", "module_identity", "spacetime_version", "mapping")
    OPTIONS: ClassVar[dict[str, str]] = {
        "agents": "agents (connections, one identity each) in the shared database; the VecEnv's size (default 1)",
        "database": "database name (default: the module folder's name)",
        "mapping": "game mapping: a name ('blackholio') or a GameMapping object (default 'blackholio')",
        "roles": "several competing roles in the one world, one policy each: dict(name=N or dict(agents=N, "
                 "mapping=...)); replaces agents=",
        "publish": "publish the module (default: yes when the plugin starts the server, no with --spacetimedb-url)",
        "step_ticks": "server transactions (on the mapping's clock table) one env step waits for",
        "step_max_ms": "longest wait for those transactions, in milliseconds",
    }

    def __init__(self, target: Any, context: EngineContext) -> None:
        super().__init__(target, context)
        self.server: SpacetimeServer | None = None
        self.url: str = ""
        self.database: str = ""
        self.module_dir: Path | None = None
        self.version: tuple[int, int, int] | None = None
        self.module_identity: str | None = None
        self._loop: LoopThread | None = None
        self._envs: list[Any] = []
        self._mapping: GameMapping | None = None
        self._roles: tuple[AgentRole, ...] | None = None

    # -- options --------------------------------------------------------------------------------
    @property
    def agents(self) -> int:
        """How many agents the marker asked for (with ``roles=``: all the roles' agents)."""
        if "roles" in self.context.options and "agents" not in self.context.options:
            return sum(role.agents for role in self.roles)
        agents = self.context.options.get("agents", 1)
        if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
            raise EngineError(f"{self.context.nodeid}: rl_scenario(agents={agents!r}): agents must be a whole "
                              "number >= 1")
        return agents

    @property
    def mapping(self) -> GameMapping:
        """The resolved :class:`~.mapping.GameMapping`, with ``step_ticks``/``step_max_ms`` applied."""
        if self._mapping is None:
            self._mapping = self._resolve_mapping(self.context.options.get("mapping", "blackholio"), "mapping")
        return self._mapping

    def _resolve_mapping(self, chosen: Any, label: str) -> GameMapping:
        """A mapping name or object (the ``mapping=`` option, or a role's) with the step options applied."""
        import dataclasses

        from .blackholio import MAPPINGS
        from .mapping import GameMapping

        if isinstance(chosen, str):
            if chosen not in MAPPINGS:
                raise EngineError(f"{self.context.nodeid}: rl_scenario({label}={chosen!r}): unknown mapping; "
                                  f"known: {', '.join(sorted(MAPPINGS))}, or pass a GameMapping object")
            mapping = MAPPINGS[chosen]
        elif isinstance(chosen, GameMapping):
            mapping = chosen
        else:
            raise EngineError(f"{self.context.nodeid}: rl_scenario({label}=...) must be a mapping name or a "
                              f"GameMapping, got {type(chosen).__name__}")
        opts = self.context.options
        if "step_ticks" in opts or "step_max_ms" in opts:
            clock = dataclasses.replace(mapping.clock, ticks=int(opts.get("step_ticks", mapping.clock.ticks)),
                                        max_wait_ms=float(opts.get("step_max_ms", mapping.clock.max_wait_ms)))
            mapping = dataclasses.replace(mapping, clock=clock)
        return mapping

    @property
    def roles(self) -> tuple[AgentRole, ...]:
        """The ``roles=`` option's roles (empty without it): one policy per role in the one world."""
        if self._roles is None:
            from .roles import parse_roles

            value = self.context.options.get("roles")
            if value is None:
                self._roles = ()
            else:
                if "agents" in self.context.options:
                    raise EngineError(f"{self.context.nodeid}: give roles= or agents=, not both: with roles each "
                                      "role says its own agents (roles=dict(a=2, b=2))")
                self._roles = parse_roles(value, self._resolve_mapping, self.mapping, self.context.nodeid)
        return self._roles

    def _resolve_module(self) -> Path | None:
        target = self.target
        if target in (None, ""):
            return None
        return self.context.paths.resolve(str(target))

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a server and publish (or reach ``--spacetimedb-url``); raise EngineUnavailable
        when the ``spacetime`` CLI is needed and missing."""
        self.module_dir = self._resolve_module()
        _ = self.agents, self.mapping, self.roles  # validate the options before anything starts
        self.database = str(self.context.options.get("database") or
                            (database_name(self.module_dir) if self.module_dir else ""))
        if not self.database:
            raise EngineError(f"{self.context.nodeid}: pass env='spacetimedb:<module dir>' or database='<name>'")
        try:
            if self.context.settings.spacetimedb_url:
                self._reach_remote(self.context.settings.spacetimedb_url)
            else:
                self._start_local()
            from .blocking import LoopThread

            self._loop = LoopThread(name=f"spacetimedb-{self.database}")
        except BaseException:
            self.close()
            raise

    def _reach_remote(self, url: str) -> None:
        timeout = self.context.settings.engine_timeout
        self.url = url.rstrip("/")
        if not HttpApi(self.url, timeout=min(timeout, 10)).ping():
            raise EngineError(f"no SpacetimeDB server answers GET {self.url}/v1/ping (from "
                              "--spacetimedb-url / SPACETIMEDB_URL); start it or drop the option")
        if not self.context.options.get("publish"):
            return
        if self.module_dir is None:
            raise EngineError("publish=True needs env='spacetimedb:<module dir>'")
        install = SpacetimeInstall.locate(find_spacetime(self.context.settings.spacetime_bin), timeout)
        self.version = install.version
        result = publish_module(install, remote_cli_root(self.context.settings, self.url), self.url,
                                self.module_dir, self.database)
        self.module_identity = result.identity

    def _start_local(self) -> None:
        if self.module_dir is None:
            raise EngineError(f"{self.context.nodeid}: without --spacetimedb-url the engine needs the "
                              "module folder: env='spacetimedb:<module dir>'")
        if not self.module_dir.is_dir():
            raise EngineError(f"SpacetimeDB module folder {self.context.paths.describe(str(self.target))} "
                              "does not exist")
        binary = find_spacetime(self.context.settings.spacetime_bin)
        log_dir = Path(self.context.artifacts_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.server = SpacetimeServer(binary, timeout=self.context.settings.engine_timeout,
                                      log_path=log_dir / "spacetimedb-server.log")
        self.url = self.server.start()
        self.version = self.server.version
        if self.context.options.get("publish") is None or self.context.options["publish"]:
            result = self.server.publish(self.module_dir, self.database)
            self.module_identity = result.identity
            (log_dir / "spacetimedb-publish.log").write_text(result.output)

    # -- environments -----------------------------------------------------------------------------
    def _make_one(self, index: int, seed: int, role: AgentRole | None = None) -> gym.Env:  # type: ignore[type-arg]
        import gymnasium as gym

        from ..gym import make_seeded_wrapper
        from .env import SpacetimeEnv

        if self._loop is None:
            raise EngineError("SpacetimeEngine.start() must run before making envs")
        mapping, name = (self.mapping, f"agent{index}") if role is None else (role.mapping, f"{role.name}{index}")
        env: gym.Env = SpacetimeEnv(self.url, self.database, mapping,  # type: ignore[type-arg]
                                    name=name, timeout=self.context.settings.engine_timeout, loop=self._loop)
        self._envs.append(env)
        steps = self.context.options.get("max_episode_steps") or DEFAULT_EPISODE_STEPS
        env = gym.wrappers.TimeLimit(env, max_episode_steps=int(steps))
        return make_seeded_wrapper()(env, derive_seed(seed, "env", index),  # type: ignore[no-any-return]
                                     f"spacetimedb:{self.database}[{name}]")

    def make_env(self, seed: int | None = None) -> gym.Env:  # type: ignore[type-arg]
        """One agent as a Gymnasium env."""
        return self._make_one(len(self._envs), self.context.seed if seed is None else seed)

    def _env_fn(self, index: int, seed: int, role: AgentRole | None) -> Callable[[], gym.Env]:  # type: ignore[type-arg]
        """A factory of agent ``index``'s env (monitored), for the VecEnv."""
        from stable_baselines3.common.monitor import Monitor

        return lambda: Monitor(self._make_one(index, seed, role))

    def make_vec_env(self, n_envs: int | None = None, seed: int | None = None) -> VecEnv:
        """``n_envs`` (default: ``agents``) agents in the shared database, stepped concurrently; with
        ``roles=``, every role's agents, and the VecEnv's ``policy_groups``/``policy_spaces`` say which
        agent plays which role."""
        from .env import action_space, concurrent_vec_env, observation_space
        from .roles import role_groups

        base = self.context.seed if seed is None else seed
        first = len(self._envs)
        if not self.roles:
            n = n_envs or self.agents
            return concurrent_vec_env([self._env_fn(first + i, base, None) for i in range(n)])
        if n_envs not in (None, self.agents):
            raise EngineError(f"{self.context.nodeid}: n_envs={n_envs} but the roles have {self.agents} agents in all; "
                              "with roles= drop n_envs (each role says its agents)")
        seats = [role for role in self.roles for _ in range(role.agents)]
        venv = concurrent_vec_env([self._env_fn(first + i, base, r) for i, r in enumerate(seats)])
        venv.policy_groups = role_groups(self.roles)  # type: ignore[attr-defined]
        venv.policy_spaces = {role.name: (observation_space(role.mapping), action_space(role.mapping))  # type: ignore[attr-defined]
                              for role in self.roles}
        return venv

    def close(self) -> None:
        """Close every agent connection, the loop and the server; idempotent."""
        envs, self._envs = self._envs, []
        for env in envs:
            try:
                env.close()
            except Exception:  # pragma: no cover - closing must not mask the test's own error
                pass
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def describe(self) -> dict[str, Any]:
        """Engine, module, database, CLI version and mapping, for baselines and replay bundles."""
        return {
            "engine": "spacetimedb",
            "module": str(self.module_dir) if self.module_dir else None,
            "database": self.database,
            "module_identity": self.module_identity,
            "spacetime_version": ".".join(map(str, self.version)) if self.version else None,
            "server": "started" if self.server is not None or not self.context.settings.spacetimedb_url
            else self.url,
            "mapping": self.mapping.name,
            "agents": self.agents,
            "roles": {role.name: {"agents": role.agents, "mapping": role.mapping.name} for role in self.roles} or None,
        }
