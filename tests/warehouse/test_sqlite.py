"""Any other SQLAlchemy URL (here SQLite): columns typed from the values they hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse import open_warehouse


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "create table customers (id integer, email text, ltv real, note text, seen text)"
        )
        conn.executemany(
            "insert into customers values (?, ?, ?, ?, ?)",
            [(i, f"c{i}@example.com", i * 1.5, None, "2024-01-01") for i in range(7)],
        )
    conn.close()
    return f"sqlite:///{path}"


def test_stream_types_columns_from_their_values(sqlite_url: str) -> None:
    warehouse = open_warehouse(sqlite_url)
    model = ModelConfig(
        sql="select * from customers where email like 'c%' order by id", primary_key="id"
    )
    try:
        reader = warehouse.stream(model, sync="s", batch_rows=3)
        batches = list(reader)
        schema = warehouse.schema(model, sync="s")
    finally:
        warehouse.close()
    assert [batch.num_rows for batch in batches] == [3, 3, 1]
    assert reader.schema == schema
    assert schema.field("id").type == pa.int64()
    assert schema.field("ltv").type == pa.float64()
    assert schema.field("note").type == pa.string()  # all NULL: typed as text
    rows = pa.Table.from_batches(batches).to_pylist()
    assert rows[6] == {
        "id": 6,
        "email": "c6@example.com",
        "ltv": 9.0,
        "note": None,
        "seen": "2024-01-01",
    }


def test_a_value_that_does_not_fit_the_first_batch_type_is_a_warehouse_error(
    sqlite_url: str,
) -> None:
    warehouse = open_warehouse(sqlite_url)
    model = ModelConfig(
        sql="select case when id < 5 then id else 'five' end as n from customers order by id",
        primary_key="n",
    )
    try:
        with pytest.raises(WarehouseError, match="sync 's': model query failed: column 'n'"):
            warehouse.stream(model, sync="s", batch_rows=2).read_all()
    finally:
        warehouse.close()


def test_sql_errors_name_the_sync(sqlite_url: str) -> None:
    warehouse = open_warehouse(sqlite_url)
    try:
        with pytest.raises(
            WarehouseError, match="sync 'vip': model query failed: no such table: custmers"
        ):
            warehouse.stream(ModelConfig(table="custmers", primary_key="id"), sync="vip")
    finally:
        warehouse.close()


def test_an_unknown_driver_is_a_warehouse_error() -> None:
    with pytest.raises(WarehouseError, match=r"cannot open warehouse nosuchdb://u:\*\*\*@h/d"):
        open_warehouse("nosuchdb://u:hunter22@h/d")
