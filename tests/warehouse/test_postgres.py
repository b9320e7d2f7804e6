"""PostgreSQL as a warehouse, against a real server."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import urllib.parse
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.arrow_rows import DECIMAL_TEXT

ROWS = 25


@pytest.fixture
def customers_db(postgres_url: str) -> str:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:  # closes on error too; dispose below releases the pool
        conn.exec_driver_sql("CREATE SCHEMA analytics")
        conn.exec_driver_sql(
            """
            CREATE TABLE analytics.customers (
                id int8 PRIMARY KEY,
                small int2,
                email text,
                code varchar(10),
                active boolean,
                ltv numeric(12, 2),
                score float8,
                raw_total numeric,
                born date,
                seen_at timestamp,
                created_at timestamptz,
                profile jsonb,
                tags text[],
                blob bytea,
                token uuid
            )
            """
        )
        conn.exec_driver_sql(
            f"""
            INSERT INTO analytics.customers
            SELECT i, mod(i, 100), 'c' || i || '@example.com', 'k' || i, mod(i, 2) = 0,
                   i * 10.25, i / 4.0, i / 3.0, date '2024-01-01' + i,
                   timestamp '2024-01-01 10:00' + i * interval '1 hour',
                   timestamptz '2024-01-01 10:00+02' + i * interval '1 minute',
                   jsonb_build_object('tier', 'gold', 'n', i), ARRAY['a', 'b' || i],
                   '\\x0102'::bytea, ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid
            FROM generate_series(1, {ROWS}) AS i
            """
        )
        conn.exec_driver_sql("INSERT INTO analytics.customers (id) VALUES (1000)")  # a row of NULLs
    engine.dispose()
    # The plain scheme users write; open_warehouse must pick psycopg 3 itself.
    return postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_schema_is_typed_from_the_server_without_reading_rows(customers_db: str) -> None:
    warehouse = open_warehouse(customers_db)
    try:
        schema = warehouse.schema(
            ModelConfig(table="analytics.customers", primary_key="id"), sync="vip"
        )
    finally:
        warehouse.close()
    assert schema.field("id").type == pa.int64()
    assert schema.field("small").type == pa.int16()
    assert schema.field("email").type == pa.string()
    assert schema.field("code").type == pa.string()
    assert schema.field("active").type == pa.bool_()
    assert schema.field("ltv").type == pa.decimal128(12, 2)
    assert schema.field("score").type == pa.float64()
    assert schema.field("raw_total").type == DECIMAL_TEXT  # unbounded: exact, as text
    assert schema.field("born").type == pa.date32()
    assert schema.field("seen_at").type == pa.timestamp("us")
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("profile").type == pa.json_()
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("blob").type == pa.binary()
    assert schema.field("token").type == pa.string()


def test_stream_reads_all_rows_in_small_batches_with_values_intact(customers_db: str) -> None:
    warehouse = open_warehouse(customers_db)
    model = ModelConfig(
        sql="select * from analytics.customers where id % 1 = 0 order by id", primary_key="id"
    )
    try:
        reader = warehouse.stream(model, sync="vip", batch_rows=4)
        sizes = []
        batches = []
        for batch in reader:
            sizes.append(batch.num_rows)
            batches.append(batch)
    finally:
        warehouse.close()
    assert max(sizes) == 4
    assert sum(sizes) == ROWS + 1
    table = pa.Table.from_batches(batches)
    row = table.slice(2, 1).to_pylist()[0]  # id 3
    assert row["id"] == 3
    assert row["email"] == "c3@example.com"
    assert row["active"] is False
    assert row["ltv"] == decimal.Decimal("30.75")
    assert row["score"] == 0.75
    assert row["raw_total"] == "1"  # 3 / 3.0 = 1.00000000000000000000
    assert row["born"] == dt.date(2024, 1, 4)
    assert row["seen_at"] == dt.datetime(2024, 1, 1, 13, 0)
    assert row["created_at"] == dt.datetime(2024, 1, 1, 8, 3, tzinfo=dt.UTC)
    assert json.loads(row["profile"]) == {"tier": "gold", "n": 3}
    assert row["tags"] == ["a", "b3"]
    assert row["blob"] == b"\x01\x02"
    assert row["token"] == "00000000-0000-0000-0000-000000000003"
    nulls = table.slice(ROWS, 1).to_pylist()[0]
    assert nulls["id"] == 1000
    assert all(value is None for key, value in nulls.items() if key != "id")


def test_a_model_from_a_file_with_postgres_casts_and_percent_signs(
    customers_db: str, tmp_path: Path
) -> None:
    sql = tmp_path / "vip.sql"
    sql.write_text(
        "-- the VIP list\nselect id::text as key, email from analytics.customers\n"
        "where email like 'c1%' and ltv > 100;\n"
    )
    warehouse = open_warehouse(customers_db)
    try:
        model = ModelConfig(file=sql, primary_key="key")
        rows = warehouse.stream(model, sync="vip").read_all().to_pylist()
    finally:
        warehouse.close()
    assert sorted(row["key"] for row in rows) == [str(i) for i in range(10, 20)]


def test_a_sql_error_names_the_sync_and_keeps_the_server_message(customers_db: str) -> None:
    warehouse = open_warehouse(customers_db)
    try:
        with pytest.raises(WarehouseError) as error:
            warehouse.stream(
                ModelConfig(sql="select * from custmers", primary_key="id"), sync="vip"
            )
        message = str(error.value)
        assert message.startswith("sync 'vip': model query failed: ")
        assert 'relation "custmers" does not exist' in message
        with pytest.raises(WarehouseError, match='relation "analytics\\.nope" does not exist'):
            warehouse.schema(ModelConfig(table="analytics.nope", primary_key="id"), sync="vip")
        # The warehouse is still usable after a failed query.
        schema = warehouse.schema(ModelConfig(sql="select 1 as one", primary_key="one"), sync="x")
        assert schema.names == ["one"]
    finally:
        warehouse.close()


def test_sql_sqlglot_would_repair_gets_postgres_own_syntax_error(customers_db: str) -> None:
    # sqlglot reads "email code," as "email AS code" and drops the trailing comma; Postgres,
    # which is sent the model as written, names the token it cannot read.
    warehouse = open_warehouse(customers_db)
    model = ModelConfig(sql="select id, email code,\nfrom analytics.customers", primary_key="id")
    try:
        with pytest.raises(WarehouseError) as error:
            warehouse.schema(model, sync="vip")
    finally:
        warehouse.close()
    message = str(error.value)
    assert message.startswith("sync 'vip': model query failed: syntax error at or near")
    assert '"from"' in message


def test_an_error_while_streaming_is_a_warehouse_error(customers_db: str) -> None:
    warehouse = open_warehouse(customers_db)
    model = ModelConfig(
        sql="select id, 10 / (id - 20) as ratio from analytics.customers order by id",
        primary_key="id",
    )
    try:
        with pytest.raises(
            WarehouseError, match="sync 'vip': model query failed: division by zero"
        ):
            warehouse.stream(model, sync="vip", batch_rows=3).read_all()
    finally:
        warehouse.close()


def test_a_connection_failure_masks_the_password(postgres_url: str) -> None:
    parts = urllib.parse.urlsplit(postgres_url)
    host = parts.netloc.rpartition("@")[2]  # empty for a unix socket (then ?host= names it)
    netloc = f"{parts.username}:Sup3r-Secret-PW@{host}"
    bad = urllib.parse.urlunsplit(parts._replace(netloc=netloc, path="/no_such_db"))
    warehouse = open_warehouse(bad)
    try:
        with pytest.raises(WarehouseError) as error:
            warehouse.schema(ModelConfig(sql="select 1 as one", primary_key="one"), sync="vip")
    finally:
        warehouse.close()
    message = str(error.value)
    assert "Sup3r-Secret-PW" not in message
    assert (
        f"sync 'vip': cannot connect to warehouse postgresql+psycopg://{parts.username}:***@"
        in (message)
    )
    assert "no_such_db" in message
    assert "Sup3r-Secret-PW" not in repr(error.value)
