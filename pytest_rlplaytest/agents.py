"""Agents behind one ``predict()``: trained with Stable-Baselines3 or loaded from ``.zip`` / ``.onnx``.

Every agent answers SB3's ``predict(observation, state, episode_start, deterministic)`` and returns
``(actions, state)`` for a batch of observations (one row per env of a ``VecEnv``). SB3 models do so
already; :class:`OnnxAgent` does the same with onnxruntime for models in the official Godot RL
Agents ONNX layout (inputs ``obs``, ``state_ins``; outputs ``output``, ``state_outs``).

Torch and SB3 are imported only when an agent is trained or loaded.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .scenario import ScenarioError, ScenarioSpec

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

log = logging.getLogger("pytest_rlplaytest")


class Agent(Protocol):
    """Anything that acts: SB3's ``predict`` signature."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations, and the recurrent state (None if stateless)."""
        ...


class AgentError(RuntimeError):
    """An agent could not be trained or loaded; the message says why and what to do."""


def _import_algo(name: str) -> type[BaseAlgorithm]:
    if name == "RecurrentPPO":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise AgentError("algo='RecurrentPPO' needs sb3-contrib: pip install sb3-contrib") from exc
        return RecurrentPPO  # type: ignore[no-any-return]
    try:
        import stable_baselines3 as sb3
    except ImportError as exc:  # pragma: no cover
        raise AgentError("training needs stable-baselines3: pip install stable-baselines3") from exc
    return getattr(sb3, name)  # type: ignore[no-any-return]


def seed_everything(seed: int, torch_threads: int = 1) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA), and give torch ``torch_threads``
    threads (``--rl-torch-threads``)."""
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
        torch.set_num_threads(torch_threads)
    except ImportError:  # pragma: no cover
        pass


def _check_algo_fits(spec: ScenarioSpec, venv: VecEnv) -> None:
    from gymnasium import spaces

    action_space = venv.action_space
    if spec.algo == "DQN" and not isinstance(action_space, spaces.Discrete):
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo='DQN') needs a Discrete action space; this game's is "
                            f"{action_space}. Use algo='PPO' or 'A2C'.")
    if spec.algo in ("SAC", "TD3") and not isinstance(action_space, spaces.Box):
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo={spec.algo!r}) needs a continuous (Box) action space; "
                            f"this game's is {action_space}. Use algo='PPO' or 'A2C'.")


def default_policy(spec: ScenarioSpec, venv: VecEnv) -> str:
    """``MlpPolicy`` / ``MultiInputPolicy`` (``…LstmPolicy`` for RecurrentPPO) unless the marker names one."""
    if spec.policy:
        return spec.policy
    from gymnasium import spaces

    is_dict = isinstance(venv.observation_space, spaces.Dict)
    if spec.algo == "RecurrentPPO":
        return "MultiInputLstmPolicy" if is_dict else "MlpLstmPolicy"
    return "MultiInputPolicy" if is_dict else "MlpPolicy"


def _budget_kwargs(spec: ScenarioSpec, n_envs: int) -> tuple[dict[str, Any], int]:
    """The algorithm's keyword arguments and the timesteps to ask ``learn()`` for.

    SB3's PPO rounds a budget up to whole rollouts (2048 steps per env by default), so a small budget
    (``--rl-timesteps=1000``) would train twice as long as asked. Unless the marker sets ``n_steps``,
    the rollout is sized to fit the budget, and ``learn()`` is asked for whole rollouts only: the
    budget is a cap, never exceeded.
    """
    kwargs = dict(spec.algo_kwargs)
    total = spec.timesteps
    if spec.algo not in ("PPO", "RecurrentPPO", "A2C"):
        return kwargs, total
    n_envs = max(n_envs, 1)
    if "n_steps" in kwargs and int(kwargs["n_steps"]) * n_envs <= spec.timesteps:
        # the marker sized the rollout and it fits: train the whole rollouts that fit the budget
        rollout = int(kwargs["n_steps"]) * n_envs
        return kwargs, (spec.timesteps // rollout) * rollout
    if spec.algo == "A2C" and "n_steps" not in kwargs:
        return kwargs, total  # A2C's rollouts are 5 steps: nothing to fit
    # No n_steps, or one whose rollout exceeds the (capped) budget: size the rollout to fit.
    default = {"PPO": 2048, "RecurrentPPO": 128, "A2C": 5}[spec.algo]
    per_env = max(spec.timesteps // n_envs, 16)
    rollouts = -(-per_env // default)
    n_steps = max(16, (per_env // rollouts) // 8 * 8)
    if spec.algo == "A2C":
        n_steps = max(1, spec.timesteps // n_envs)
    if "n_steps" in kwargs:
        log.info("%s: rollout of %s steps x %d envs exceeds the budget of %d timesteps; using n_steps=%d",
                 spec.nodeid, kwargs["n_steps"], n_envs, spec.timesteps, n_steps)
    kwargs["n_steps"] = n_steps
    total = rollouts * n_steps * n_envs if spec.algo != "A2C" else n_steps * n_envs
    total = min(spec.timesteps, total) if spec.timesteps >= n_steps * n_envs else n_steps * n_envs
    if spec.algo != "A2C":  # PPO's minibatches must divide the rollout
        size = n_steps * n_envs
        batch = min(int(kwargs.get("batch_size", 64)), size)
        while size % batch:
            batch -= 1
        kwargs["batch_size"] = batch
    return kwargs, total


@dataclass
class TrainingReport:
    """What training did."""

    timesteps: int
    seconds: float
    model_path: Path | None
    tensorboard_dir: Path | None
    episodes_csv: Path | None = None
    learning_curve_png: Path | None = None


def _training_callback(total: int, label: str, log_progress: bool, every_seconds: float = 30.0) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class TrainingLog(BaseCallback):
        """Records every finished training episode (for the learning curve) and, when there is
        no TTY for a progress bar, logs progress every ``every_seconds``."""

        def __init__(self) -> None:
            super().__init__()
            self._last = time.monotonic()
            self._start = self._last
            self.episodes: list[tuple[int, float, int]] = []

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                episode = info.get("episode") if isinstance(info, dict) else None
                if episode is not None:
                    self.episodes.append((int(self.num_timesteps), float(episode["r"]), int(episode["l"])))
            if log_progress:
                now = time.monotonic()
                if now - self._last >= every_seconds:
                    self._last = now
                    rate = self.num_timesteps / max(now - self._start, 1e-9)
                    log.info("%s: %d/%d timesteps (%.0f steps/s)", label, self.num_timesteps, total, rate)
            return True

    return TrainingLog()


def _progress_bar_available() -> bool:
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return False
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def train_agent(
    spec: ScenarioSpec, venv: VecEnv, artifacts_dir: Path | None = None
) -> tuple[BaseAlgorithm, TrainingReport]:
    """Train ``spec.algo`` on ``venv`` for ``spec.timesteps`` and save it as ``model.zip``.

    TensorBoard logs go to ``<artifacts>/tensorboard``. Progress: SB3's progress bar on a TTY,
    otherwise a log line every 30 s (logger ``pytest_rlplaytest``).
    """
    _check_algo_fits(spec, venv)
    algo_cls = _import_algo(spec.algo)
    seed_everything(spec.seed, spec.torch_threads)
    tb_dir: Path | None = None
    if artifacts_dir is not None:
        tb_dir = artifacts_dir / "tensorboard"
    kwargs, total = _budget_kwargs(spec, venv.num_envs)
    policy_kwargs = dict(spec.policy_kwargs) or None
    try:
        model = algo_cls(
            default_policy(spec, venv), venv, seed=spec.seed, device=spec.device, verbose=0,
            tensorboard_log=str(tb_dir) if tb_dir else None, policy_kwargs=policy_kwargs, **kwargs,
        )
    except TypeError as exc:
        raise ScenarioError(f"{spec.nodeid}: rl_scenario(algo_kwargs=...) rejected by {spec.algo}: {exc}") from None
    start = time.perf_counter()
    bar = _progress_bar_available()
    training_log = _training_callback(total, spec.nodeid, log_progress=not bar)
    model.learn(total_timesteps=total, progress_bar=bar, callback=training_log, tb_log_name="train")
    seconds = time.perf_counter() - start
    report = TrainingReport(int(model.num_timesteps), seconds, None, tb_dir)
    if artifacts_dir is not None:
        report.model_path = artifacts_dir / "model.zip"
        model.save(report.model_path)
        report.episodes_csv, report.learning_curve_png = _write_training_artifacts(
            training_log.episodes, artifacts_dir, f"{spec.algo} on {spec.env_label} ({spec.nodeid})")
    return model, report


def _write_training_artifacts(
    episodes: list[tuple[int, float, int]], folder: Path, title: str
) -> tuple[Path, Path | None]:
    """``training_episodes.csv`` (timestep, return, length) and ``learning_curve.png``."""
    from .reports.plots import learning_curve

    csv_path = folder / "training_episodes.csv"
    lines = ["timestep,return,length"] + [f"{t},{r},{n}" for t, r, n in episodes]
    csv_path.write_text("\n".join(lines) + "\n")
    png = learning_curve([e[0] for e in episodes], [e[1] for e in episodes], folder / "learning_curve.png", title)
    return csv_path, png


_ALGO_BY_MODULE = {
    "stable_baselines3.ppo": "PPO", "stable_baselines3.a2c": "A2C", "stable_baselines3.dqn": "DQN",
    "stable_baselines3.sac": "SAC", "stable_baselines3.td3": "TD3", "sb3_contrib.ppo_recurrent": "RecurrentPPO",
    # ActorCriticPolicy lives in common; PPO and A2C share it, and either loads the other's policy.
    "stable_baselines3.common.policies": "PPO",
}


def algo_of_zip(path: Path, fallback: str) -> str:
    """Which algorithm saved a SB3 ``.zip`` (read from its ``data`` entry), else ``fallback``."""
    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("data"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        return fallback
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for prefix, algo in _ALGO_BY_MODULE.items():
        if module.startswith(prefix):
            return algo
    return fallback


def load_agent(spec: ScenarioSpec, venv: VecEnv) -> Agent:
    """Load ``spec.model``: ``.zip`` through SB3 (algorithm read from the file), ``.onnx`` through
    onnxruntime. The stored agent's spaces must match the game's."""
    path = spec.model
    assert path is not None
    if not path.exists():
        raise AgentError(f"{spec.nodeid}: rl_scenario(model=...) names {path}, which does not exist. "
                         "Train one (run the test without model=, then copy <artifacts>/model.zip) "
                         "or fix the path (relative paths are relative to the test file).")
    if path.suffix == ".onnx":
        return OnnxAgent(path, venv.action_space, venv.observation_space)
    try:
        import zipfile as _zf

        _zf.ZipFile(path).close()
    except _zf.BadZipFile:
        raise AgentError(f"{path} is not a Stable-Baselines3 .zip (not a zip archive); if it is a Git LFS "
                         "pointer, run `git lfs pull`") from None
    algo = algo_of_zip(path, spec.algo)
    algo_cls = _import_algo(algo)
    model = algo_cls.load(path, device=spec.device)
    if model.observation_space.shape != venv.observation_space.shape or type(model.observation_space) is not type(
        venv.observation_space
    ):
        raise AgentError(f"{path}: the stored agent observes {model.observation_space}, but the game sends "
                         f"{venv.observation_space}. Retrain the agent for this build of the game.")
    if model.action_space != venv.action_space:
        raise AgentError(f"{path}: the stored agent acts in {model.action_space}, but the game expects "
                         f"{venv.action_space}. Retrain the agent for this build of the game.")
    return model  # type: ignore[return-value]


class OnnxAgent:
    """Runs an ONNX policy in the official Godot RL Agents layout with onnxruntime.

    Inputs ``obs`` ``[B, N]`` float32 and ``state_ins`` ``[B]``; outputs ``output`` ``[B, A]`` and
    ``state_outs``. ``output`` holds logits (discrete: argmax per action branch) or continuous
    actions. How continuous outputs map onto the action space is read from the model's metadata
    (``rlplaytest.continuous``: ``clip`` for PPO/A2C means, ``unscale`` for SAC/TD3's [-1, 1]
    actions); a model without it is clamped to [-1, 1], as the official plugin does.
    """

    def __init__(self, path: Path, action_space: Any, observation_space: Any = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover
            raise AgentError("loading a .onnx agent needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise AgentError(f"{path}: onnxruntime cannot load it: {exc}") from None
        inputs = {i.name for i in self.session.get_inputs()}
        if "obs" not in inputs:
            raise AgentError(f"{path}: an ONNX agent needs an input named 'obs' (Godot RL Agents layout); "
                             f"it has {sorted(inputs)}. Export with `rlplaytest export-onnx`.")
        self.has_state = "state_ins" in inputs
        meta = self.session.get_modelmeta().custom_metadata_map
        self.continuous = meta.get("rlplaytest.continuous", "clamp")
        self.action_space = action_space
        self.observation_space = observation_space
        self.path = path

    def _flat_obs(self, observation: Any) -> np.ndarray:
        if isinstance(observation, dict):
            if len(observation) != 1:
                raise AgentError(f"{self.path}: ONNX agents take one observation vector; the game sends keys "
                                 f"{sorted(observation)}")
            observation = next(iter(observation.values()))
        arr = np.asarray(observation, dtype=np.float32)
        return arr.reshape(1, -1) if arr.ndim == 1 else arr.reshape(arr.shape[0], -1)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Greedy actions for a batch (ONNX policies are deterministic)."""
        from gymnasium import spaces

        obs = self._flat_obs(observation)
        feed: dict[str, np.ndarray] = {"obs": obs}
        if self.has_state:
            feed["state_ins"] = np.zeros((obs.shape[0],), dtype=np.float32)
        output = np.asarray(self.session.run(["output"], feed)[0])
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return output.argmax(axis=1).astype(np.int64) + int(space.start), None
        if isinstance(space, spaces.MultiDiscrete):
            parts, offset = [], 0
            for n in space.nvec.ravel():
                parts.append(output[:, offset:offset + int(n)].argmax(axis=1))
                offset += int(n)
            return np.stack(parts, axis=1).astype(np.int64), None
        if isinstance(space, spaces.Box):
            low, high = space.low.reshape(1, -1), space.high.reshape(1, -1)
            if self.continuous == "unscale":
                acts = low + 0.5 * (np.clip(output, -1, 1) + 1.0) * (high - low)
            elif self.continuous == "clip":
                acts = np.clip(output, low, high)
            else:
                acts = np.clip(output, -1.0, 1.0)
            return acts.reshape((obs.shape[0], *space.shape)).astype(np.float32), None
        raise AgentError(f"{self.path}: ONNX agents support Discrete, MultiDiscrete and Box actions, not {space}")


def export_onnx(model: BaseAlgorithm, out: Path, opset: int = 17) -> Path:
    """Export an SB3 policy in the official Godot RL Agents ONNX layout.

    PPO/A2C: ``output`` = action logits (discrete) or action means (continuous); DQN: Q-values;
    SAC/TD3: the deterministic actor's [-1, 1] action. ``state_ins`` passes through to
    ``state_outs`` (non-recurrent policies).
    """
    import onnx
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy

    policy = model.policy.to("cpu").eval()
    obs_space = model.observation_space
    dict_key: str | None = None
    if isinstance(obs_space, spaces.Dict):
        if len(obs_space.spaces) != 1:
            raise AgentError("export-onnx supports one observation vector (a Dict with a single key); "
                             f"this policy observes {sorted(obs_space.spaces)}")
        dict_key = next(iter(obs_space.spaces))
        obs_space = obs_space.spaces[dict_key]
    if not isinstance(obs_space, spaces.Box):
        raise AgentError(f"export-onnx supports Box observations, not {obs_space}")
    n_obs = int(np.prod(obs_space.shape))
    continuous = "clip"

    shape = tuple(int(d) for d in obs_space.shape)
    import inspect

    actor = getattr(policy, "actor", None)
    # SAC's actor samples unless told deterministic=True; TD3's is deterministic already.
    actor_kwargs = {"deterministic": True} if actor is not None and "deterministic" in inspect.signature(
        actor.forward).parameters else {}

    class Exportable(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, obs: torch.Tensor, state_ins: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = obs.reshape((-1, *shape))
            inp: Any = {dict_key: x} if dict_key else x
            policy: Any = self.policy
            if isinstance(policy, ActorCriticPolicy):
                features: Any = policy.extract_features(inp, policy.pi_features_extractor)
                latent = policy.mlp_extractor.forward_actor(features)
                out = policy.action_net(latent)
            elif hasattr(policy, "q_net"):
                out = policy.q_net(inp)
            elif hasattr(policy, "actor"):
                out = policy.actor(inp, **actor_kwargs)
            else:
                raise AgentError(f"export-onnx does not know the policy {type(policy).__name__}")
            return out, state_ins

    if not isinstance(policy, ActorCriticPolicy) and hasattr(policy, "actor"):
        continuous = "unscale"
    if type(model).__name__ == "RecurrentPPO":
        raise AgentError("export-onnx does not support recurrent policies (the Godot plugin's state_ins is unused)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = (torch.zeros((1, n_obs), dtype=torch.float32), torch.zeros((1,), dtype=torch.float32))
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of the dynamo one, which needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            Exportable(), dummy, str(out), opset_version=opset, input_names=["obs", "state_ins"],
            output_names=["output", "state_outs"],
            dynamic_axes={"obs": {0: "batch_size"}, "state_ins": {0: "batch_size"},
                          "output": {0: "batch_size"}, "state_outs": {0: "batch_size"}},
            dynamo=False,
        )
    proto = onnx.load(str(out))
    for key, value in {"rlplaytest.algo": type(model).__name__, "rlplaytest.continuous": continuous}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(out))
    return out


def check_onnx_matches(model: BaseAlgorithm, onnx_path: Path, n: int = 256, seed: int = 0,
                       atol: float = 1e-4) -> float:
    """Fraction of ``n`` sampled observations on which the ONNX agent and SB3 choose the same
    greedy action (continuous: equal within ``atol``)."""
    from gymnasium import spaces

    obs_space = model.observation_space
    obs_space.seed(seed)
    samples = [obs_space.sample() for _ in range(n)]
    if isinstance(obs_space, spaces.Dict):
        batch: Any = {k: np.stack([s[k] for s in samples]) for k in obs_space.spaces}
    else:
        batch = np.stack(samples)
    expected, _ = model.predict(batch, deterministic=True)
    got, _ = OnnxAgent(Path(onnx_path), model.action_space, obs_space).predict(batch)
    expected = np.asarray(expected).reshape(n, -1)
    got = np.asarray(got).reshape(n, -1)
    if isinstance(model.action_space, spaces.Box):
        same = np.all(np.abs(expected.astype(float) - got.astype(float)) <= atol, axis=1)
    else:
        same = np.all(expected == got, axis=1)
    return float(same.mean())
