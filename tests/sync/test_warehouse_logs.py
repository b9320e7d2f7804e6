"""Warehouse sync logs end to end: real runs against the emulator, logs read back from a real
DuckDB file and a real PostgreSQL database, with the documented example queries run as written
in docs/warehouse-logs.md."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from bcsync.config.project import load_config
from bcsync.errors import ConfigError, WarehouseError
from bcsync.run.results import RunResult
from bcsync.state import RowOutcomeRecord, RunStore
from bcsync.warehouse.session import WarehouseSession, open_session
from bcsync.warehouse_logs import log_after_run, write_logs
from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject

DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse-logs.md"

SYNC = """\
customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: customer_key}
  mode: upsert
  match: {column: email, field: email}
  on_delete: delete
  max_delete_fraction: 1.0
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
LOGS_ON = "warehouse_logs: true\n"
LOGS_OFF = "warehouse_logs: false\n"
TABLE = "CREATE TABLE customers (customer_key int8, email text, first_name text, last_name text)"


def customer(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_key": n,
        "email": f"user{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
    }
    row.update(overrides)
    return row


def documented_query(title: str) -> str:
    """The SQL block of docs/warehouse-logs.md that starts ``-- query: <title>``."""
    for block in re.findall(r"```sql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S):
        if block.startswith(f"-- query: {title}\n"):
            return str(block)
    raise AssertionError(f"no query {title!r} in {DOCS}")


class Warehouse(Protocol):
    url: str

    def load(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...


class DuckDBWarehouse:
    def __init__(self, project: SyncProject) -> None:
        self.project = project
        self.url = project.warehouse_url

    def load(self, rows: Sequence[dict[str, Any]]) -> None:
        self.project.load("customers", rows)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.project.warehouse), read_only=True) as conn:
            return list(conn.execute(sql).fetchall())


class PostgresWarehouse:
    """The test's database: read and loaded as its superuser, synced as ``role``."""

    def __init__(self, admin_url: str, role: LoginRole) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.role = role
        self.url = role.url(role.password)

    def sql(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def load(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql("DELETE FROM customers")
            conn.execute(
                sa.text(
                    "INSERT INTO customers VALUES (:customer_key, :email, :first_name, :last_name)"
                ),
                list(rows),
            )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.admin.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql.replace("%", "%%"))]


def postgres_warehouse(
    project: SyncProject, postgres_url: str, login_role: Callable[..., LoginRole], *, rights: str
) -> PostgresWarehouse:
    """A warehouse table in the test's database, read by a new role: ``rights`` ``database``
    may also create schemas, ``schema-only`` may create tables in ``public`` only."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(TABLE)
    admin.dispose()
    made = PostgresWarehouse(postgres_url, login_role("logs-pw-Zq81", rights="create"))
    if rights == "database":
        made.sql(f'GRANT CREATE ON DATABASE "{made.role.database}" TO "{made.role.name}"')
    project.warehouse_url = made.url
    return made


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, sync_project: SyncProject) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield DuckDBWarehouse(sync_project)
        return
    made = postgres_warehouse(
        sync_project,
        request.getfixturevalue("postgres_url"),
        request.getfixturevalue("login_role"),
        rights="database",
    )
    yield made
    made.admin.dispose()


def taken_email(emulator: Any) -> str:
    """A customer made behind bcsync's back, whose email holds the access token: BigCommerce's
    error for a row that takes that email quotes it, and the logs must not."""
    email = f"{emulator.token}@example.com"
    with emulator.client() as http:
        http.post("/v3/customers", json=[{"email": email, "first_name": "T", "last_name": "K"}])
    return email


def three_runs(
    project: SyncProject, warehouse: Warehouse, email: str
) -> tuple[RunResult, RunResult, RunResult]:
    """Run 1 creates 1, 2, 3, 5; run 2 adds 6, updates 1, deletes 2 and has 5 rejected (its new
    email is taken); run 3 has 5 rejected again."""
    warehouse.load([customer(1), customer(2), customer(3), customer(5)])
    first = project.run("customers")
    warehouse.load(
        [customer(1, first_name="New"), customer(3), customer(5, email=email), customer(6)]
    )
    second = project.run("customers")
    third = project.run("customers")
    assert (first.status, second.status, third.status) == ("success", "warning", "warning")
    return first, second, third


def changelog(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.rows(
        "SELECT c.run_id, c.seq, c.sync, c.pk, c.operation, c.status, c.error, c.bigcommerce_id"
        " FROM bcsync_audit.sync_changelog AS c"
        " JOIN bcsync_audit.sync_runs AS r ON r.run_id = c.run_id ORDER BY r.started_at, c.seq"
    )


def logged_runs(warehouse: Warehouse) -> list[str]:
    rows = warehouse.rows("SELECT run_id FROM bcsync_audit.sync_runs ORDER BY started_at")
    return [str(row[0]) for row in rows]


def test_runs_and_row_operations_land_in_the_warehouse(
    sync_project: SyncProject, warehouse: Warehouse, emulator: Any
) -> None:
    email = taken_email(emulator)
    sync_project.configure(SYNC, extra=LOGS_ON)
    first, second, third = three_runs(sync_project, warehouse, email)

    runs = warehouse.rows(
        "SELECT run_id, sync, status, trigger, full_resync, added, changed, removed, succeeded,"
        " rejected, api_calls, error, finished_at IS NOT NULL, run_json"
        " FROM bcsync_audit.sync_runs ORDER BY started_at"
    )
    counted = ("added", "changed", "removed", "succeeded", "rejected")
    assert [row[:12] for row in runs] == [
        (
            r.run_id,
            "customers",
            r.status.value,
            "api",
            False,
            *(r.counts[key] for key in counted),
            r.api_calls,
            None,
        )
        for r in (first, second, third)
    ]
    assert all(row[12] for row in runs)
    # The run JSON, as `bcsync show --json` prints it, with the token masked.
    token = emulator.token
    expected = json.loads(json.dumps(second.to_json(), default=str).replace(token, "***"))
    assert json.loads(runs[1][13]) == expected

    rejected = "Update customers failed. — email: the email '***@example.com' is already in use"
    ids = {c["email"]: str(c["id"]) for c in emulator.dump()["customers"]}
    id_of = {n: ids[f"user{n}@example.com"] for n in (1, 3, 5, 6)}
    assert changelog(warehouse) == [
        (first.run_id, 1, "customers", "1", "create", "succeeded", None, id_of[1]),
        (first.run_id, 2, "customers", "2", "create", "succeeded", None, "3"),
        (first.run_id, 3, "customers", "3", "create", "succeeded", None, id_of[3]),
        (first.run_id, 4, "customers", "5", "create", "succeeded", None, id_of[5]),
        (second.run_id, 1, "customers", "6", "create", "succeeded", None, id_of[6]),
        (second.run_id, 2, "customers", "1", "update", "succeeded", None, id_of[1]),
        (second.run_id, 3, "customers", "5", "update", "rejected", rejected, id_of[5]),
        (second.run_id, 4, "customers", "2", "delete", "succeeded", None, "3"),
        (third.run_id, 1, "customers", "5", "update", "rejected", rejected, id_of[5]),
    ]
    everything = repr(warehouse.rows("SELECT * FROM bcsync_audit.sync_runs"))
    everything += repr(warehouse.rows("SELECT * FROM bcsync_audit.sync_changelog"))
    assert token not in everything

    failing = warehouse.rows(documented_query("rows that keep failing"))
    assert [row[:3] for row in failing] == [("customers", "5", 2)]
    history = warehouse.rows(documented_query("what changed for one customer"))
    assert [row[1:] for row in history] == [
        (first.run_id, "create", "succeeded", None, id_of[1]),
        (second.run_id, "update", "succeeded", None, id_of[1]),
    ]
    by_error = warehouse.rows(documented_query("rejected rows by error"))
    assert [row[:3] for row in by_error] == [(rejected, 2, 1)]


class FailingSession:
    """A real session whose write of one run's ``sync_runs`` row fails: the connection lost
    after the run's changelog rows went in, inside the run's transaction."""

    def __init__(self, inner: WarehouseSession, run_id: str) -> None:
        self.inner = inner
        self.run_id = run_id
        self.dialect = inner.dialect

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upload(self, table: str, data: pa.Table) -> None:
        self.inner.upload(table, data)
        if table.endswith("sync_runs") and data.column("run_id")[0].as_py() == self.run_id:
            raise WarehouseError("server closed the connection unexpectedly")


def test_a_write_is_all_or_nothing_and_each_run_is_written_once(
    sync_project: SyncProject, warehouse: Warehouse, emulator: Any
) -> None:
    # Two runs made while the logs were off stand for runs whose process died before writing.
    sync_project.configure(SYNC, extra=LOGS_OFF)
    warehouse.load([customer(1), customer(2)])
    first = sync_project.run("customers")
    warehouse.load([customer(1, first_name="New"), customer(3)])
    second = sync_project.run("customers")
    sync_project.configure(SYNC, extra=LOGS_ON)
    config = load_config(sync_project.dir)

    def failing(url: str, project_dir: Path) -> WarehouseSession:
        return FailingSession(open_session(url, project_dir), second.run_id)  # type: ignore[return-value]

    with RunStore.open(sync_project.state_url) as store:
        with pytest.raises(WarehouseError, match=r"schema bcsync_audit: .*connection"):
            write_logs(config, store, "customers", connect=failing)
        assert logged_runs(warehouse) == [first.run_id]
        assert {row[0] for row in changelog(warehouse)} == {first.run_id}

        done = write_logs(config, store, "customers")
        assert (done.written, done.already_logged) == ((second.run_id,), (first.run_id,))
        assert done.changelog_rows == 3  # 3 created, 1 updated, 2 deleted
        again = write_logs(config, store, "customers")
        assert again.written == () and again.changelog_rows == 0

    third = sync_project.run("customers")  # the engine writes its logs after the run
    assert logged_runs(warehouse) == [first.run_id, second.run_id, third.run_id]
    assert [row[:2] for row in changelog(warehouse)] == [
        (first.run_id, 1),
        (first.run_id, 2),
        (second.run_id, 1),
        (second.run_id, 2),
        (second.run_id, 3),
    ]

    cli = sync_project.cli("logs", "write", "--run", first.run_id[:8], "--json")
    assert cli.returncode == 0, cli.stderr
    [document] = json.loads(cli.stdout)["logs"]
    assert document["already_logged"] == [first.run_id] and document["written"] == []
    cli = sync_project.cli("logs", "write")
    assert cli.returncode == 0, cli.stderr
    assert "customers: wrote 0 run(s)" in cli.stdout
    cli = sync_project.cli("logs", "write", "nope")
    assert cli.returncode == 2 and "unknown sync 'nope'" in cli.stderr


def test_missing_rights_warn_with_the_grants_and_a_later_run_catches_up(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Callable[..., LoginRole],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    warehouse = postgres_warehouse(sync_project, postgres_url, login_role, rights="schema-only")
    request.addfinalizer(warehouse.admin.dispose)
    role = warehouse.role
    sync_project.configure(SYNC, extra=LOGS_ON)
    warehouse.load([customer(1)])
    with caplog.at_level(logging.WARNING, logger="bcsync.warehouse_logs"):
        first = sync_project.run("customers")
    assert first.status == "success"  # a log write never fails the run
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bcsync.warehouse_logs"]
    assert first.run_id in warning and "schema bcsync_audit" in warning
    assert f'GRANT CREATE ON DATABASE "{role.database}" TO "{role.name}";' in warning
    assert f'GRANT USAGE, CREATE ON SCHEMA bcsync_audit TO "{role.name}";' in warning
    assert role.password not in warning

    # The CLI shows the warning; the run still succeeds.
    warehouse.load([customer(1), customer(2)])
    cli = sync_project.cli("run", "customers", "--json")
    assert cli.returncode == 0, cli.stderr
    second = json.loads(cli.stdout)
    assert "warehouse logs of run" in cli.stderr and "GRANT CREATE ON DATABASE" in cli.stderr

    # A DBA makes the schema and lets the role write there (no right to create schemas): the
    # next run writes the two runs before it, and itself.
    warehouse.sql(
        f'CREATE SCHEMA bcsync_audit; GRANT USAGE, CREATE ON SCHEMA bcsync_audit TO "{role.name}"'
    )
    third = sync_project.run("customers")
    assert logged_runs(warehouse) == [first.run_id, second["run_id"], third.run_id]
    assert [row[3:6] for row in changelog(warehouse)] == [
        ("1", "create", "succeeded"),
        ("2", "create", "succeeded"),
    ]


def test_a_duckdb_file_locked_by_another_process_is_caught_up_later(
    sync_project: SyncProject, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = DuckDBWarehouse(sync_project)
    warehouse.load([customer(1)])
    sync_project.configure(SYNC, extra=LOGS_ON)
    first = sync_project.run("customers")
    assert logged_runs(warehouse) == [first.run_id]
    warehouse.load([customer(1), customer(2)])
    sync_project.configure(SYNC, extra=LOGS_OFF)
    second = sync_project.run("customers")
    sync_project.configure(SYNC, extra=LOGS_ON)

    # Another process writes to the file: bcsync cannot open it until that one lets go.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " sys.stdin.read()",
            str(sync_project.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with (
            RunStore.open(sync_project.state_url) as store,
            caplog.at_level(logging.WARNING, logger="bcsync.warehouse_logs"),
        ):
            assert log_after_run(load_config(sync_project.dir), store, second) is None
    finally:
        holder.communicate("", timeout=30)
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bcsync.warehouse_logs"]
    assert second.run_id in warning and "lock" in warning and "bcsync_audit" in warning

    third = sync_project.run("customers")
    assert logged_runs(warehouse) == [first.run_id, second.run_id, third.run_id]


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_run_of_100k_rows_is_written_in_batches(
    sync_project: SyncProject, request: pytest.FixtureRequest, kind: str
) -> None:
    if kind == "postgres":
        made = postgres_warehouse(
            sync_project,
            request.getfixturevalue("postgres_url"),
            request.getfixturevalue("login_role"),
            rights="database",
        )
        request.addfinalizer(made.admin.dispose)
        rows: Callable[[str], list[tuple[Any, ...]]] = made.rows
    else:
        duck = DuckDBWarehouse(sync_project)
        duck.load([customer(1)])
        rows = duck.rows
    sync_project.configure(SYNC, extra=LOGS_ON)
    config = load_config(sync_project.dir)
    outcomes = [
        RowOutcomeRecord(str(n), "succeeded", "update", None, str(n + 7)) for n in range(100_000)
    ]
    with RunStore.open(sync_project.state_url) as store:
        run_id = store.start_run("customers")
        store.add_outcomes(run_id, outcomes)
        store.finish_run(run_id, "success", counts={"succeeded": 100_000}, api_calls=10_000)
        started = time.monotonic()
        done = write_logs(config, store, "customers")
        elapsed = time.monotonic() - started
    assert done.written == (run_id,) and done.changelog_rows == 100_000
    assert rows(
        "SELECT count(*), count(DISTINCT pk), min(seq), max(seq) FROM bcsync_audit.sync_changelog"
    ) == [(100_000, 100_000, 1, 100_000)]
    assert elapsed < 60, f"writing 100k changelog rows took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "warehouse_logs: 3",
            "syncs.customers.warehouse_logs: must be true, false or {schema: NAME}",
        ),
        (
            "warehouse_logs: {schema: Audit-Logs}",
            "syncs.customers.warehouse_logs.schema: must be a lower-case name",
        ),
        ("warehouse_logs: {schema: audit, tables: x}", "syncs.customers.warehouse_logs.tables"),
    ],
)
def test_a_bad_setting_names_its_line_and_key(
    sync_project: SyncProject, written: str, message: str
) -> None:
    sync_project.configure(SYNC + f"  {written}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(sync_project.dir)
    assert re.search(r"bcsync\.yml:\d+: ", str(caught.value))
    assert message in str(caught.value)


def test_the_sync_setting_wins_over_the_project_one(sync_project: SyncProject) -> None:
    other = SYNC.replace("customers:\n", "others:\n", 1)
    sync_project.configure(
        SYNC + "  warehouse_logs: false\n" + other + "  warehouse_logs: {schema: own_audit}\n",
        extra="warehouse_logs: {schema: audit}\n",
    )
    config = load_config(sync_project.dir)
    assert config.warehouse_logs_for("customers") is None
    logs = config.warehouse_logs_for("others")
    assert logs is not None and logs.schema == "own_audit"
    sync_project.configure(
        SYNC + "  warehouse_logs: true\n", extra="warehouse_logs: {schema: audit}\n"
    )
    logs = load_config(sync_project.dir).warehouse_logs_for("customers")
    assert logs is not None and logs.schema == "audit"
    sync_project.configure(SYNC)
    assert load_config(sync_project.dir).warehouse_logs_for("customers") is None
