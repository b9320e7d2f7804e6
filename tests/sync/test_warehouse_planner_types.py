"""Found by the hostile review of the quick hash (issue 14): changes to the model's canonical
text that the warehouse planner's quick hash once did not see (collations, a column's type,
char(n) padding, an enum relabelled). Each test plans once with the warehouse planner and once
with the local planner after the same change: they must agree."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer


def yaml(select: str, planner: str) -> str:
    return f"""\
customers:
  destination: store
  object: customers
  planner: {planner}
  on_delete: nothing
  max_delete_fraction: 1.0
  model:
    sql: "{select}"
    primary_key: customer_key
  mode: upsert
  match: {{column: email, field: email}}
  mappings:
    - {{column: email, field: email}}
    - {{column: first_name, field: first_name}}
    - {{column: last_name, field: last_name}}
    - {{column: phone, field: phone}}
    - {{column: tier, field: "attributes.Loyalty Tier"}}
  create_missing_attributes: true
"""


def changed_by_both(project: SyncProject, select: str) -> tuple[int, int]:
    project.configure(yaml(select, "warehouse"))
    warehouse = project.engine().plan("customers").counts["changed"]
    project.configure(yaml(select, "local"))
    local = project.engine().plan("customers").counts["changed"]
    return warehouse, local


def first_run(project: SyncProject, select: str, rows: list[dict[str, Any]]) -> None:
    project.load("customers", rows)
    project.configure(yaml(select, "warehouse"))
    result = project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["added"] == len(rows)


COLUMNS = "customer_key, email, last_name, phone"


def test_duckdb_case_change_under_a_nocase_collation(
    sync_project: SyncProject, emulator: Any
) -> None:
    """DuckDB's hash() of a collated VARCHAR hashes the collated value: 'First5' = 'FIRST5'."""
    select = f"SELECT {COLUMNS}, tier, first_name COLLATE NOCASE AS first_name FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    first_run(sync_project, select, rows)
    rows[4] = customer(5, first_name="FIRST5")
    sync_project.load("customers", rows)
    assert changed_by_both(sync_project, select) == (1, 1)


def test_duckdb_integer_column_becomes_a_decimal(sync_project: SyncProject, emulator: Any) -> None:
    """Cents to dollars: hash(150::INTEGER) = hash(1.50::DECIMAL(10,2)); the quick hash's tag has
    the mapping but not the column types (the local planner's quick_hash_key has them)."""
    before = f"SELECT {COLUMNS}, first_name, CAST(150 AS INTEGER) AS tier FROM customers"
    after = f"SELECT {COLUMNS}, first_name, CAST(1.50 AS DECIMAL(10,2)) AS tier FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    first_run(sync_project, before, rows)
    assert changed_by_both(sync_project, after) == (5, 5)


def test_duckdb_enum_relabelled(sync_project: SyncProject, emulator: Any) -> None:
    """hash() of an ENUM is its index: 'gold' of ENUM('gold','x') = 'platinum' of
    ENUM('platinum','gold')."""
    before = (
        f"SELECT {COLUMNS}, first_name, CAST('gold' AS ENUM('gold', 'x')) AS tier FROM customers"
    )
    after = (
        f"SELECT {COLUMNS}, first_name, CAST('platinum' AS ENUM('platinum', 'gold')) AS tier "
        "FROM customers"
    )
    rows = [customer(n) for n in range(1, 6)]
    first_run(sync_project, before, rows)
    assert changed_by_both(sync_project, after) == (5, 5)


@pytest.fixture
def pg_project(sync_project: SyncProject, postgres_url: str) -> SyncProject:
    sync_project.use_postgres_warehouse(postgres_url)
    return sync_project


def test_postgres_bpchar_trailing_space(pg_project: SyncProject, emulator: Any) -> None:
    """An unbounded bpchar keeps trailing spaces (the driver hands 'First5 ' over), its cast to
    text drops them: the quick hash (text COLLATE "C") cannot see them."""
    select = f"SELECT {COLUMNS}, tier, CAST(first_name AS bpchar) AS first_name FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    first_run(pg_project, select, rows)
    rows[4] = customer(5, first_name="First5 ")
    pg_project.load("customers", rows)
    assert changed_by_both(pg_project, select) == (1, 1)


def test_postgres_char_n_widened(pg_project: SyncProject, emulator: Any) -> None:
    """char(8) to char(10): the driver's text gains two spaces, the cast to text does not."""
    before = f"SELECT {COLUMNS}, tier, CAST(first_name AS char(8)) AS first_name FROM customers"
    after = f"SELECT {COLUMNS}, tier, CAST(first_name AS char(10)) AS first_name FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    first_run(pg_project, before, rows)
    assert changed_by_both(pg_project, after) == (5, 5)


def test_postgres_text_column_becomes_jsonb(pg_project: SyncProject, emulator: Any) -> None:
    """The PostgreSQL quick hash has no column kinds either: a string field and a JSON field of
    the same text hash alike, while the local canonical text (canonical_json) differs."""
    before = f"SELECT {COLUMNS}, first_name, CAST(j AS text) AS tier FROM customers"
    after = f"SELECT {COLUMNS}, first_name, CAST(j AS json) AS tier FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    pg_project.load("customers", rows)
    pg_project.sql("""ALTER TABLE customers ADD COLUMN j text DEFAULT '{"b": 1, "a": 2}'""")
    pg_project.configure(yaml(before, "warehouse"))
    result = pg_project.run("customers")
    assert result.status == "success", result.error
    assert changed_by_both(pg_project, after) == (5, 5)


def test_duckdb_boolean_column_becomes_an_integer(sync_project: SyncProject, emulator: Any) -> None:
    """hash(true) = hash(1) in DuckDB: 'true' becomes '1' unseen."""
    before = f"SELECT {COLUMNS}, first_name, customer_key % 2 = 1 AS tier FROM customers"
    after = (
        f"SELECT {COLUMNS}, first_name, CAST(customer_key % 2 AS INTEGER) AS tier FROM customers"
    )
    rows = [customer(n) for n in range(1, 6)]
    first_run(sync_project, before, rows)
    assert changed_by_both(sync_project, after) == (5, 5)


def test_postgres_char_n_key_runs_twice(pg_project: SyncProject, emulator: Any) -> None:
    """char(n) key: the warehouse key text drops the padding, the ledger's keeps it; each key
    is then both a gone row and a model row of the diff (the dirty mark's ``new`` flag)."""
    select = (
        "SELECT CAST(CAST(customer_key AS text) AS char(6)) AS customer_key, email, last_name, "
        "phone, tier, first_name FROM customers"
    )
    rows = [customer(n) for n in range(1, 6)]
    first_run(pg_project, select, rows)
    rows[1] = customer(2, first_name="Changed")
    pg_project.load("customers", rows)
    pg_project.configure(yaml(select, "warehouse"))
    second = pg_project.run("customers")
    assert second.status == "success", second.error
    assert (second.counts["changed"], second.counts["added"]) == (1, 0)
    third = pg_project.run("customers")
    assert third.status == "success", third.error
    assert (third.counts["changed"], third.counts["added"], third.counts.get("deleted", 0)) == (
        0,
        0,
        0,
    )
    import sqlalchemy as sa

    engine = sa.create_engine(pg_project.postgres_warehouse or "")
    with engine.connect() as conn:
        keys = conn.exec_driver_sql('SELECT pk FROM bcsync_planner."customers"').fetchall()
    engine.dispose()
    assert sorted(k for (k,) in keys) == [f"{n}     " for n in range(1, 6)]


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_mapping_naming_the_placeholder(
    sync_project: SyncProject, emulator: Any, kind: str, request: pytest.FixtureRequest
) -> None:
    """An attribute named bcsync_model_sql puts the placeholder inside the quick hash's tag
    literal; the diff's ``.replace`` then splices the model SQL into that string literal."""
    if kind == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    select = f"SELECT {COLUMNS}, first_name, tier FROM customers WHERE email <> 'nobody'"
    text = (
        yaml(select, "warehouse")
        .replace("Loyalty Tier", "bcsync_model_sql")
        .replace('"' + select + '"', '"' + select.replace("'", "''") + '"')
    )
    rows = [customer(n) for n in range(1, 4)]
    sync_project.load("customers", rows)
    sync_project.configure(text.replace('sql: "', 'sql: "').replace("''", "'"))
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    again = sync_project.run("customers")
    assert again.status == "success", again.error


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_switch_to_warehouse_with_a_duplicated_key(
    sync_project: SyncProject, emulator: Any, kind: str, request: pytest.FixtureRequest
) -> None:
    """The rebuild's INSERT from the staged md5s joined to the model, with two model rows of one
    key (one exact copy, one differing): nothing sent twice, the key reported invalid, the rest
    untouched."""
    if kind == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    select = f"SELECT {COLUMNS}, first_name, tier FROM customers"
    rows = [customer(n) for n in range(1, 6)]
    sync_project.load("customers", rows)
    sync_project.configure(yaml(select, "local"))
    assert sync_project.run("customers").status == "success"
    sync_project.load("customers", [*rows, customer(3), customer(4, first_name="Other")])
    sync_project.configure(yaml(select, "warehouse"))
    result = sync_project.run("customers")
    assert result.status in ("success", "warning"), result.error
    counts = {k: v for k, v in result.counts.items() if v}
    print("COUNTS", counts)
    assert counts.get("added", 0) == 0 and counts.get("changed", 0) == 0
    assert counts.get("invalid", 0) == 4


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_all_null_column_then_values(
    sync_project: SyncProject, emulator: Any, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    before = f"SELECT {COLUMNS}, first_name, NULL AS tier FROM customers"
    after = (
        f"SELECT {COLUMNS}, first_name, "
        "CASE WHEN customer_key = 2 THEN 'x' END AS tier FROM customers"
    )
    rows = [customer(n) for n in range(1, 6)]
    first_run(sync_project, before, rows)
    assert changed_by_both(sync_project, before) == (0, 0)
    assert changed_by_both(sync_project, after) == (1, 1)
