"""The two log tables in the warehouse: their columns, their DDL and their Arrow shape.

``<schema>.sync_runs`` holds one row per run (the run JSON's fields, and the whole JSON as
text); ``<schema>.sync_changelog`` one row per row operation of a run. The DDL is built with
sqlglot expressions, so any dialect sqlglot writes gets the same tables; PostgreSQL and DuckDB
are the ones tested. Column names avoid words some dialects reserve (``at``), so analysts can
write them unquoted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from bcsync.vocabulary import COUNT_KEYS

RUNS_TABLE = "sync_runs"
CHANGELOG_TABLE = "sync_changelog"

_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # as sqlglot reads it, in its own dialect
    arrow_type: pa.DataType
    nullable: bool = True


RUN_COLUMNS = (
    Column("run_id", "TEXT", pa.string(), nullable=False),
    Column("sync", "TEXT", pa.string(), nullable=False),
    Column("status", "TEXT", pa.string(), nullable=False),
    Column("trigger", "TEXT", pa.string()),
    Column("full_resync", "BOOLEAN", pa.bool_(), nullable=False),
    Column("started_at", "TIMESTAMPTZ", _TIMESTAMP, nullable=False),
    Column("finished_at", "TIMESTAMPTZ", _TIMESTAMP),
    Column("error", "TEXT", pa.string()),
    Column("api_calls", "BIGINT", pa.int64(), nullable=False),
    *(Column(key, "BIGINT", pa.int64(), nullable=False) for key in COUNT_KEYS),
    Column("run_json", "TEXT", pa.string(), nullable=False),
    Column("logged_at", "TIMESTAMPTZ", _TIMESTAMP, nullable=False),
)
CHANGELOG_COLUMNS = (
    Column("run_id", "TEXT", pa.string(), nullable=False),
    Column("seq", "BIGINT", pa.int64(), nullable=False),  # order of the row within its run
    Column("sync", "TEXT", pa.string(), nullable=False),
    Column("pk", "TEXT", pa.string()),
    Column("operation", "TEXT", pa.string()),  # create | update | clear | delete; NULL: invalid
    Column("status", "TEXT", pa.string(), nullable=False),  # succeeded | rejected | invalid | …
    Column("error", "TEXT", pa.string()),
    Column("bigcommerce_id", "TEXT", pa.string()),
    Column("occurred_at", "TIMESTAMPTZ", _TIMESTAMP),
)
RUN_KEY = ("run_id",)
CHANGELOG_KEY = ("run_id", "seq")


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns])


RUNS_SCHEMA = arrow_schema(RUN_COLUMNS)
CHANGELOG_SCHEMA = arrow_schema(CHANGELOG_COLUMNS)


def qualified(schema: str, table: str) -> exp.Table:
    return exp.to_table(f"{schema}.{table}")


def table_name(schema: str, table: str, dialect: str) -> str:
    """``schema.table`` as the dialect writes it (quoted only where it must be)."""
    return qualified(schema, table).sql(dialect=dialect)


def _create_table(
    schema: str, table: str, columns: tuple[Column, ...], key: tuple[str, ...]
) -> exp.Create:
    definitions: list[exp.Expression] = [
        exp.ColumnDef(
            this=exp.to_identifier(c.name),
            kind=exp.DataType.build(c.sql_type),
            constraints=[]
            if c.nullable
            else [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())],
        )
        for c in columns
    ]
    definitions.append(exp.PrimaryKey(expressions=[exp.to_identifier(k) for k in key]))
    body = exp.Schema(this=qualified(schema, table), expressions=definitions)
    return exp.Create(this=body, kind="TABLE", exists=True)


def create_statements(schema: str, dialect: str) -> list[str]:
    """CREATE SCHEMA and both CREATE TABLEs, each IF NOT EXISTS, in ``dialect``."""
    statements = [
        exp.Create(this=exp.to_table(schema), kind="SCHEMA", exists=True),
        _create_table(schema, RUNS_TABLE, RUN_COLUMNS, RUN_KEY),
        _create_table(schema, CHANGELOG_TABLE, CHANGELOG_COLUMNS, CHANGELOG_KEY),
    ]
    return [statement.sql(dialect=dialect) for statement in statements]


def logged_runs_query(schema: str, run_ids: list[str], dialect: str) -> str:
    """The ids among ``run_ids`` that ``sync_runs`` already holds."""
    runs = qualified(schema, RUNS_TABLE)
    query = (
        exp.select("run_id")
        .from_(runs)
        .where(exp.column("run_id").isin(*[exp.Literal.string(r) for r in run_ids]))
    )
    return query.sql(dialect=dialect)
