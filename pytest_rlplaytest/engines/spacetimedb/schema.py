"""A database's table schemas, read from the server as ``spacetime describe`` does.

``GET /v1/database/{db}/schema?version=9`` answers the module's ``RawModuleDefV9`` as SATS JSON
(``crates/client-api/src/routes/database.rs:490-538 @2.8.3``, ``:317-356 @1.12``; both tags serve
``version=9``, so the client asks for that; the CLI's ``describe`` asks for 10 first and falls back to 9:
``crates/cli/src/api.rs:74-94 @2.8.3``). The shape (``crates/lib/src/db/raw_def/v9.rs @2.8.3``):

* ``typespace.types``: a list of ``AlgebraicType`` (``crates/sats/src/algebraic_type.rs:22-123``), each
  ``{"Ref": n}``, ``{"Product": {"elements": [{"name": {"some": "x"}, "algebraic_type": …}]}}``,
  ``{"Sum": {"variants": [{"name": …, "algebraic_type": …}]}}``, ``{"Array": T}``
  (``array_type.rs:17``: the element type directly) or a scalar such as ``{"U32": []}``;
* ``tables``: ``{name, product_type_ref, primary_key: [col…], …, table_access}`` (``v9.rs:150-190``); the
  row type is ``typespace.types[product_type_ref]``, whose elements are the columns in row order;
* ``reducers``: ``{name, params, lifecycle}`` (``v9.rs:546-555``).

Special products (``Identity``, ``ConnectionId``, ``Timestamp``, ``TimeDuration``) are single-element
products named by their tag (``crates/sats/src/product_type.rs:15-21``); ``Option`` is the sum
``some(T) | none(())`` (``algebraic_type.rs:211,321``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .codec import SPECIAL_PRODUCTS, ArrayOf, ColumnType, OptionOf, Product, ProtocolError, Sum, TableSchema

#: nesting deeper than this in a schema is treated as a cycle (recursive types do not occur in tables)
MAX_TYPE_DEPTH = 64


@dataclass(frozen=True)
class ReducerInfo:
    """A reducer of the module: its parameters and lifecycle (``None``, ``Init``, ``OnConnect``, …)."""

    name: str
    params: tuple[tuple[str, ColumnType], ...]
    lifecycle: str | None = None


@dataclass(frozen=True)
class ModuleSchema:
    """Tables and reducers of a published module, as the schema endpoint reports them."""

    tables: dict[str, TableSchema] = field(default_factory=dict)
    reducers: dict[str, ReducerInfo] = field(default_factory=dict)
    public: frozenset[str] = frozenset()
    #: reducers a table's ``schedule`` runs (private to the owner in 2.x modules)
    scheduled: frozenset[str] = frozenset()

    def client_reducers(self) -> list[str]:
        """Reducers a client may call: neither lifecycle nor scheduled."""
        return sorted(n for n, r in self.reducers.items() if r.lifecycle is None and n not in self.scheduled)


def _element_name(element: Mapping[str, Any], index: int) -> str:
    name = element.get("name")
    if isinstance(name, Mapping) and isinstance(name.get("some"), str):
        return str(name["some"])
    return str(index)  # an unnamed element: positional field ``"0"``, ``"1"``, …


class _TypeReader:
    """Converts SATS ``AlgebraicType`` JSON to :data:`~.codec.ColumnType`, resolving ``Ref`` through the
    typespace."""

    def __init__(self, typespace: Sequence[Any]) -> None:
        self.typespace = list(typespace)

    def read(self, typ: Any, depth: int = 0) -> ColumnType:
        if depth > MAX_TYPE_DEPTH:
            raise ProtocolError("the module schema nests types too deeply (a recursive type?)")
        if not isinstance(typ, Mapping) or len(typ) != 1:
            raise ProtocolError(f"not a SATS AlgebraicType: {str(typ)[:200]}")
        ((kind, body),) = typ.items()
        if kind == "Ref":
            if not isinstance(body, int) or not 0 <= body < len(self.typespace):
                raise ProtocolError(f"type reference {body!r} is outside the typespace")
            return self.read(self.typespace[body], depth + 1)
        if kind == "Product":
            return self._product(body, depth)
        if kind == "Sum":
            return self._sum(body, depth)
        if kind == "Array":
            return ArrayOf(self.read(body, depth + 1))
        return None  # scalars (Bool, U32, F32, String, U256, …) decode as plain JSON

    def fields(self, product: Any, depth: int = 0) -> tuple[tuple[str, ColumnType], ...]:
        elements = product.get("elements") if isinstance(product, Mapping) else None
        if not isinstance(elements, list):
            raise ProtocolError(f"a Product type without elements: {str(product)[:200]}")
        return tuple((_element_name(e, i), self.read(e.get("algebraic_type"), depth + 1))
                     for i, e in enumerate(elements))

    def _product(self, body: Any, depth: int) -> ColumnType:
        fields = self.fields(body, depth)
        if len(fields) == 1 and fields[0][0] in SPECIAL_PRODUCTS:
            return SPECIAL_PRODUCTS[fields[0][0]]
        return Product(fields)

    def _sum(self, body: Any, depth: int) -> ColumnType:
        variants = body.get("variants") if isinstance(body, Mapping) else None
        if not isinstance(variants, list):
            raise ProtocolError(f"a Sum type without variants: {str(body)[:200]}")
        read = tuple((_element_name(v, i), self.read(v.get("algebraic_type"), depth + 1))
                     for i, v in enumerate(variants))
        if [name for name, _ in read] == ["some", "none"] and read[1][1] == Product(()):
            return OptionOf(read[0][1])
        return Sum(read)


def _table(reader: _TypeReader, table: Mapping[str, Any]) -> TableSchema:
    name = str(table.get("name"))
    ref = table.get("product_type_ref")
    if not isinstance(ref, int) or not 0 <= ref < len(reader.typespace):
        raise ProtocolError(f"table {name!r}: product_type_ref {ref!r} is outside the typespace")
    row_type = reader.typespace[ref]
    if not isinstance(row_type, Mapping) or "Product" not in row_type:
        raise ProtocolError(f"table {name!r}: its row type is not a Product: {str(row_type)[:200]}")
    columns = reader.fields(row_type["Product"])
    pk = table.get("primary_key") or []
    primary = columns[pk[0]][0] if len(pk) == 1 and isinstance(pk[0], int) and pk[0] < len(columns) else None
    return TableSchema(name, columns, primary)


def _lifecycle(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("some"), Mapping) and len(value["some"]) == 1:
        return str(next(iter(value["some"])))
    return None


def parse_module_def(data: Any) -> ModuleSchema:
    """Turn the JSON of ``GET /v1/database/{db}/schema?version=9`` into a :class:`ModuleSchema`.

    Raises:
        ProtocolError: when the document is not a ``RawModuleDefV9``.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("tables"), list):
        raise ProtocolError(f"the schema endpoint answered something that is not a RawModuleDefV9: "
                            f"{str(data)[:300]}")
    typespace = data.get("typespace")
    types = typespace.get("types") if isinstance(typespace, Mapping) else None
    if not isinstance(types, list):
        raise ProtocolError("the module schema has no typespace.types list")
    reader = _TypeReader(types)
    tables = {t.name: t for t in (_table(reader, raw) for raw in data["tables"])}
    public = frozenset(str(raw.get("name")) for raw in data["tables"]
                       if isinstance(raw.get("table_access"), Mapping) and "Public" in raw["table_access"])
    scheduled = frozenset(str(raw["schedule"]["some"].get("reducer_name")) for raw in data["tables"]
                          if isinstance(raw.get("schedule"), Mapping) and isinstance(raw["schedule"].get("some"), Mapping))
    reducers = {}
    for raw in data.get("reducers") or []:
        name = str(raw.get("name"))
        reducers[name] = ReducerInfo(name, reader.fields(raw.get("params") or {"elements": []}),
                                     _lifecycle(raw.get("lifecycle")))
    return ModuleSchema(tables, reducers, public, scheduled)


def merge_schemas(server: ModuleSchema | None, declared: Sequence[TableSchema]) -> list[TableSchema]:
    """The server's table schemas with the declared ones replacing them (declared schemas win)."""
    merged = dict(server.tables) if server is not None else {}
    merged.update({s.name: s for s in declared})
    return list(merged.values())
