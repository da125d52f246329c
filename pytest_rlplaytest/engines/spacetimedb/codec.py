"""Pure encode/decode of SpacetimeDB's ``v1.json.spacetimedb`` WebSocket protocol (no I/O).

Read from the server's source (``clockworklabs/SpacetimeDB``; ``@1.12`` = tag v1.12.0,
``@2.8.3`` = tag v2.8.3; ``file:line``):

* Client messages are JSON text frames: ``Subscribe``, ``SubscribeMulti``, ``CallReducer`` (whose
  ``args`` is a JSON *string* holding the argument array; every field is required) and ``OneOffQuery``
  (``crates/client-api-messages/src/websocket/v1.rs:53-247 @2.8.3``;
  ``crates/core/src/client/message_handlers_v1.rs:22-32 @2.8.3``).
* Every server message is the SATS value serialised through serde (``crates/sats/src/ser/serde.rs``):
  named products are objects, sums *with* variant names (message enums, ``Option``) are
  ``{"Name": payload}`` (``ser/serde.rs:104-116 @2.8.3``), so a message-level ``Option`` is
  ``{"some": v}`` / ``{"none": []}`` (``ser/impls.rs:116-119 @2.8.3``), and sums *without* names (row
  values) are ``[tag, payload]`` (``ser/serde.rs:117-122``).
* Every row in ``inserts``/``deletes`` is itself a JSON string (parse twice;
  ``crates/core/src/subscription/websocket_building.rs:60-65 @2.8.3``). Rows read from the stored
  table (initial subscription, one-off queries) are objects keyed by column
  (``crates/table/src/bflatn_from.rs:60-87 @2.8.3``); rows in transaction deltas are positional arrays in
  the schema's column order. Inside rows ``Option`` is ``[0, v]`` for Some and ``[1, {}]`` (keyed) or
  ``[1, []]`` (positional) for None (``bflatn_from.rs:168-196``; tags ``sats/src/algebraic_type.rs:321``).
* Special products: ``Identity`` ``{"__identity__": "0x<hex, leading zeros stripped>"}``,
  ``ConnectionId`` ``{"__connection_id__": <bare decimal u128>}`` (``crates/lib/src/connection_id.rs:8-31
  @2.8.3``), ``Timestamp`` ``{"__timestamp_micros_since_unix_epoch__": n}``, ``TimeDuration``
  ``{"__time_duration_micros__": n}`` (``crates/sats/src/product_type.rs:15-24 @2.8.3``); positionally
  each is a one-element array. Over HTTP identities are 64 hex digits: :func:`normalize_identity` maps
  both to 64 lowercase hex digits.

Column types are described with a tiny algebra (:class:`Product`, :class:`Sum`, :class:`OptionOf`,
:class:`ArrayOf` and the names ``"identity"``, ``"timestamp"``, ``"time_duration"``,
``"connection_id"``; ``None`` means "leave as is"), so nested products such as ``position{x, y}`` decode
to dicts from either row encoding. :mod:`.schema` builds these types from the server's module schema.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import EngineError

#: the only JSON WebSocket subprotocol of SpacetimeDB (``websocket/v1.rs:23-24 @2.8.3``)
SUBPROTOCOL = "v1.json.spacetimedb"

IDENTITY = "identity"
TIMESTAMP = "timestamp"
TIME_DURATION = "time_duration"
CONNECTION_ID = "connection_id"

_IDENTITY_KEY = "__identity__"
_TIMESTAMP_KEY = "__timestamp_micros_since_unix_epoch__"
_CONNECTION_ID_KEY = "__connection_id__"
_TIME_DURATION_KEY = "__time_duration_micros__"


class ProtocolError(EngineError):
    """The server sent something that breaks the ``v1.json.spacetimedb`` protocol (or our schema)."""


# -- column types -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Product:
    """A product (struct) type: named fields in declaration order."""

    fields: tuple[tuple[str, ColumnType], ...]

    @classmethod
    def of(cls, *fields: str | tuple[str, ColumnType]) -> Product:
        """``Product.of("x", "y")`` or ``Product.of(("pos", VEC2), "mass")``."""
        return cls(tuple(_field(f) for f in fields))

    @property
    def names(self) -> tuple[str, ...]:
        """The field names in order."""
        return tuple(name for name, _ in self.fields)


@dataclass(frozen=True)
class Sum:
    """A sum (enum) type: variants in declaration order; decoded to ``(variant_name, payload)``."""

    variants: tuple[tuple[str, ColumnType], ...]

    @classmethod
    def of(cls, *variants: str | tuple[str, ColumnType]) -> Sum:
        """``Sum.of("Interval", "Time")`` or with payload types as ``(name, type)`` pairs."""
        return cls(tuple(_field(v) for v in variants))


@dataclass(frozen=True)
class OptionOf:
    """``Option<inner>``: decoded to the value or ``None``."""

    inner: ColumnType = None


@dataclass(frozen=True)
class ArrayOf:
    """``Vec<inner>``: a JSON array, each element decoded as ``inner``."""

    inner: ColumnType = None


ColumnType = Product | Sum | OptionOf | ArrayOf | str | None

#: the special single-field products and the type names they decode to (``product_type.rs:15-21``)
SPECIAL_PRODUCTS: dict[str, str] = {
    "__identity__": IDENTITY,
    "__connection_id__": CONNECTION_ID,
    "__timestamp_micros_since_unix_epoch__": TIMESTAMP,
    "__time_duration_micros__": TIME_DURATION,
}


def _field(spec: str | tuple[str, ColumnType]) -> tuple[str, ColumnType]:
    if isinstance(spec, str):
        return (spec, None)
    name, typ = spec
    return (str(name), typ)


@dataclass(frozen=True)
class TableSchema:
    """A table's columns in schema order, their types, and its primary key (for row identity).

    Positional rows (transaction deltas) can only be decoded with the column order, so every table
    the client subscribes to needs a schema, either declared or learned from a keyed row.
    """

    name: str
    columns: tuple[tuple[str, ColumnType], ...]
    primary_key: str | None = None

    @classmethod
    def of(cls, name: str, columns: Sequence[str | tuple[str, ColumnType]],
           primary_key: str | None = None) -> TableSchema:
        """Build a schema from column names or ``(name, type)`` pairs."""
        cols = tuple(_field(c) for c in columns)
        if primary_key is not None and primary_key not in [c for c, _ in cols]:
            raise ValueError(f"table {name!r}: primary key {primary_key!r} is not one of its columns "
                             f"{[c for c, _ in cols]}")
        return cls(name, cols, primary_key)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names in schema order."""
        return tuple(name for name, _ in self.columns)

    def as_product(self) -> Product:
        """The row type as a :class:`Product`."""
        return Product(self.columns)


# -- scalars ------------------------------------------------------------------------------------
def normalize_identity(value: Any) -> str:
    """Return an identity as 64 lowercase hex digits without ``0x``.

    Accepts ``{"__identity__": "0x…"}``, ``["0x…"]`` (positional), ``"0x…"`` (socket form, leading
    zeros stripped), 64-hex (HTTP form) and ints.

    Raises:
        ProtocolError: for anything that is not an identity.
    """
    raw = value
    if isinstance(value, Mapping) and _IDENTITY_KEY in value:
        value = value[_IDENTITY_KEY]
    elif isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        raise ProtocolError(f"not an identity: {raw!r}")
    if isinstance(value, int):
        if value < 0 or value >= 1 << 256:
            raise ProtocolError(f"identity {value} is out of the 256-bit range")
        return f"{value:064x}"
    if isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("0x"):
            text = text[2:]
        if not text or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
            raise ProtocolError(f"not an identity (expected hex, at most 64 digits): {raw!r}")
        return text.rjust(64, "0")
    raise ProtocolError(f"not an identity: {raw!r}")


def identity_socket_form(identity: str) -> str:
    """The socket spelling of an identity: ``0x`` + hex with leading zeros stripped."""
    digits = normalize_identity(identity).lstrip("0") or "0"
    return "0x" + digits


def decode_option(value: Any) -> Any:
    """Decode an Option: ``[0, v]`` -> ``v``; ``[1, []]`` / ``[1, {}]`` -> ``None``.

    Also accepts the named forms ``{"some": v}`` / ``{"none": …}`` and a bare ``None``.

    Raises:
        ProtocolError: for anything else.
    """
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and not isinstance(value[0], bool):
        if value[0] == 0:
            return value[1]
        if value[0] == 1 and value[1] in ([], {}, None):
            return None
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key.lower() == "some":
            return inner
        if key.lower() == "none":
            return None
    raise ProtocolError(f"not an Option: {value!r} (expected [0, value] for Some or [1, []] for None)")


def encode_option(value: Any) -> list[Any]:
    """Encode an Option the way the server does in a positional row: ``[0, v]`` or ``[1, []]``."""
    return [1, []] if value is None else [0, value]


def decode_sum(value: Any) -> tuple[int, Any]:
    """Decode a sum value ``[tag, payload]`` into ``(tag, payload)``.

    Raises:
        ProtocolError: unless ``value`` is a two-element list with an integer tag.
    """
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
            and not isinstance(value[0], bool) and value[0] >= 0):
        return value[0], value[1]
    raise ProtocolError(f"not a sum value: {value!r} (expected [tag, payload])")


_SPECIAL_KEYS = {name: key for key, name in SPECIAL_PRODUCTS.items()}


def _decode_special_int(value: Any, key: str, what: str) -> int:
    """``{key: n}`` (keyed rows, messages), ``[n]`` (positional rows) or a bare ``n`` -> ``n``."""
    if isinstance(value, Mapping) and key in value:
        value = value[key]
    elif isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ProtocolError(f"not a {what}: {value!r}")


def _decode_timestamp(value: Any) -> int:
    return _decode_special_int(value, _TIMESTAMP_KEY, "timestamp")


def _unwrap_special(value: Any) -> Any:
    """Without a declared type: unwrap the special single-key products (identity, timestamp, …)."""
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == _IDENTITY_KEY:
                return normalize_identity(inner)
            if key in (_TIMESTAMP_KEY, _TIME_DURATION_KEY, _CONNECTION_ID_KEY):
                return inner
        return {k: _unwrap_special(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_special(v) for v in value]
    return value


def _decode_named(value: Any, typ: str) -> Any:
    if typ == IDENTITY:
        return normalize_identity(value)
    if typ in _SPECIAL_KEYS:
        return _decode_special_int(value, _SPECIAL_KEYS[typ], typ.replace("_", " "))
    raise ValueError(f"unknown column type name {typ!r} (use 'identity', 'timestamp', 'time_duration', "
                     "'connection_id', a Product, Sum, OptionOf, ArrayOf or None)")


def _decode_sum(value: Any, typ: Sum) -> tuple[str, Any]:
    if isinstance(value, Mapping) and len(value) == 1:  # named form {"Variant": payload}
        ((name, payload),) = value.items()
        for vname, vtype in typ.variants:
            if vname == name:
                return (vname, decode_value(payload, vtype))
        raise ProtocolError(f"sum variant {name!r} is not one of {[v for v, _ in typ.variants]}")
    tag, payload = decode_sum(value)
    if tag >= len(typ.variants):
        raise ProtocolError(f"sum tag {tag} is out of range for variants {[v for v, _ in typ.variants]}")
    vname, vtype = typ.variants[tag]
    return (vname, decode_value(payload, vtype))


def decode_value(value: Any, typ: ColumnType) -> Any:
    """Decode one column value by its declared type (``None``: unwrap special products only).

    A unit payload (``Product(())``: ``[]`` positionally, ``{}`` keyed) decodes to ``None``.

    Raises:
        ProtocolError: when the value does not have the declared shape.
    """
    if typ is None:
        return _unwrap_special(value)
    if isinstance(typ, str):
        return _decode_named(value, typ)
    if isinstance(typ, OptionOf):
        inner = decode_option(value)
        return None if inner is None else decode_value(inner, typ.inner)
    if isinstance(typ, Sum):
        return _decode_sum(value, typ)
    if isinstance(typ, ArrayOf):
        if not isinstance(value, list):
            return _unwrap_special(value)  # e.g. bytes, sent as a hex string (ser/serde.rs:84-87)
        return [decode_value(v, typ.inner) for v in value]
    if isinstance(typ, Product):
        if not typ.fields and value in ([], {}):
            return None
        return _decode_product(value, typ.fields, "product")
    raise ValueError(f"unknown column type {typ!r}")


def _decode_product(value: Any, fields: tuple[tuple[str, ColumnType], ...], what: str) -> dict[str, Any]:
    names = [n for n, _ in fields]
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        if missing:
            raise ProtocolError(f"{what} is missing fields {missing}: {value!r} (schema fields {names})")
        return {n: decode_value(value[n], t) for n, t in fields}
    if isinstance(value, list):
        if len(value) != len(fields):
            raise ProtocolError(f"{what} has {len(value)} positional values but the schema has {len(fields)} "
                                f"fields {names}: {value!r}; check the declared TableSchema")
        return {n: decode_value(v, t) for (n, t), v in zip(fields, value)}
    raise ProtocolError(f"{what} should be an object or a positional array, got {value!r}")


def load_json_text(raw: Any, what: str) -> Any:
    """Parse the inner JSON of a double-encoded value; non-strings are returned unchanged."""
    if isinstance(raw, (str, bytes, bytearray)):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ProtocolError(f"{what} is not valid JSON ({exc}): {str(raw)[:200]!r}") from None
    return raw


def decode_row(raw: Any, schema: TableSchema | None, table: str = "?") -> dict[str, Any]:
    """Decode one row (a JSON string, an object keyed by column, or a positional array).

    Raises:
        ProtocolError: for a positional row of a table without schema, or a row of the wrong shape.
    """
    value = load_json_text(raw, f"a row of table {table!r}")
    if schema is None:
        if isinstance(value, Mapping):
            return {str(k): _unwrap_special(v) for k, v in value.items()}
        raise ProtocolError(
            f"table {table!r} sent a positional row {value!r} but its column order is unknown: the server's "
            "schema (GET /v1/database/<db>/schema) did not list it; declare a TableSchema for it"
        )
    return _row_decoder(schema)(value)


_PLAIN = (int, float, str, bool, type(None))


def _compile(typ: ColumnType, what: str) -> Callable[[Any], Any]:
    """A decoder for ``typ`` with the type dispatch done once (rows are decoded in bulk); the same
    results and errors as :func:`decode_value`."""
    if typ is None:
        return lambda v: v if type(v) in _PLAIN else _unwrap_special(v)
    if isinstance(typ, Product) and typ.fields:
        return _compile_product(typ.fields, what)
    return lambda v: decode_value(v, typ)


def _compile_product(fields: tuple[tuple[str, ColumnType], ...], what: str) -> Callable[[Any], dict[str, Any]]:
    pairs = [(name, _compile(t, "product")) for name, t in fields]
    size = len(pairs)

    def decode(value: Any) -> dict[str, Any]:
        if type(value) is list and len(value) == size:
            return {name: dec(v) for (name, dec), v in zip(pairs, value)}
        if isinstance(value, Mapping) and all(name in value for name, _ in pairs):
            return {name: dec(value[name]) for name, dec in pairs}
        return _decode_product(value, fields, what)  # raises the error naming what is wrong

    return decode


@functools.lru_cache(maxsize=256)
def _row_decoder(schema: TableSchema) -> Callable[[Any], dict[str, Any]]:
    return _compile_product(schema.columns, f"a row of table {schema.name!r}")


def encode_value(value: Any, typ: ColumnType, positional: bool) -> Any:
    """Encode a decoded value back into its wire form (inverse of :func:`decode_value`)."""
    if typ is None:
        return value
    if isinstance(typ, str):
        if typ == IDENTITY:
            text = identity_socket_form(value)
            return [text] if positional else {_IDENTITY_KEY: text}
        if typ in _SPECIAL_KEYS:
            return [int(value)] if positional else {_SPECIAL_KEYS[typ]: int(value)}
        raise ValueError(f"unknown column type name {typ!r}")
    if isinstance(typ, OptionOf):
        if value is None:
            return [1, [] if positional else {}]
        return [0, encode_value(value, typ.inner, positional)]
    if isinstance(typ, Sum):
        name, payload = value
        for tag, (vname, vtype) in enumerate(typ.variants):
            if vname == name:
                return [tag, encode_value(payload, vtype, positional)]
        raise ValueError(f"unknown variant {name!r}")
    if isinstance(typ, ArrayOf):
        return [encode_value(v, typ.inner, positional) for v in value]
    if isinstance(typ, Product):
        if not typ.fields and value is None:
            return [] if positional else {}
        return encode_product(value, typ.fields, positional)
    raise ValueError(f"unknown column type {typ!r}")


def encode_product(row: Mapping[str, Any], fields: tuple[tuple[str, ColumnType], ...],
                   positional: bool) -> Any:
    """Encode a row/product as a keyed object or a positional array."""
    if positional:
        return [encode_value(row[n], t, True) for n, t in fields]
    return {n: encode_value(row[n], t, False) for n, t in fields}


def encode_row(row: Mapping[str, Any], schema: TableSchema, positional: bool) -> str:
    """Encode a row the way the server puts it in a ``TableUpdate``: a JSON *string*."""
    return json.dumps(encode_product(row, schema.columns, positional), separators=(",", ":"))


def row_key(row: Mapping[str, Any], schema: TableSchema | None) -> Any:
    """The identity of a row in a table cache: its primary key, else the whole row canonicalised."""
    if schema is not None and schema.primary_key is not None:
        return _hashable(row[schema.primary_key])
    return json.dumps(row, sort_keys=True, default=str)


def _hashable(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


# -- client -> server ---------------------------------------------------------------------------
def encode_subscribe(queries: Iterable[str], request_id: int) -> str:
    """``{"Subscribe":{"query_strings":[…],"request_id":n}}``."""
    return json.dumps({"Subscribe": {"query_strings": list(queries), "request_id": request_id}})


def encode_subscribe_multi(queries: Iterable[str], request_id: int, query_id: int) -> str:
    """``{"SubscribeMulti":{"query_strings":[…],"request_id":n,"query_id":{"id":q}}}``."""
    return json.dumps({"SubscribeMulti": {"query_strings": list(queries), "request_id": request_id,
                                          "query_id": {"id": query_id}}})


def some(value: Any) -> dict[str, Any]:
    """An ``Option`` argument that is set: ``{"some": value}`` (``None`` alone already means none).

    The server reads reducer arguments with the SATS serde rules: a sum from ``{"name": v}``,
    ``{"<tag>": v}`` or ``[tag, v]``, and an ``Option``'s none also from ``null`` -- a bare value is not
    an ``Option`` (``crates/sats/src/de/serde.rs:240-275 @2.8.3``).
    """
    return {"some": value}


def encode_call_reducer(reducer: str, args: Sequence[Any], request_id: int, flags: int = 0) -> str:
    """``CallReducer`` with ``args`` double-encoded (a JSON string holding the argument array).

    Raises:
        ValueError: for arguments JSON cannot carry (NaN/inf, non-JSON objects).
    """
    try:
        args_text = json.dumps(list(args), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"arguments of reducer {reducer!r} cannot be sent as JSON: {exc}") from None
    return json.dumps({"CallReducer": {"reducer": reducer, "args": args_text, "request_id": request_id,
                                       "flags": flags}})


def encode_one_off_query(message_id: str, query: str) -> str:
    """``{"OneOffQuery":{"message_id":"<hex>","query_string":"SELECT …"}}``."""
    return json.dumps({"OneOffQuery": {"message_id": message_id, "query_string": query}})


# -- server -> client ---------------------------------------------------------------------------
@dataclass
class TableUpdate:
    """The changes to one table; rows are kept raw (decoded by the cache with the table's schema)."""

    table_name: str
    table_id: int | None = None
    deletes: list[Any] = field(default_factory=list)
    inserts: list[Any] = field(default_factory=list)


@dataclass
class IdentityToken:
    """The first server message: who we are."""

    identity: str
    token: str
    connection_id: Any = None


@dataclass
class InitialSubscription:
    """Answer to ``Subscribe``: the subscribed rows."""

    request_id: int | None
    tables: list[TableUpdate]


@dataclass
class SubscribeMultiApplied:
    """Answer to ``SubscribeMulti``."""

    request_id: int | None
    query_id: int | None
    tables: list[TableUpdate]


@dataclass
class TransactionUpdate:
    """A reducer ran: ``status`` is ``committed``, ``failed`` (see ``error``) or ``out_of_energy``.

    A failure to *handle* a client message (unknown reducer, bad arguments, a bad query in a legacy
    ``Subscribe``) also arrives as a ``failed`` update, with ``request_id`` 0, ``reducer_id``
    4294967295 for unknown names and ``reducer_name`` ``""`` (2.x) / ``"<none>"`` (1.x) when no reducer
    was involved (``crates/core/src/client/message_handlers_v1.rs:102-164 @2.8.3``;
    ``message_handlers.rs:175-192 @1.12``); :attr:`is_message_error` tells them apart.
    """

    status: str
    tables: list[TableUpdate]
    error: str | None = None
    timestamp_us: int | None = None
    caller_identity: str | None = None
    caller_connection_id: Any = None
    reducer_name: str | None = None
    reducer_id: int | None = None
    args: Any = None
    request_id: int | None = None

    @property
    def is_message_error(self) -> bool:
        """A ``failed`` update that answers a message the server could not execute (request id 0)."""
        return self.status != "committed" and self.request_id == 0


@dataclass
class TransactionUpdateLight:
    """What other clients get for a transaction on a 2.x server running a 2.x-crate (V10) module, or
    on any server when they connected with ``?light=true``
    (``crates/core/src/subscription/module_subscription_manager.rs:1980-1993 @2.8.3``). ``request_id``
    is the *caller's* request id (0 for scheduled reducers), never ours to match."""

    request_id: int | None
    tables: list[TableUpdate]


@dataclass
class SubscriptionError:
    """A ``SubscribeMulti``/``SubscribeSingle`` was rejected (bad SQL, unknown table), or (all ids
    ``None``) a live subscription failed during a later transaction and the server dropped the client
    (``module_subscription_manager.rs:2001-2018 @2.8.3``). A bad legacy ``Subscribe`` never produces
    this: see :class:`TransactionUpdate`."""

    error: str
    request_id: int | None = None
    query_id: int | None = None
    table_id: int | None = None


@dataclass
class OneOffTable:
    """The rows of one table in a ``OneOffQueryResponse`` (raw, like :class:`TableUpdate`)."""

    table_name: str
    rows: list[Any]


@dataclass
class OneOffQueryResponse:
    """Answer to ``OneOffQuery``."""

    message_id: str
    tables: list[OneOffTable]
    error: str | None = None


@dataclass
class UnknownMessage:
    """A server message this client does not use (kept for forward compatibility)."""

    kind: str
    body: Any


ServerMessage = (IdentityToken | InitialSubscription | SubscribeMultiApplied | TransactionUpdate
                 | TransactionUpdateLight | SubscriptionError | OneOffQueryResponse | UnknownMessage)


def message_option(value: Any) -> Any:
    """A message-level ``Option``: ``{"some": v}`` -> ``v``, ``{"none": []}`` -> ``None``.

    Messages serialise ``Option`` as a *named* sum (``crates/sats/src/ser/impls.rs:116-119 @2.8.3``),
    e.g. ``SubscriptionError.request_id`` (``websocket/v1.rs`` ``SubscriptionError``;
    ``crates/core/src/client/messages.rs:664-671 @2.8.3``). Plain values and ``None`` pass through.
    """
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "some":
            return inner
        if key == "none":
            return None
    return value


def _opt_int(value: Any) -> int | None:
    """A request/query id: ``n``, ``{"id": n}`` (v1 ``QueryId`` = ``QuerySetId``: ``websocket/v1.rs:2``, ``common.rs:10-14 @2.8.3``), an
    ``Option`` of those (``{"some": …}``/``{"none": []}``) or ``None``."""
    value = message_option(value)
    if value is None:
        return None
    if isinstance(value, Mapping) and set(value) == {"id"}:
        value = value["id"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"expected an integer id (or an Option of one), got {value!r}")
    return value


def _opt_text(value: Any) -> str | None:
    value = message_option(value)
    if value is None or isinstance(value, str):
        return value
    inner = decode_option(value)  # a positional [0, "text"] / [1, []]: tolerated
    return None if inner is None else str(inner)


def _need(body: Mapping[str, Any], key: str, kind: str) -> Any:
    if not isinstance(body, Mapping) or key not in body:
        raise ProtocolError(f"{kind} message lacks {key!r}: {json.dumps(body)[:300]}")
    return body[key]


def _parse_table_updates(value: Any, kind: str) -> list[TableUpdate]:
    if isinstance(value, Mapping):
        value = _need(value, "tables", kind)
    if not isinstance(value, list):
        raise ProtocolError(f"{kind}: 'tables' should be a list, got {value!r}")
    out: list[TableUpdate] = []
    for item in value:
        name = _need(item, "table_name", kind)
        updates = item.get("updates", [])
        if not isinstance(updates, list):
            raise ProtocolError(f"{kind}: 'updates' of table {name!r} should be a list")
        deletes: list[Any] = []
        inserts: list[Any] = []
        for upd in updates:
            if not isinstance(upd, Mapping):
                raise ProtocolError(f"{kind}: an update of table {name!r} is not an object: {upd!r}")
            deletes.extend(upd.get("deletes") or [])
            inserts.extend(upd.get("inserts") or [])
        table_id = item.get("table_id")
        out.append(TableUpdate(str(name), table_id if isinstance(table_id, int) else None, deletes, inserts))
    return out


def _message_id_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(value).hex()
    raise ProtocolError(f"OneOffQueryResponse message_id should be hex text or bytes, got {value!r}")


def parse_server_message(text: str | bytes) -> ServerMessage:
    """Parse one server text frame.

    Raises:
        ProtocolError: for binary frames, invalid JSON or a known message missing required fields.
    """
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError("the server sent a binary frame; this client speaks only the "
                            f"{SUBPROTOCOL} subprotocol (v2/v3 are binary BSATN)")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"the server sent invalid JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(data, Mapping) or len(data) != 1:
        raise ProtocolError(f"a server message should be an object with one key (its kind), got {text[:200]!r}")
    ((kind, body),) = data.items()
    if kind == "IdentityToken":
        return IdentityToken(identity=normalize_identity(_need(body, "identity", kind)),
                             token=str(_need(body, "token", kind)),
                             connection_id=_unwrap_special(body.get("connection_id")))
    if kind == "InitialSubscription":
        return InitialSubscription(request_id=_opt_int(body.get("request_id")),
                                   tables=_parse_table_updates(_need(body, "database_update", kind), kind))
    if kind == "SubscribeMultiApplied":
        return SubscribeMultiApplied(request_id=_opt_int(body.get("request_id")),
                                     query_id=_opt_int(body.get("query_id")),
                                     tables=_parse_table_updates(_need(body, "update", kind), kind))
    if kind == "TransactionUpdate":
        return _parse_transaction_update(body)
    if kind == "TransactionUpdateLight":
        return TransactionUpdateLight(request_id=_opt_int(body.get("request_id")),
                                      tables=_parse_table_updates(_need(body, "update", kind), kind))
    if kind == "SubscriptionError":
        return SubscriptionError(error=str(_need(body, "error", kind)),
                                 request_id=_opt_int(body.get("request_id")),
                                 query_id=_opt_int(body.get("query_id")),
                                 table_id=_opt_int(body.get("table_id")))
    if kind == "OneOffQueryResponse":
        tables = []
        for t in body.get("tables") or []:
            rows = _need(t, "rows", kind)
            rows = load_json_text(rows, "OneOffQueryResponse rows") if isinstance(rows, str) else rows
            tables.append(OneOffTable(str(_need(t, "table_name", kind)), list(rows)))
        return OneOffQueryResponse(message_id=_message_id_text(_need(body, "message_id", kind)),
                                   tables=tables, error=_opt_text(body.get("error")))
    return UnknownMessage(kind=str(kind), body=body)


def _parse_transaction_update(body: Any) -> TransactionUpdate:
    kind = "TransactionUpdate"
    status = _need(body, "status", kind)
    if not isinstance(status, Mapping) or len(status) != 1:
        raise ProtocolError(f"TransactionUpdate status should be one of Committed/Failed/OutOfEnergy, got {status!r}")
    ((state, payload),) = status.items()
    tables: list[TableUpdate] = []
    error: str | None = None
    if state == "Committed":
        tables = _parse_table_updates(payload, kind)
        status_name = "committed"
    elif state == "Failed":
        status_name, error = "failed", str(payload)
    elif state == "OutOfEnergy":
        status_name, error = "out_of_energy", "the database ran out of energy"
    else:
        raise ProtocolError(f"unknown TransactionUpdate status {state!r}")
    call = body.get("reducer_call") or {}
    args = call.get("args")
    if isinstance(args, str):
        args = load_json_text(args, "reducer_call.args")
    caller = body.get("caller_identity")
    ts = body.get("timestamp")
    return TransactionUpdate(
        status=status_name,
        tables=tables,
        error=error,
        timestamp_us=_decode_timestamp(ts) if ts is not None else None,
        caller_identity=normalize_identity(caller) if caller is not None else None,
        caller_connection_id=_unwrap_special(body.get("caller_connection_id")),
        reducer_name=call.get("reducer_name"),
        reducer_id=call.get("reducer_id") if isinstance(call.get("reducer_id"), int) else None,
        args=args,
        request_id=_opt_int(call.get("request_id")),
    )
