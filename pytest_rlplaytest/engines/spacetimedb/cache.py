"""A local copy of the subscribed tables, kept current from the server's table updates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from . import codec
from .codec import ProtocolError, TableSchema, TableUpdate


class TableCache:
    """Rows per table, keyed by primary key (or by the whole row when a table has none).

    Tables with a schema (read from the server by the client, or declared) decode both row encodings.
    For other tables the column order is learned from the first row keyed by column, so later
    positional rows can be decoded; a positional row before that is a :class:`~.codec.ProtocolError`.
    The server leaves tables with no rows out of a subscription's answer
    (``crates/core/src/subscription/mod.rs:185-192 @2.8.3``), which is why the schemas come from the
    server's schema endpoint and not from the first answer.
    """

    def __init__(self, schemas: Iterable[TableSchema] = ()) -> None:
        self.schemas: dict[str, TableSchema] = {s.name: s for s in schemas}
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {}
        #: transactions applied per table (incremented once per update that touched the table)
        self.table_versions: dict[str, int] = {}

    def add_schemas(self, schemas: Iterable[TableSchema]) -> None:
        """Use ``schemas`` for their tables (replacing learned or earlier ones)."""
        self.schemas.update({s.name: s for s in schemas})

    def schema(self, table: str) -> TableSchema | None:
        """The declared or learned schema of ``table``."""
        return self.schemas.get(table)

    def _decode(self, raw: Any, table: str) -> dict[str, Any]:
        schema = self.schemas.get(table)
        value = codec.load_json_text(raw, f"a row of table {table!r}")
        if schema is None and isinstance(value, Mapping):
            # learn the column order from a keyed row (primary key unknown: whole-row identity)
            schema = TableSchema.of(table, [str(k) for k in value])
            self.schemas[table] = schema
        return codec.decode_row(value, schema, table)

    def apply(self, updates: Iterable[TableUpdate]) -> set[str]:
        """Apply deletes then inserts of every table update; return the names of touched tables.

        Raises:
            ProtocolError: for undecodable rows.
        """
        touched: set[str] = set()
        for upd in updates:
            rows = self.tables.setdefault(upd.table_name, {})
            # inserts first decoded: a keyed insert may teach the schema needed for positional deletes
            inserts = [self._decode(raw, upd.table_name) for raw in upd.inserts]
            schema = self.schemas.get(upd.table_name)
            for raw in upd.deletes:
                row = self._decode(raw, upd.table_name)
                rows.pop(codec.row_key(row, schema), None)
            for row in inserts:
                rows[codec.row_key(row, schema)] = row
            if upd.inserts or upd.deletes:
                touched.add(upd.table_name)
                self.table_versions[upd.table_name] = self.table_versions.get(upd.table_name, 0) + 1
        return touched

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A snapshot list of the rows of ``table`` (empty when not subscribed)."""
        return list(self.tables.get(table, {}).values())

    def iter(self, table: str) -> Iterator[dict[str, Any]]:
        """Iterate over the live rows of ``table`` (do not mutate the cache meanwhile)."""
        return iter(self.tables.get(table, {}).values())

    def find(self, table: str, key: Any) -> dict[str, Any] | None:
        """The row of ``table`` whose primary key is ``key``.

        Raises:
            ProtocolError: when ``table`` has no declared primary key.
        """
        schema = self.schemas.get(table)
        if schema is None or schema.primary_key is None:
            raise ProtocolError(f"table {table!r} has no declared primary key; declare TableSchema(primary_key=…)")
        return self.tables.get(table, {}).get(codec._hashable(key))

    def count(self, table: str) -> int:
        """Number of rows cached for ``table``."""
        return len(self.tables.get(table, {}))

    def clear(self) -> None:
        """Forget every row (the schemas stay)."""
        self.tables.clear()
