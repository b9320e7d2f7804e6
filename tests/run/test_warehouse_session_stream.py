"""PostgresSession.stream (psycopg's chunked ``cursor.stream``, not a server-side cursor): empty
results keep their columns, errors mid-stream and query errors arrive as errors."""

from __future__ import annotations

import pytest

from bcsync.errors import WarehouseError
from bcsync.warehouse.session import open_session


def test_error_mid_stream_then_the_session_streams_again(postgres_url: str) -> None:
    session = open_session(postgres_url)
    try:
        sql = "SELECT g, 1 / (g - 20000) AS boom FROM generate_series(1, 30000) g"
        reader = session.stream(sql, batch_rows=1000)
        with pytest.raises(Exception) as caught:
            reader.read_all()
        assert "division by zero" in str(caught.value)
        for _ in range(12):  # more than the pool holds
            assert session.stream("SELECT 1 AS a", batch_rows=10).read_all().num_rows == 1
    finally:
        session.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS a WHERE false",
        "SELECT 1 AS a WHERE false ORDER BY 1 LIMIT 5",
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x WHERE false",
        "VALUES (1) LIMIT 0",
        "SELECT 1 AS a, 2 AS a WHERE false",
    ],
)
def test_empty_results_keep_their_columns(postgres_url: str, sql: str) -> None:
    session = open_session(postgres_url)
    try:
        table = session.stream(sql).read_all()
        assert table.num_rows == 0 and table.num_columns >= 1
    finally:
        session.close()


def test_query_error_is_a_warehouse_error(postgres_url: str) -> None:
    session = open_session(postgres_url)
    try:
        with pytest.raises(WarehouseError, match="no_such_table"):
            session.stream("SELECT * FROM no_such_table").read_all()
    finally:
        session.close()
