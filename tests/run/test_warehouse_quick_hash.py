"""The warehouse planner's quick hash (issue 14) never calls two rows equal whose canonical texts
differ: the diff skips a row whose quick hash equals the clean one in its table, so a quick hash
coarser than the canonical text would hide a change for good.

Each column of the awkward-value tables of ``test_warehouse_hash`` (and, in PostgreSQL, types
whose equality is coarser than their text: ``citext``, intervals; the embedded server has no ICU,
so a nondeterministic collation, which the same ``COLLATE "C"`` covers, is not tried)
is hashed in the warehouse both ways; wherever two rows share a quick hash they must share the
md5 of their canonical text. A quick hash finer than the text is allowed (it costs a re-read).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlglot import exp

from bcsync.run.planner.warehouse import hash_sql
from bcsync.warehouse import open_warehouse
from bcsync.warehouse.postgres_session import pin_session_settings
from tests.run.test_warehouse_hash import (
    DUCKDB_COLUMNS,
    MAPPING,
    MODEL,
    POSTGRES_COLUMNS,
    insert_sql,
)

# Values PostgreSQL's own typed hashes confuse (they are made for hash joins): numeric ignores
# the sign, int8 and timestamps fold 64 bits into 32, a float zero hashes as NULL; and types
# whose equality is coarser than their text.
COARSE_EQUALITY: dict[str, tuple[str, list[str]]] = {
    "sg": ("numeric(6,2)", ["1.5", "-1.5", "0"]),
    "i8f": ("int8", ["1", "4294967296", "0", "-1", "-4294967297"]),
    "tsf": ("timestamp", ["'2000-01-01 00:00:00.000001'", "'2000-01-01 01:11:34.967296'"]),
    "tzf": ("timestamptz", ["'2000-01-01 00:00:00.000001Z'", "'2000-01-01 01:11:34.967296Z'"]),
    "ci": ("citext", ["'Bob'", "'bob'", "'BOB'", "'bob'"]),
    "iv2": ("interval", ["'1 mon'", "'30 days'", "'1 day'", "'24 hours'", "'720:00:00'"]),
    "cn": ("char(6)", ["'ab'", "'ab  '", "'AB'"]),
    "f0": ("float8", ["'0'", "'-0'", "'NaN'", "'-NaN'"]),
    "n0": ("numeric", ["1.0", "1.00", "1", "-0.0", "0"]),
}


Run = Callable[[str], list[tuple[Any, ...]]]


def hashes(run: Run, dialect: str, schema: pa.Schema, columns: list[str]) -> list[tuple[str, str]]:
    """(md5, quick hash) of every row of ``m`` over ``columns``, computed in the warehouse."""
    typed = [(name, schema.field(name).type) for name in columns]
    query = exp.select(
        hash_sql.row_hash(typed, MAPPING, table="q").as_("h"),
        hash_sql.quick_hash(typed, MAPPING, table="q", dialect=dialect).as_("quick"),
    ).from_(exp.select("*").from_("m").subquery("q"))
    return [(str(md5), str(quick)) for md5, quick in run(hash_sql.render(query, dialect))]


def assert_no_coarser(rows: list[tuple[str, str]], label: str) -> None:
    md5s_of: dict[str, set[str]] = defaultdict(set)
    for md5, quick in rows:
        assert quick not in ("", "None"), label
        md5s_of[quick].add(md5)
    coarse = {quick: md5s for quick, md5s in md5s_of.items() if len(md5s) > 1}
    assert not coarse, f"{label}: one quick hash for rows of different canonical text: {coarse}"


def check_columns(run: Run, dialect: str, schema: pa.Schema, names: list[str]) -> None:
    for name in names:
        rows = hashes(run, dialect, schema, [name])
        assert len({md5 for md5, _ in rows}) > 1, name  # the column has values that differ
        assert_no_coarser(rows, name)
    assert_no_coarser(hashes(run, dialect, schema, names), "all columns")


@pytest.fixture
def pg(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url)
    pin_session_settings(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS citext")
        for statement in insert_sql({**POSTGRES_COLUMNS, **COARSE_EQUALITY}):
            conn.exec_driver_sql(statement.replace("%", "%%"))
    yield engine
    engine.dispose()


def test_postgres_quick_hashes_are_never_coarser_than_the_canonical_text(
    pg: sa.Engine,
) -> None:
    warehouse = open_warehouse(pg.url.render_as_string(hide_password=False))
    try:
        schema = warehouse.schema(MODEL, sync="t")
    finally:
        warehouse.close()

    def run(sql: str) -> list[tuple[Any, ...]]:
        with pg.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql.replace("%", "%%"))]

    names = [n for n in {**POSTGRES_COLUMNS, **COARSE_EQUALITY} if not n.startswith("k")]
    check_columns(run, "postgres", schema, names)
    # The teeth: PostgreSQL calls these equal, and hashes them alike when asked plainly.
    [(plain,)] = run(
        "SELECT count(DISTINCT hash_record_extended(ROW(ci), 0)) FROM m WHERE ci IS NOT NULL"
    )
    assert plain == 1
    [(mine,)] = run(
        "SELECT count(DISTINCT quick) FROM ("
        + hash_sql.render(
            exp.select(
                hash_sql.quick_hash(
                    [("ci", schema.field("ci").type)], "", table="q", dialect="postgres"
                ).as_("quick")
            )
            .from_(exp.select("*").from_("m").subquery("q"))
            .where(exp.column("ci", "q", quoted=True).is_(exp.null()).not_()),
            "postgres",
        )
        + ") x"
    )
    assert mine == 3  # Bob, bob, BOB


DUCKDB_COARSE: dict[str, tuple[str, list[str]]] = {
    "sg": ("DECIMAL(6,2)", ["1.5", "-1.5", "0"]),
    "i8f": ("BIGINT", ["1", "4294967296", "0", "-1", "-4294967297"]),
    "f0": ("DOUBLE", ["0", "-0.0", "'NaN'", "-'NaN'::DOUBLE"]),
    "tsf": ("TIMESTAMP", ["'2000-01-01 00:00:00.000001'", "'2000-01-01 01:11:34.967296'"]),
}


def test_duckdb_quick_hashes_are_never_coarser_than_the_canonical_text(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    columns = {**DUCKDB_COLUMNS, **DUCKDB_COARSE}
    with duckdb.connect(str(database)) as conn:
        for statement in insert_sql(columns):
            conn.execute(statement)
    warehouse = open_warehouse(f"duckdb:///{database}")
    try:
        schema = warehouse.schema(MODEL, sync="t")
    finally:
        warehouse.close()

    def run(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(database), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    check_columns(run, "duckdb", schema, [n for n in columns if not n.startswith("k")])


def test_the_mapping_and_the_scheme_are_part_of_the_quick_hash(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """They go in as a digest (PostgreSQL's seed and first field, DuckDB's first field), so a
    new mapping or scheme makes every hash of a row differ, one of NULLs too (a NULL field adds
    nothing to PostgreSQL's record hash, whatever the seed): checked on the values of both."""
    columns = [("email", pa.string()), ("ltv", pa.decimal128(10, 2))]

    def sql(mapping: str, dialect: str) -> str:
        return hash_sql.render(
            hash_sql.quick_hash(columns, mapping, table="q", dialect=dialect), dialect
        )

    before = {dialect: sql("a", dialect) for dialect in ("postgres", "duckdb")}
    monkeypatch.setattr(hash_sql, "QUICK_SCHEME", "bcsync-quick-0")
    hashes = {
        dialect: [one, sql("b", dialect), sql("a", dialect)] for dialect, one in before.items()
    }
    rows = {
        "a row": "SELECT 'a@x.io' AS email, CAST(1.50 AS DECIMAL(10, 2)) AS ltv",
        "a row of NULLs": "SELECT CAST(NULL AS TEXT) AS email, CAST(NULL AS DECIMAL(10, 2)) AS ltv",
    }
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as pg, duckdb.connect() as local:
            for what, row in rows.items():
                values = {
                    "postgres": {
                        pg.exec_driver_sql(f"SELECT {h} FROM ({row}) AS q").scalar()
                        for h in hashes["postgres"]
                    },
                    "duckdb": {
                        local.execute(f"SELECT {h} FROM ({row}) AS q").fetchone()[0]  # type: ignore[index]
                        for h in hashes["duckdb"]
                    },
                }
                for dialect, found in values.items():
                    assert len(found) == 3, (dialect, what, found)
    finally:
        engine.dispose()
    # Snowflake and BigQuery keep the md5 (untested against the real services).
    for dialect in ("snowflake", "bigquery"):
        quick = hash_sql.quick_hash(columns, "a", table="q", dialect=dialect)
        assert quick == hash_sql.row_hash(columns, "a", table="q", dialect=dialect)
