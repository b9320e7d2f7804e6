"""The read-write warehouse session (``bcsync.warehouse.session``) on real DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bcsync.errors import WarehouseError
from bcsync.warehouse.postgres_writes import permission_error
from bcsync.warehouse.session import WarehouseSession, open_session
from tests.fixtures.postgres_roles import LoginRole


@pytest.fixture(params=["duckdb", "postgres"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseSession]:
    if request.param == "duckdb":
        duckdb.connect(str(tmp_path / "w.duckdb")).close()
        opened = open_session("duckdb:///w.duckdb", tmp_path)
    else:
        opened = open_session(request.getfixturevalue("postgres_url"))
    yield opened
    opened.close()


def test_execute_query_upload_stream(session: WarehouseSession) -> None:
    session.execute("CREATE TABLE t (pk TEXT PRIMARY KEY, n NUMERIC(10, 2), ts TIMESTAMPTZ)")
    at = dt.datetime(2024, 1, 31, 8, tzinfo=dt.UTC)
    session.upload(
        "t",
        pa.table(
            {
                "pk": ["a", "b%"],
                "n": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(10, 2)),
                "ts": pa.array([at, at], pa.timestamp("us", tz="UTC")),
            }
        ),
    )
    assert session.query("SELECT pk FROM t WHERE pk LIKE 'b%' ORDER BY pk") == [("b%",)]
    table = session.stream("SELECT * FROM t ORDER BY pk", batch_rows=1).read_all()
    assert table.column("pk").to_pylist() == ["a", "b%"]
    assert table.column("n").to_pylist() == [decimal.Decimal("1.50"), None]
    assert table.column("ts").to_pylist()[0] == at


def test_transaction_rolls_back(session: WarehouseSession) -> None:
    session.execute("CREATE TABLE t (pk TEXT PRIMARY KEY)")
    with pytest.raises(RuntimeError), session.transaction():
        session.execute("INSERT INTO t VALUES ('a')")
        raise RuntimeError("boom")
    with session.transaction():
        session.execute("INSERT INTO t VALUES ('b')")
    assert session.query("SELECT pk FROM t") == [("b",)]


def test_errors_are_warehouse_errors(session: WarehouseSession) -> None:
    with pytest.raises(WarehouseError, match="no_such_table"):
        session.query("SELECT * FROM no_such_table")
    with pytest.raises(WarehouseError):
        session.stream("SELECT * FROM no_such_table").read_all()


def test_permission_denied_gives_the_grants(
    postgres_url: str, login_role: Callable[..., LoginRole]
) -> None:
    role = login_role("s3cret-pass", rights="read")
    session = open_session(role.url("s3cret-pass"))
    try:
        with pytest.raises(WarehouseError) as caught:
            session.execute("CREATE SCHEMA bcsync_planner")
    finally:
        session.close()
    message = str(caught.value)
    assert f'GRANT CREATE ON DATABASE "{role.database}" TO "{role.name}";' in message
    assert "s3cret-pass" not in message


@pytest.mark.parametrize(
    ("message", "grant"),
    [
        ("permission denied for database shop", 'GRANT CREATE ON DATABASE "shop" TO "etl";'),
        (
            "permission denied for schema bcsync_planner",
            'GRANT USAGE, CREATE ON SCHEMA "bcsync_planner" TO "etl";',
        ),
        (
            "permission denied for table customers",
            'GRANT SELECT, INSERT, UPDATE, DELETE ON "customers" TO "etl";',
        ),
        ("must be owner of table customers", 'ALTER TABLE "customers" OWNER TO "etl";'),
    ],
)
def test_permission_errors_name_the_grant(message: str, grant: str) -> None:
    error = permission_error(message, user="etl", database="shop")
    assert grant in str(error)
