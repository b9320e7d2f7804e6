"""The embedded DuckDB warehouse: database files, in-memory, CSV and Parquet."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse import open_warehouse


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema analytics")
        conn.execute(
            """
            create table analytics.customers as
            select range as id, 'c' || range || '@example.com' as email,
                   (range * 1.5)::decimal(10, 2) as ltv, range % 2 = 0 as active,
                   timestamptz '2024-01-01 00:00:00+00' + to_days(range::int) as created_at
            from range(10)
            """
        )
    return path


def test_a_table_model_streams_in_batches_with_its_types(warehouse_file: Path) -> None:
    warehouse = open_warehouse(f"duckdb:///{warehouse_file}")
    model = ModelConfig(table="analytics.customers", primary_key="id")
    try:
        schema = warehouse.schema(model, sync="vip")
        batches = list(warehouse.stream(model, sync="vip", batch_rows=4))
    finally:
        warehouse.close()
    assert schema.names == ["id", "email", "ltv", "active", "created_at"]
    assert schema.field("ltv").type == pa.decimal128(10, 2)
    assert schema.field("created_at").type.tz is not None
    assert [batch.num_rows for batch in batches] == [4, 4, 2]
    rows = pa.Table.from_batches(batches).sort_by("id").to_pylist()
    assert rows[3]["email"] == "c3@example.com"
    assert rows[3]["ltv"] == decimal.Decimal("4.50")
    assert rows[3]["active"] is False
    assert rows[3]["created_at"] == dt.datetime(2024, 1, 4, tzinfo=dt.UTC)


def test_the_file_is_opened_read_only_and_shared_with_other_readers(warehouse_file: Path) -> None:
    first = open_warehouse(f"duckdb:///{warehouse_file}")
    second = open_warehouse(f"duckdb:///{warehouse_file}")
    try:
        for warehouse in (first, second):
            model = ModelConfig(
                sql="select count(*) as n from analytics.customers", primary_key="n"
            )
            assert warehouse.stream(model, sync="s").read_all().to_pylist() == [{"n": 10}]
        # A model can only read: anything else is refused before it reaches DuckDB.
        with pytest.raises(WarehouseError, match="must be a SELECT query, not DROP"):
            first.stream(
                ModelConfig(sql="drop table analytics.customers", primary_key="x"), sync="s"
            )
    finally:
        first.close()
        second.close()
    with duckdb.connect(str(warehouse_file)) as conn:
        assert conn.execute("select count(*) from analytics.customers").fetchone() == (10,)


def test_relative_database_and_data_paths_resolve_against_the_project_dir(
    tmp_path: Path, warehouse_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_text("id,name\n1,Ada\n2,Grace\n")
    pq.write_table(
        pa.table({"id": [1, 2, 3], "score": [0.5, 1.5, 2.5]}), tmp_path / "data" / "scores.parquet"
    )
    monkeypatch.chdir("/")
    warehouse = open_warehouse("duckdb:///warehouse.duckdb", project_dir=tmp_path)
    model = ModelConfig(
        sql="""
            select p.id, p.name, s.score, c.email
            from read_csv('data/people.csv') p
            join 'data/scores.parquet' s using (id)
            join analytics.customers c on c.id = p.id
            order by p.id
        """,
        primary_key="id",
    )
    try:
        rows = warehouse.stream(model, sync="people").read_all().to_pylist()
    finally:
        warehouse.close()
    assert rows == [
        {"id": 1, "name": "Ada", "score": 0.5, "email": "c1@example.com"},
        {"id": 2, "name": "Grace", "score": 1.5, "email": "c2@example.com"},
    ]
    assert os.getcwd() == "/"


@pytest.mark.parametrize("url", ["duckdb://", "duckdb:///:memory:"])
def test_in_memory_warehouse_reads_files(tmp_path: Path, url: str) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "c.sql").write_text("select * from read_csv('c.csv')\n")
    (tmp_path / "c.csv").write_text("id,email\n7,x@example.com\n")
    warehouse = open_warehouse(url, project_dir=tmp_path)
    try:
        model = ModelConfig(file=tmp_path / "models" / "c.sql", primary_key="id")
        assert warehouse.schema(model, sync="s").names == ["id", "email"]
        assert warehouse.stream(model, sync="s").read_all().to_pylist() == [
            {"id": 7, "email": "x@example.com"}
        ]
    finally:
        warehouse.close()


def test_sql_errors_name_the_sync_and_keep_duckdbs_message(warehouse_file: Path) -> None:
    warehouse = open_warehouse(f"duckdb:///{warehouse_file}")
    try:
        with pytest.raises(WarehouseError) as error:
            warehouse.schema(
                ModelConfig(sql="select * from custmers", primary_key="id"), sync="vip"
            )
        assert str(error.value).startswith(
            "sync 'vip': model query failed: "
            "Catalog Error: Table with name custmers does not exist!"
        )
        with pytest.raises(WarehouseError, match=r"sync 'vip': model query failed: .*nope"):
            warehouse.stream(ModelConfig(table="analytics.nope", primary_key="id"), sync="vip")
        with pytest.raises(
            WarehouseError,
            match="sync 'vip': model SQL has a syntax error at line 1, column 11 near 'from': ",
        ):
            warehouse.schema(ModelConfig(sql="select (1 from x", primary_key="id"), sync="vip")
        with pytest.raises(WarehouseError, match=r"exactly one SQL statement \(found 2\)"):
            warehouse.schema(ModelConfig(sql="select 1; select 2", primary_key="id"), sync="vip")
    finally:
        warehouse.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        # sqlglot drops the doubled comma; DuckDB's own parser names it.
        (
            "select id,, email\nfrom analytics.customers",
            r'model query failed: .*syntax error at or near ","',
        ),
        # sqlglot reads "group" as an alias; DuckDB sees an unfinished GROUP BY, at the end.
        (
            "select id from analytics.customers group",
            r"model SQL has a syntax error at line 1: the query ends before its statement is "
            r"complete, after '[^']*analytics.customers group'",
        ),
    ],
)
def test_sql_sqlglot_would_repair_gets_duckdbs_syntax_error(
    warehouse_file: Path, sql: str, message: str
) -> None:
    warehouse = open_warehouse(f"duckdb:///{warehouse_file}")
    model = ModelConfig(sql=sql, primary_key="id")
    expected = f"^sync 'vip': {message}"
    try:
        with pytest.raises(WarehouseError, match=expected):
            warehouse.schema(model, sync="vip")
        with pytest.raises(WarehouseError, match=expected):
            warehouse.stream(model, sync="vip")
    finally:
        warehouse.close()


def test_an_error_found_while_streaming_is_a_warehouse_error(tmp_path: Path) -> None:
    lines = ["id,n"] + [f"{i},{i}" for i in range(5000)] + ["5000,not-a-number"]
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    warehouse = open_warehouse("duckdb://", project_dir=tmp_path)
    model = ModelConfig(
        sql="select id, n::int as n from read_csv('big.csv', all_varchar=true)", primary_key="id"
    )
    try:
        with pytest.raises(
            WarehouseError, match="sync 'big': model query failed: Conversion Error"
        ):
            warehouse.stream(model, sync="big", batch_rows=100).read_all()
    finally:
        warehouse.close()


def test_a_missing_database_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match=r"DuckDB warehouse file not found: .*nope\.duckdb"):
        open_warehouse("duckdb:///nope.duckdb", project_dir=tmp_path)
    assert not (tmp_path / "nope.duckdb").exists()
