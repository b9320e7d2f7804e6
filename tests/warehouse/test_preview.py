"""The sync form's warehouse reads: the tables a model may name, and a model's first rows,
against real DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import sqlalchemy as sa

from bcsync.config.project import ModelConfig
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.preview import list_tables, preview_model


def test_postgres_tables_skip_the_catalogues_and_preview_is_json_safe(postgres_url: str):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA analytics")
        conn.exec_driver_sql(
            "CREATE TABLE analytics.customers AS SELECT i AS id, 'c' || i AS email, "
            "i * 1.25::numeric(8, 2) AS ltv, timestamptz '2024-01-01 10:00+00' AS seen_at, "
            "jsonb_build_object('n', i) AS profile FROM generate_series(1, 50) AS i"
        )
        conn.exec_driver_sql("CREATE VIEW public.vip AS SELECT 1 AS id")
    engine.dispose()
    warehouse = open_warehouse(postgres_url.replace("postgresql+psycopg://", "postgresql://", 1))
    try:
        assert list_tables(warehouse) == [("analytics", "customers"), ("public", "vip")]
        shown = preview_model(
            warehouse, ModelConfig(table="analytics.customers", primary_key="id"), key="id"
        )
    finally:
        warehouse.close()
    assert len(shown.rows) == 20  # the default LIMIT: never the whole table
    assert shown.key_warnings == []
    document = json.loads(json.dumps(shown.to_json()))
    assert [c["name"] for c in document["columns"]] == ["id", "email", "ltv", "seen_at", "profile"]
    assert document["rows"][0][:4] == [1, "c1", "1.25", "2024-01-01T10:00:00+00:00"]


def test_duckdb_sql_model_is_previewed_with_a_limit(tmp_path: Path):
    database = tmp_path / "wh.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("create table big as select range as id from range(100000)")
    warehouse = open_warehouse(f"duckdb:///{database}", project_dir=tmp_path)
    try:
        shown = preview_model(
            warehouse,
            ModelConfig(sql="select id, id % 7 as k from big", primary_key="k"),
            limit=10,
            key="k",
        )
        assert list_tables(warehouse) == [("main", "big")]
    finally:
        warehouse.close()
    assert len(shown.rows) == 10
    assert shown.key_warnings == [
        "primary key 'k' has duplicate values in the first 10 rows: 0, 1, 2"
    ]
