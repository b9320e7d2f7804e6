"""Schema migrations of the run store: an ordered, versioned list applied when a store is opened.

Each step has a version number (1, 2, …, with no gaps); ``bcsync_schema_version`` holds one row
per step applied. Opening a store applies the missing steps in order, all inside one transaction,
so a failed upgrade leaves the store as it was (both SQLite and PostgreSQL have transactional DDL).

Concurrency: two processes may open the same fresh store at once. On PostgreSQL the migrating
transaction first takes a transaction-scoped advisory lock; on SQLite it runs under
``BEGIN IMMEDIATE`` (the database write lock). Either way the second opener waits, then reads the
version the first one recorded and has nothing left to do — nobody creates a table twice.

Why Alembic's ``Operations`` API (and not its script directory or plain SQLAlchemy DDL): the steps
are plain functions in this file, versioned by our own table, so there is no ``alembic.ini``,
``env.py`` or revision file to ship. But ``Operations`` gives the DDL SQLAlchemy Core lacks —
``add_column`` with a dialect-correct server default, and ``batch_alter_table``, which on SQLite
performs the copy-and-rename dance that altering or dropping a column needs there. Later steps
will need those; hand-writing them per dialect is exactly the code a well-kept library should own.

Rules for new steps: never edit a released step; append one. A step must work on SQLite and
PostgreSQL (use ``ops.batch_alter_table`` for anything beyond adding a column or a table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bcsync.errors import StateError
from bcsync.state.schema import UtcDateTime, schema_versions

if TYPE_CHECKING:  # Alembic is imported only to migrate: every command would pay ~50 ms for it
    from alembic.operations import Operations

# Key of the PostgreSQL advisory lock held while migrating ("bcsync" in ASCII).
_PG_MIGRATION_LOCK = 0x626373796E63


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Operations], None]


def _v1_runs_outcomes_locks(ops: Operations) -> None:
    ops.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("sync", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
        sa.Column("error", sa.Text),
        *(
            sa.Column(key, sa.BigInteger, nullable=False)
            for key in (
                "queried",
                "invalid",
                "added",
                "changed",
                "removed",
                "planned",
                "succeeded",
                "rejected",
                "skipped",
                "api_calls",
            )
        ),
    )
    ops.create_index("ix_runs_sync_started", "runs", ["sync", "started_at"])
    ops.create_index("ix_runs_started", "runs", ["started_at"])
    ops.create_table(
        "row_outcomes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("pk", sa.Text, nullable=False),
        sa.Column("op", sa.String(16)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("dest_id", sa.Text),
    )
    ops.create_index("ix_row_outcomes_run", "row_outcomes", ["run_id", "outcome"])
    ops.create_table(
        "sync_locks",
        sa.Column("sync", sa.Text, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("acquired_at", UtcDateTime, nullable=False),
        sa.Column("heartbeat_at", UtcDateTime, nullable=False),
        sa.Column("lease_expires_at", UtcDateTime, nullable=False),
        sa.Column("lease_seconds", sa.Float, nullable=False),
    )


def _v2_debugger_alerts_process_identity(ops: Operations) -> None:
    # Existing runs predate these columns: they were not full resyncs and their process is unknown.
    ops.add_column(
        "runs", sa.Column("full_resync", sa.Boolean, nullable=False, server_default=sa.false())
    )
    ops.add_column("runs", sa.Column("pid", sa.Integer))
    ops.add_column("runs", sa.Column("hostname", sa.Text))
    # Boot id + process start time: tells a live holder from an unrelated process reusing its pid.
    ops.add_column("sync_locks", sa.Column("process_token", sa.Text))
    ops.create_table(
        "api_calls",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("request_headers", sa.JSON, nullable=False),
        sa.Column("request_body", sa.Text),
        sa.Column("status", sa.Integer),
        sa.Column("response_headers", sa.JSON, nullable=False),
        sa.Column("response_body", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("pks", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    ops.create_index("ix_api_calls_started", "api_calls", ["started_at"])
    ops.create_table(
        "api_call_pks",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("pk", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    )
    ops.create_table(
        "alert_states",
        sa.Column("sync", sa.Text, primary_key=True),
        sa.Column("trigger", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.Text),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("last_run_id", sa.String(64)),
    )


def _v3_outcome_by_row(ops: Operations) -> None:
    # `bcsync debug RUN --pk PK` reads one row's outcome out of runs of 100 000 rows.
    ops.create_index("ix_row_outcomes_run_pk", "row_outcomes", ["run_id", "pk"])


def _v4_shared_snapshots(ops: Operations) -> None:
    # Each sync's snapshot, kept in the run store when it is PostgreSQL (``shared_snapshot.py``).
    ops.create_table(
        "snapshot_heads",
        sa.Column("sync", sa.Text, primary_key=True),
        sa.Column("lineage", sa.String(32), nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    ops.create_table(
        "snapshot_entries",
        sa.Column("sync", sa.Text, primary_key=True),
        sa.Column("pk", sa.Text, primary_key=True),
        sa.Column("row_hash", sa.Text),
        sa.Column("dest_id", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("pending_op", sa.String(16)),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("pending_key", sa.Text),
        sa.Column("pending_at", UtcDateTime),
        sa.Column("landed", sa.Text),
        sa.Column("found_key", sa.Text),
    )


def _v5_run_trigger_and_phases(ops: Operations) -> None:
    # What started a run (cli, api, manual, schedule, after:<sync>) and when it reached each
    # phase, for the UI's history and phase timeline. Older runs leave them empty (unknown).
    ops.add_column("runs", sa.Column("trigger", sa.String(64)))
    ops.add_column("runs", sa.Column("planning_at", UtcDateTime))
    ops.add_column("runs", sa.Column("syncing_at", UtcDateTime))


def _v6_sent_alerts(ops: Operations) -> None:
    # The history of alert notifications sent, for the UI's Alerts page (newest first by id).
    ops.create_table(
        "sent_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.Column("sync", sa.Text, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("run_id", sa.String(64)),
        sa.Column("title", sa.Text, nullable=False),
    )


def _v7_sent_by_kind(ops: Operations) -> None:
    # The run history splits added, changed and removed into succeeded and rejected. Older runs
    # did not count them apart: 0.
    for kind in ("added", "changed", "removed"):
        for outcome in ("succeeded", "rejected"):
            ops.add_column(
                "runs",
                sa.Column(
                    f"{kind}_{outcome}", sa.BigInteger, nullable=False, server_default=sa.text("0")
                ),
            )


def _v8_debugger_call_indexes(ops: Operations) -> None:
    # The live debugger on a run of 180,000 calls (bench/history_bench.py): the methods and
    # endpoints its filter offers come from an index alone instead of every call's row, and a
    # status-class or method filter walks a narrow index in ``seq`` order instead of the calls
    # with their bodies. Not (run_id, status): SQLite, without statistics, then uses the status
    # range for every class and sorts.
    ops.create_index("ix_api_calls_run_endpoint", "api_calls", ["run_id", "method", "path"])
    ops.create_index(
        "ix_api_calls_run_seq_status", "api_calls", ["run_id", "seq", "status", "method"]
    )


def _v9_schedule_ticks_queue_quotas(ops: Operations) -> None:
    # The scheduler records each tick it fires under a unique key, in the transaction that
    # creates the tick's run, so however many schedulers share the store a tick fires once.
    ops.create_table(
        "schedule_ticks",
        sa.Column("sync", sa.Text, primary_key=True),
        sa.Column("tick", sa.String(96), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("fired_at", UtcDateTime, nullable=False),
    )
    # A run created by a scheduler or the API before an executor starts it (status ``queued``).
    ops.add_column("runs", sa.Column("queued_at", UtcDateTime))
    # One rate governor's state per store, shared by every worker that talks to that store.
    ops.create_table(
        "store_quotas",
        sa.Column("store_key", sa.Text, primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def _v10_runs_by_status(ops: Operations) -> None:
    # The scheduler asks every second which runs are queued or running: with this index that is
    # a look-up of the few such runs, not a scan of the whole run history.
    ops.create_index("ix_runs_status", "runs", ["status"])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, row outcomes, sync locks", _v1_runs_outcomes_locks),
    Migration(
        2, "api calls, alert states, run process identity", _v2_debugger_alerts_process_identity
    ),
    Migration(3, "row outcomes indexed by row", _v3_outcome_by_row),
    Migration(4, "snapshots shared through the run store", _v4_shared_snapshots),
    Migration(5, "run trigger and phase times", _v5_run_trigger_and_phases),
    Migration(6, "alert notifications sent", _v6_sent_alerts),
    Migration(7, "rows sent of each kind, succeeded and rejected", _v7_sent_by_kind),
    Migration(8, "api call indexes for the live debugger", _v8_debugger_call_indexes),
    Migration(
        9, "schedule ticks, queued runs, shared store quotas", _v9_schedule_ticks_queue_quotas
    ),
    Migration(10, "runs indexed by status, for the scheduler", _v10_runs_by_status),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: sa.Connection) -> int:
    """The store's schema version; 0 for an empty database."""
    if not sa.inspect(conn).has_table(schema_versions.name):
        return 0
    return int(conn.scalar(sa.select(sa.func.max(schema_versions.c.version))) or 0)


def migrate(conn: sa.Connection, *, target: int = LATEST_VERSION) -> int:
    """Apply every missing step up to ``target`` inside the caller's (write) transaction.

    Returns the version the store is at afterwards. Raises ``StateError`` if the store was written
    by a newer bcsync (its version is above every step known here).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
    schema_versions.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise StateError(
            f"the run store is at schema version {version}, newer than this bcsync knows "
            f"({LATEST_VERSION}); upgrade bcsync"
        )
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    ops = Operations(MigrationContext.configure(conn))
    for step in MIGRATIONS[version:target]:
        step.apply(ops)
        conn.execute(
            schema_versions.insert().values(
                version=step.version, description=step.description, applied_at=datetime.now(UTC)
            )
        )
        version = step.version
    return version
