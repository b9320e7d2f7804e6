"""The SQL the warehouse planner sends, in each dialect it writes (issue 14).

Every statement comes from one source (``statements`` and the diff query), listed by
``listing.planner_statements``; the listing of each dialect is kept in
tests/run/golden/warehouse_planner_<dialect>.sql (``BCSYNC_UPDATE_GOLDEN=1`` rewrites the files).
PostgreSQL and DuckDB run these statements in the planner's tests; Snowflake and BigQuery are
only generated, so here each statement must at least parse back in its dialect. A DuckDB
warehouse, recorded, shows that what the planner sends is what the listing holds.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from bcsync.config.project import ModelConfig
from bcsync.run.planner.warehouse import listing
from bcsync.run.planner.warehouse.diff import prepare_diff, read_diff
from bcsync.run.planner.warehouse.hash_sql import QUICK_SCHEME
from bcsync.run.planner.warehouse.report import PlannerReport
from bcsync.run.planner.warehouse.statements import DIALECTS, PlannerSql
from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.warehouse.base import DEFAULT_BATCH_ROWS
from bcsync.warehouse.session import WarehouseSession, open_session

GOLDEN = Path(__file__).parent / "golden"
SCHEMA, SYNC, MAPPING = "bcsync_planner", "vip customers", "email->email;ltv->attributes.LTV"
MODEL = ModelConfig(table="analytics.customers", primary_key="id")
TYPES = {"id": pa.int64(), "email": pa.string(), "ltv": pa.decimal128(10, 2)}
HASHED = ["email", "ltv"]


def statements(dialect: str) -> list[tuple[str, str]]:
    return listing.planner_statements(
        dialect,
        schema=SCHEMA,
        sync=SYNC,
        model=MODEL,
        types=TYPES,
        hashed=HASHED,
        mapping=MAPPING,
    )


def golden_text(dialect: str) -> str:
    parts = [f"-- {what}\n{sql};\n" if sql else f"-- {what}\n" for what, sql in statements(dialect)]
    return "\n".join(parts)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_golden_planner_sql(dialect: str) -> None:
    text = golden_text(dialect)
    path = GOLDEN / f"warehouse_planner_{dialect}.sql"
    if os.environ.get("BCSYNC_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    for what, sql in statements(dialect):
        if sql:
            assert sqlglot.parse_one(sql, read=dialect) is not None, what


def test_the_dialects_differ_where_their_warehouses_do() -> None:
    """BigQuery: datasets, keys not enforced, no temporary staging outside a script; the
    others keep PostgreSQL's and DuckDB's statements (``TEXT PRIMARY KEY``, temporary staging)."""
    bigquery = PlannerSql("bigquery", SCHEMA, SYNC)
    assert "PRIMARY KEY (pk) NOT ENFORCED" in bigquery.create_table()
    assert "`bcsync_planner`.`INFORMATION_SCHEMA.TABLES`" in bigquery.table_exists("t")
    assert bigquery.create_staging("s").startswith("CREATE TABLE `bcsync_planner`.`s`")
    for dialect in ("postgres", "duckdb", "snowflake"):
        other = PlannerSql(dialect, SCHEMA, SYNC)
        assert "pk" in other.create_table() and "PRIMARY KEY," in other.create_table()
        assert other.create_staging("s").startswith("CREATE TEMPORARY TABLE s ")
        assert "information_schema.tables" in other.table_exists("t")
    with pytest.raises(ValueError, match="mysql"):
        PlannerSql("mysql", SCHEMA, SYNC)


class Recording:
    """A warehouse session that notes every statement it is given."""

    def __init__(self, session: WarehouseSession) -> None:
        self.session = session
        self.dialect = session.dialect
        self.sent: list[str] = []

    def execute(self, sql: str) -> None:
        self.sent.append(sql)
        self.session.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        self.sent.append(sql)
        return self.session.query(sql)

    def stream(self, sql: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
        self.sent.append(sql)
        return self.session.stream(sql, batch_rows=batch_rows)

    def upload(self, table: str, data: pa.Table) -> None:
        self.session.upload(table, data)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.session.transaction()

    def close(self) -> None:
        self.session.close()


def test_what_the_planner_sends_is_what_the_listing_holds(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute(
            "CREATE TABLE analytics.customers AS SELECT * FROM (VALUES "
            "(1, 'a@x.io', 1.50::DECIMAL(10,2)), (2, 'b@x.io', NULL)) t(id, email, ltv)"
        )
    session = Recording(open_session("duckdb:///w.duckdb", tmp_path))
    tables = PlannerTables(session, SCHEMA, SYNC)
    local = duckdb.connect()
    try:
        assert tables.token() is None
        query = prepare_diff(tables, MODEL, carried=["id", *HASHED], hashed=HASHED, mapping=MAPPING)
        tables.bootstrap(pa.table({"pk": ["1", "9"], "row_hash": [None, "h"]}), query.rebuild)
        read_diff(query, local, "t1", PlannerReport("warehouse"), in_table=tables.count())
        keys = pa.table({"pk": ["1", "2", "9"], "row_hash": ["h1", None, None]})
        tables.replace(keys.append_column("keep", pa.array([True, True, False])))
        assert tables.count() == 2
        assert tables.drop() is True
    finally:
        local.close()
        session.close()
    listed = {sql for _, sql in statements("duckdb")}
    for sql in session.sent:
        sql = re.sub(r"bcsync_staging_[0-9a-f]{12}", listing.STAGING, sql)
        sql = re.sub(rf"'{QUICK_SCHEME}:[0-9a-f]{{32}}'", f"'{listing.TOKEN}'", sql)
        assert sql in listed
    assert len(set(session.sent)) >= 15
