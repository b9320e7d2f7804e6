r"""The row hash and key text the warehouse computes (issue 14) equal the local planner's.

Each column of a table holding awkward values of every type is hashed twice: by the SQL of
``hash_sql`` running in the warehouse (real PostgreSQL, real DuckDB), and by the local planner
reading the same table through bcsync's warehouse reader (every row is new to an empty snapshot,
so each comes back with its md5 and key). A kind ``hash_sql`` claims exact must give the same md5
for every row; one that differs must be declared inexact. The generated SQL of all four dialects
is kept in tests/run/golden/ (``BCSYNC_UPDATE_GOLDEN=1`` rewrites the files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from bcsync.config.project import ModelConfig
from bcsync.errors import ConfigError
from bcsync.run.planner import plan
from bcsync.run.planner.warehouse import hash_sql
from bcsync.run.snapshot import Snapshot
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.arrow_rows import DECIMAL_TEXT
from bcsync.warehouse.base import LocalQuery
from bcsync.warehouse.postgres_session import pin_session_settings

GOLDEN = Path(__file__).parent / "golden"
MAPPING = "email→email; it's \\ a\x1fmapping"
MODEL = ModelConfig(sql="SELECT * FROM m", primary_key="id")

# column → (PostgreSQL type, values as SQL literals); shorter lists leave NULLs in later rows.
POSTGRES_COLUMNS: dict[str, tuple[str, list[str]]] = {
    "ktext": ("text", ["'k1'", r"E'k\\2'", "'ü 3'", "'K4'", "''", "'NULL'", r"E'\\N'"]),
    "kuuid": ("uuid", ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "gen_random_uuid()"]),
    "i2": ("int2", ["0", "-1", "32767", "-32768"]),
    "i8": ("int8", ["9223372036854775807", "-9223372036854775808", "42"]),
    "n": ("numeric(10,2)", ["1.00", "1.50", "-0.00", "12345678.90", "-0.05", "10", "100.10"]),
    "nu": (
        "numeric",
        [
            "1234567890123456789012345678901234567890",
            "0.1000000000000000000000000000000000000001",
            "-1.500",
            "1e50",
            "'NaN'",
            "'Infinity'",
            "'-Infinity'",
            "0.000",
            "100",
        ],
    ),
    "big": ("numeric(50,3)", ["12345678901234567890123456789012345678901234.500", "-0.000"]),
    "m": ("money", ["'1.50'", "'-1234.56'", "'0'", "'1000000'"]),
    "r": ("real", ["0.1", "1.0", "-0.0", "1e20", "'NaN'", "'Infinity'", "3.4e38", "1e-7", "-2.5"]),
    "d": (
        "float8",
        [
            "0.1",
            "1.0",
            "'-0'",
            "1e20",
            "1e-7",
            "123456789012345678901234",
            "1.5e300",
            "'NaN'",
            "'-Infinity'",
            "9007199254740993",
            "0.30000000000000004",
            "-2.5",
            "1e38",
            "9e18",
            "-9.5e18",
            "0.0001",
            "123456.789",
        ],
    ),
    "b": ("bool", ["true", "false"]),
    "t": (
        "text",
        [
            r"E'back\\slash'",
            r"E'unit\x1fsep'",
            "'it''s \"q\"'",
            "'ünïcødé 😀'",
            "''",
            "'NULL'",
            r"E'\\N'",
            r"E'\\u'",
            r"E'line\nbreak'",
        ],
    ),
    "vc": ("varchar(20)", ["'abc'", "' padded '"]),
    "dt": ("date", ["'2024-01-31'", "'0001-01-01'", "'9999-12-31'"]),
    "ts": (
        "timestamp",
        ["'2024-01-31 08:00:00'", "'2024-01-31 08:00:00.123456'", "'1970-01-01 00:00:00.5'"],
    ),
    "tz": (
        "timestamptz",
        [
            "'2024-01-31 08:00:00.5+05:30'",
            "'2024-06-30 23:59:59.999999-08'",
            "'2000-01-01 00:00:00+00'",
        ],
    ),
    "tm": ("time", ["'08:00:00'", "'08:00:00.5'", "'23:59:59.999999'", "'00:00:00'"]),
    "u": (
        "uuid",
        ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"],
    ),
    "by": ("bytea", [r"'\xdeadbeef'", r"'\x'", r"'\x00ff1f5c'"]),
    "j": ("jsonb", ['\'{"b": 1, "a": [1.0, 2.50]}\'', "'null'", "'\"x\"'"]),
    "js": ("json", ['\'{"b":1, "a":2}\'']),
    "arr": ("int[]", ["'{1,2,NULL}'", "'{}'"]),
    "iv": ("interval", ["'1 day 02:00:00'"]),
}

DUCKDB_COLUMNS: dict[str, tuple[str, list[str]]] = {
    "ktext": ("VARCHAR", ["'k1'", "'k\\2'", "'ü 3'", "''"]),
    "kuuid": ("UUID", ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "uuid()"]),
    "i2": ("SMALLINT", ["0", "-1", "32767", "-32768"]),
    "hi": ("HUGEINT", ["170141183460469231731687303715884105727", "-5"]),
    "ub": ("UBIGINT", ["18446744073709551615", "0"]),
    "n": ("DECIMAL(10,2)", ["1.00", "1.50", "-0.00", "12345678.90", "-0.05", "10", "100.10"]),
    "n38": ("DECIMAL(38,10)", ["1234567890123456789012345678.1234567890", "0.0000000001"]),
    "r": ("FLOAT", ["0.1", "1.0", "-0.0", "1e20", "'NaN'", "'Infinity'", "3.4e38", "1e-7"]),
    "d": (
        "DOUBLE",
        [
            "0.1",
            "1.0",
            "-0.0",
            "1e20",
            "1e-7",
            "123456789012345678901234",
            "1.5e300",
            "'NaN'",
            "'-Infinity'",
            "0.30000000000000004",
            "1e38",
        ],
    ),
    "b": ("BOOLEAN", ["true", "false"]),
    "t": (
        "VARCHAR",
        ["'back\\slash'", "'unit' || chr(31) || 'sep'", "'it''s'", "'ünï 😀'", "''", "'NULL'"],
    ),
    "dt": ("DATE", ["'2024-01-31'", "'0001-01-01'"]),
    "ts": ("TIMESTAMP", ["'2024-01-31 08:00:00'", "'2024-01-31 08:00:00.123456'"]),
    "tsns": ("TIMESTAMP_NS", ["'2024-01-31 08:00:00.123456'"]),
    "tz": ("TIMESTAMPTZ", ["'2024-01-31 08:00:00.5+05:30'", "'2000-01-01 00:00:00+00'"]),
    "tm": ("TIME", ["'08:00:00'", "'08:00:00.5'"]),
    "u": ("UUID", ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"]),
    "by": ("BLOB", ["'\\xDE\\xAD'::BLOB", "''::BLOB"]),
    "j": ("JSON", ['\'{"b": 1, "a": [1.0, 2.50]}\'']),
    "l": ("INTEGER[]", ["[1, 2, NULL]", "[]"]),
    "st": ("STRUCT(b VARCHAR, a INTEGER)", ["{'b': 'x\\y', 'a': 1}"]),
    "mp": ("MAP(VARCHAR, INTEGER)", ["MAP {'k': 1, 'a': NULL}"]),
    "iv": ("INTERVAL", ["INTERVAL 1 DAY + INTERVAL 2 HOUR"]),
}


def insert_sql(columns: dict[str, tuple[str, list[str]]]) -> list[str]:
    """CREATE TABLE m and one INSERT per row: row i holds each column's i-th value or NULL."""
    rows = max(len(values) for _, values in columns.values()) + 1
    create = "CREATE TABLE m (id BIGINT PRIMARY KEY, " + ", ".join(
        f'"{name}" {kind}' for name, (kind, _) in columns.items()
    )
    inserts = []
    for i in range(rows):
        cells = [values[i] if i < len(values) else "NULL" for _, values in columns.values()]
        inserts.append(f"INSERT INTO m VALUES ({i}, {', '.join(cells)})")
    return [create + ")", *inserts]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url)
    pin_session_settings(engine)  # as every bcsync session to PostgreSQL is
    with engine.begin() as conn:
        for statement in insert_sql(POSTGRES_COLUMNS):
            conn.exec_driver_sql(statement.replace("%", "%%"))
    yield engine
    engine.dispose()


def local(
    snapshot: Snapshot, model: pa.RecordBatchReader | LocalQuery, pk: str, columns: list[str]
) -> dict[str, str]:
    """pk → md5 as the local planner makes them (every row is new to the empty snapshot)."""
    with plan(model, snapshot, primary_key=pk, columns=columns, mapping=MAPPING) as changes:
        return {row.pk: row.row_hash for chunk in changes.rows("added") for row in chunk}


def in_warehouse(
    run: Any, dialect: str, schema: pa.Schema, pk: str, columns: list[str]
) -> dict[str, str]:
    """pk → md5 as the warehouse computes them with hash_sql (rows with a NULL key left out)."""
    query = (
        exp.select(
            hash_sql.pk_text(pk, schema.field(pk).type, table="q").as_("pk"),
            hash_sql.row_hash(
                [(name, schema.field(name).type) for name in columns], MAPPING, table="q"
            ).as_("h"),
        )
        .from_(exp.select("*").from_("m").subquery("q"))
        .where(exp.column(pk, table="q", quoted=True).is_(exp.null()).not_())
    )
    return dict(run(hash_sql.render(query, dialect)))


def compare(
    run: Any,
    dialect: str,
    snapshot: Snapshot,
    stream: Any,
    schema: pa.Schema,
    column_names: list[str],
) -> list[str]:
    """Each column alone, then all exact ones together: equal where hash_sql claims exactness,
    and a difference only where it declares the kind inexact. Returns the differing columns."""
    assert set(column_names) <= set(schema.names)
    differing = []
    for name in column_names:
        mine = in_warehouse(run, dialect, schema, "id", [name])
        theirs = local(snapshot, stream(), "id", [name])
        assert mine and set(mine) == set(theirs)
        if mine != theirs:
            differing.append(name)
    exact = [n for n in column_names if hash_sql.is_exact(schema.field(n).type, dialect)]
    assert [n for n in differing if n in exact] == []
    together = in_warehouse(run, dialect, schema, "id", exact)
    assert together == local(snapshot, stream(), "id", exact)
    return differing


def test_postgres_hashes_equal_the_local_planner(pg: sa.Engine, tmp_path: Path) -> None:
    warehouse = open_warehouse(pg.url.render_as_string(hide_password=False))

    def run(sql: str) -> list[tuple[Any, ...]]:
        with pg.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql.replace("%", "%%"))]

    schema = warehouse.schema(MODEL, sync="t")
    try:
        with Snapshot(tmp_path / "s.duckdb") as snapshot:
            differing = compare(
                run,
                "postgres",
                snapshot,
                lambda: warehouse.stream(MODEL, sync="t"),
                schema,
                [n for n in POSTGRES_COLUMNS if not n.startswith("k")],
            )
            assert {"j", "js", "arr"} <= set(differing)  # declared inexact, and they are
            # A reader reporting uuid as Arrow's uuid type (PostgreSQL's gives a string).
            as_uuid = schema.set(schema.get_field_index("u"), pa.field("u", pa.uuid()))
            mine = in_warehouse(run, "postgres", as_uuid, "id", ["u"])
            assert mine == local(snapshot, warehouse.stream(MODEL, sync="t"), "id", ["u"])
            for key in ("id", "ktext", "kuuid"):
                hash_sql.check_key_type(key, schema.field(key).type)
                mine = in_warehouse(run, "postgres", schema, key, ["t", "d"])
                assert mine == local(snapshot, warehouse.stream(MODEL, sync="t"), key, ["t", "d"])
                assert len(mine) > 1
    finally:
        warehouse.close()


@pytest.mark.parametrize("path", ["stream", "local_query"])
def test_duckdb_hashes_equal_the_local_planner(tmp_path: Path, path: str) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        for statement in insert_sql(DUCKDB_COLUMNS):
            conn.execute(statement)
    copy = tmp_path / "copy.duckdb"  # the warehouse's open file takes no other connection
    shutil.copy(database, copy)
    warehouse = open_warehouse(f"duckdb:///{database}")
    schema = warehouse.schema(MODEL, sync="t")

    def model() -> pa.RecordBatchReader | LocalQuery:
        query = warehouse.local_query(MODEL, sync="t") if path == "local_query" else None
        return query or warehouse.stream(MODEL, sync="t")

    def run(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(copy), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    try:
        with Snapshot(tmp_path / "s.duckdb") as snapshot:
            # JSON makes the DuckDB warehouse stream: the local_query path leaves it out.
            names = [n for n in DUCKDB_COLUMNS if not n.startswith("k")]
            if path == "local_query":
                names.remove("j")
                schema = schema.remove(schema.get_field_index("j"))
            differing = compare(run, "duckdb", snapshot, model, schema, names)
            assert differing == ([] if path == "local_query" else ["j"])
            for key in ("id", "ktext", "kuuid"):
                hash_sql.check_key_type(key, schema.field(key).type)
                mine = in_warehouse(run, "duckdb", schema, key, ["t", "d"])
                assert mine == local(snapshot, model(), key, ["t", "d"])
                assert len(mine) > 1
    finally:
        warehouse.close()


# One column of every kind, with the Arrow type each warehouse's reader reports.
GOLDEN_SCHEMA: list[tuple[str, pa.DataType]] = [
    ("id", pa.int64()),
    ("Mixed Case", pa.int32()),
    ("price", pa.decimal128(10, 2)),
    ("total", DECIMAL_TEXT),
    ("ratio", pa.float64()),
    ("score", pa.float32()),
    ("active", pa.bool_()),
    ("name", pa.string()),
    ("born", pa.date32()),
    ("seen", pa.timestamp("us")),
    ("seen_tz", pa.timestamp("us", tz="UTC")),
    ("at", pa.time64("us")),
    ("blob", pa.binary()),
    ("token", pa.uuid()),
    ("doc", pa.json_()),
    ("tags", pa.list_(pa.string())),
]


def golden_query(dialect: str) -> str:
    """The warehouse planner's hashing SELECT over the golden schema, in ``dialect``."""
    query = exp.select(
        hash_sql.pk_text("id", pa.int64(), table="q").as_("bcsync_pk"),
        hash_sql.row_hash(GOLDEN_SCHEMA[1:], MAPPING, table="q").as_("bcsync_hash"),
    ).from_(exp.select("*").from_("model").subquery("q"))
    return hash_sql.for_dialect(query, dialect).sql(dialect=dialect, pretty=True) + "\n"


@pytest.mark.parametrize("dialect", hash_sql.DIALECTS)
def test_golden_sql(dialect: str) -> None:
    text = golden_query(dialect)
    path = GOLDEN / f"warehouse_hash_{dialect}.sql"
    if os.environ.get("BCSYNC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    # The dialect's own parser takes it back. (Not compared after a round trip: sqlglot rewrites
    # Snowflake's TO_CHAR(CONVERT_TIMEZONE(…), '…"T"…') format, dropping the quotes around T.)
    parsed = sqlglot.parse_one(text, read=dialect)
    assert isinstance(parsed, exp.Select)
    assert [e.alias for e in parsed.expressions] == ["bcsync_pk", "bcsync_hash"]
    assert hash_sql.render(exp.column("x"), dialect) == exp.column("x").sql(dialect=dialect)


def test_unlowered_nodes_are_refused() -> None:
    """Writing bcsync's nodes without for_dialect fails instead of writing wrong SQL."""
    with pytest.raises(ValueError):
        hash_sql.row_hash([("a", pa.int64())], "").sql(dialect="postgres")
    with pytest.raises(ValueError, match="no row-hash SQL"):
        hash_sql.render(hash_sql.pk_text("a", pa.int64()), "mysql")


def test_key_types() -> None:
    for arrow_type in (pa.int64(), pa.int16(), pa.string(), pa.large_string(), pa.uuid()):
        hash_sql.check_key_type("id", arrow_type)
    for arrow_type in (pa.float64(), pa.json_(), DECIMAL_TEXT, pa.timestamp("us"), pa.binary()):
        with pytest.raises(ConfigError, match="'customer id'"):
            hash_sql.check_key_type("customer id", arrow_type)


def test_inexact_kinds_are_documented() -> None:
    """JSON is never exact (canonical_json runs in Python); nested values only in DuckDB."""
    for dialect in hash_sql.DIALECTS:
        assert not hash_sql.is_exact(pa.json_(), dialect)
        assert hash_sql.EXACT_KINDS[dialect] <= hash_sql.KINDS
    assert hash_sql.is_exact(pa.list_(pa.int32()), "duckdb")
    assert not hash_sql.is_exact(pa.list_(pa.int32()), "postgres")
