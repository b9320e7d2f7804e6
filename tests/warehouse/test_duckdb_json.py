"""A DuckDB warehouse's JSON columns are JSON to the planner: canonical, like PostgreSQL's.

DuckDB hands JSON to Arrow as plain strings; the warehouse types them as ``arrow.json`` again, so
a JSON model streams (its JSON canonicalised as it passes) instead of running in the planner's
connection, where its text would be hashed as written.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bcsync.config.project import ModelConfig
from bcsync.run.planner import plan
from bcsync.run.snapshot import Confirmed, Snapshot
from bcsync.warehouse import open_warehouse

MODEL = ModelConfig(table="customers", primary_key="id")


def write(path: Path, profile: str) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE customers AS "
            "SELECT 1 AS id, CAST(? AS JSON) AS profile, 'a@example.com' AS email",
            [profile],
        )


def planned(path: Path, snapshot: Snapshot, *, settings: str) -> dict[str, list[str]]:
    """What a plan of the model would send (pk → canonical JSON), confirming it like a run."""
    warehouse = open_warehouse(f"duckdb:///{path}{settings}")
    try:
        model = warehouse.local_query(MODEL, sync="s") or warehouse.stream(MODEL, sync="s")
        with plan(model, snapshot, primary_key="id", columns=["profile", "email"]) as changes:
            rows = [
                row for kind in ("added", "changed") for part in changes.rows(kind) for row in part
            ]
    finally:
        warehouse.close()
    snapshot.confirm(
        [Confirmed(row.pk, row.row_hash, f"bc-{row.pk}", row.fast_hash) for row in rows]
    )
    return {row.pk: row.values["profile"] for row in rows}


@pytest.mark.parametrize("settings", ["", "?threads=1"], ids=["plain", "with settings"])
def test_json_in_another_form_plans_no_change(tmp_path: Path, settings: str) -> None:
    path = tmp_path / "warehouse.duckdb"
    write(path, '{"tier": "gold", "n": 1, "big": 12345678901234567890.125}')
    warehouse = open_warehouse(f"duckdb:///{path}{settings}")
    try:
        assert warehouse.schema(MODEL, sync="s").field("profile").type == pa.json_()
        assert warehouse.local_query(MODEL, sync="s") is None
        assert warehouse.stream(MODEL, sync="s").schema.field("profile").type == pa.json_()
    finally:
        warehouse.close()

    with Snapshot(tmp_path / "snapshot.duckdb") as snapshot:
        first = planned(path, snapshot, settings=settings)
        assert first == {"1": '{"big":12345678901234567890.125,"n":1,"tier":"gold"}'}
        write(path, '{"n": 1.0, "big": 12345678901234567890.1250, "tier": "gold"}')
        assert planned(path, snapshot, settings=settings) == {}
        write(path, '{"n": 1, "big": 12345678901234567890.126, "tier": "gold"}')
        assert planned(path, snapshot, settings=settings) == {
            "1": '{"big":12345678901234567890.126,"n":1,"tier":"gold"}'
        }
