"""From the game's ``env_info`` to Gymnasium spaces, and between numpy and the wire.

Observations: each key of the per-agent observation space becomes a ``Box`` (``float32``; keys whose
name contains ``2d`` carry hex-encoded ``uint8`` images) or ``Discrete``. Keys are sorted
alphabetically, as godot-rl's ``spaces.Dict`` does. A single non-image key is unwrapped to a plain
``Box`` (so ``MlpPolicy`` and ONNX export see a flat vector); several keys give a ``spaces.Dict``.

Actions (keys sorted alphabetically, matching godot-rl):

* one discrete key -> ``Discrete(n)``; several discrete keys -> ``MultiDiscrete``;
* continuous keys -> one ``Box(-1, 1)`` concatenating their sizes in key order;
* mixed continuous and discrete keys -> one ``Box(-1, 1)`` in key order where a discrete key of
  size n takes n slots and the game receives their argmax. (godot-rl instead maps a binary discrete
  key to one slot thresholded at 0 and cannot mix larger discrete keys at all.)

Bounds of Box observations are -inf..inf: the protocol declares no bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .protocol import ProtocolError


def _size_tuple(size: Any, where: str) -> tuple[int, ...]:
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        size = [size]
    if not isinstance(size, list) or not size or not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and s >= 1 and float(s).is_integer() for s in size
    ):
        raise ProtocolError(f"{where}: size must be a positive whole number or a list of them, got {size!r}")
    return tuple(int(s) for s in size)


@dataclass(frozen=True)
class ObsKey:
    name: str
    kind: str  # "box" | "image" | "discrete"
    shape: tuple[int, ...]
    n: int = 0


class ObsCodec:
    """Decodes per-agent observation dicts into numpy batches and validates them.

    Args:
        spec: one agent's observation space from ``env_info`` (``{key: {"size": [...], "space": "box"}}``).
        unwrap_single: expose a single non-image box key as a plain ``Box``.
    """

    def __init__(self, spec: Mapping[str, Any], unwrap_single: bool = True, where: str = "env_info") -> None:
        if not isinstance(spec, Mapping) or not spec:
            raise ProtocolError(f"{where}: observation_space must be a non-empty object, got {spec!r}")
        keys = []
        for name in sorted(spec):
            entry = spec[name]
            loc = f"{where}: observation_space[{name!r}]"
            if not isinstance(entry, Mapping):
                raise ProtocolError(f"{loc} must be an object with size and space, got {entry!r}")
            space = entry.get("space", "box")
            if space == "box":
                shape = _size_tuple(entry.get("size"), loc)
                keys.append(ObsKey(name, "image" if "2d" in name else "box", shape))
            elif space == "discrete":
                n = _size_tuple(entry.get("size"), loc)
                keys.append(ObsKey(name, "discrete", (), n=int(np.prod(n))))
            else:
                raise ProtocolError(f"{loc}: space {space!r} is not supported (box or discrete)")
        self.keys = keys
        self.unwrapped = unwrap_single and len(keys) == 1 and keys[0].kind == "box"

    def space(self) -> Any:
        """The Gymnasium space of one agent's observation."""
        from gymnasium import spaces

        subs: dict[str, Any] = {}
        for key in self.keys:
            if key.kind == "box":
                subs[key.name] = spaces.Box(-np.inf, np.inf, shape=key.shape, dtype=np.float32)
            elif key.kind == "image":
                subs[key.name] = spaces.Box(0, 255, shape=key.shape, dtype=np.uint8)
            else:
                subs[key.name] = spaces.Discrete(key.n)
        if self.unwrapped:
            return subs[self.keys[0].name]
        return spaces.Dict(subs)

    def _decode_key(self, key: ObsKey, values: Sequence[Any], where: str) -> np.ndarray:
        n = len(values)
        if key.kind == "image":
            try:
                arr = np.stack([np.frombuffer(bytes.fromhex(v), dtype=np.uint8) for v in values])
            except (TypeError, ValueError) as exc:
                raise ProtocolError(f"{where}, key {key.name!r}: image observations must be hex strings ({exc})") from None
            expected = int(np.prod(key.shape))
            if arr.shape[1] != expected:
                raise ProtocolError(f"{where}, key {key.name!r}: image has {arr.shape[1]} bytes, env_info declared "
                                    f"size {list(key.shape)} ({expected} bytes)")
            return arr.reshape((n, *key.shape))
        if key.kind == "discrete":
            out = np.empty(n, dtype=np.int64)
            for i, v in enumerate(values):
                if isinstance(v, list) and len(v) == 1:
                    v = v[0]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer() \
                        or not 0 <= v < key.n:
                    raise ProtocolError(f"{where}, agent {i}, key {key.name!r}: discrete observation {v!r} is not a "
                                        f"whole number in [0, {key.n})")
                out[i] = int(v)
            return out
        expected = int(np.prod(key.shape))
        try:
            arr = np.asarray(values, dtype=np.float32)
            ok = arr.ndim >= 2 and arr.shape[0] == n and int(np.prod(arr.shape[1:])) == expected
        except (TypeError, ValueError):
            ok = False
        if not ok:
            for i, v in enumerate(values):
                flat = np.asarray(v, dtype=object).ravel() if isinstance(v, list) else None
                if flat is None:
                    raise ProtocolError(f"{where}, agent {i}, key {key.name!r}: observation must be a list of numbers, "
                                        f"got {type(v).__name__} {str(v)[:80]}")
                if flat.size != expected:
                    raise ProtocolError(f"{where}, agent {i}, key {key.name!r}: observation has {flat.size} values, "
                                        f"env_info declared size {list(key.shape)} ({expected} values)")
                for j, x in enumerate(flat):
                    if isinstance(x, bool) or not isinstance(x, (int, float)):
                        raise ProtocolError(f"{where}, agent {i}, key {key.name!r}, index {j}: {x!r} is not a number")
            raise ProtocolError(f"{where}, key {key.name!r}: observations do not form a {list(key.shape)} array")
        arr = arr.reshape((n, *key.shape))
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0].tolist()
            raise ProtocolError(f"{where}, agent {bad[0]}, key {key.name!r}, index {bad[1:]}: observation is "
                                f"{arr[tuple(bad)]}; the game must send finite numbers")
        return arr

    def decode_batch(self, obs_list: Any, n_agents: int, where: str) -> Any:
        """Validate and stack ``n_agents`` observation dicts: an array ``(n, ...)`` or a dict of them."""
        if not isinstance(obs_list, list) or len(obs_list) != n_agents:
            got = f"{len(obs_list)} entries" if isinstance(obs_list, list) else type(obs_list).__name__
            raise ProtocolError(f"{where}: 'obs' must be a list with one entry per agent ({n_agents}), got {got}")
        names = [k.name for k in self.keys]
        for i, o in enumerate(obs_list):
            if not isinstance(o, dict):
                raise ProtocolError(f"{where}, agent {i}: observation must be an object with keys {names}, "
                                    f"got {type(o).__name__} {str(o)[:80]} (did get_obs() fail? see the game's output)")
            if len(o) != len(names) or any(k not in o for k in names):
                missing = sorted(set(names) - set(o))
                extra = sorted(set(o) - set(names))
                raise ProtocolError(f"{where}, agent {i}: observation keys differ from env_info: missing {missing}, "
                                    f"unexpected {extra}")
        out = {k.name: self._decode_key(k, [o[k.name] for o in obs_list], where) for k in self.keys}
        if self.unwrapped:
            return out[self.keys[0].name]
        return out

    def decode_one(self, obs: Any, where: str) -> Any:
        """Decode a single agent's observation (e.g. a terminal observation)."""
        batch = self.decode_batch([obs], 1, where)
        if isinstance(batch, dict):
            return {k: v[0] for k, v in batch.items()}
        return batch[0]


@dataclass(frozen=True)
class ActKey:
    name: str
    discrete: bool
    size: int


class ActionCodec:
    """Turns a batch of SB3 actions into the per-agent action dicts the game expects."""

    def __init__(self, spec: Mapping[str, Any], where: str = "env_info") -> None:
        if not isinstance(spec, Mapping) or not spec:
            raise ProtocolError(f"{where}: action_space must be a non-empty object, got {spec!r}")
        keys = []
        for name in sorted(spec):
            entry = spec[name]
            loc = f"{where}: action_space[{name!r}]"
            if not isinstance(entry, Mapping):
                raise ProtocolError(f"{loc} must be an object with size and action_type, got {entry!r}")
            kind = entry.get("action_type")
            if kind not in ("discrete", "continuous"):
                raise ProtocolError(f"{loc}: action_type {kind!r} is not supported (discrete or continuous)")
            (size,) = _size_tuple(entry.get("size"), loc)[:1]
            keys.append(ActKey(name, kind == "discrete", size))
        self.keys = keys
        discrete = [k for k in keys if k.discrete]
        if len(discrete) == len(keys):
            self.mode = "discrete" if len(keys) == 1 else "multidiscrete"
        elif not discrete:
            self.mode = "continuous"
        else:
            self.mode = "mixed"
        self.width = sum(k.size for k in keys)

    def space(self) -> Any:
        """The Gymnasium space of one agent's action."""
        from gymnasium import spaces

        if self.mode == "discrete":
            return spaces.Discrete(self.keys[0].size)
        if self.mode == "multidiscrete":
            return spaces.MultiDiscrete([k.size for k in self.keys])
        return spaces.Box(-1.0, 1.0, shape=(self.width,), dtype=np.float32)

    def encode_batch(self, actions: Any, n_agents: int) -> list[dict[str, Any]]:
        """Per-agent action dicts for a batch of ``n_agents`` actions."""
        arr = np.asarray(actions)
        if self.mode == "discrete":
            flat = arr.reshape(n_agents, -1)[:, 0].astype(np.int64).tolist()
            name = self.keys[0].name
            return [{name: a} for a in flat]
        if self.mode == "multidiscrete":
            int_rows = arr.reshape(n_agents, len(self.keys)).astype(np.int64).tolist()
            names = [k.name for k in self.keys]
            return [dict(zip(names, row)) for row in int_rows]
        rows = arr.reshape(n_agents, self.width).astype(np.float64)
        if not np.all(np.isfinite(rows)):
            bad = np.argwhere(~np.isfinite(rows))[0].tolist()
            from ..base import EngineError

            raise EngineError(f"action for agent {bad[0]} holds {rows[tuple(bad)]} at index {bad[1]}; "
                              "the policy produced non-finite actions")
        out: list[dict[str, Any]] = [{} for _ in range(n_agents)]
        col = 0
        for key in self.keys:
            block = rows[:, col:col + key.size]
            col += key.size
            if key.discrete:
                values = np.argmax(block, axis=1).tolist()
            else:
                values = np.clip(block, -1.0, 1.0).tolist()
            for i in range(n_agents):
                out[i][key.name] = values[i]
        return out
