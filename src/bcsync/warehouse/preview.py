"""A model's first rows for the sync form: its columns with their types, and key warnings.

Read through the project's warehouse as a run reads it (``Warehouse.stream``), with the model
wrapped in ``LIMIT`` so that a preview never runs an unbounded query. The warnings about the
primary key (nulls, duplicates) are about the rows shown only: a run checks every row.

A preview runs whatever SQL a form sends, so on PostgreSQL (``open_for_preview``) it runs in a
read-only transaction with a statement timeout: a SELECT can still call a function that writes
(``select nextval('s')``, a user function that deletes), and nothing the form asks may change
the warehouse or hold a connection for long. Long text values are cut (``MAX_TEXT``).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event

from bcsync.config.project import ModelConfig
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.base import Warehouse, model_select

DEFAULT_ROWS = 20
MAX_ROWS = 200
PREVIEW = "preview"  # the "sync" name warehouse messages carry
MAX_TEXT = 1_000  # characters of one value shown; a page of a megabyte per cell helps no one
PREVIEW_TIMEOUT_MS = 30_000
_READ_ONLY_SQL = (
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; "
    f"SET statement_timeout = {PREVIEW_TIMEOUT_MS}"
)
# Every table a user may name in ``model.table``; the catalogues of the databases are left out.
TABLES_SQL = (
    "select table_schema, table_name from information_schema.tables "
    "where table_schema not in ('information_schema', 'pg_catalog') "
    "and left(table_schema, 3) <> 'pg_' order by table_schema, table_name"
)


@dataclass
class Preview:
    columns: list[tuple[str, str]]  # (name, Arrow type)
    rows: list[list[Any]]
    key_warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [{"name": name, "type": kind} for name, kind in self.columns],
            "rows": self.rows,
            "key_warnings": self.key_warnings,
        }


def open_for_preview(url: str, *, project_dir: Path | None = None) -> Warehouse:
    """The project's warehouse for a form's reads: on PostgreSQL every connection is read-only
    and times out (a DuckDB file is opened read-only already)."""
    warehouse = open_warehouse(url, project_dir=project_dir)
    engine = getattr(warehouse, "_engine", None)  # SqlAlchemyWarehouse's; None for DuckDB
    if isinstance(engine, sa.Engine) and engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _read_only)
    return warehouse


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_READ_ONLY_SQL)
    finally:
        cursor.close()
    dbapi_connection.commit()


def _limited(warehouse: Warehouse, model: ModelConfig, limit: int) -> ModelConfig:
    sql = model_select(
        model, sync=PREVIEW, dialect=getattr(warehouse, "dialect", None), limit=limit
    )
    return ModelConfig(sql=sql, primary_key=model.primary_key)


def _first(warehouse: Warehouse, model: ModelConfig, limit: int) -> pa.Table:
    reader = warehouse.stream(_limited(warehouse, model, limit), sync=PREVIEW, batch_rows=limit)
    batches = []
    count = 0
    for batch in reader:
        batches.append(batch)
        count += batch.num_rows
        if count >= limit:
            break
    return pa.Table.from_batches(batches, schema=reader.schema).slice(0, limit)


def preview_model(
    warehouse: Warehouse, model: ModelConfig, *, limit: int = DEFAULT_ROWS, key: str | None = None
) -> Preview:
    """The first ``limit`` rows of ``model``; ``key`` (the primary key chosen) is checked."""
    limit = max(1, min(limit, MAX_ROWS))
    table = _first(warehouse, model, limit)
    rows = [[_cut(json_safe(value)) for value in row.values()] for row in table.to_pylist()]
    preview = Preview([(f.name, str(f.type)) for f in table.schema], rows)
    if key:
        preview.key_warnings = key_warnings(table, key)
    return preview


def key_warnings(table: pa.Table, key: str) -> list[str]:
    """What is wrong with ``key`` as a primary key, in these rows."""
    if key not in table.column_names:
        return [f"primary key column '{key}' is not in the model ({', '.join(table.column_names)})"]
    values = table.column(key).to_pylist()
    shown = f"in the first {len(values)} rows"
    warnings = []
    nulls = sum(value is None for value in values)
    if nulls:
        warnings.append(f"primary key '{key}' has {nulls} null value(s) {shown}")
    repeated = [value for value, n in Counter(v for v in values if v is not None).items() if n > 1]
    if repeated:
        listed = ", ".join(str(json_safe(value)) for value in repeated[:5])
        warnings.append(f"primary key '{key}' has duplicate values {shown}: {listed}")
    return warnings


def list_tables(warehouse: Warehouse) -> list[tuple[str, str]]:
    """(schema, name) of every table and view the warehouse's information_schema lists."""
    model = ModelConfig(sql=TABLES_SQL, primary_key="table_name")
    reader = warehouse.stream(model, sync=PREVIEW)
    found = []
    for batch in reader:
        for row in batch.to_pylist():
            found.append((str(row["table_schema"]), str(row["table_name"])))
    return found


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value


def json_safe(value: Any) -> Any:
    """A value the JSON of a response can hold: dates as ISO text, decimals as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return str(value)
