"""From the game's ``env_info`` to Gymnasium spaces, and between numpy and the wire.

Observations: each key of the per-agent observation space becomes a ``Box`` (``float32``; keys whose
name contains ``2d`` carry hex-encoded ``uint8`` images) or ``Discrete``. Keys are sorted
alphabetically, as godot-rl's ``spaces.Dict`` does (a plain dict is sorted by every gymnasium
version). A single non-image key is unwrapped to a plain ``Box`` (so ``MlpPolicy`` and ONNX export
see a flat vector); several keys give a ``spaces.Dict``.

Actions keep the GAME's key order (the order of ``get_action_space()``, which Godot's JSON writer
keeps): the official plugin's ONNX inference decodes the model output walking that dictionary in
insertion order (plugin ``sync.gd:291-345`` at bf5d6a2), so anything laid out by action key must
follow it. (godot-rl 0.8.2 builds an ``OrderedDict`` and wraps it in ``spaces.Dict``
(``core/godot_env.py:380-389``): gymnasium <= 0.29 and >= 1.1 keep an ``OrderedDict``'s order,
gymnasium 1.0.0 (what its pin ``gymnasium<=1.0.0`` resolves to) sorts it; godot-rl main passes a
list since 13baf29 to keep the game's order.)

* one discrete key -> ``Discrete(n)``; several discrete keys -> ``MultiDiscrete`` (game order);
* continuous keys -> one ``Box(-1, 1)`` concatenating their sizes in game order;
* mixed continuous and discrete keys -> one ``Box(-1, 1)`` in game order where a discrete key of
  size n takes n slots and the game receives their argmax. (godot-rl instead maps a binary discrete
  key to one slot thresholded at 0 and cannot mix larger discrete keys at all.)

Both spaces carry the game's own per-agent spec (``env_info``'s entry, keys in the game's order)
as the attribute :data:`GAME_SPEC_ATTR`; it survives SB3's save/load (the spaces are pickled), so
an ONNX export can name its inputs after the observation keys and lay its output out as the
plugin decodes it (:mod:`.onnx_layout`).

Bounds of Box observations are -inf..inf: the protocol declares no bounds.

Speed: the common cases (one flat box key; JSON lists of the right length; our addon's float32 blocks)
take a fast path of a few numpy calls; only when it fails are the messages inspected value by value
to name the exact agent, key and index in the error.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .protocol import ProtocolError, encode_json

#: the attribute of a Gymnasium space holding the game's per-agent spec (a plain dict, game order)
GAME_SPEC_ATTR = "rlplaytest_godot_spec"

#: the telemetry values at the end of our addon's float32 block, in order
F32_TELEMETRY = ("frame_ms", "object_count", "static_memory_mb")

try:  # the clip ufunc itself (np.clip adds a Python-level wrapper)
    _clip = np._core.umath.clip  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - older numpy
    _clip = np.clip


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
    """One observation key the game declares: its name, kind (box, image, discrete) and shape."""
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
        self.spec = {str(name): dict(entry) for name, entry in spec.items()}
        self.unwrapped = unwrap_single and len(keys) == 1 and keys[0].kind == "box"
        #: every key a box of floats: (name, shape, first column, width) for the float32 block layout
        self.flat: list[tuple[str, tuple[int, ...], int, int]] | None = None
        #: floats per agent in that layout
        self.width = 0
        if all(k.kind == "box" for k in keys):
            col, flat = 0, []
            for k in keys:
                width = int(np.prod(k.shape))
                flat.append((k.name, k.shape, col, width))
                col += width
            self.flat = flat
            self.width = col

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
        space = subs[self.keys[0].name] if self.unwrapped else spaces.Dict(subs)
        setattr(space, GAME_SPEC_ATTR, {"observation_space": self.spec})
        return space

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

    def decode_f32(self, block: Any, n_agents: int, where: Any) -> tuple[Any, np.ndarray, dict[str, Any]]:
        """Decode our addon's float32 block (base64 of Godot's ``var2bytes(PoolRealArray)``: every
        agent's observation in key order, then the rewards, then ``frame_ms``, ``object_count`` and
        ``static_memory_mb``) into ``(obs batch, float32 rewards, telemetry)``; checks the size and
        that all observations and rewards are finite."""
        try:
            raw = binascii.a2b_base64(block)
        except (TypeError, ValueError, binascii.Error) as exc:
            raise ProtocolError(f"{where}: 'f32' is not base64 text ({exc})") from None
        return self.decode_f32_raw(raw, n_agents, where)

    def f32_bytes(self, n_agents: int) -> int:
        """Bytes of the float32 block (``var2bytes`` of its PoolRealArray) for ``n_agents``."""
        return 8 + 4 * (n_agents * self.width + n_agents + len(F32_TELEMETRY))

    def decode_f32_raw(self, raw: bytes | memoryview, n_agents: int, where: Any) -> tuple[Any, np.ndarray, dict[str, Any]]:
        """:meth:`decode_f32` of the block's bytes (``var2bytes(PoolRealArray)``: a binary step
        reply is exactly these; copied, so ``raw`` may be reused afterwards)."""
        assert self.flat is not None
        width = self.width
        split = n_agents * width
        count = split + n_agents + len(F32_TELEMETRY)
        if len(raw) != 8 + 4 * count or bytes(raw[4:8]) != count.to_bytes(4, "little"):
            raise ProtocolError(f"{where}: 'f32' holds {max(0, len(raw) - 8) // 4} values, expected {count} "
                                f"({n_agents} agents x {width} observation values + {n_agents} rewards + "
                                f"{len(F32_TELEMETRY)} telemetry values)")
        values = np.frombuffer(bytearray(raw), dtype="<f4", count=count, offset=8)
        data = values[:split + n_agents]
        total = float(np.add.reduce(data, dtype=np.float64))  # float32 values cannot overflow it
        if total - total != 0.0:  # some value is not finite
            bad = int(np.flatnonzero(~np.isfinite(data))[0])
            if bad >= split:
                raise ProtocolError(f"{where}, agent {bad - split}: reward is {data[bad]}; the game must send "
                                    "finite numbers")
            agent, col = divmod(bad, width)
            for name, shape, start, w in self.flat:
                if start <= col < start + w:
                    index = [int(i) for i in np.unravel_index(col - start, shape)]
                    raise ProtocolError(f"{where}, agent {agent}, key {name!r}, index {index}: observation is "
                                        f"{data[bad]}; the game must send finite numbers")
        frame_ms, objects, memory = values[split + n_agents:].tolist()
        telemetry = {"frame_ms": round(frame_ms, 3), "object_count": int(objects),
                     "static_memory_mb": round(memory, 6)}
        if self.unwrapped:
            return values[:split].reshape((n_agents, *self.keys[0].shape)), values[split:split + n_agents], telemetry
        obs = values[:split].reshape(n_agents, width)
        return ({name: obs[:, start:start + w].reshape((n_agents, *shape)) for name, shape, start, w in self.flat},
                values[split:split + n_agents], telemetry)

    def decode_batch(self, obs_list: Any, n_agents: int, where: Any) -> Any:
        """Validate and stack ``n_agents`` observation dicts: an array ``(n, ...)`` or a dict of them."""
        if self.unwrapped and type(obs_list) is list and len(obs_list) == n_agents:
            # fast path: one box key, every agent a dict holding just it, a rectangular float array
            key = self.keys[0]
            name = key.name
            try:
                if max(map(len, obs_list)) == 1:
                    arr = np.array([o[name] for o in obs_list], dtype=np.float32)
                    if arr.ndim >= 2 and arr.size == n_agents * self.width:
                        if arr.shape[1:] != key.shape:
                            arr = arr.reshape((n_agents, *key.shape))
                        if np.isfinite(arr).all():
                            return arr
            except (KeyError, TypeError, ValueError, IndexError):
                pass
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

    def decode_agent(self, agent: int, obs: Any, where: str) -> Any:
        """:meth:`decode_one` for agent ``agent`` (every agent has this codec's space)."""
        return self.decode_one(obs, where)


@dataclass(frozen=True)
class ActKey:
    """One action key the game declares: its name, whether it is discrete and its size."""
    name: str
    discrete: bool
    size: int


class ActionCodec:
    """Turns a batch of SB3 actions into the per-agent action dicts the game expects."""

    def __init__(self, spec: Mapping[str, Any], where: str = "env_info") -> None:
        if not isinstance(spec, Mapping) or not spec:
            raise ProtocolError(f"{where}: action_space must be a non-empty object, got {spec!r}")
        keys = []
        for name in spec:  # the game's order (see the module docstring)
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
        self.spec = {k.name: {"size": k.size, "action_type": "discrete" if k.discrete else "continuous"}
                     for k in keys}
        self._formats: dict[tuple[int, bool], str] = {}

    def space(self) -> Any:
        """The Gymnasium space of one agent's action."""
        from gymnasium import spaces

        space: Any
        if self.mode == "discrete":
            space = spaces.Discrete(self.keys[0].size)
        elif self.mode == "multidiscrete":
            space = spaces.MultiDiscrete([k.size for k in self.keys])
        else:
            space = spaces.Box(-1.0, 1.0, shape=(self.width,), dtype=np.float32)
        setattr(space, GAME_SPEC_ATTR, {"action_space": self.spec})
        return space

    def encode_json(self, actions: Any, n_agents: int) -> str:
        """The JSON text of :meth:`encode_batch` (the ``action`` list of an action message)."""
        if self.mode == "continuous" and len(self.keys) == 1:
            # fast path: printf-style formatting (float32 input: 9 significant digits round-trip it
            # exactly; anything else gets 17), about 3x faster than the JSON encoder's float repr;
            # Python's builtins on the flat list beat numpy calls at these sizes
            arr = np.asarray(actions)
            flat = arr.ravel().tolist()
            total = sum(flat) if len(flat) == n_agents * self.width else math.nan
            if total - total == 0.0:  # all finite (else encode_batch names the bad value)
                key = (n_agents, arr.dtype.char == "f")
                fmt = self._formats.get(key)
                if fmt is None:
                    one = "%.9g" if key[1] else "%.17g"
                    name = encode_json(self.keys[0].name).replace("%", "%%")
                    item = "{" + name + ":[" + ",".join([one] * self.width) + "]}"
                    fmt = self._formats[key] = "[" + ",".join([item] * n_agents) + "]"
                if min(flat) < -1.0 or max(flat) > 1.0:
                    flat = [-1.0 if x < -1.0 else 1.0 if x > 1.0 else x for x in flat]
                return fmt % tuple(flat)
        try:
            return encode_json(self.encode_batch(actions, n_agents))
        except ValueError as exc:  # pragma: no cover - encode_batch rejects non-finite values first
            from ..base import EngineError

            raise EngineError(f"refusing to send non-finite actions ({exc})") from None

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
