"""PostgreSQL (and any other SQLAlchemy URL) as a warehouse.

``postgresql://`` and ``postgres://`` use psycopg 3. Rows are read through a server-side cursor
(``stream_results`` + ``yield_per``), ``batch_rows`` at a time, so memory stays bounded whatever
the model's size; see ``arrow_rows`` for how columns become Arrow types. The URL is read by
``bcsync.config.database_url`` (as the run store's is) and its password kept out of every message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from bcsync.config import database_url
from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse.arrow_rows import (
    RowConverter,
    inferred_converter,
    json_as_text,
    postgres_converter,
)
from bcsync.warehouse.base import (
    DEFAULT_BATCH_ROWS,
    LocalQuery,
    guarded_reader,
    model_select,
    query_failed,
)
from bcsync.warehouse.postgres_session import pin_session_settings

# SQLAlchemy dialect name → sqlglot dialect, for parsing and wrapping model SQL.
_SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
    "databricks": "databricks",
    "clickhouse": "clickhouse",
}
# Rows read to type the columns of drivers that do not describe them (not psycopg).
_INFER_ROWS = 1_000


class SqlAlchemyWarehouse:
    """Reads models through a SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self._opened = warehouse_engine(url)
        self._masked, self._engine = self._opened.masked, self._opened.engine
        self.dialect = _SQLGLOT_DIALECTS.get(self._engine.dialect.name)
        # SQLAlchemy hands the driver an empty parameter set, so "format"-style drivers (psycopg)
        # would read a literal % (LIKE 'a%', modulo) as a placeholder: double it.
        self._escape_percent = self._engine.dialect.paramstyle in ("format", "pyformat")
        self._described = self._engine.dialect.driver == "psycopg"
        if self._described:
            event.listen(self._engine, "connect", json_as_text)

    def schema(self, model: ModelConfig, *, sync: str) -> pa.Schema:
        limit = 0 if self._described else _INFER_ROWS
        query = self._driver_sql(model_select(model, sync=sync, dialect=self.dialect, limit=limit))
        with self._connect(sync) as connection:
            try:
                result = connection.exec_driver_sql(query)
                description = result.cursor.description
                converter = self._converter(description, result.fetchall())
            except sa_exc.DBAPIError as exc:
                raise self._query_failed(sync, exc) from None
        return converter.schema

    def stream(
        self, model: ModelConfig, *, sync: str, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> pa.RecordBatchReader:
        query = self._driver_sql(model_select(model, sync=sync, dialect=self.dialect))
        connection = self._connect(sync)
        try:
            options = connection.execution_options(stream_results=True, yield_per=batch_rows)
            result = options.exec_driver_sql(query)
            description = result.cursor.description
            first = result.fetchmany(batch_rows)
            converter = self._converter(description, first)
        except sa_exc.DBAPIError as exc:
            connection.close()
            raise self._query_failed(sync, exc) from None
        except BaseException:
            connection.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                rows = first
                while rows:
                    yield converter.batch(rows)
                    rows = result.fetchmany(batch_rows)
            finally:
                result.close()
                connection.close()

        return guarded_reader(
            converter.schema, batches(), lambda exc: self._query_failed(sync, exc)
        )

    def local_query(self, model: ModelConfig, *, sync: str) -> LocalQuery | None:
        return None  # another database: its rows always come through the stream

    def close(self) -> None:
        self._engine.dispose()

    def _driver_sql(self, query: str) -> str:
        return query.replace("%", "%%") if self._escape_percent else query

    def _connect(self, sync: str) -> sa.Connection:
        try:
            return self._engine.connect()
        except sa_exc.DBAPIError as exc:
            raise WarehouseError(
                f"sync '{sync}': cannot connect to warehouse {self._masked}: {self._clean(exc)}"
            ) from None

    def _converter(self, description: Any, rows: Any) -> RowConverter:
        # Read before any fetch: a result whose rows are all fetched lets go of its cursor.
        if self._described:
            return postgres_converter(description)
        return inferred_converter(description, rows)

    def _query_failed(self, sync: str, exc: Exception) -> WarehouseError:
        return query_failed(sync, self._clean(exc))

    def _clean(self, exc: BaseException) -> str:
        return self._opened.clean(exc)


@dataclass(frozen=True)
class WarehouseEngine:
    """A warehouse URL's SQLAlchemy engine, and what its messages must show and hide."""

    engine: sa.Engine
    masked: str  # the URL without its password
    secrets: Sequence[str]

    def clean(self, exc: BaseException) -> str:
        """The driver's own message (not SQLAlchemy's wrapper with SQL and links), scrubbed."""
        original = getattr(exc, "orig", None) or exc
        return database_url.scrub(str(original).strip(), self.secrets)


def warehouse_engine(url: str) -> WarehouseEngine:
    """The engine for ``url`` (read by ``bcsync.config.database_url``); every PostgreSQL
    connection it opens has its session settings pinned (values read the same whatever the
    role's settings). Raises WarehouseError, without the password, when it cannot be made."""
    try:
        parsed = database_url.parse(url)
    except database_url.UrlError as exc:
        raise WarehouseError(f"warehouse.url: {exc}") from None
    masked, secrets = database_url.masked(parsed), list(database_url.secrets(parsed))
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
        message = database_url.scrub(str(getattr(exc, "orig", None) or exc).strip(), secrets)
        raise WarehouseError(f"cannot open warehouse {masked}: {message}") from None
    pin_session_settings(engine)
    return WarehouseEngine(engine, masked, secrets)
