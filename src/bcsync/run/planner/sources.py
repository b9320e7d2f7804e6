"""Where the planner's first statement reads the model from: a stream, or a local query.

Both make the model a FROM item on the snapshot's connection: the Arrow batches of any
warehouse registered with it, or a DuckDB warehouse's query run by it directly
(``LocalQuery``; the warehouse attaches its database, ``bcsync.warehouse.duckdb``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import duckdb
import pyarrow as pa

from bcsync.errors import ConfigError
from bcsync.run.rowhash import canonical_json
from bcsync.warehouse.arrow_rows import is_decimal_text
from bcsync.warehouse.base import LocalQuery, is_arrow_json
from bcsync.warehouse.duckdb import AttachedModel


class Source(Protocol):
    """The model as the planner's first statement reads it."""

    relation: str  # a FROM item
    names: list[str]  # the model's columns
    decimals: frozenset[str]  # columns of decimals as canonical text (arrow_rows.DECIMAL_TEXT)

    def close(self) -> None: ...


def open_source(
    conn: duckdb.DuckDBPyConnection,
    tag: str,
    model: pa.RecordBatchReader | LocalQuery,
    carried: Sequence[str],
) -> Source:
    """``model`` readable on ``conn`` until the source is closed."""
    if isinstance(model, LocalQuery):
        return LocalSource(conn, tag, model)
    return StreamSource(conn, tag, model, carried)


class LocalSource:
    """A DuckDB model run by the snapshot's own connection: its database attached read-only."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, tag: str, query: LocalQuery) -> None:
        self._attached = AttachedModel(conn, query, f"bcsync_model_{tag}")
        self.decimals: frozenset[str] = frozenset()  # a DuckDB model's are DECIMALs
        self.relation = self._attached.relation
        try:
            self.names = [str(name) for name in conn.sql(f"SELECT * FROM {self.relation}").columns]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._attached.close()


class StreamSource:
    """The model's Arrow batches, registered with the snapshot's connection for one scan.

    JSON (``arrow.json``) columns are rewritten by ``canonical_json`` as they pass (JSON needs a
    parser to canonicalise, which DuckDB SQL lacks; only JSON columns pay for it): this is where
    every JSON column is made canonical, whichever warehouse it comes from. ``DECIMAL_TEXT``
    columns are canonical already; they are hashed as text and handed out as decimals.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        tag: str,
        batches: pa.RecordBatchReader,
        carried: Sequence[str],
    ) -> None:
        self._conn = conn
        self._batches = batches
        schema = batches.schema
        self.names = list(schema.names)
        self.decimals = frozenset(f.name for f in schema if is_decimal_text(f.type))
        self._json = [
            i for i, f in enumerate(schema) if f.name in carried and is_arrow_json(f.type)
        ]
        self.relation = f"bcsync_model_{tag}"
        reader = batches
        if self._json:
            reader = pa.RecordBatchReader.from_batches(schema, self._canonical_json())
        conn.register(self.relation, reader)

    def close(self) -> None:
        self._conn.unregister(self.relation)

    def _canonical_json(self) -> Iterator[pa.RecordBatch]:
        schema = self._batches.schema
        for batch in self._batches:
            arrays = list(batch.columns)
            for i in self._json:
                json_type = schema.field(i).type
                text = arrays[i].storage.to_pylist()
                storage = pa.array([canonical_json(v) for v in text], json_type.storage_type)
                arrays[i] = pa.ExtensionArray.from_storage(json_type, storage)
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def check_columns(available: list[str], primary_key: str, columns: Sequence[str]) -> None:
    """Raise ``ConfigError`` naming the first duplicated, or missing, key or mapped column."""
    listing = ", ".join(available) if available else "(none)"
    duplicated = sorted({name for name in available if available.count(name) > 1})
    if duplicated:
        raise ConfigError(f"the model has more than one column named {duplicated[0]!r}")
    if primary_key not in available:
        raise ConfigError(
            f"primary key column {primary_key!r} is not in the model; available columns: {listing}"
        )
    for name in columns:
        if name not in available:
            raise ConfigError(
                f"mapped column {name!r} is not in the model; available columns: {listing}"
            )
