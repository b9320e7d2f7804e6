"""The model's SQL runs as the user wrote it (issue 10, item 6), on PostgreSQL and DuckDB.

sqlglot reads some broken SQL leniently and would "repair" it: ``select first_name last_name,
from t`` (a syntax error in psql) becomes ``first_name AS last_name`` and puts first names into
``last_name``. bcsync only checks the SQL with sqlglot and sends the user's text, so for each
sloppy statement below a bcsync warehouse answers exactly what the warehouse itself answers for
that text: the same rows, or the warehouse's own syntax error, which says where (the token, and
the line of the model it is on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import sqlalchemy as sa

from bcsync.config.project import ModelConfig
from bcsync.errors import WarehouseError
from bcsync.warehouse import open_warehouse
from tests.fixtures.projects import SyncProject

# Statements sqlglot reads without an error, each with what sqlglot would have made of it.
SLOPPY = [
    "select id, first_name last_name, from t",  # → first_name AS last_name FROM t
    "select id,, first_name from t",  # → id, first_name
    "select id from t group",  # → FROM t AS "group"
    "select id from t where id in (1, 2,)",  # → IN (1, 2)
    "select id, coalesce(first_name,) as f from t",  # → COALESCE(first_name)
    "select id from t,",  # → FROM t
    "select id from t join u",  # → FROM t, u (a cross join)
]
TABLES = [
    "create table t (id integer, first_name text, last_name text)",
    "insert into t values (1, 'Ada', 'Lovelace'), (2, 'Alan', 'Turing')",
    "create table u (x integer)",
    "insert into u values (7)",
]

Answer = tuple[str, Any]  # ("rows", (columns, rows)) or ("error", message)


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        for statement in TABLES:
            conn.execute(statement)
    return path


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        for statement in TABLES:
            conn.exec_driver_sql(statement)
    engine.dispose()
    yield postgres_url


def _duckdb_answer(path: Path, sql: str) -> Answer:
    """What DuckDB itself says to ``sql`` (its own CLI would say the same)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        try:
            relation = conn.sql(sql)
            return "rows", (relation.columns, sorted(relation.fetchall()))
        except duckdb.Error as exc:
            return "error", str(exc)


def _postgres_answer(url: str, sql: str) -> Answer:
    """What PostgreSQL itself says to ``sql`` (psql would say the same)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        try:
            cursor = conn.execute(sql)
            columns = [column.name for column in cursor.description or ()]
            return "rows", (columns, sorted(cursor.fetchall()))
        except psycopg.Error as exc:
            return "error", str(exc)


def _bcsync_answer(url: str, sql: str, project_dir: Path) -> Answer:
    """What a sync whose model is ``sql`` reads, through bcsync's warehouse (schema, then rows)."""
    warehouse = open_warehouse(url, project_dir=project_dir)
    model = ModelConfig(sql=sql, primary_key="id")
    try:
        names = warehouse.schema(model, sync="vip").names
        table = warehouse.stream(model, sync="vip").read_all()
    except WarehouseError as exc:
        return "error", str(exc)
    finally:
        warehouse.close()
    rows = sorted(zip(*(column.to_pylist() for column in table.columns), strict=True))
    return "rows", (names, rows)


def _assert_same(sql: str, own: Answer, ours: Answer) -> None:
    kind, detail = ours
    assert kind == own[0], f"the warehouse says {own}, bcsync says {ours}"
    if kind == "rows":
        assert detail == own[1]
        return
    first_line = own[1].splitlines()[0]
    last_word = sql.split()[-1]
    if "at end of input" in first_line or first_line.endswith(f'at or near "{last_word}"'):
        # The model stops too early. The warehouse, sent the model as a subquery, would name
        # the ")" that closes it, which the user never wrote: bcsync says the query ends early,
        # at the model's own last line, after its last words.
        assert detail.startswith(
            "sync 'vip': model SQL has a syntax error at line 1: the query ends before its "
            f"statement is complete, after '{sql[-30:]}'"
        ), detail
        assert ") AS model" not in detail
    else:
        assert detail.startswith("sync 'vip': model query failed: ")
        assert "syntax error at or near" in detail and "LINE 1:" in detail
        assert first_line in detail  # the same token of the model, named the same way


@pytest.mark.parametrize("sql", SLOPPY)
def test_postgres_answers_the_sql_as_written(pg_url: str, tmp_path: Path, sql: str) -> None:
    _assert_same(sql, _postgres_answer(pg_url, sql), _bcsync_answer(pg_url, sql, tmp_path))


@pytest.mark.parametrize("sql", SLOPPY)
def test_duckdb_answers_the_sql_as_written(duckdb_file: Path, sql: str) -> None:
    url = f"duckdb:///{duckdb_file}"
    own = _duckdb_answer(duckdb_file, sql)
    _assert_same(sql, own, _bcsync_answer(url, sql, duckdb_file.parent))


def test_the_issues_statement_is_postgres_syntax_error_naming_token_and_line(
    pg_url: str, tmp_path: Path
) -> None:
    sql = "select id,\n  first_name last_name,\nfrom t"
    kind, message = _bcsync_answer(pg_url, sql, tmp_path)
    assert kind == "error"
    assert 'syntax error at or near "from"' in message
    assert "LINE 3: from t" in message  # the model's own line number and text


def test_duckdb_reads_a_trailing_comma_as_duckdb_does(duckdb_file: Path) -> None:
    # DuckDB allows a trailing comma in a select list, so there the statement is valid and
    # means what DuckDB says it means; nothing of sqlglot's reading is involved.
    kind, (columns, rows) = _bcsync_answer(
        f"duckdb:///{duckdb_file}", "select id, first_name last_name, from t", duckdb_file.parent
    )
    assert (kind, columns, rows) == ("rows", ["id", "last_name"], [(1, "Ada"), (2, "Alan")])


SYNC = """\
vip:
  destination: store
  object: customers
  model:
    sql: |
      {sql}
    primary_key: id
  mode: upsert
  match: {{column: email, field: email}}
  mappings:
    - {{column: email, field: email}}
    - {{column: first_name, field: first_name}}
    - {{column: last_name, field: last_name}}
"""


@pytest.mark.parametrize(
    ("warehouse", "sql", "token"),
    [
        (
            "postgres",
            "select id, email, first_name,\n        first_name last_name,\n      from customers",
            '"from"',
        ),
        (
            "duckdb",
            "select id, email,, first_name, last_name\n      from customers",
            '","',
        ),
    ],
)
def test_check_plan_and_run_report_the_warehouses_syntax_error(
    request: pytest.FixtureRequest,
    sync_project: SyncProject,
    emulator: Any,
    warehouse: str,
    sql: str,
    token: str,
) -> None:
    rows = [
        {"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    ]
    if warehouse == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "create table customers (id int, email text, first_name text, last_name text)"
            )
            conn.exec_driver_sql(
                "insert into customers values (1, 'ada@example.com', 'Ada', 'Lovelace')"
            )
        engine.dispose()
        sync_project.warehouse_url = url
    else:
        sync_project.load("customers", rows)
    sync_project.configure(SYNC.format(sql=sql))

    check = sync_project.cli("check", "vip")
    assert check.returncode == 2
    assert f"syntax error at or near {token}" in check.stdout

    plan = sync_project.cli("plan", "vip")
    assert plan.returncode != 0 and "Traceback" not in plan.stderr
    assert f"syntax error at or near {token}" in plan.stderr

    run = sync_project.cli("run", "vip", "--json")
    assert run.returncode == 1
    document = json.loads(run.stdout)
    assert document["status"] == "failed"
    assert f"syntax error at or near {token}" in document["error"]
    assert "LINE" in document["error"]  # where: the warehouse's line and caret
    assert emulator.dump()["customers"] == []  # nothing reached BigCommerce
    writes = [k for k in emulator.stats()["by_endpoint"] if not k.startswith("GET ")]
    assert writes == []


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_a_model_that_ends_too_early_is_reported_at_its_own_last_line(
    warehouse: str, pg_url: str, duckdb_file: Path, tmp_path: Path
) -> None:
    url = pg_url if warehouse == "postgres" else f"duckdb:///{duckdb_file}"
    sql = "-- the VIPs\nselect id,\n  first_name\nfrom t\ngroup"
    kind, detail = _bcsync_answer(url, sql, tmp_path)
    assert kind == "error"
    assert detail.startswith(
        "sync 'vip': model SQL has a syntax error at line 5: the query ends before its "
        "statement is complete, after 'group'"
    ), detail
