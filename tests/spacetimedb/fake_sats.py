"""TEST DOUBLE: SpacetimeDB's algebraic types (SATS) and their JSON forms, for the fake server.

Not SpacetimeDB. Rebuilt from the server's source (``clockworklabs/SpacetimeDB``; ``@2.8.3`` = tag
v2.8.3, ``@1.12`` = tag v1.12.0) with its own code, never the plugin's codec, so a codec mistake cannot
hide behind a matching double:

* rows read from a stored table (``RowRef``) serialise as *named* products, keyed by column, with sums as
  ``[tag, payload]`` and a unit payload as ``{}`` (``crates/table/src/bflatn_from.rs:60-87,107-130,
  168-196 @2.8.3``);
* rows of a transaction's inserts/deletes (``ProductValue``) serialise as positional arrays, unit as
  ``[]`` (``crates/sats/src/ser/serde.rs:94-97,117-122 @2.8.3``);
* the special products ``Identity`` (u256 as ``"0x…"``, no leading zeros), ``ConnectionId`` (bare decimal
  u128), ``Timestamp`` and ``TimeDuration`` (i64 micros) are single-field products named by their tag
  (``crates/sats/src/product_type.rs:15-21 @2.8.3``; ``crates/lib/src/connection_id.rs:8-31``);
* ``Option`` is the sum ``some(T) | none(())`` with tags 0 and 1 (``algebraic_type.rs:321-323``);
* the schema endpoint writes types as ``{"Ref": n}``, ``{"Product": {"elements": […]}}``,
  ``{"Sum": {"variants": […]}}``, ``{"Array": T}`` and ``{"U32": []}`` (``algebraic_type.rs:22-123``,
  ``array_type.rs:17``, ``algebraic_type_ref.rs:22``);
* reducer arguments are read with the SATS serde rules: a product from an array or an object, a sum
  from ``{"Name": v}``, ``{"<tag>": v}`` or ``[tag, v]``, an ``Option`` also from ``null``
  (``crates/sats/src/de/serde.rs:145-167,243-314 @1.12``).

Python values: products are dicts, sums ``(variant, payload)``, ``Option`` ``None`` or the value,
identities 64-hex strings, connection ids / timestamps / durations ints, arrays lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

INT_RANGES = {"U8": (0, 2**8 - 1), "U16": (0, 2**16 - 1), "U32": (0, 2**32 - 1), "U64": (0, 2**64 - 1),
              "U128": (0, 2**128 - 1), "U256": (0, 2**256 - 1), "I8": (-2**7, 2**7 - 1),
              "I16": (-2**15, 2**15 - 1), "I32": (-2**31, 2**31 - 1), "I64": (-2**63, 2**63 - 1),
              "I128": (-2**127, 2**127 - 1)}


@dataclass(frozen=True)
class Scalar:
    """``Bool``, ``String``, ``F32``/``F64`` or an integer type name."""

    name: str


@dataclass(frozen=True)
class Prod:
    """A product; ``fields`` in order."""

    fields: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class SumT:
    """A sum; ``variants`` in tag order."""

    variants: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Arr:
    """``Vec<elem>``."""

    elem: Any


@dataclass(frozen=True)
class Named:
    """A user type (``#[derive(SpacetimeType)]``) kept in the typespace and referenced by ``Ref``."""

    name: str
    inner: Any


U32, U64, I64, F32, STRING, BOOL = (Scalar(n) for n in ("U32", "U64", "I64", "F32", "String", "Bool"))
UNIT = Prod(())
IDENTITY = Prod((("__identity__", Scalar("U256")),))
CONNECTION_ID = Prod((("__connection_id__", Scalar("U128")),))
TIMESTAMP = Prod((("__timestamp_micros_since_unix_epoch__", I64),))
TIME_DURATION = Prod((("__time_duration_micros__", I64),))
SPECIAL = {IDENTITY, CONNECTION_ID, TIMESTAMP, TIME_DURATION}
#: ``ScheduleAt``: ``Interval(TimeDuration)`` = 0, ``Time(Timestamp)`` = 1 (``sum_type.rs:9-11,184-192``)
SCHEDULE_AT = SumT((("Interval", TIME_DURATION), ("Time", TIMESTAMP)))


def option(inner: Any) -> SumT:
    """``Option<inner>``: ``some`` = 0, ``none`` = 1."""
    return SumT((("some", inner), ("none", UNIT)))


def is_option(t: Any) -> bool:
    return isinstance(t, SumT) and [n for n, _ in t.variants] == ["some", "none"]


def socket_identity(hex64: str) -> str:
    """u256 as serde writes it: ``0x`` + lowercase hex without leading zeros (ethnum ``{:#x}``)."""
    return "0x" + (hex64.lstrip("0") or "0")


def _special_value(v: Any, t: Prod) -> Any:
    return socket_identity(v) if t == IDENTITY else int(v)


# -- values -> JSON ---------------------------------------------------------------------------------
def keyed(v: Any, t: Any) -> Any:
    """A value as a stored-table row (``RowRef``) serialises it."""
    if isinstance(t, Named):
        return keyed(v, t.inner)
    if t in SPECIAL:
        return {t.fields[0][0]: _special_value(v, t)}
    if isinstance(t, Prod):
        return {name: keyed(v[name], ft) for name, ft in t.fields} if t.fields else {}
    if isinstance(t, SumT):
        if is_option(t):
            return [1, {}] if v is None else [0, keyed(v, t.variants[0][1])]
        tag, payload_t, payload = _variant(v, t)
        return [tag, keyed(payload, payload_t)]
    if isinstance(t, Arr):
        return [keyed(x, t.elem) for x in v]
    return v


def positional(v: Any, t: Any) -> Any:
    """A value as a transaction delta (``ProductValue``) serialises it."""
    if isinstance(t, Named):
        return positional(v, t.inner)
    if t in SPECIAL:
        return [_special_value(v, t)]
    if isinstance(t, Prod):
        return [positional(v[name], ft) for name, ft in t.fields]
    if isinstance(t, SumT):
        if is_option(t):
            return [1, []] if v is None else [0, positional(v, t.variants[0][1])]
        tag, payload_t, payload = _variant(v, t)
        return [tag, positional(payload, payload_t)]
    if isinstance(t, Arr):
        return [positional(x, t.elem) for x in v]
    return v


def _variant(v: Any, t: SumT) -> tuple[int, Any, Any]:
    name, payload = v
    for tag, (vname, vt) in enumerate(t.variants):
        if vname == name:
            return tag, vt, (payload if vt != UNIT else None)
    raise ValueError(f"{name!r} is not a variant of {t}")


def row_json(row: dict[str, Any], row_type: Prod, keyed_row: bool) -> str:
    """A row as it appears in a ``TableUpdate``: a JSON *string* (``websocket_building.rs:60-65``)."""
    return json.dumps(keyed(row, row_type) if keyed_row else positional(row, row_type), separators=(",", ":"))


# -- types -> schema JSON ---------------------------------------------------------------------------
def type_json(t: Any, refs: dict[str, int]) -> Any:
    """An ``AlgebraicType`` as the schema endpoint writes it."""
    if isinstance(t, Named):
        return {"Ref": refs[t.name]}
    if isinstance(t, Prod):
        return {"Product": product_json(t, refs)}
    if isinstance(t, SumT):
        return {"Sum": {"variants": [{"name": {"some": n}, "algebraic_type": type_json(vt, refs)}
                                     for n, vt in t.variants]}}
    if isinstance(t, Arr):
        return {"Array": type_json(t.elem, refs)}
    return {t.name: []}


def product_json(t: Prod, refs: dict[str, int]) -> dict[str, Any]:
    return {"elements": [{"name": {"some": n}, "algebraic_type": type_json(ft, refs)} for n, ft in t.fields]}


# -- JSON -> values (reducer arguments) ------------------------------------------------------------
class ArgError(ValueError):
    """Arguments that do not fit the reducer's parameters (serde's message, with its path)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '.'}: {message}")


def _kind(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "floating point", str: "string", list: "sequence",
            dict: "map", type(None): "unit value"}.get(type(v), type(v).__name__)


def _expected(t: Any) -> str:
    if isinstance(t, Scalar):
        return {"String": "a string", "Bool": "a boolean"}.get(t.name, t.name.lower())
    return "a " + type(t).__name__.lower()


def from_json(v: Any, t: Any, path: str = "") -> Any:
    """Read a reducer argument of type ``t`` from parsed JSON.

    Raises:
        ArgError: with serde-style text (``invalid type: integer `5`, expected a string``).
    """
    if isinstance(t, Named):
        return from_json(v, t.inner, path)
    if t in SPECIAL:
        inner = v.get(t.fields[0][0]) if isinstance(v, dict) else (v[0] if isinstance(v, list) and len(v) == 1 else v)
        if t == IDENTITY and isinstance(inner, str):
            return inner.lower().removeprefix("0x").rjust(64, "0")
        return _scalar(inner, t.fields[0][1], path)
    if isinstance(t, Prod):
        return read_product(v, t, path)
    if isinstance(t, SumT):
        return _sum(v, t, path)
    if isinstance(t, Arr):
        if not isinstance(v, list):
            raise ArgError(path, f"invalid type: {_kind(v)}, expected a sequence")
        return [from_json(x, t.elem, f"{path}[{i}]") for i, x in enumerate(v)]
    return _scalar(v, t, path)


def _scalar(v: Any, t: Scalar, path: str) -> Any:
    ok = {"String": isinstance(v, str), "Bool": isinstance(v, bool),
          "F32": isinstance(v, (int, float)) and not isinstance(v, bool),
          "F64": isinstance(v, (int, float)) and not isinstance(v, bool)}.get(t.name)
    if ok is None:  # an integer type
        lo, hi = INT_RANGES[t.name]
        ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    if not ok:
        raise ArgError(path, f"invalid type: {_kind(v)} `{json.dumps(v)}`, expected {_expected(t)}")
    return float(v) if t.name in ("F32", "F64") else v


def read_product(v: Any, t: Prod, path: str) -> dict[str, Any]:
    names = [n for n, _ in t.fields]
    if isinstance(v, list):
        if len(v) != len(names):
            raise ArgError(path, f"invalid length {len(v)}, expected {len(names)} elements")
        return {n: from_json(x, ft, f"{path}[{i}]") for i, ((n, ft), x) in enumerate(zip(t.fields, v))}
    if isinstance(v, dict):
        for key in v:
            if key not in names:
                raise ArgError(path, f"unknown field `{key}`, expected one of {', '.join(f'`{n}`' for n in names)}")
        for n in names:
            if n not in v:
                raise ArgError(path, f"missing field `{n}`")
        return {n: from_json(v[n], ft, f"{path}.{n}") for n, ft in t.fields}
    raise ArgError(path, f"invalid type: {_kind(v)}, expected a product")


def _sum(v: Any, t: SumT, path: str) -> Any:
    if is_option(t) and v is None:
        return None
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int):
        tag, payload = v
    elif isinstance(v, dict) and len(v) == 1:
        ((key, payload),) = v.items()
        names = [n for n, _ in t.variants]
        tag = int(key) if key.isdigit() else (names.index(key) if key in names else -1)
        if tag < 0:
            raise ArgError(path, f"unknown variant `{key}`, expected one of {', '.join(f'`{n}`' for n in names)}")
    else:
        raise ArgError(path, f"invalid type: {_kind(v)}, expected a sum value")
    if not 0 <= tag < len(t.variants):
        raise ArgError(path, f"unknown variant tag {tag}")
    name, vt = t.variants[tag]
    value = None if vt == UNIT else from_json(payload, vt, path)
    if is_option(t):
        return value
    return (name, value)
