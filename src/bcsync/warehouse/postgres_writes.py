"""The PostgreSQL side of ``bcsync.warehouse.session``: a read-write session over psycopg,
and the message a permission error becomes.

A role that lacks a right gets an error naming the object and the GRANT statements, to run as
its owner or a superuser, that give bcsync what it needs: CREATE on the database (to create the
planner's schema), USAGE and CREATE on a schema, or the writes on a table. A table another role
owns cannot be dropped or rebuilt by this one: the statement hands it over.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from bcsync.errors import WarehouseError
from bcsync.warehouse.arrow_rows import json_as_text, postgres_converter
from bcsync.warehouse.base import DEFAULT_BATCH_ROWS, guarded_reader
from bcsync.warehouse.sqlalchemy import warehouse_engine

_DENIED = re.compile(r"permission denied for (schema|table|relation|database|sequence) (\S+)")
_NO_TEMP = "permission denied to create temporary tables"
_NOT_OWNER = re.compile(r"must be owner of (table|relation|schema) (\S+)")


def permission_error(message: str, *, user: str, database: str) -> WarehouseError:
    """The error for a PostgreSQL ``insufficient_privilege`` (``message`` already scrubbed),
    naming the object and the GRANT statements that give ``user`` what bcsync needs of it."""
    role = _ident(user)
    owned = _NOT_OWNER.search(message)
    if owned:
        return WarehouseError(
            f"the warehouse refused role {user!r}: {message}. Another role owns "
            f"{owned.group(2)}; to let bcsync manage it, run as its owner or a superuser: "
            f"ALTER {'SCHEMA' if owned.group(1) == 'schema' else 'TABLE'} "
            f"{_qualified(owned.group(2))} OWNER TO {role};"
        )
    if _NO_TEMP in message:  # bcsync stages keys in temporary tables (planner: warehouse)
        return WarehouseError(
            f"the warehouse refused role {user!r} temporary tables: {message}. To let bcsync "
            "stage keys in them, run as the database's owner or a superuser: "
            f"GRANT TEMPORARY ON DATABASE {_ident(database)} TO {role};"
        )
    found = _DENIED.search(message)
    kind, name = (found.group(1), found.group(2)) if found else ("", "")
    if kind == "database":
        grants = [f"GRANT CREATE ON DATABASE {_ident(database)} TO {role};"]
    elif kind == "schema":
        grants = [f"GRANT USAGE, CREATE ON SCHEMA {_ident(name)} TO {role};"]
    elif kind in ("table", "relation"):
        grants = [f"GRANT SELECT, INSERT, UPDATE, DELETE ON {_qualified(name)} TO {role};"]
    else:
        grants = [
            f"GRANT CREATE ON DATABASE {_ident(database)} TO {role};",
            f"GRANT USAGE, CREATE ON SCHEMA <schema> TO {role};",
        ]
    what = f"{kind} {name}" if found else "an object"
    return WarehouseError(
        f"the warehouse refused role {user!r} access to {what}: {message}. "
        f"To let bcsync use it, run as its owner or a superuser: {' '.join(grants)}"
    )


def _ident(name: str) -> str:
    name = name.strip('"')
    return '"' + name.replace('"', '""') + '"'


def _qualified(name: str) -> str:
    return ".".join(_ident(part) for part in name.split("."))


class PostgresSession:
    """A psycopg connection (autocommit) for statements; streams read on a pooled other one, so
    a stream and statements can interleave."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._opened = warehouse_engine(url)
        self._masked, self._engine = self._opened.masked, self._opened.engine
        event.listen(self._engine, "connect", json_as_text)
        self._raw = self._connect()
        self._conn: Any = self._raw.driver_connection
        self._conn.autocommit = True

    def execute(self, sql: str) -> None:
        with self._errors():
            self._conn.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self._errors():
            return list(self._conn.execute(sql).fetchall())

    def stream(self, sql: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
        """The rows of ``sql``, ``batch_rows`` at a time, on a connection of their own.

        Streamed in chunks (psycopg's ``stream``), not through a server-side cursor: PostgreSQL
        never runs a cursor's query in parallel, and plans it for its first rows. And the
        hand-over of rows from parallel workers is priced as free (``parallel_tuple_cost``) for
        this transaction: the planner cannot know that the diff's filter keeps only the rows
        that changed, prices handing over all of them, and ran the 10M-row diff on one core
        (16 s; 10 s in parallel on two, issue 14's benchmark)."""
        raw = self._connect()
        conn: Any = raw.driver_connection
        cursor = conn.cursor()
        try:
            with self._errors():
                cursor.execute("SET LOCAL parallel_tuple_cost = 0")
                rows = cursor.stream(sql, size=batch_rows)
                first = list(itertools.islice(rows, batch_rows))
                description = cursor.description
                if description is None:  # no rows: the columns from a plan that reads none
                    cursor.execute(f"SELECT * FROM ({sql}) AS bcsync_q LIMIT 0")
                    description = cursor.description
                converter = postgres_converter(description)
        except BaseException:
            with contextlib.suppress(Exception):
                cursor.close()
            raw.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                chunk = first
                while chunk:
                    yield converter.batch(chunk)
                    chunk = list(itertools.islice(rows, batch_rows))
            finally:
                with contextlib.suppress(Exception):
                    rows.close()  # a stream left early: psycopg cancels the query
                with contextlib.suppress(Exception):
                    cursor.close()
                raw.close()

        return guarded_reader(converter.schema, batches(), self._failed)

    def upload(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(_ident(name) for name in data.schema.names)
        statement = f"COPY {table} ({columns}) FROM STDIN"
        with self._errors(), self._conn.cursor() as cursor, cursor.copy(statement) as copy:
            for batch in data.to_batches():
                for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    copy.write_row(row)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._errors(), self._conn.transaction():
            yield

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()
        self._engine.dispose()

    def _connect(self) -> Any:
        try:
            return self._engine.raw_connection()
        except sa_exc.DBAPIError as exc:
            raise WarehouseError(
                f"cannot connect to warehouse {self._masked}: {self._scrub(exc)}"
            ) from None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: Exception) -> WarehouseError:
        message = self._scrub(exc)
        if getattr(exc, "sqlstate", None) == "42501":
            info = self._conn.info
            return permission_error(message, user=str(info.user), database=str(info.dbname))
        return WarehouseError(f"warehouse {self._masked}: {message}")

    def _scrub(self, exc: BaseException) -> str:
        return self._opened.clean(exc)
