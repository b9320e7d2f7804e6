"""A sync's snapshot kept in a PostgreSQL run store, so every checkout plans against one state.

The snapshot (``bcsync.run.snapshot``) is the sync's ledger: what BigCommerce confirmed per row, the
records it holds, the writes in flight. With a PostgreSQL run store a team shares run history, and
so it must share this too: a second machine that planned against its own empty file would see
every row as new and create every record again.

The planner still diffs in a local DuckDB file; only where the truth lives changes:

- the entries live in ``snapshot_entries`` (one row per sync and key), under a *head* in
  ``snapshot_heads`` holding a ``lineage`` (a random id, new whenever the entries are replaced as
  a whole) and a ``generation`` (one more after every write);
- the local file is a copy that records the lineage and generation it mirrors. Opening a
  snapshot compares them with the head and reloads the copy when they differ (another machine
  wrote, or this one died between writing here and there);
- every write is made here first, in one transaction that also moves the generation on, and only
  then committed locally. Moving the generation on is conditional on the generation the copy
  mirrors: a copy that went stale mid-run fails its next write instead of overwriting another
  process's entries.

Rows come down as CSV through ``COPY`` (a 1M-row snapshot in seconds) and go up as arrays bound
to one ``INSERT … SELECT FROM unnest(…)`` per batch (no temporary table, so no TEMPORARY right),
timestamps as integer microseconds since the epoch both ways, so that no session setting
(``DateStyle``, ``TimeZone``) changes what is read. The quick-hash cache (``fast_hash``) is not
shared: it is only valid on the machine that made it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import sqlalchemy as sa

from bcsync.errors import StateError
from bcsync.run.snapshot import SHARED_COLUMNS, SHARED_TIMESTAMPS
from bcsync.state.database import read_transaction, write_transaction
from bcsync.state.schema import snapshot_heads

# The columns shared, in the order of every CSV; ``*_us`` are microseconds since the epoch.
COLUMNS = SHARED_COLUMNS
_TIMESTAMPS = {us: at for at, us in SHARED_TIMESTAMPS.items()}  # column -> snapshot_entries'
_EPOCH = "timestamptz 'epoch'"
_ARRAY_TYPES = {"attempts": "int[]", "updated_us": "int8[]", "pending_us": "int8[]"}
_BATCH_ROWS = 20_000  # rows per INSERT: arrays of this size bind in well under a second


@dataclass(frozen=True)
class Head:
    """Which version of a sync's entries: ``lineage`` changes when they are replaced whole,
    ``generation`` with every write."""

    lineage: str
    generation: int


class SharedSnapshot:
    """The entries of one sync in a PostgreSQL run store (see the module docstring)."""

    def __init__(self, engine: sa.Engine, sync: str) -> None:
        self._engine = engine
        self.sync = sync

    def head(self) -> Head | None:
        """The entries' current version; None if this sync has none here yet."""
        with read_transaction(self._engine) as conn:
            row = conn.execute(
                sa.select(snapshot_heads.c.lineage, snapshot_heads.c.generation).where(
                    snapshot_heads.c.sync == self.sync
                )
            ).first()
        return None if row is None else Head(str(row[0]), int(row[1]))

    def export(self, out: IO[bytes]) -> Head | None:
        """Write every entry to ``out`` as CSV (columns ``COLUMNS``, values quoted, NULL empty
        and unquoted), and return the head they belong to, read in the same transaction."""
        from psycopg import sql  # here: a SQLite run store never needs psycopg (~70 ms to load)

        columns = sql.SQL(", ").join(
            sql.SQL(
                f"(extract(epoch FROM {_TIMESTAMPS[name]}) * 1000000)::int8"
                if name in _TIMESTAMPS
                else name
            )
            for name in COLUMNS
        )
        query = sql.SQL(
            "COPY (SELECT {} FROM snapshot_entries WHERE sync = {} ORDER BY pk) "
            "TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
        ).format(columns, sql.Literal(self.sync))
        with self._raw() as raw:
            cursor = raw.cursor()
            # REPEATABLE READ: the head and the rows are read from one snapshot of the database.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            head = cursor.execute(
                "SELECT lineage, generation FROM snapshot_heads WHERE sync = %s", (self.sync,)
            ).fetchone()
            with cursor.copy(query) as copy:
                for data in copy:
                    out.write(data)
            raw.commit()
        return None if head is None else Head(str(head[0]), int(head[1]))

    def count(self) -> int:
        """How many entries the sync has here."""
        with read_transaction(self._engine) as conn:
            found = conn.scalar(
                sa.text("SELECT count(*) FROM snapshot_entries WHERE sync = :sync"),
                {"sync": self.sync},
            )
        return int(found or 0)

    def replace(self, rows: pa.Table, expected: Head | None, *, over_empty: bool = False) -> Head:
        """Make ``rows`` (columns ``COLUMNS``) the sync's entries, under a new lineage, if the
        entries are still at ``expected`` (None: there are none yet; ``over_empty``: or there
        are none, under whatever head). Raises ``StateError`` otherwise: a reset or an upload
        must never drop what another process wrote since it looked."""
        head = Head(uuid.uuid4().hex, 0)
        with write_transaction(self._engine) as conn:
            self._lock(conn)
            found = conn.execute(
                sa.select(snapshot_heads.c.lineage, snapshot_heads.c.generation).where(
                    snapshot_heads.c.sync == self.sync
                )
            ).first()
            now = None if found is None else Head(str(found[0]), int(found[1]))
            empty = over_empty and not conn.scalar(
                sa.text("SELECT EXISTS (SELECT 1 FROM snapshot_entries WHERE sync = :sync)"),
                {"sync": self.sync},
            )
            if now != expected and not empty:
                raise _changed(self.sync)
            conn.execute(
                sa.text("DELETE FROM snapshot_entries WHERE sync = :sync"), {"sync": self.sync}
            )
            self._upsert(conn, rows)
            conn.execute(
                sa.text(
                    "INSERT INTO snapshot_heads (sync, lineage, generation, updated_at) "
                    "VALUES (:sync, :lineage, 0, :now) ON CONFLICT (sync) DO UPDATE SET "
                    "lineage = excluded.lineage, generation = 0, updated_at = excluded.updated_at"
                ),
                {"sync": self.sync, "lineage": head.lineage, "now": datetime.now(UTC)},
            )
        return head

    def push(self, rows: pa.Table, deleted: Sequence[str], expected: Head) -> Head:
        """Write the entries in ``rows`` and drop those in ``deleted``, if the entries are still
        at ``expected``; returns the new head. Raises ``StateError`` if another process wrote
        them since (nothing is written then)."""
        with write_transaction(self._engine) as conn:
            moved = conn.execute(
                sa.text(
                    "UPDATE snapshot_heads SET generation = generation + 1, updated_at = :now "
                    "WHERE sync = :sync AND lineage = :lineage AND generation = :generation"
                ),
                {
                    "sync": self.sync,
                    "lineage": expected.lineage,
                    "generation": expected.generation,
                    "now": datetime.now(UTC),
                },
            )
            if moved.rowcount != 1:
                raise _changed(self.sync)
            if deleted:
                conn.execute(
                    sa.text("DELETE FROM snapshot_entries WHERE sync = :sync AND pk = ANY(:pks)"),
                    {"sync": self.sync, "pks": list(deleted)},
                )
            self._upsert(conn, rows)
        return Head(expected.lineage, expected.generation + 1)

    # -- helpers -------------------------------------------------------------------------------

    def _lock(self, conn: sa.Connection) -> None:
        """Serialise writers of this sync's head (two first openers replacing at once)."""
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(self.sync))))

    def _upsert(self, conn: sa.Connection, rows: pa.Table) -> None:
        """Insert or update ``rows``, a batch at a time, from arrays: no temporary table, so the
        role needs no TEMPORARY right on the database (often revoked from PUBLIC)."""
        values = ", ".join(
            f"{_EPOCH} + t.{name} * interval '1 microsecond'"
            if name in _TIMESTAMPS
            else f"t.{name}"
            for name in COLUMNS
        )
        arrays = ", ".join(
            f"CAST(:{name} AS {_ARRAY_TYPES.get(name, 'text[]')})" for name in COLUMNS
        )
        targets = ", ".join(_TIMESTAMPS.get(name, name) for name in COLUMNS)
        updates = ", ".join(
            f"{name} = excluded.{name}" for name in (_TIMESTAMPS.get(n, n) for n in COLUMNS[1:])
        )
        statement = sa.text(
            f"INSERT INTO snapshot_entries (sync, {targets}) "
            f"SELECT :sync, {values} FROM unnest({arrays}) AS t({', '.join(COLUMNS)}) "
            f"ON CONFLICT (sync, pk) DO UPDATE SET {updates}"
        )
        for batch in rows.to_batches(max_chunksize=_BATCH_ROWS):
            params: dict[str, object] = {"sync": self.sync}
            params.update((name, batch.column(name).to_pylist()) for name in COLUMNS)
            conn.execute(statement, params)

    def _raw(self) -> Any:
        """A pooled psycopg connection, for COPY (SQLAlchemy has no COPY of its own)."""
        return _RawConnection(self._engine)


class _RawConnection:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Any:
        try:
            self._pooled: Any = self._engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise StateError(f"the run store is unreachable: {exc.orig}") from None
        return self._pooled.driver_connection

    def __exit__(self, *exc: object) -> None:
        self._pooled.close()


def _changed(sync: str) -> StateError:
    return StateError(
        f"the snapshot of sync {sync!r} in the run store was changed by another process since "
        "this one read it (a reset, or a run from another machine); nothing more was written. "
        "Run again: the next run starts from the shared state"
    )


def read_csv_sql(path: Path) -> str:
    """A DuckDB ``SELECT`` of an exported CSV's rows as ``bcsync.run.snapshot`` columns."""
    types = {name: "VARCHAR" for name in COLUMNS}
    types.update(attempts="INTEGER", updated_us="BIGINT", pending_us="BIGINT")
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
    literal = str(path).replace("'", "''")
    selected = ", ".join(
        f"make_timestamp({name})::TIMESTAMPTZ AS {_TIMESTAMPS[name]}"
        if name in _TIMESTAMPS
        else name
        for name in COLUMNS
    )
    return (
        f"SELECT {selected} FROM read_csv('{literal}', columns = {{{spec}}}, header = false, "
        "quote = '\"', escape = '\"', allow_quoted_nulls = false, auto_detect = false)"
    )
