"""What ``bcsync check`` asks of the run store: that a run can connect to it, bring its schema up
to date, and read and write every one of its tables.

``check`` changes nothing, so it *rehearses* what a run does, inside one write transaction that is
always rolled back: the pending migrations (SQLite and PostgreSQL both have transactional DDL),
then a probe of every table — a SELECT, an INSERT … SELECT, an UPDATE and a DELETE that match no
row. A database checks rights on a statement whatever rows it touches, so the probe fails exactly
where a run's first write would, without writing. While it runs, the rehearsal holds the locks a
migration would (briefly, and only when the schema is behind). A SQLite file that does not exist
yet is not created: its directory must be writable, since the first run creates it there.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from bcsync.config import database_url
from bcsync.errors import StateError
from bcsync.state.database import (
    create_store_engine,
    describe,
    normalize_url,
    read_transaction,
    write_transaction,
)
from bcsync.state.migrations import LATEST_VERSION, current_version, migrate
from bcsync.state.schema import metadata


class _RolledBack(Exception):
    """Leaves the rehearsal: ``write_transaction`` rolls back on any exception."""


class _Refused(Exception):
    """A right the store lacks that no statement of the probe would have asked for."""


def store_problems(url: str) -> list[str]:
    """Why a run could not use the run store at ``url`` (empty: it can), without changing it."""
    try:
        parsed = normalize_url(url)
    except StateError as exc:
        return [str(exc)]
    if parsed.get_backend_name() == "sqlite" and not _sqlite_file_exists(parsed.database):
        return _sqlite_directory_problems(Path(str(parsed.database)).expanduser())
    engine = create_store_engine(url)
    try:
        return _problems(engine)
    finally:
        engine.dispose()


def _problems(engine: sa.Engine) -> list[str]:
    where = describe(engine)
    try:
        with read_transaction(engine) as conn:
            version = current_version(conn)
    except (StateError, sa.exc.DBAPIError) as exc:
        return [f"cannot connect to the run store {where}: {_detail(engine, exc)}"]
    if version > LATEST_VERSION:
        return [
            f"the run store {where} is at schema version {version}, newer than this bcsync "
            f"knows ({LATEST_VERSION}); upgrade bcsync"
        ]
    if version == 0:
        step = f"cannot create the run store's tables in {where}"
    else:
        step = f"cannot upgrade the run store {where} from version {version} to {LATEST_VERSION}"
    try:
        with write_transaction(engine) as conn:
            migrate(conn)
            step = f"cannot read and write the run store's tables in {where}"
            for table in metadata.sorted_tables:
                _probe(conn, table)
            raise _RolledBack
    except _RolledBack:
        return []
    except _Refused as exc:
        return [f"{step}: {exc}"]
    except (StateError, sa.exc.DBAPIError) as exc:
        return [f"{step}: {_detail(engine, exc)}"]


def _probe(conn: sa.Connection, table: sa.Table) -> None:
    """Every kind of statement the store runs on ``table``, each matching no row."""
    nothing = sa.false()
    columns = list(table.columns)
    given = [column for column in columns if column is not table.autoincrement_column]
    conn.execute(sa.select(*columns).where(nothing))
    conn.execute(table.insert().from_select(given, sa.select(*given).where(nothing)))
    conn.execute(table.update().where(nothing).values({columns[0]: columns[0]}))
    conn.execute(table.delete().where(nothing))
    serial = table.autoincrement_column
    if conn.dialect.name == "postgresql" and serial is not None:
        # nextval() runs once per row inserted, so the probe's no rows never ask for it.
        sequence = conn.scalar(sa.select(sa.func.pg_get_serial_sequence(table.name, serial.name)))
        if sequence is not None and not conn.scalar(
            sa.select(sa.func.has_sequence_privilege(sequence, "USAGE"))
        ):
            raise _Refused(f"permission denied for sequence {sequence}")


def _detail(engine: sa.Engine, exc: Exception) -> str:
    """The driver's own message on one line, without the store's password."""
    cause = exc.__cause__ if isinstance(exc, StateError) else exc
    original = cause.orig if isinstance(cause, sa.exc.DBAPIError) else exc
    message = " ".join(str(original).split())
    return database_url.scrub(message, database_url.secrets(engine.url))


def _sqlite_file_exists(database: str | None) -> bool:
    in_memory = database in (None, "", ":memory:")
    return in_memory or Path(str(database)).expanduser().exists()


def _sqlite_directory_problems(path: Path) -> list[str]:
    directory = path.parent
    while not directory.exists():
        directory = directory.parent
    if os.access(directory, os.W_OK | os.X_OK):
        return []
    return [f"cannot create the run store {path}: {directory} is not writable"]
