"""rl-zoo3 style hyperparameter files: ``rl_scenario(algo_kwargs="hyperparams/ppo.yml:LandingScene")``.

The file is a YAML mapping of sections (rl-zoo3 names them after the Gymnasium id; here any name);
the path is relative to the test file's folder (the path rule). A section is read the way rl-zoo3
reads it (DLR-RM/rl-baselines3-zoo at 22e3ff2 (v2.8.0-1), ``rl_zoo3/exp_manager.py``):

* ``yaml.safe_load`` of the file; the named section, else ``default`` (``read_hyperparameters``,
  lines 332-381);
* ``n_timesteps`` is the training budget and ``n_envs`` the number of envs; both are removed from
  the algorithm's arguments (``_preprocess_hyperparams``, lines 443-499);
* ``learning_rate``, ``clip_range``, ``clip_range_vf`` given as ``lin_<x>`` become a linear schedule
  from ``x`` to 0 over training, ``progress_remaining * x`` (``_preprocess_schedules``, lines 401-417;
  ``SimpleLinearSchedule`` in ``rl_zoo3/utils.py``, lines 296-312); numbers stay constants (SB3 makes
  them constant schedules; a negative one is left alone, as rl-zoo3 does);
* ``normalize`` is ``true``, a dict, or a string such as ``"dict(norm_obs=True, norm_reward=False)"``;
  the section's ``gamma`` becomes ``VecNormalize``'s ``gamma`` (``_preprocess_normalization``,
  lines 419-441);
* ``policy_kwargs`` may be a string such as ``"dict(log_std_init=-2, net_arch=[64, 64])"``
  (rl-zoo3 ``eval``s it, line 480); ``train_freq: [1, "episode"]`` becomes a tuple (line 456);
* ``env_kwargs`` are the game's keyword arguments.

Where rl-zoo3 calls ``eval``, this module parses the string with a small evaluator that accepts
only literals, ``dict(...)`` and the ``torch.nn`` / ``torch.optim`` classes written as ``nn.ReLU``,
``th.nn.Tanh`` or ``th.optim.Adam``: a hyperparameter file cannot run code. Keys rl-zoo3 turns into
wrappers, callbacks or action noise (``env_wrapper``, ``vec_env_wrapper``, ``frame_stack``,
``callback``, ``monitor_kwargs``, ``noise_type``, ``replay_buffer_class``...) are refused with a
clear message. Everything else goes to the algorithm's constructor, which rejects what it does not
know. The marker's own arguments (``timesteps=``, ``n_envs=``, ``policy=``, ``policy_kwargs=``,
``normalize=``, ``env_kwargs=``) win over the file's.

rl-zoo3 itself is not a dependency; only PyYAML is.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..common.paths import PathBase

__all__ = ["LinearSchedule", "apply_hyperparams_file", "load_section", "parse_python_value", "split_source"]

SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")
#: keys rl-zoo3 turns into objects rlplaytest does not build, with what to do instead
UNSUPPORTED = MappingProxyType({
    "env_wrapper": "wrap the game in its factory instead",
    "vec_env_wrapper": "wrap the game in its factory instead",
    "frame_stack": "stack frames in the game's factory instead",
    "callback": "rlplaytest installs its own training callbacks",
    "monitor_kwargs": "rlplaytest monitors every game itself",
    "noise_type": "give algo_kwargs=dict(action_noise=NormalActionNoise(...)) in the marker instead",
    "noise_std": "give algo_kwargs=dict(action_noise=NormalActionNoise(...)) in the marker instead",
    "replay_buffer_class": "give the class in the marker's algo_kwargs instead",
})
#: the marker arguments a file may set, and the file key for each
MARKER_KEYS = MappingProxyType({"timesteps": "n_timesteps", "n_envs": "n_envs", "policy": "policy",
                                "policy_kwargs": "policy_kwargs", "normalize": "normalize",
                                "env_kwargs": "env_kwargs"})


class LinearSchedule:
    """rl-zoo3's ``lin_<x>``: ``progress_remaining * x`` (``x`` at the start of training, 0 at its end).

    A module-level class, so a model saved with it loads again (SB3 pickles the schedule)."""

    def __init__(self, initial_value: float) -> None:
        self.initial_value = float(initial_value)

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial_value

    def __repr__(self) -> str:
        return f"lin_{self.initial_value:g}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearSchedule) and other.initial_value == self.initial_value

    def __hash__(self) -> int:
        return hash(("lin", self.initial_value))


def split_source(value: str) -> tuple[str, str | None]:
    """``"hyperparams/ppo.yml:LandingScene"`` -> ``("hyperparams/ppo.yml", "LandingScene")``; no
    section -> ``(file, None)``.

    Raises:
        ValueError: not a ``.yml`` / ``.yaml`` file (completing "algo_kwargs ...").
    """
    for suffix in (".yml:", ".yaml:"):
        head, sep, section = value.rpartition(suffix)
        if sep and head:
            return head + suffix[:-1], section or None
    if value.endswith((".yml", ".yaml")):
        return value, None
    raise ValueError("must be a dict or an rl-zoo3 style file 'hyperparams/<algo>.yml:<section>' "
                     f"(got {value!r}, which names no .yml file)")


class _SafeEvaluator:
    """Evaluates the small Python subset rl-zoo3's hyperparameter strings use."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, node: ast.AST) -> Exception:
        return ValueError(f"cannot read {self.text!r}: {ast.unparse(node)!r} is not allowed (literals, dict(...), "
                          "nn.<Class>, th.nn.<Class> and th.optim.<Class> only)")

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values) if k is not None}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" \
                and not node.args and all(k.arg for k in node.keywords):
            return {str(k.arg): self.value(k.value) for k in node.keywords}
        if isinstance(node, ast.Attribute):
            return self.torch_class(node)
        raise self.fail(node)

    def torch_class(self, node: ast.Attribute) -> Any:
        parts: list[str] = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            parts.insert(0, current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise self.fail(node)
        parts.insert(0, current.id)
        if parts[0] in ("th", "torch"):
            parts = parts[1:]
        if len(parts) != 2 or parts[0] not in ("nn", "optim"):
            raise self.fail(node)
        import torch

        found = getattr(getattr(torch, parts[0]), parts[1], None)
        if not isinstance(found, type):
            raise ValueError(f"cannot read {self.text!r}: torch.{parts[0]} has no class {parts[1]!r}")
        return found


def parse_python_value(text: str) -> Any:
    """The value of an rl-zoo3 hyperparameter string such as ``"dict(net_arch=[64, 64],
    activation_fn=nn.ReLU)"``, without running code.

    Raises:
        ValueError: the string uses anything but literals, ``dict(...)`` and torch classes.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot read {text!r}: {exc.msg}") from None
    return _SafeEvaluator(text).value(tree.body)


def load_section(source: str, paths: PathBase) -> tuple[dict[str, Any], Path]:
    """The raw section named by ``source`` (``file.yml[:section]``, the file relative to ``paths``)
    and the file's path. Without a section, the ``default`` one.

    Raises:
        ValueError: a missing file, bad YAML or a missing section, saying which.
    """
    import yaml

    file, section = split_source(source)
    path = paths.resolve(file)
    if not path.is_file():
        raise ValueError(f"names the hyperparameter file {paths.describe(file)}, which does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"cannot read {path} as YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be a YAML mapping of sections (rl-zoo3 style), not {type(data).__name__}")
    name = section or "default"
    if name not in data:
        known = ", ".join(map(str, data)) or "none"
        raise ValueError(f"{path} has no section {name!r} (sections: {known})")
    values = data[name]
    if not isinstance(values, dict):
        raise ValueError(f"{path}: section {name!r} must be a mapping of hyperparameters")
    return dict(values), path


def _convert(section: dict[str, Any]) -> dict[str, Any]:
    """rl-zoo3's conversions of one section (see the module docstring); raises ValueError."""
    for key, why in UNSUPPORTED.items():
        if key in section:
            raise ValueError(f"sets {key!r}, which rlplaytest does not support: {why}")
    out = dict(section)
    for key in SCHEDULE_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            kind, _, initial = value.partition("_")
            if kind != "lin":
                raise ValueError(f"{key}: {value!r} is not a schedule rlplaytest knows (lin_<x>, or a number)")
            try:
                out[key] = LinearSchedule(float(initial))
            except ValueError:
                raise ValueError(f"{key}: {value!r} is not lin_<number>") from None
    for key in ("policy_kwargs", "normalize", "replay_buffer_kwargs"):
        if isinstance(out.get(key), str):
            out[key] = parse_python_value(out[key])
    if isinstance(out.get("train_freq"), list):
        out["train_freq"] = tuple(out["train_freq"])
    if "n_timesteps" in out:
        out["n_timesteps"] = int(float(out["n_timesteps"]))
    normalize = out.get("normalize")
    if normalize not in (None, False) and "gamma" in out:
        out["normalize"] = {**(normalize if isinstance(normalize, dict) else {}), "gamma": out["gamma"]}
    policy = out.get("policy")
    if policy is not None and (not isinstance(policy, str) or "." in policy):
        raise ValueError(f"policy: {policy!r} must be an SB3 policy name such as 'MlpPolicy'")
    return out


def apply_hyperparams_file(checked: Mapping[str, Any], *, given: frozenset[str], paths: PathBase,
                           nodeid: str) -> dict[str, Any]:
    """The checked marker arguments with ``algo_kwargs`` (a ``file.yml:section`` string) replaced by
    the section's algorithm arguments, and the marker arguments the file sets (budget, envs,
    policy, normalisation, env kwargs) taken from it unless the marker ``given`` them; the source
    is kept as ``hyperparams``.

    Raises:
        ScenarioError: naming the file, the key and the test.
    """
    from ..scenario import MARKER_ARG_BY_NAME, ScenarioError

    source = str(checked["algo_kwargs"])
    try:
        values = _convert(load_section(source, paths)[0])
        out = dict(checked)
        for arg, key in MARKER_KEYS.items():
            value = values.pop(key, None)
            if value is None or arg in given:
                continue
            try:
                out[arg] = MARKER_ARG_BY_NAME[arg].check(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {value!r} {exc}") from None
    except ValueError as exc:
        raise ScenarioError(f"{nodeid}: rl_scenario(algo_kwargs={source!r}): {exc}") from None
    out["algo_kwargs"] = MappingProxyType(values)
    out["hyperparams"] = source
    return out
