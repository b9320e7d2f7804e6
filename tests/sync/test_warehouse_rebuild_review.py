"""A hostile review of the warehouse planner's rebuild as one INSERT from staged md5s
(``DiffQuery.rebuild``) and of the quick hash's tag as a digest (scheme 2). Each test switches a
sync from ``planner: local`` to ``planner: warehouse`` (the rebuild's one job) in a state where
the INSERT could lose, duplicate or wrongly keep a row, and holds the warehouse planner to what
the local planner decides for the same model."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
import sqlalchemy as sa

from bcsync.errors import WarehouseError
from bcsync.run.planner.warehouse.hash_sql import QUICK_SCHEME, quick_hash
from bcsync.warehouse.postgres_writes import PostgresSession
from bcsync.warehouse.session import DuckDBSession
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer, diff, store_customers
from tests.sync.test_warehouse_planner import plan, sync_yaml, warehouse_rows, writes

COUNTED = ("added", "changed", "removed", "unchanged", "invalid")
FINE = ("success", "warning")  # warning: invalid rows reported, as the local planner does


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, sync_project: SyncProject) -> SyncProject:
    if request.param == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    return sync_project


def counts(planned: Any) -> dict[str, int]:
    return {name: int(planned.counts.get(name, 0)) for name in COUNTED}


def switch(
    project: SyncProject,
    before: Sequence[dict[str, Any]],
    after: Sequence[dict[str, Any]],
    syncs: Callable[[str], str] = sync_yaml,
) -> tuple[dict[str, int], Any]:
    """Sync ``before`` with the local planner, load ``after``, and return the local planner's
    counts for it and the warehouse planner's run (the rebuild, then the diff)."""
    project.load("customers", before)
    project.configure(syncs("local"))
    first = project.run("customers")
    assert first.status in FINE, first.error
    project.load("customers", after)
    local = counts(plan(project))
    project.configure(syncs("warehouse"))
    return local, project.run("customers")


def sql_rows(project: SyncProject, statement: str) -> list[tuple[Any, ...]]:
    if project.postgres_warehouse is not None:
        engine = sa.create_engine(project.postgres_warehouse)
        with engine.connect() as conn:
            rows = [tuple(row) for row in conn.exec_driver_sql(statement).fetchall()]
        engine.dispose()
        return rows
    with duckdb.connect(str(project.warehouse)) as conn:
        return [tuple(row) for row in conn.execute(statement).fetchall()]


# -- the switch matches the local planner ---------------------------------------------------


def test_an_unchanged_model_reads_nothing_out(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 8)]
    local, run = switch(project, rows, rows)
    assert run.status in FINE, run.error
    assert counts(run) == local
    assert run.counts.get("changed", 0) == 0 and run.counts.get("added", 0) == 0
    assert plan(project).planner.rows_read == 0
    assert None not in warehouse_rows(project).values()


def test_changes_removals_and_additions_at_the_switch(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 8)]
    after = [customer(1, first_name="Changed"), *rows[1:5], customer(9)]  # 6, 7 leave
    local, run = switch(project, rows, after)
    assert run.status in FINE, run.error
    assert counts(run) == local
    assert (run.counts["changed"], run.counts["added"]) == (1, 1)
    assert store_customers(emulator)["user1@example.com"]["first_name"] == "Changed"
    table = warehouse_rows(project)
    assert sorted(table) == sorted(str(n) for n in (1, 2, 3, 4, 5, 9))
    assert plan(project).planner.rows_read == 0


def test_a_key_repeated_in_the_model_at_the_switch(project: SyncProject, emulator: Any) -> None:
    """Two rows of key 3 meet the staged md5 in the LEFT JOIN: ON CONFLICT keeps one; the
    diff's count must still find the repeat and report both copies as the local planner does."""
    rows = [customer(n) for n in range(1, 6)]
    after = [*rows, customer(3, first_name="Twin")]
    local, run = switch(project, rows, after)
    assert run.status in FINE, run.error
    assert counts(run) == local
    assert local["invalid"] >= 1
    assert store_customers(emulator)["user3@example.com"]["first_name"] == "First3"
    assert len([k for k in warehouse_rows(project) if k == "3"]) == 1


def test_an_identical_repeat_of_a_key_at_the_switch(project: SyncProject, emulator: Any) -> None:
    """Both copies match the md5, so both would hash clean: only the count finds them."""
    rows = [customer(n) for n in range(1, 6)]
    local, run = switch(project, rows, [*rows, customer(3)])
    assert run.status in FINE, run.error
    assert counts(run) == local


def test_a_null_key_in_the_model_at_the_switch(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    after = [*rows[:4], customer(5, customer_key=None)]
    local, run = switch(project, rows, after)
    assert counts(run) == local
    assert "5" not in warehouse_rows(project) or warehouse_rows(project)["5"] is None


def test_rows_of_nulls_at_the_switch(project: SyncProject, emulator: Any) -> None:
    """Rows whose optional values are all NULL (names are required): md5s and quick hashes of
    NULLs, one of which gains a value."""
    blank = {"phone": None, "tier": None}
    rows = [customer(n, **blank) for n in range(1, 5)]
    local, run = switch(project, rows, [*rows[:3], customer(4, **{**blank, "phone": "555"})])
    assert run.status in FINE, run.error
    assert counts(run) == local, run.counts
    assert run.counts["changed"] == 1, run.counts
    assert plan(project).planner.rows_read == 0


def test_a_mapping_change_at_the_switch_resends(project: SyncProject, emulator: Any) -> None:
    """The ledger's md5s were of the old mapping: none is still true, every row is re-read."""
    rows = [customer(n) for n in range(1, 5)]
    project.load("customers", rows)
    project.configure(sync_yaml("local"))
    assert project.run("customers").status == "success"
    remapped = sync_yaml().replace('"attributes.Loyalty Tier"', '"attributes.Tier Two"')
    project.configure(remapped.replace("planner: warehouse", "planner: local"))
    local = counts(plan(project))
    project.configure(remapped)
    run = project.run("customers")
    assert run.status in FINE, run.error
    assert counts(run) == local and run.counts["changed"] == 4
    assert plan(project).planner.rows_read == 0


def test_awkward_text_keys_at_the_switch(project: SyncProject, emulator: Any) -> None:
    """The staged key (the ledger's text) joins the model's key text: spaces, case, unicode,
    the separator and backslashes must all meet their own row and no other."""
    keys = [" a", "a", "A", "a ", "é", "e\u0301", "x\x1fy", "b\\N", "\\N"]
    rows = [customer(n, customer_key=key) for n, key in enumerate(keys, 1)]
    after = [customer(1, customer_key=" a", phone="555-0000"), *rows[1:]]
    local, run = switch(project, rows, after)
    assert run.status in FINE, run.error
    assert counts(run) == local and run.counts["changed"] == 1, run.counts
    assert sorted(warehouse_rows(project)) == sorted(keys)
    assert plan(project).planner.rows_read == 0


def test_uuid_keys_at_the_switch(project: SyncProject, emulator: Any) -> None:
    """The ledger's text of a UUID key (the local planner's) against the warehouse's cast."""
    keys = [f"{n:08x}-ABCD-4ef0-8000-00000000000{n}" for n in range(1, 5)]
    rows = [customer(n, customer_key=key) for n, key in enumerate(keys, 1)]
    project.load("customers", rows)
    project.sql(
        "ALTER TABLE customers ALTER COLUMN customer_key TYPE uuid USING customer_key::uuid"
    )
    project.configure(sync_yaml("local"))
    assert project.run("customers").status == "success"
    project.sql("UPDATE customers SET phone = '555-7777' WHERE email = 'user1@example.com'")
    local = counts(plan(project))
    project.configure(sync_yaml())
    before = emulator.stats()
    run = project.run("customers")
    assert run.status == "success", run.error
    assert counts(run) == local and run.counts["changed"] == 1, run.counts
    assert writes(diff(emulator.stats(), before)) == 1
    assert plan(project).planner.rows_read == 0


def test_padded_char_keys_at_the_switch(
    sync_project: SyncProject, emulator: Any, postgres_url: str
) -> None:
    """``char(n)`` keys: the ledger's text keeps the padding the warehouse's cast drops, so no
    staged md5 meets its model row. Every row is read out once, nothing is sent but the
    change, and a row leaving is still seen."""
    sync_project.use_postgres_warehouse(postgres_url)
    rows = [customer(n) for n in range(1, 5)]
    sync_project.load("customers", rows)
    sync_project.sql("ALTER TABLE customers ALTER COLUMN customer_key TYPE char(6)")
    sync_project.configure(sync_yaml("local", on_delete="delete"))
    assert sync_project.run("customers").status == "success"
    sync_project.sql("UPDATE customers SET phone = '555-7777' WHERE customer_key = '1'")
    local = counts(plan(sync_project))
    sync_project.configure(sync_yaml(on_delete="delete"))
    before = emulator.stats()
    run = sync_project.run("customers")
    assert run.status == "success", run.error
    assert counts(run) == local and run.counts["changed"] == 1, run.counts
    assert writes(diff(emulator.stats(), before)) == 1
    sync_project.sql("DELETE FROM customers WHERE customer_key = '4'")
    gone = sync_project.run("customers")
    assert gone.counts["removed"] == 1, gone.counts
    assert "user4@example.com" not in store_customers(emulator)
    assert writes(diff(emulator.stats(), before)) == 2


def test_a_ledger_staged_in_many_batches(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger reaches the staging table in several uploads (7 rows each here): every key
    lands in the table once, none lost at a batch's edge."""
    from bcsync.run.planner.warehouse import planner, tables

    monkeypatch.setattr(planner, "BATCH_ROWS", 7)
    monkeypatch.setattr(tables, "BATCH_ROWS", 7)
    rows = [customer(n) for n in range(1, 31)]
    after = [*rows[:14], customer(15, phone="555-1515"), *rows[15:]]
    local, run = switch(project, rows, after)
    assert run.status in FINE, run.error
    assert counts(run) == local and run.counts["changed"] == 1, run.counts
    assert sorted(warehouse_rows(project)) == sorted(str(n) for n in range(1, 31))
    assert plan(project).planner.rows_read == 0


# -- the INSERT's aliases (s, q) and columns (pk, row_hash, keep) against the model's -------

ALIASES_SQL = """\
customers:
  destination: store
  object: customers
  planner: {planner}
  model:
    sql: |
      WITH s AS (SELECT customer_key AS pk, email, first_name AS q, last_name AS s,
                        phone AS row_hash, tier AS keep FROM customers)
      SELECT pk, email, q, s, row_hash, keep FROM s
    primary_key: pk
  mode: upsert
  match: {{column: email, field: email}}
  mappings:
    - {{column: email, field: email}}
    - {{column: q, field: first_name}}
    - {{column: s, field: last_name}}
    - {{column: row_hash, field: phone}}
    - {{column: keep, field: "attributes.Loyalty Tier"}}
  create_missing_attributes: true
"""


def aliases_yaml(planner: str) -> str:
    return ALIASES_SQL.format(planner=planner)


def test_model_columns_named_like_the_inserts_aliases(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    after = [customer(2, last_name="Changed"), *rows[:1], *rows[2:]]
    local, run = switch(project, rows, after, aliases_yaml)
    assert run.status in FINE, run.error
    assert counts(run) == local and run.counts["changed"] == 1
    assert store_customers(emulator)["user2@example.com"]["last_name"] == "Changed"
    assert plan(project).planner.rows_read == 0


# -- an older table, and a rebuild cut short ------------------------------------------------


def test_a_scheme_1_table_is_rebuilt_and_nothing_is_resent(
    project: SyncProject, emulator: Any
) -> None:
    """A table and snapshot left by bcsync-quick-1 (same token on both sides): rebuilt, with
    the change made meanwhile sent and nothing else."""
    assert QUICK_SCHEME == "bcsync-quick-2"
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    old = "bcsync-quick-1:0123456789abcdef0123456789abcdef"
    project.sql(f"UPDATE bcsync_planner.bcsync_tokens SET token = '{old}'")
    project.sql("UPDATE bcsync_planner.customers SET row_hash = 'not-a-scheme-2-hash'")
    with project.engine().snapshots.open("customers") as snapshot:
        snapshot.set_warehouse_token(old)
    project.load("customers", [customer(1, phone="555-1111"), *rows[1:]])
    before = emulator.stats()
    run = project.run("customers")
    assert run.status in FINE, run.error
    assert run.counts["changed"] == 1
    assert writes(diff(emulator.stats(), before)) == 1
    assert "not-a-scheme-2-hash" not in warehouse_rows(project).values()
    assert plan(project).planner.rows_read == 0


def fail_the_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuild's INSERT fails (a model that errors on some row, a dropped connection)."""
    for session in (DuckDBSession, PostgresSession):
        original = session.execute

        def execute(self: Any, sql: str, original: Any = original) -> None:
            if sql.startswith("INSERT INTO") and "ON CONFLICT" in sql:
                raise WarehouseError("the model failed on row 3")
            original(self, sql)

        monkeypatch.setattr(session, "execute", execute)


def test_a_rebuild_whose_insert_fails(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml("local"))
    assert project.run("customers").status == "success"
    project.load("customers", [customer(2, phone="555-2222"), rows[0], *rows[2:]])
    project.configure(sync_yaml())
    before = emulator.stats()
    with monkeypatch.context() as patched:
        fail_the_fill(patched)
        failed = project.run("customers")
    assert failed.status == "failed"
    assert "the model failed on row 3" in (failed.error or "")
    assert writes(diff(emulator.stats(), before)) == 0
    staged = (
        "SELECT count(*) FROM information_schema.tables "
        "WHERE starts_with(table_name, 'bcsync_stag')"
    )
    assert sql_rows(project, staged) == [(0,)]
    again = project.run("customers")
    assert again.status == "success", again.error
    assert again.counts["changed"] == 1
    assert writes(diff(emulator.stats(), before)) == 1
    assert plan(project).planner.rows_read == 0


# -- rights ----------------------------------------------------------------------------------


def without_temp(
    project: SyncProject, postgres_url: str, login_role: Callable[..., LoginRole]
) -> LoginRole:
    """A role that reads the model and may create the planner's schema, but not TEMP tables."""
    role = login_role("no-temp-pw", rights="read")
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute(f'REVOKE TEMPORARY ON DATABASE "{role.database}" FROM PUBLIC')
        admin.execute(f'GRANT CREATE ON DATABASE "{role.database}" TO "{role.name}"')
    project.warehouse_url = role.url(role.password)
    return role


def grant_temp(postgres_url: str, role: LoginRole) -> None:
    with psycopg.connect(postgres_url.replace("+psycopg", "", 1), autocommit=True) as admin:
        admin.execute(f'GRANT TEMPORARY ON DATABASE "{role.database}" TO "{role.name}"')


def test_a_role_without_temp_is_given_the_grant_that_fixes_it(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Callable[..., LoginRole],
) -> None:
    """Review (fixed): the rebuild now stages the ledger's md5s in a TEMPORARY table (as
    marking keys dirty did already), and ``bcsync check``'s probe does find the missing right,
    but its message gives GRANT CREATE ON DATABASE (which the role has) and USAGE, CREATE ON
    SCHEMA <schema>: following it, the check fails again. The right is TEMPORARY."""
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.load("customers", [customer(1), customer(2)])
    role = without_temp(sync_project, postgres_url, login_role)
    sync_project.configure(sync_yaml())
    checked = sync_project.cli("check")
    output = checked.stdout + checked.stderr
    assert checked.returncode == 2, output
    assert "permission denied to create temporary tables" in output, output
    assert f'GRANT TEMPORARY ON DATABASE "{role.database}" TO "{role.name}";' in output, output


def test_a_role_without_temp_fails_the_switch_safely(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Callable[..., LoginRole],
) -> None:
    """The switch's rebuild fails before anything is sent; once TEMPORARY is granted, the next
    run rebuilds and reads out nothing it need not."""
    sync_project.use_postgres_warehouse(postgres_url)
    rows = [customer(n) for n in range(1, 5)]
    sync_project.load("customers", rows)
    sync_project.configure(sync_yaml("local"))
    assert sync_project.run("customers").status == "success"
    role = without_temp(sync_project, postgres_url, login_role)
    sync_project.configure(sync_yaml())
    before = emulator.stats()
    failed = sync_project.run("customers")
    assert failed.status == "failed"
    assert "temporary" in (failed.error or ""), failed.error
    assert "no-temp-pw" not in (failed.error or "")
    assert writes(diff(emulator.stats(), before)) == 0
    grant_temp(postgres_url, role)
    assert sync_project.cli("check").returncode == 0
    again = sync_project.run("customers")
    assert again.status == "success", again.error
    assert writes(diff(emulator.stats(), before)) == 0
    assert plan(sync_project).planner.rows_read == 0


# -- the digest and the INSERT outside this machine's versions -------------------------------


def test_the_tags_digest_on_a_fips_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (fixed): on a FIPS host (OpenSSL in FIPS mode) ``hashlib.md5`` refuses unless told
    the digest is not for security, and the quick hash now takes one on every plan: every run
    of planner: warehouse failed there. ``targets.py`` passes ``usedforsecurity=False``."""
    real = hashlib.md5

    def fips_md5(data: bytes = b"", *, usedforsecurity: bool = True) -> Any:
        if usedforsecurity:
            raise ValueError("[digital envelope routines] unsupported")
        return real(data, usedforsecurity=False)

    monkeypatch.setattr(hashlib, "md5", fips_md5)
    for dialect in ("postgres", "duckdb"):
        quick_hash([("email", pa.string())], "email->email", table="q", dialect=dialect)


def test_the_duckdb_floor_takes_a_key_twice_in_the_rebuilds_insert() -> None:
    """Review (fixed): a model repeating a key puts the key twice in the rebuild's INSERT, left
    to ON CONFLICT DO NOTHING. DuckDB refuses that before 1.4 ("PRIMARY KEY or UNIQUE
    constraint violated: duplicate key": 1.1.3 always, 1.2.0 and 1.3.2 when the copies are in
    different chunks), where the old UPDATE took it; the sync then failed every run instead of
    reporting the key. pyproject allows duckdb>=1.1; bcsync imports ``duckdb.sqltypes``, which
    1.4.0 lacks too (1.4.1 has it), so in practice no such DuckDB runs bcsync: the floor is
    what is wrong, and >=1.4.1 covers both."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (floor,) = [
        tuple(int(part) for part in found.group(1).split("."))
        for requirement in pyproject["project"]["dependencies"]
        if (found := re.fullmatch(r"duckdb\s*>=\s*([\d.]+)", requirement.split(";")[0].strip()))
    ]
    assert floor >= (1, 4), f"duckdb>={'.'.join(map(str, floor))}"
