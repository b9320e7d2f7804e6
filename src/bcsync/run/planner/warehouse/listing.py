"""Every statement the warehouse planner sends for one sync, in the order a run sends them, as
one dialect writes them: what the golden files of each dialect hold
(``tests/run/golden/warehouse_planner_<dialect>.sql``), and what to read before pointing
bcsync at a Snowflake or BigQuery warehouse nobody here has run it against.

Rows themselves reach the warehouse through ``WarehouseSession.upload`` (PostgreSQL ``COPY``,
DuckDB an ``INSERT`` from Arrow), which is the session's, not SQL the planner writes; the listing
marks where they go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import pyarrow as pa

from bcsync.config.project import ModelConfig
from bcsync.run.planner.warehouse.diff import DiffQuery
from bcsync.run.planner.warehouse.hash_sql import QUICK_SCHEME
from bcsync.run.planner.warehouse.statements import TOKENS, PlannerSql
from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.warehouse.base import DEFAULT_BATCH_ROWS, model_select

__all__ = ["planner_statements"]

STAGING = "bcsync_staging_0123456789ab"  # a run names each staging table afresh
TOKEN = f"{QUICK_SCHEME}:0123456789abcdef0123456789abcdef"  # a run draws a new uuid


def planner_statements(
    dialect: str,
    *,
    schema: str,
    sync: str,
    model: ModelConfig,
    types: Mapping[str, pa.DataType],
    hashed: Sequence[str],
    mapping: str,
) -> list[tuple[str, str]]:
    """``(what it does, SQL)`` for every statement a warehouse-planned run of ``sync`` sends,
    then those of ``bcsync state reset``; ``types``: the model's columns as the warehouse's
    reader types them."""
    sql = PlannerSql(dialect, schema, sync)
    carried = list(dict.fromkeys([model.primary_key, *hashed]))
    select = model_select(model, sync=sync, dialect=dialect)
    diff = DiffQuery(
        PlannerTables(_WritingOnly(dialect), schema, sync),
        model.primary_key,
        carried,
        list(hashed),
        dict(types),
        mapping,
        select,
    )
    rebuild = diff.rebuild(STAGING)
    exists: list[tuple[str, str]] = []
    if dialect == "bigquery":  # its TABLES view is per dataset: the dataset is looked for first
        exists.append(("does the planner's schema exist", sql.schema_exists()))
    stage = [
        ("stage a batch of keys", sql.create_staging(STAGING)),
        ("(the batch's rows are uploaded into the staging table)", ""),
    ]
    dirty = [
        *stage,
        ("in one transaction: the staged keys the table has made dirty", sql.dirty_staged(STAGING)),
        (
            "in one transaction: the staged keys it lacks inserted, dirty",
            sql.insert_staged(STAGING),
        ),
        ("drop the staging table", sql.drop_staging(STAGING)),
    ]
    staged = [
        *stage,
        ("in one transaction: remove the staged keys", sql.delete_staged(STAGING)),
        ("in one transaction: insert those that stay", sql.insert_staged(STAGING)),
        ("drop the staging table", sql.drop_staging(STAGING)),
    ]
    return [
        # the token check
        *exists,
        ("does the tokens table exist", sql.table_exists(TOKENS)),
        *exists,
        ("does the sync's table exist", sql.table_exists(sync)),
        ("the warehouse's token of the sync", sql.read_token()),
        ("rows in the sync's table (fewer than the ledger's entries: rebuild)", sql.count_table()),
        # a bootstrap
        ("does the planner's schema exist", sql.schema_exists()),
        ("create the planner's schema", sql.create_schema()),
        *exists,
        ("does the tokens table exist", sql.table_exists(TOKENS)),
        ("create the tokens table", sql.create_tokens()),
        (
            "its columns (pk, row_hash: else it is not the planner's, and is left alone)",
            sql.table_columns(),
        ),
        ("forget the sync's old token", sql.delete_token()),
        ("drop the sync's table", sql.drop_table()),
        ("create the sync's table", sql.create_table()),
        *(
            [
                ("stage the ledger's keys and hashes", sql.create_staging(STAGING)),
                ("(the ledger's keys and hashes are uploaded into the staging table)", ""),
                (
                    "fill the table: the hashes the model still has as its rows' quick hashes",
                    rebuild,
                ),
                ("drop the staging table", sql.drop_staging(STAGING)),
            ]
            if rebuild
            else [("(the ledger's keys and hashes are uploaded into it)", "")]
        ),
        *(
            [("settle the filled table (its rows marked committed, its statistics)", settle)]
            if (settle := sql.settle_table())
            else []
        ),
        ("the sync's new token", sql.insert_token(TOKEN)),
        # the diff
        ("the model's columns", model_select(model, sync=sync, dialect=dialect, limit=0)),
        ("rows scanned", sql.count_model(select)),
        ("rows in the sync's table", sql.count_table()),
        ("the diff", diff.sql()),
        ("the diff, with every row of a duplicated key", diff.sql(duplicates=True)),
        # marking the keys read out dirty, batch by batch
        *dirty,
        # once the keys are dirty, a new token for each run (a restored backup then differs)
        ("in one transaction: forget the sync's token", sql.delete_token()),
        ("in one transaction: the sync's new token", sql.insert_token(TOKEN)),
        # the write-back at the run's end, batch by batch
        *staged,
        # bcsync state reset
        *exists,
        ("does the sync's table exist", sql.table_exists(sync)),
        ("its columns (pk, row_hash: else it is left alone)", sql.table_columns()),
        *exists,
        ("does the tokens table exist", sql.table_exists(TOKENS)),
        ("forget the sync's token", sql.delete_token()),
        ("drop the sync's table", sql.drop_table()),
    ]


class _WritingOnly:
    """A session that knows its dialect and sends nothing: the listing only writes SQL."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def execute(self, sql: str) -> None:
        _refuse()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        _refuse()

    def stream(self, sql: str, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
        _refuse()

    def upload(self, table: str, data: pa.Table) -> None:
        _refuse()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        _refuse()

    def close(self) -> None:
        pass


def _refuse() -> NoReturn:
    raise NotImplementedError("the statement listing sends nothing")
