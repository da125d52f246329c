"""Pure encode/decode of SpacetimeDB's ``v1.json.spacetimedb`` WebSocket protocol (no I/O).

Facts this module is built on (see ``shared/notes/spacetimedb-protocol.md``):

* Client messages are JSON text frames: ``Subscribe``, ``SubscribeMulti``, ``CallReducer`` (whose
  ``args`` is a JSON *string* holding the argument array) and ``OneOffQuery``.
* Server messages: ``IdentityToken``, ``InitialSubscription``, ``SubscribeMultiApplied``,
  ``TransactionUpdate``, ``TransactionUpdateLight``, ``SubscriptionError``, ``OneOffQueryResponse``.
* Every row in ``inserts``/``deletes`` is itself a JSON string (parse twice). Rows of stored tables
  come as objects keyed by column; rows in transaction deltas come as positional arrays in the
  schema's column order. Both are decoded here into ``dict`` rows.
* Sums are ``[tag, payload]``; ``Option`` is ``[0, value]`` for Some and ``[1, []]`` (or
  ``[1, {}]``) for None. Identities are ``0x``-hex with leading zeros stripped on the socket and 64
  hex digits over HTTP: :func:`normalize_identity` maps both to 64 lowercase hex digits.

Column types are described with a tiny algebra (:class:`Product`, :class:`Sum`, :class:`OptionOf`,
and the names ``"identity"``, ``"timestamp"``, ``"connection_id"``; ``None`` means "leave as is"), so
nested products such as ``position{x, y}`` decode to dicts from either row encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import EngineError

#: the only JSON WebSocket subprotocol of SpacetimeDB
SUBPROTOCOL = "v1.json.spacetimedb"

IDENTITY = "identity"
TIMESTAMP = "timestamp"
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


ColumnType = Product | Sum | OptionOf | str | None


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
    """Encode an Option the way the server does: ``[0, v]`` or ``[1, []]``."""
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


def _decode_timestamp(value: Any) -> int:
    if isinstance(value, Mapping) and _TIMESTAMP_KEY in value:
        value = value[_TIMESTAMP_KEY]
    elif isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ProtocolError(f"not a timestamp: {value!r}")


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


def decode_value(value: Any, typ: ColumnType) -> Any:
    """Decode one column value by its declared type (``None``: unwrap special products only).

    Raises:
        ProtocolError: when the value does not have the declared shape.
    """
    if typ is None:
        return _unwrap_special(value)
    if isinstance(typ, str):
        if typ == IDENTITY:
            return normalize_identity(value)
        if typ == TIMESTAMP:
            return _decode_timestamp(value)
        if typ == CONNECTION_ID:
            if isinstance(value, Mapping) and _CONNECTION_ID_KEY in value:
                return value[_CONNECTION_ID_KEY]
            if isinstance(value, list) and len(value) == 1:
                return value[0]
            return value
        raise ValueError(f"unknown column type name {typ!r} (use 'identity', 'timestamp', 'connection_id', "
                         "a Product, Sum, OptionOf or None)")
    if isinstance(typ, OptionOf):
        inner = decode_option(value)
        return None if inner is None else decode_value(inner, typ.inner)
    if isinstance(typ, Sum):
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
    if isinstance(typ, Product):
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
            f"table {table!r} sent a positional row {value!r} but its column order is unknown; declare a "
            "TableSchema for it (or subscribe so an initial keyed row arrives first)"
        )
    return _decode_product(value, schema.columns, f"a row of table {table!r}")


def encode_value(value: Any, typ: ColumnType, positional: bool) -> Any:
    """Encode a decoded value back into its wire form (inverse of :func:`decode_value`)."""
    if typ is None:
        return value
    if isinstance(typ, str):
        if typ == IDENTITY:
            text = identity_socket_form(value)
            return [text] if positional else {_IDENTITY_KEY: text}
        if typ == TIMESTAMP:
            return [int(value)] if positional else {_TIMESTAMP_KEY: int(value)}
        if typ == CONNECTION_ID:
            return [value] if positional else {_CONNECTION_ID_KEY: value}
        raise ValueError(f"unknown column type name {typ!r}")
    if isinstance(typ, OptionOf):
        return encode_option(None if value is None else encode_value(value, typ.inner, positional))
    if isinstance(typ, Sum):
        name, payload = value
        for tag, (vname, vtype) in enumerate(typ.variants):
            if vname == name:
                return [tag, encode_value(payload, vtype, positional)]
        raise ValueError(f"unknown variant {name!r}")
    if isinstance(typ, Product):
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
    """A reducer ran: ``status`` is ``committed``, ``failed`` (see ``error``) or ``out_of_energy``."""

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


@dataclass
class TransactionUpdateLight:
    """What other clients get for a transaction (2.x modules, scheduled reducers included)."""

    request_id: int | None
    tables: list[TableUpdate]


@dataclass
class SubscriptionError:
    """A subscription was rejected (bad SQL, unknown table) or failed later."""

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


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and "id" in value:
        value = value["id"]
    if isinstance(value, list) and len(value) == 2 and value[0] in (0, 1):  # an encoded Option
        value = decode_option(value)
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"expected an integer id, got {value!r}")
    return value


def _opt_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    inner = decode_option(value)
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
