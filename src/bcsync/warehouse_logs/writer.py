"""Writing a sync's finished runs to the warehouse's log tables, each run exactly once.

The write of one run is one warehouse transaction: it checks that ``sync_runs`` does not hold
the run yet, appends the run's changelog rows, then its ``sync_runs`` row. A crash before the
commit leaves nothing; after it, the run is in ``sync_runs`` and never written again (the table's
primary key stops a concurrent second writer too: its transaction rolls back whole).

Each write also catches up: it looks at the sync's last ``CATCH_UP_RUNS`` finished runs still
within the run store's retention and writes those ``sync_runs`` lacks, oldest first. So a run
whose log write failed (warehouse down, rights missing, process killed) is written by the next
run of the sync, or by ``bcsync logs write``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bcsync.alerts.redaction import Redactor, project_secrets
from bcsync.config import database_url
from bcsync.config.project import ProjectConfig
from bcsync.config.warehouse_logs import WarehouseLogs
from bcsync.errors import BcsyncError, ConfigError, WarehouseError
from bcsync.run.results import RunResult
from bcsync.state import RunRecord, RunStore
from bcsync.vocabulary import FINISHED
from bcsync.warehouse.session import WarehouseSession, open_session
from bcsync.warehouse_logs.entries import changelog, run_row
from bcsync.warehouse_logs.tables import (
    CHANGELOG_TABLE,
    RUNS_TABLE,
    create_statements,
    logged_runs_query,
    table_name,
)

LOG = logging.getLogger("bcsync.warehouse_logs")
CATCH_UP_RUNS = 50

OpenSession = Callable[[str, Path], WarehouseSession]


@dataclass(frozen=True)
class LogWrite:
    """What one write did: the runs it wrote now, and those the warehouse already held."""

    sync: str
    schema: str
    written: tuple[str, ...] = ()
    already_logged: tuple[str, ...] = ()
    changelog_rows: int = 0


def write_logs(
    config: ProjectConfig,
    store: RunStore,
    sync: str,
    *,
    run_ids: Sequence[str] | None = None,
    connect: OpenSession = open_session,
) -> LogWrite:
    """Write ``run_ids`` of ``sync`` (None: its recent finished runs) that the warehouse lacks.

    Raises ConfigError when the sync does not log to the warehouse, WarehouseError (naming the
    schema, and the GRANT statements that fix a permission error) when the warehouse fails."""
    logs = config.warehouse_logs_for(sync)
    if logs is None:
        raise ConfigError(
            f"{config.locate('syncs', sync)}: sync '{sync}' does not write warehouse logs "
            "(set warehouse_logs: true)"
        )
    records = _runs(config, store, sync, run_ids)
    try:
        session = connect(config.resolve_url(config.warehouse.url), config.project_dir)
    except WarehouseError as exc:
        raise _failed(config, logs, exc) from None
    try:
        return _write(session, store, sync, logs, records, _redactor(config))
    except WarehouseError as exc:
        raise _failed(config, logs, exc) from None
    finally:
        session.close()


def log_after_run(
    config: ProjectConfig,
    store: RunStore,
    result: RunResult,
    *,
    connect: OpenSession = open_session,
) -> LogWrite | None:
    """The engine's hook after a recorded run: write the sync's logs if it has them on.

    Never raises: a failed write is logged as a warning (the next run's catch-up writes it)."""
    try:
        if config.warehouse_logs_for(result.sync) is None:
            return None
        return write_logs(config, store, result.sync, connect=connect)
    except Exception as exc:
        redact = _redactor(config)
        LOG.warning(
            "warning: warehouse logs of run %s (sync %s) not written: %s — the sync's next run "
            "or `bcsync logs write %s` writes them",
            result.run_id,
            result.sync,
            redact(
                str(exc)
                if isinstance(exc, BcsyncError)
                else f"internal error: {type(exc).__name__}: {exc}"
            ),
            result.sync,
        )
        return None


def _redactor(config: ProjectConfig) -> Redactor:
    """Masks every secret of the project: tokens, alert secrets, both databases' passwords."""
    return Redactor.of(project_secrets(config))


def _runs(
    config: ProjectConfig, store: RunStore, sync: str, run_ids: Sequence[str] | None
) -> list[RunRecord]:
    """The finished runs to write, oldest first."""
    if run_ids is not None:
        found = []
        for run_id in run_ids:
            record = store.get_run(run_id)
            if record is None or record.sync != sync:
                raise ConfigError(f"no run {run_id!r} of sync '{sync}' in the run store")
            if record.status not in FINISHED:
                raise ConfigError(f"run {record.run_id} has not finished ({record.status})")
            found.append(record)
    else:
        # Older runs' row outcomes are pruned: their changelog would be empty.
        kept = datetime.now(UTC) - timedelta(days=config.state.retention_days)
        recent = store.list_runs(sync, limit=CATCH_UP_RUNS)
        found = [r for r in recent if r.status in FINISHED and r.started_at >= kept]
    return sorted(found, key=lambda r: (r.started_at, r.run_id))


def _write(
    session: WarehouseSession,
    store: RunStore,
    sync: str,
    logs: WarehouseLogs,
    records: list[RunRecord],
    redact: Redactor,
) -> LogWrite:
    _create_tables(session, logs.schema)
    done = LogWrite(sync, logs.schema)
    if not records:
        return done
    query = logged_runs_query(logs.schema, [r.run_id for r in records], session.dialect)
    logged = {str(row[0]) for row in session.query(query)}
    written: list[str] = []
    rows = 0
    for record in records:
        if record.run_id in logged:
            continue
        count = _write_run(session, store, logs.schema, record, redact)
        if count is None:
            logged.add(record.run_id)
        else:
            written.append(record.run_id)
            rows += count
    already = tuple(r.run_id for r in records if r.run_id in logged)
    return LogWrite(sync, logs.schema, tuple(written), already, rows)


def _write_run(
    session: WarehouseSession,
    store: RunStore,
    schema: str,
    record: RunRecord,
    redact: Redactor,
) -> int | None:
    """Write one run in one transaction; its changelog row count, or None if another writer
    had written it first."""
    dialect = session.dialect
    rows = 0
    try:
        with session.transaction():
            if session.query(logged_runs_query(schema, [record.run_id], dialect)):
                return None
            for batch in changelog(store, record, redact):
                session.upload(table_name(schema, CHANGELOG_TABLE, dialect), batch)
                rows += batch.num_rows
            logged_at = datetime.now(UTC)
            session.upload(
                table_name(schema, RUNS_TABLE, dialect), run_row(store, record, redact, logged_at)
            )
    except WarehouseError:
        # A concurrent writer that committed the run first makes this one's keys collide.
        if session.query(logged_runs_query(schema, [record.run_id], dialect)):
            return None
        raise
    return rows


def _create_tables(session: WarehouseSession, schema: str) -> None:
    """Create the schema and tables that do not exist yet.

    Existing ones are looked up first: PostgreSQL checks the right to create before it sees
    that an object exists, so a role writing into a schema a DBA made may lack that right."""
    statements = create_statements(schema, session.dialect)
    have_schema = session.query(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = "
        f"'{schema}'"  # a validated lower-case identifier (config.warehouse_logs)
    )
    tables = {
        str(row[0])
        for row in session.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"
        )
    }
    if not have_schema:
        session.execute(statements[0])
    for table, statement in zip((RUNS_TABLE, CHANGELOG_TABLE), statements[1:], strict=True):
        if table not in tables:
            session.execute(statement)


def _failed(config: ProjectConfig, logs: WarehouseLogs, exc: WarehouseError) -> WarehouseError:
    """The error naming the schema; a PostgreSQL permission error also gets the GRANTs that let
    the warehouse role write the logs (in place of the session's generic advice)."""
    cause = str(exc)
    if "permission denied" not in cause:
        return WarehouseError(f"cannot write warehouse logs to schema {logs.schema}: {cause}")
    cause = cause.partition(" To let bcsync use it")[0].rstrip(". ")
    url = database_url.parse(config.resolve_url(config.warehouse.url))
    role, database = _ident(url.username or "current_user"), _ident(url.database or "")
    return WarehouseError(
        f"cannot write warehouse logs to schema {logs.schema}: {cause}. To let bcsync write "
        f"them, run as the database owner or a superuser: GRANT CREATE ON DATABASE {database} "
        f"TO {role}; or create the schema for it: CREATE SCHEMA {logs.schema}; GRANT USAGE, "
        f"CREATE ON SCHEMA {logs.schema} TO {role}; (tables another role created there also "
        f"need: GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {logs.schema} TO {role};)"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
