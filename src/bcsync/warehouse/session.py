"""A read-write SQL session with the warehouse: the seam for work bcsync does *inside* it.

The warehouse planner keeps its cache of clean hashes in warehouse tables, and warehouse sync
logs append rows there; both speak SQL through this seam and nothing else:

- ``execute`` runs one statement (autocommit, unless inside ``transaction()``);
- ``query`` returns a statement's rows as tuples (small results only);
- ``stream`` reads a query's rows as Arrow batches typed as the warehouse readers type them
  (``bcsync.warehouse.arrow_rows`` for PostgreSQL; DuckDB's own Arrow, JSON as ``arrow.json``);
- ``upload`` appends an Arrow table to an existing table (PostgreSQL ``COPY``; DuckDB ``INSERT``
  from the registered table).

PostgreSQL sessions run with the pinned settings of ``postgres_session``, so what they read does
not depend on a role's or database's defaults. A DuckDB warehouse file is opened read-write,
unlike the model reader's read-only connection: DuckDB refuses a second connection to a file
with another configuration in one process, so work that needs the model (the planner's diff)
runs the model on this session's own connection instead of opening a reader.

Every error is a ``WarehouseError`` whose driver message is scrubbed of the URL's secrets. A
PostgreSQL permission error (SQLSTATE 42501) names the object and gives the GRANT statements
that fix it (``bcsync.warehouse.postgres_writes``).
"""

from __future__ import annotations

import contextlib
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from bcsync.errors import WarehouseError
from bcsync.run.rowhash import quote_ident
from bcsync.warehouse.base import DEFAULT_BATCH_ROWS
from bcsync.warehouse.duckdb import MEMORY, database_path, json_typed_stream

__all__ = ["WarehouseSession", "open_session"]


class WarehouseSession(Protocol):
    """Read-write SQL in the warehouse. Every method raises ``WarehouseError``."""

    dialect: str  # the sqlglot dialect: "postgres" | "duckdb"

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[tuple[Any, ...]]: ...

    def stream(self, sql: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader: ...

    def upload(self, table: str, data: pa.Table) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


def open_session(url: str, project_dir: Path | None = None) -> WarehouseSession:
    """A read-write session with the warehouse at ``url`` (resolved against the project dir).

    PostgreSQL and DuckDB only: other warehouses raise ``WarehouseError``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "duckdb":
        return DuckDBSession(url, project_dir)
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        from bcsync.warehouse.postgres_writes import PostgresSession

        return PostgresSession(url)
    raise WarehouseError(
        f"writing to a {scheme} warehouse is not supported (PostgreSQL and DuckDB are)"
    )


# -- DuckDB -----------------------------------------------------------------------------------


class DuckDBSession:
    """The warehouse's DuckDB file, read-write, on one connection; nested ``transaction()``
    blocks join the outermost one."""

    dialect = "duckdb"

    def __init__(self, url: str, project_dir: Path | None = None) -> None:
        self.database = database_path(url, project_dir)
        settings: dict[str, str | bool | int | float | list[str]] = dict(
            urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
        )
        settings["file_search_path"] = str(project_dir or Path.cwd())
        if self.database != MEMORY and not Path(self.database).is_file():
            raise WarehouseError(f"DuckDB warehouse file not found: {self.database}")
        try:
            self.connection = duckdb.connect(self.database, config=settings)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open DuckDB warehouse {self.database}: {exc}") from None
        self._depth = 0

    def execute(self, sql: str) -> None:
        with _duck_errors():
            self.connection.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with _duck_errors():
            return list(self.connection.execute(sql).fetchall())

    def stream(self, sql: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
        cursor = self.connection.cursor()
        try:
            with _duck_errors():
                relation = cursor.sql(sql)
                reader = relation.to_arrow_reader(batch_rows)
        except BaseException:
            cursor.close()
            raise
        return json_typed_stream(cursor, relation, reader, _duck_failed)  # as the model reader

    def upload(self, table: str, data: pa.Table) -> None:
        name = f"bcsync_upload_{uuid.uuid4().hex[:12]}"
        columns = ", ".join(quote_ident(column) for column in data.schema.names)
        self.connection.register(name, data)
        try:
            with _duck_errors():
                self.connection.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}"
                )
        finally:
            self.connection.unregister(name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with _duck_errors():
            self.connection.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with contextlib.suppress(duckdb.Error):
                self.connection.execute("ROLLBACK")
            raise
        self._depth = 0
        with _duck_errors():
            self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def _duck_errors() -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        raise _duck_failed(exc) from None


def _duck_failed(exc: Exception) -> WarehouseError:
    return WarehouseError(f"DuckDB warehouse: {exc}")
