"""``planner: warehouse`` end to end, on a DuckDB and a PostgreSQL warehouse: the diff runs in
the warehouse, only the rows that changed cross to bcsync, and what reaches BigCommerce is what
the local planner would send (DESIGN departure: issue 14)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from bcsync.config.project import load_config
from bcsync.run.snapshot import Snapshot, snapshot_path
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer, diff, store_customers


def sync_yaml(planner: str = "warehouse", on_delete: str = "nothing") -> str:
    return f"""\
customers:
  destination: store
  object: customers
  planner: {planner}
  on_delete: {on_delete}
  max_delete_fraction: 1.0
  model:
    table: customers
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


WRITES = ("POST /v3/customers", "PUT /v3/customers", "DELETE /v3/customers")


def writes(changed: dict[str, int]) -> int:
    return sum(changed.get(endpoint, 0) for endpoint in WRITES)


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, sync_project: SyncProject) -> SyncProject:
    if request.param == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    return sync_project


def warehouse_rows(project: SyncProject, table: str = "customers") -> dict[str, str | None]:
    """The sync's table of hashes in the warehouse: pk → row_hash."""
    sql = f'SELECT pk, row_hash FROM bcsync_planner."{table}"'
    if project.postgres_warehouse is not None:
        engine = sa.create_engine(project.postgres_warehouse)
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(sql).fetchall()
        engine.dispose()
    else:
        with duckdb.connect(str(project.warehouse)) as conn:
            rows = conn.execute(sql).fetchall()
    return {str(pk): row_hash for pk, row_hash in rows}


def warehouse_has_table(project: SyncProject) -> bool:
    sql = (
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'bcsync_planner' AND table_name = 'customers'"
    )
    if project.postgres_warehouse is not None:
        engine = sa.create_engine(project.postgres_warehouse)
        with engine.connect() as conn:
            found = conn.exec_driver_sql(sql).scalar()
        engine.dispose()
    else:
        with duckdb.connect(str(project.warehouse)) as conn:
            found = conn.execute(sql).fetchall()[0][0]
    return bool(found)


def plan(project: SyncProject) -> Any:
    return project.engine().plan("customers")


def test_only_changed_rows_are_read_out_and_sent(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 201)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    first = project.run("customers")
    assert first.status == "success", first.error
    assert first.counts["added"] == 200
    assert len(store_customers(emulator)) == 200
    # Every key is in the warehouse with the hash of its confirmed row.
    cached = warehouse_rows(project)
    assert len(cached) == 200 and None not in cached.values()

    steady = plan(project)
    assert steady.planner.planner == "warehouse"
    assert steady.planner.scanned == 200
    assert (steady.planner.rows_read, steady.planner.bytes_read) == (0, 0)
    assert (steady.counts["added"], steady.counts["changed"]) == (0, 0)

    rows[4] = customer(5, first_name="Changed")
    rows[9] = customer(10, phone="555-9999")
    project.load("customers", rows)
    planned = plan(project)
    assert planned.planner.rows_read == 2
    assert 0 < planned.planner.bytes_read < 5000
    assert (planned.counts["changed"], planned.counts["queried"]) == (2, 200)
    assert planned.to_json()["planner"]["rows_read"] == 2
    # A plan marks nothing dirty.
    assert None not in warehouse_rows(project).values()

    before = emulator.stats()
    second = project.run("customers")
    assert second.status == "success", second.error
    assert second.counts["changed"] == 2
    assert store_customers(emulator)["user5@example.com"]["first_name"] == "Changed"
    assert writes(diff(emulator.stats(), before)) == 1  # one batch of two updates
    after = plan(project)
    assert after.planner.rows_read == 0
    assert after.counts["changed"] == 0


def test_rows_leaving_and_returning(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 11)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="delete"))
    assert project.run("customers").status == "success"

    project.load("customers", rows[:8])
    gone = project.run("customers")
    assert gone.status == "success", gone.error
    assert gone.counts["removed"] == 2
    assert len(store_customers(emulator)) == 8
    assert set(warehouse_rows(project)) == {str(n) for n in range(1, 9)}

    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    assert back.counts["added"] == 2
    assert len(store_customers(emulator)) == 10
    assert plan(project).planner.rows_read == 0


def test_rows_leaving_with_clear_keep_their_record(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="clear"))
    assert project.run("customers").status == "success"
    project.load("customers", rows[:4])
    cleared = project.run("customers")
    assert cleared.status == "success", cleared.error
    assert cleared.counts["removed"] == 1
    assert len(store_customers(emulator)) == 5  # cleared, not deleted
    assert "5" not in warehouse_rows(project)  # a tombstone is not in the warehouse's table
    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    assert len(store_customers(emulator)) == 5


def test_failed_rows_are_retried(project: SyncProject, emulator: Any) -> None:
    with emulator.client() as http:
        taken = http.post(
            "/v3/customers",
            json=[{"email": "user2@example.com", "first_name": "Taken", "last_name": "Already"}],
        ).json()["data"][0]["id"]
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(sync_yaml().replace("mode: upsert", "mode: insert"))
    first = project.run("customers")
    assert first.counts["rejected"] == 1, first
    cached = warehouse_rows(project)
    assert cached["2"] is None  # failed: dirty, read out again
    assert cached["1"] is not None and cached["3"] is not None
    assert plan(project).planner.rows_read == 1
    with emulator.client() as http:
        http.delete("/v3/customers", params={"id:in": str(taken)})
    retried = project.run("customers")
    assert retried.status == "success", retried.error
    assert retried.counts["succeeded"] == 1
    assert len(store_customers(emulator)) == 3
    assert None not in warehouse_rows(project).values()


def test_null_and_duplicate_keys_are_invalid(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    # A copy of an unchanged row: both rows hash clean, only the count shows the duplicate.
    keyless = customer(99, customer_key=None, email="nokey@example.com")
    project.load("customers", [*rows, customer(3), keyless])
    planned = plan(project)
    assert planned.counts["invalid"] == 3
    assert {row["pk"] for row in planned.invalid_rows} == {None, "3"}
    before = emulator.stats()
    result = project.run("customers")
    assert result.counts["invalid"] == 3
    assert writes(diff(emulator.stats(), before)) == 0
    assert warehouse_rows(project)["3"] is None  # read out every run while duplicated
    project.load("customers", rows)
    fixed = project.run("customers")
    assert fixed.counts["invalid"] == 0 and fixed.counts["changed"] == 0
    assert None not in warehouse_rows(project).values()


@pytest.mark.parametrize("first", ["local", "warehouse"])
def test_switching_planners_sends_nothing(project: SyncProject, emulator: Any, first: str) -> None:
    other = "warehouse" if first == "local" else "local"
    project.load("customers", [customer(n) for n in range(1, 51)])
    project.configure(sync_yaml(first))
    assert project.run("customers").status == "success"
    project.configure(sync_yaml(other))
    if other == "warehouse":  # exact hashes: the bootstrap's hashes are already clean
        assert plan(project).planner.rows_read == 0
    before = emulator.stats()
    switched = project.run("customers")
    assert switched.status == "success", switched.error
    assert switched.counts["added"] == switched.counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0
    if other == "warehouse":
        assert plan(project).planner.rows_read == 0
    project.configure(sync_yaml(first))
    again = project.run("customers")
    assert again.counts["added"] == again.counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


def test_full_resync_streams_everything_then_the_table_is_rebuilt(
    project: SyncProject, emulator: Any
) -> None:
    project.load("customers", [customer(n) for n in range(1, 6)])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    resync = project.run("customers", full_resync=True)
    assert resync.status == "success", resync.error
    assert resync.counts["added"] == 5
    with Snapshot(snapshot_path(project.dir, "customers")) as snapshot:
        assert snapshot.warehouse_token() is None  # the next warehouse-planned run rebuilds
    before = emulator.stats()
    assert plan(project).planner.rows_read == 0
    after = project.run("customers")
    assert after.counts["added"] == after.counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


def test_local_writes_make_the_next_warehouse_run_rebuild(project: SyncProject) -> None:
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    path = snapshot_path(project.dir, "customers")
    with Snapshot(path) as snapshot:
        assert snapshot.warehouse_token() is not None
        snapshot.forget(["1"])  # any write by something else
        assert snapshot.warehouse_token() is None
    result = project.run("customers")
    assert result.counts["added"] == 1  # the forgotten key is new again: found by its email


def test_killed_run_loses_nothing(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 61)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [customer(n, first_name=f"New{n}") for n in range(1, 61)])
    emulator.faults([{"path": "*", "latency_ms": 300, "times": 100_000}])
    process = project.popen("run", "customers")
    try:  # killed whatever happens: a process left running fails a later test at its GC
        deadline = time.monotonic() + 60
        while emulator.stats()["by_endpoint"].get("PUT /v3/customers", 0) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Mid-run, the warehouse is free (a DuckDB file is not held while rows are sent), and
        # every key read out was marked dirty before anything was sent.
        dirty = warehouse_rows(project)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    emulator.faults([])
    assert list(dirty.values()).count(None) == 60
    assert (
        0
        < len([c for c in store_customers(emulator).values() if c["first_name"].startswith("New")])
        < 60
    )
    result = project.run("customers")
    assert result.status == "success", result.error
    held = store_customers(emulator)
    assert len(held) == 60
    assert {c["first_name"] for c in held.values()} == {f"New{n}" for n in range(1, 61)}
    assert None not in warehouse_rows(project).values()
    assert plan(project).planner.rows_read == 0


def test_state_reset_drops_the_warehouse_table(project: SyncProject) -> None:
    project.load("customers", [customer(1)])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    assert warehouse_has_table(project)
    done = project.cli("state", "reset", "customers", "--yes")
    assert done.returncode == 0, done.stderr
    assert "dropped its warehouse planner table bcsync_planner.customers" in done.stdout
    assert not warehouse_has_table(project)


def test_plan_output_names_the_planner(project: SyncProject) -> None:
    project.load("customers", [customer(1), customer(2)])
    project.configure(sync_yaml())
    shown = project.cli("plan", "customers")
    assert shown.returncode == 0, shown.stderr
    assert "warehouse: 2 rows scanned in the warehouse" in shown.stdout


def test_role_without_create_gets_the_grants(
    sync_project: SyncProject, postgres_url: str, login_role: Callable[..., LoginRole]
) -> None:
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.load("customers", [customer(1)])
    role = login_role("no-create-pw", rights="read")
    sync_project.warehouse_url = role.url(role.password)
    sync_project.configure(sync_yaml())
    config = load_config(sync_project.dir)
    assert config.planner_for("customers") == "warehouse"
    result = sync_project.run("customers")
    assert result.status == "failed"
    assert f'GRANT CREATE ON DATABASE "{role.database}" TO "{role.name}";' in (result.error or "")
    assert "no-create-pw" not in (result.error or "")


def test_a_fresh_checkout_of_a_shared_ledger_rebuilds_the_table(
    sync_project: SyncProject, emulator: Any, postgres_url: str
) -> None:
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.state_url = postgres_url  # the ledger is shared through the run store
    sync_project.load("customers", [customer(n) for n in range(1, 21)])
    sync_project.configure(sync_yaml())
    assert sync_project.run("customers").status == "success"
    snapshot_path(sync_project.dir, "customers").unlink()  # another machine, a fresh checkout
    before = emulator.stats()
    assert plan(sync_project).planner.rows_read == 0  # reloaded, rebuilt, exact hashes
    again = sync_project.run("customers")
    assert again.status == "success", again.error
    assert again.counts["added"] == again.counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0
