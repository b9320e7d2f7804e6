"""PostgreSQL values read exactly, in one form whatever the session's settings.

Against the tests' real PostgreSQL server: numerics of every width, money and JSON keep every
digit, and a role whose ``ALTER ROLE … SET`` changes how the server writes values (dates,
intervals, floats, time zone, encoding) reads the same values as one without — in the warehouse
and in the run store.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from bcsync.config.project import ModelConfig
from bcsync.state import RunStore
from bcsync.state.database import create_store_engine
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.arrow_rows import DECIMAL_TEXT, inferred_converter
from tests.fixtures.postgres_roles import LoginRole


def read(url: str, sql: str) -> pa.Table:
    warehouse = open_warehouse(url)
    try:
        return warehouse.stream(ModelConfig(sql=sql, primary_key="id"), sync="exact").read_all()
    finally:
        warehouse.close()


def plain(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)


NUMERICS = """
CREATE TABLE numbers (
    id int, unbounded numeric, big numeric, trailing_zeros numeric, negative_zero numeric,
    tiny numeric, huge numeric, nan numeric, minus_infinity numeric, wide numeric(50, 1),
    negative_scale numeric(3, -2), scale_above_precision numeric(2, 4),
    bounded numeric(12, 2), unbounded_list numeric[], bounded_list numeric(5, 2)[], money money
);
INSERT INTO numbers VALUES (
    1, 1.123456789012345679901, 1234567890123456.78, 1.50, -0.00, 1e-30, 1e30, 'NaN',
    '-Infinity', 123456789012345678901234567890123456789.5, 12300, 0.0012, 1234.50,
    ARRAY[1.10, 2, NULL], ARRAY[1.10, 2], -1234.56
);
"""


def test_numerics_of_every_width_and_money_are_read_exactly(postgres_url: str) -> None:
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(NUMERICS)
    admin.dispose()
    table = read(plain(postgres_url), "select *, avg(id) over () as average from numbers")
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    for name in ("unbounded", "big", "nan", "wide", "money"):
        assert types[name] == DECIMAL_TEXT, name
    assert types["negative_scale"] == pa.decimal128(5, 0)
    assert types["scale_above_precision"] == pa.decimal128(4, 4)
    assert types["bounded"] == pa.decimal128(12, 2)
    assert types["unbounded_list"] == pa.list_(DECIMAL_TEXT)
    assert types["bounded_list"] == pa.list_(pa.decimal128(5, 2))

    row = table.to_pylist()[0]
    # Canonical text: every digit, no exponent, no trailing zeros (as a DuckDB DECIMAL hashes).
    assert row["unbounded"] == "1.123456789012345679901"
    assert row["big"] == "1234567890123456.78"
    assert row["trailing_zeros"] == "1.5"
    assert row["negative_zero"] == "0"
    assert row["tiny"] == "0." + "0" * 29 + "1"
    assert row["huge"] == "1" + "0" * 30
    assert row["nan"] == "nan"
    assert row["minus_infinity"] == "-inf"
    assert row["wide"] == "123456789012345678901234567890123456789.5"
    assert row["negative_scale"] == decimal.Decimal(12300)
    assert row["scale_above_precision"] == decimal.Decimal("0.0012")
    assert row["bounded"] == decimal.Decimal("1234.50")
    assert row["unbounded_list"] == ["1.1", "2", None]
    assert row["bounded_list"] == [decimal.Decimal("1.10"), decimal.Decimal("2.00")]
    assert row["money"] == "-1234.56"
    assert types["average"] == DECIMAL_TEXT  # an aggregate's numeric has no precision
    assert row["average"] == "1"


def test_json_and_jsonb_are_read_as_the_servers_text(postgres_url: str) -> None:
    table = read(
        plain(postgres_url),
        """select 1 as id,
                  '{"b": 1.0, "a": 12345678901234567890.125}'::json as j,
                  '{"b": 1.0, "a": 12345678901234567890.125}'::jsonb as jb,
                  array['{"x": 0.1}'::json] as js""",
    )
    assert table.schema.field("j").type == pa.json_()
    assert table.schema.field("jb").type == pa.json_()
    assert table.schema.field("js").type == pa.list_(pa.json_())
    row = table.to_pylist()[0]
    # Not parsed by psycopg (floats): the planner makes the canonical form from every digit.
    assert row["j"] == '{"b": 1.0, "a": 12345678901234567890.125}'
    assert row["jb"] == '{"a": 12345678901234567890.125, "b": 1.0}'
    assert row["js"] == ['{"x": 0.1}']


VALUES = """
CREATE TABLE v (id int, f float8, r float4, ts timestamptz, t timestamp, d date,
                i interval, tt timetz, m money, n numeric, j jsonb, s text);
INSERT INTO v VALUES
  (1, 1 / 3.0, 0.1, '2024-01-31 09:00:00.123456+01', '2024-01-31 09:00', '2024-01-31',
   '1 year 2 mons 3 days 04:05:06.7', '10:00+05:30', 1234.5, 1 / 3.0, '{"b": 2, "a": 1}', 'Zoë 🎉'),
  (2, -1e-300, -3.4e38, '0001-01-01 00:00:00+00', '9999-12-31 23:59:59.999999', '0001-01-01',
   '-1 day -00:00:01', '00:00-12', 0, 'NaN', '[]', '');
"""

ROLE_SETTINGS = {
    "DateStyle": "SQL, DMY",
    "IntervalStyle": "sql_standard",
    "extra_float_digits": "0",
    "TimeZone": "Asia/Kathmandu",
    "client_encoding": "LATIN1",
}


@pytest.fixture
def tweaked_role(
    postgres_url: str, login_role: Callable[..., LoginRole]
) -> tuple[LoginRole, LoginRole]:
    """Two roles that may read table ``v`` and create tables: one as the server starts
    sessions, and one whose DBA set every setting that changes how values are written."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(VALUES)
        default, tweaked = login_role("exact-pw-1"), login_role("exact-pw-2")
        for setting, value in ROLE_SETTINGS.items():
            conn.exec_driver_sql(f"ALTER ROLE \"{tweaked.name}\" SET {setting} = '{value}'")
    admin.dispose()
    return default, tweaked


def test_the_roles_session_settings_change_no_value_read(
    tweaked_role: tuple[LoginRole, LoginRole],
) -> None:
    default, tweaked = tweaked_role
    sql = "select * from v order by id"
    expected = read(default.url(default.password), sql)
    got = read(tweaked.url(tweaked.password), sql)
    assert got.equals(expected), got.to_pylist()
    first = got.to_pylist()[0]
    assert first["f"] == 1 / 3
    assert first["ts"] == dt.datetime(2024, 1, 31, 8, 0, 0, 123456, tzinfo=dt.UTC)
    assert first["s"] == "Zoë 🎉"
    assert first["m"] == "1234.5"


def test_every_session_starts_with_the_pinned_settings(
    tweaked_role: tuple[LoginRole, LoginRole],
) -> None:
    _, tweaked = tweaked_role
    url = tweaked.url(tweaked.password)
    pinned = {
        "DateStyle": "ISO, DMY",  # the role's day/month order reads its own date literals
        "IntervalStyle": "postgres",
        "extra_float_digits": "3",
        "TimeZone": "UTC",
        "lc_monetary": "C",
        "client_encoding": "UTF8",
    }
    columns = ", ".join(f"current_setting('{name}') as \"{name}\"" for name in pinned)
    assert read(url, f"select 1 as id, {columns}").to_pylist() == [{"id": 1, **pinned}]

    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in pinned}
    finally:
        engine.dispose()
    assert shown == pinned


def test_the_run_store_reads_its_timestamps_whatever_the_roles_settings(
    tweaked_role: tuple[LoginRole, LoginRole],
) -> None:
    _, tweaked = tweaked_role
    store = RunStore.open(tweaked.url(tweaked.password))
    try:
        run_id = store.start_run("exact")
        runs = store.list_runs("exact")
    finally:
        store.close()
    assert [run.run_id for run in runs] == [run_id]
    assert runs[0].started_at.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (decimal.Decimal("1.123456789012345679901"), "1.123456789012345679901"),
        (decimal.Decimal("2.50"), "2.5"),
        (decimal.Decimal("1E+3"), "1000"),
        (decimal.Decimal("1E-7"), "0.0000001"),
        (7, "7"),  # a later row the driver typed otherwise
        (0.1, "0.1"),
    ],
)
def test_other_drivers_decimals_are_read_exactly(value: Any, text: str) -> None:
    # Drivers other than psycopg (MySQL's, say) are typed from their first values.
    rows = [(decimal.Decimal("0.5"),), (value,), (None,)]
    converter = inferred_converter([("n",)], rows)
    batch = converter.batch(rows)
    assert batch.schema.field("n").type == DECIMAL_TEXT
    assert batch.to_pylist() == [{"n": "0.5"}, {"n": text}, {"n": None}]
