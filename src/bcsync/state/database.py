"""Connecting to the run store's database: URL rules, engine setup, read and write transactions.

SQLite (the default, one file under ``.bcsync/``) and PostgreSQL (for teams) are supported.

SQLite needs care to be safe with several processes (a run, ``bcsync runs`` in another shell, the
web UI): the file is put in WAL mode so readers never wait for a writer, and every *write*
transaction starts with ``BEGIN IMMEDIATE``, taking the write lock up front. Python's sqlite3
module otherwise begins lazily, and two transactions that both read and then try to write fail at
once with "database is locked" instead of waiting their turn.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from bcsync.config import database_url
from bcsync.errors import StateError
from bcsync.warehouse.postgres_session import pin_session_settings

DEFAULT_URL = "sqlite:///.bcsync/state.db"
# Execution option marking a connection whose transactions write (see the module docstring).
_WRITE = "bcsync_write"
# How long a SQLite writer waits for another process's write lock before giving up.
_SQLITE_BUSY_SECONDS = 30.0


def normalize_url(url: str) -> URL:
    """Parse a ``state.url`` (``bcsync.config.database_url``, as the warehouse's); plain
    ``postgresql://``/``postgres://`` mean the psycopg 3 driver.

    Raises ``StateError`` (never showing any part of a password) for a malformed or unsupported
    URL.
    """
    try:
        return database_url.parse_store_url(url)
    except database_url.UrlError as exc:
        raise StateError(f"state.url: {exc}") from None


def create_store_engine(url: str) -> sa.Engine:
    """An engine for the run store; creates a SQLite file's parent directory."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = sa.create_engine(parsed, pool_pre_ping=True)
        pin_session_settings(engine)  # timestamps read the same whatever the role's settings
        return engine
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        engine = sa.create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(str(parsed.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_SECONDS})
    _control_sqlite_transactions(engine, wal=not in_memory)
    return engine


def _control_sqlite_transactions(engine: sa.Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand BEGIN over to us (the "begin" hook below); sqlite3 would otherwise begin lazily.
        dbapi_connection.isolation_level = None
        if wal:
            _set_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _set_wal(dbapi_connection: Any) -> None:
    """Put the file in WAL mode (it stays so). Switching takes an exclusive lock that SQLite does
    not wait for: several processes opening a new store at once retry instead of failing with
    "database is locked" (seen when four first openers race)."""
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    cursor = dbapi_connection.cursor()
    try:
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
    finally:
        cursor.close()


@contextmanager
def _unavailable_as_state_error(engine: sa.Engine) -> Iterator[None]:
    # The database went away, is locked past the busy timeout, or the disk is full: a fatal
    # StateError for the engine (classified by class), naming the store without its password.
    try:
        yield
    except sa.exc.OperationalError as exc:
        detail = database_url.scrub(str(exc.orig), database_url.secrets(engine.url))
        raise StateError(f"run store {describe(engine)} is unusable: {detail}") from exc


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: committed on success, rolled back on any exception.

    Raises ``StateError`` if the database cannot be reached or stays locked.
    """
    with _unavailable_as_state_error(engine), engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction (never takes SQLite's write lock). ``StateError`` as above."""
    with _unavailable_as_state_error(engine), engine.connect() as conn:
        yield conn


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing``/``on_conflict_do_update`` (both backends
    have them, through their own dialect's construct). Each dialect's module loads with its
    store: SQLAlchemy's PostgreSQL dialect is ~10 ms of a SQLite run's start-up otherwise."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def describe(engine: sa.Engine) -> str:
    """The engine's URL for messages, with any password hidden."""
    return database_url.masked(engine.url)
