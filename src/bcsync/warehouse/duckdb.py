"""The embedded default warehouse: a DuckDB file, or an in-memory DuckDB over CSV/Parquet files.

URLs: ``duckdb:///path/file.duckdb`` (relative to the project dir), ``duckdb:////abs/file.duckdb``,
``duckdb:///:memory:`` or ``duckdb://`` (in memory). Query parameters become DuckDB settings
(``duckdb:///w.duckdb?memory_limit=2GB``).

A database file is opened read-only, so bcsync never modifies a user's warehouse and several
readers can share it. Relative file paths in model SQL (``read_csv('data/customers.csv')``)
resolve against the project dir through DuckDB's ``file_search_path``; the process's working
directory is never changed.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.run.rowhash import quote_ident, quote_literal
from bcsync.warehouse.base import (
    DEFAULT_BATCH_ROWS,
    LocalQuery,
    guarded_reader,
    is_arrow_json,
    model_select,
    query_failed,
)

MEMORY = ":memory:"


def database_path(url: str, project_dir: Path | None = None) -> str:
    """The DuckDB database a ``duckdb://`` URL names: an absolute file path or ``:memory:``."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc:
        raise WarehouseError(f"a DuckDB URL names a file, not a host: {url}")
    path = urllib.parse.unquote(parts.path)
    if path in ("", "/", f"/{MEMORY}"):
        return MEMORY
    # duckdb:///relative.duckdb has path "/relative.duckdb"; duckdb:////abs has "//abs".
    relative = path[1:]
    base = project_dir or Path.cwd()
    return str((base / Path(relative).expanduser()).resolve())


class DuckDBWarehouse:
    """Reads models from DuckDB. One connection; each query runs on its own cursor."""

    dialect = "duckdb"

    def __init__(self, url: str, *, project_dir: Path | None = None) -> None:
        self.database = database_path(url, project_dir)
        settings: dict[str, str | bool | int | float | list[str]] = dict(
            urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
        )
        # Settings of the user's own apply to this connection only: with any, the planner reads
        # the stream rather than running the model in its connection (see local_query).
        self._plain = not settings
        settings["file_search_path"] = str(project_dir or Path.cwd())
        in_memory = self.database == MEMORY
        if not in_memory and not Path(self.database).is_file():
            raise WarehouseError(
                f"DuckDB warehouse file not found: {self.database} "
                f"(use duckdb:///:memory: to query CSV or Parquet files directly)"
            )
        try:
            self._connection = duckdb.connect(
                self.database, read_only=not in_memory, config=settings
            )
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB warehouse {self.database}: {exc}") from None

    def schema(self, model: ModelConfig, *, sync: str) -> pa.Schema:
        query = model_select(model, sync=sync, dialect=self.dialect, limit=0)
        try:
            relation = self._connection.cursor().sql(query)
            return _json_typed(relation.to_arrow_table().schema, relation)
        except duckdb.Error as exc:
            raise _query_failed(sync, exc) from None

    def stream(
        self, model: ModelConfig, *, sync: str, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> pa.RecordBatchReader:
        query = model_select(model, sync=sync, dialect=self.dialect)
        cursor = self._connection.cursor()
        try:
            relation = cursor.sql(query)
            reader = relation.to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            cursor.close()
            raise _query_failed(sync, exc) from None
        return json_typed_stream(cursor, relation, reader, lambda exc: _query_failed(sync, exc))

    def local_query(self, model: ModelConfig, *, sync: str) -> LocalQuery | None:
        if not self._plain:
            return None
        if any(is_arrow_json(field.type) for field in self.schema(model, sync=sync)):
            return None  # JSON is canonicalised in Python as it streams (bcsync.run.planner)
        return LocalQuery(
            sync=sync,
            sql=model_select(model, sync=sync, dialect=self.dialect),
            database=None if self.database == MEMORY else self.database,
            file_search_path=str(
                self._connection.execute("SELECT current_setting('file_search_path')").fetchall()[
                    0
                ][0]
            ),
        )

    def close(self) -> None:
        self._connection.close()


class AttachedModel:
    """A ``LocalQuery`` made runnable on another DuckDB connection (the snapshot's): its
    database attached read-only as the default, so the model names its tables as the warehouse
    does, and its relative file paths resolving as they do in the warehouse. ``close()`` puts
    the connection's default database and file search path back and detaches it."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, query: LocalQuery, name: str) -> None:
        self._conn = conn
        self._home = quote_ident(str(conn.execute("SELECT current_database()").fetchall()[0][0]))
        self._search_path = str(
            conn.execute("SELECT current_setting('file_search_path')").fetchall()[0][0]
        )
        self._catalog = name
        self.relation = f"({query.sql}) AS bcsync_model"  # a FROM item
        if query.database is None:  # a query over files: an empty database to run it in
            conn.execute(f"ATTACH ':memory:' AS {self._catalog}")
        else:
            conn.execute(f"ATTACH {quote_literal(query.database)} AS {self._catalog} (READ_ONLY)")
        try:
            conn.execute(f"USE {self._catalog}")
            conn.execute(f"SET file_search_path = {quote_literal(query.file_search_path)}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn = self._conn
        conn.execute(f"USE {self._home}")
        conn.execute(f"SET file_search_path = {quote_literal(self._search_path)}")
        conn.execute(f"DETACH {self._catalog}")


def json_typed_stream(
    cursor: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    reader: pa.RecordBatchReader,
    wrap: Callable[[Exception], WarehouseError],
) -> pa.RecordBatchReader:
    """``reader`` (of ``relation``, run on ``cursor``) with its JSON columns typed as JSON (the
    same strings); ``cursor`` is closed when the stream ends, failures arrive as ``wrap(exc)``."""
    schema = _json_typed(reader.schema, relation)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                if batch.schema != schema:
                    columns = [c.view(t) for c, t in zip(batch.columns, schema.types, strict=True)]
                    batch = pa.RecordBatch.from_arrays(columns, schema=schema)
                yield batch
        finally:
            cursor.close()

    return guarded_reader(schema, batches(), wrap)


def _json_typed(schema: pa.Schema, relation: duckdb.DuckDBPyRelation) -> pa.Schema:
    """``schema`` with the relation's JSON columns as ``arrow.json``: DuckDB hands them to Arrow
    as plain strings, and the planner canonicalises only the columns it knows are JSON."""
    for index, kind in enumerate(relation.types):
        if str(kind) == "JSON":
            field = schema.field(index)
            schema = schema.set(index, field.with_type(pa.json_(field.type)))
    return schema


def _query_failed(sync: str, exc: Exception) -> WarehouseError:
    return query_failed(sync, str(exc))
