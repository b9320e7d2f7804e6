"""A sync's snapshot: what this sync last confirmed in BigCommerce, per primary key (DuckDB file).

One file per sync (``.bcsync/snapshots/<sync>.duckdb``). Per primary key (canonical text, see
``bcsync.rowhash``) it keeps the hash of the last *confirmed* write, the BigCommerce id, a status,
the attempt count and last error of failed writes, and ``pending_op`` while a write is in flight.

It also caches, per entry, a *quick hash* of the confirmed values (``fast_hash``, DuckDB's
``hash()`` over the typed columns, see ``bcsync.rowhash.quick_hash_sql``). The planner skips the
md5 of a row whose quick hash equals the cached one. DuckDB's ``hash()`` may change between
versions, so the cache is only trusted under the key it was made with (``quick_hash_key`` in
``snapshot_meta``: DuckDB version, machine, hashed columns and their types); a different key makes
the planner ignore and rebuild it. Invariant: a non-NULL ``fast_hash`` is the quick hash of values
whose md5 is ``row_hash``, on an entry that is ``synced`` with nothing in flight; every write that
changes ``row_hash``, ``status`` or ``pending_op`` sets it or clears it.

Statuses: ``synced`` (last write confirmed), ``failed`` (last write rejected; the hash is still the
one of the last confirmed write, NULL if there never was one), ``pending`` (a first write was
marked in flight and has no outcome yet), ``released`` (a tombstone: the row left the model, or
the state was reset, and no longer holds a record; ``dest_id`` keeps the record it held, so that a
row coming back finds it again instead of creating another). Any entry with ``pending_op`` set is
*in doubt*: a run marked it before sending and died before recording the outcome; ``pending_key``
says how its create is found again, ``pending_at`` when it was marked, in the store's clock.

The snapshot is the sync's ledger of ownership (DESIGN §3.8, rules in ``bcsync.ownership``): a
``synced`` or ``failed`` entry with a ``dest_id`` *holds* that record. ``landed`` (JSON) keeps, per
write target of the row (native fields, each attribute, each metafield…), the hash of what
BigCommerce confirmed, and for metafields the id bcsync created, so that a changed row sends only
the targets that changed and a row whose writes partly failed sends only what is missing.

Every method is one transaction: a process killed between calls leaves the file consistent, and a
process killed during a call loses only that call. With a PostgreSQL run store the file is a local
copy of entries kept there (``shared``, see ``bcsync.state.shared_snapshot``): every write is made
there first, and a copy that is not at the shared version is reloaded when it is opened.

No secret ever goes in here: errors are BigCommerce's row messages, which carry no credentials.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from bcsync.errors import StateError
from bcsync.rowhash import canonical_sql, quote_ident, quote_literal

if TYPE_CHECKING:
    from duckdb.sqltypes import DuckDBPyType

    from bcsync.state.shared_snapshot import Head, SharedSnapshot

T = TypeVar("T")
Status = Literal["synced", "failed", "pending", "released"]
Op = Literal["create", "update", "clear", "delete"]
OPS: frozenset[str] = frozenset(("create", "update", "clear", "delete"))
FORMAT_VERSION = "3"
MAX_ERROR_CHARS = 2000
# DuckDB's buffer limit for this connection: a plan's temp tables spill to ``<file>.tmp`` past
# it, which bounds a run's memory (spilling is much slower, so not too low).
DEFAULT_MEMORY_LIMIT = "1GB"
_UTC_MICROS = pa.timestamp("us", tz="UTC")
# Key types whose every value is a BIGINT, whose canonical text is that BIGINT's.
_BIGINT_KEYS = {"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger"}

ENTRY_COLUMNS = (
    "pk",
    "row_hash",
    "dest_id",
    "status",
    "attempts",
    "last_error",
    "pending_op",
    "updated_at",
    "pending_key",
    "pending_at",
    "landed",
    "found_key",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (
    pk VARCHAR PRIMARY KEY,
    row_hash VARCHAR,
    dest_id VARCHAR,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    pending_op VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    fast_hash UBIGINT,
    pk_int BIGINT,
    pending_key VARCHAR,
    pending_at TIMESTAMPTZ,
    landed VARCHAR,
    found_key VARCHAR
);
CREATE TABLE IF NOT EXISTS snapshot_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
INSERT INTO snapshot_meta VALUES ('format', '3') ON CONFLICT DO NOTHING;
"""
# ``pk_int``: the key as a BIGINT when the key is the canonical text of one (the planner joins
# integer keys on it, much faster than on text), else NULL.
# An entry that holds its record (DESIGN §3.8): a tombstone (``released``) holds nothing.
HELD = "dest_id IS NOT NULL AND status <> 'released'"
PK_INT = "CASE WHEN CAST(TRY_CAST(pk AS BIGINT) AS VARCHAR) = pk THEN TRY_CAST(pk AS BIGINT) END"
# Format 1 had no quick-hash cache, integer key or lookup key: the columns are added (the next
# plan fills the cache; entries already in flight keep no lookup key).
_MIGRATIONS = {
    "1": f"""
    ALTER TABLE snapshot ADD COLUMN fast_hash UBIGINT;
    ALTER TABLE snapshot ADD COLUMN pk_int BIGINT;
    ALTER TABLE snapshot ADD COLUMN pending_key VARCHAR;
    UPDATE snapshot SET pk_int = {PK_INT};
    UPDATE snapshot_meta SET value = '2' WHERE key = 'format';
    """,
    # Format 2 had no in-flight time or landed targets: an entry in flight is settled without
    # evidence of its time (as before), and the next write of a row sends all its targets.
    "2": """
    ALTER TABLE snapshot ADD COLUMN pending_at TIMESTAMPTZ;
    ALTER TABLE snapshot ADD COLUMN landed VARCHAR;
    ALTER TABLE snapshot ADD COLUMN found_key VARCHAR;
    UPDATE snapshot_meta SET value = '3' WHERE key = 'format';
    """,
}


def snapshot_path(project_dir: Path, sync: str) -> Path:
    """Where a sync's snapshot (or, with a PostgreSQL run store, its local copy) lives."""
    return project_dir / ".bcsync" / "snapshots" / f"{sync}.duckdb"


class SnapshotEntry(NamedTuple):
    """One primary key's entry. A NamedTuple, not a dataclass: a plan makes one per row to
    send, and a NamedTuple is made in half the time of a frozen dataclass."""

    pk: str
    row_hash: str | None
    dest_id: str | None
    status: Status
    attempts: int
    last_error: str | None
    pending_op: Op | None
    updated_at: dt.datetime
    # How a create in flight is found again if its row leaves the model (an email, an
    # external_order_id): without it, a create that landed could not be cleared or deleted.
    pending_key: str | None = None
    pending_at: dt.datetime | None = None  # when the write was marked, in the store's clock
    landed: str | None = None  # JSON: write target -> what BigCommerce confirmed (see module)
    found_key: str | None = None  # how its record is found (email as sent, external_order_id)

    @property
    def in_doubt(self) -> bool:
        """A write was marked in flight and its outcome never recorded."""
        return self.pending_op is not None

    @property
    def holds(self) -> str | None:
        """The record this row holds (DESIGN §3.8), None for a tombstone or a row without one."""
        return None if self.status == "released" else self.dest_id


@dataclass(frozen=True)
class Confirmed:
    """BigCommerce confirmed the write of ``pk`` with values hashing to ``row_hash``.

    ``dest_id`` None keeps the id already pinned.
    """

    pk: str
    row_hash: str
    dest_id: str | None
    fast_hash: int | None = None  # the quick hash of the written values, when known
    landed: str | None = None  # JSON of the targets confirmed (None keeps the stored one)
    found_key: str | None = None  # how the record is found again (None keeps the stored one)


@dataclass(frozen=True)
class Failed:
    """BigCommerce rejected the write of ``pk``; ``dest_id`` None keeps the id already pinned."""

    pk: str
    error: str
    dest_id: str | None = None
    landed: str | None = None  # JSON of the targets that did land (None keeps the stored one)


@dataclass(frozen=True)
class SnapshotSummary:
    total: int
    synced: int
    failed: int
    pending: int
    in_doubt: int
    owned: int  # entries that hold a record: the records this sync created or matched
    unsettled: int  # failed or in doubt (an entry can be both): what ``unsettled()`` lists
    released: int = 0  # tombstones: rows that left the model, or every row after a reset

    def to_json(self) -> dict[str, int]:
        return {
            "total": self.total,
            "synced": self.synced,
            "failed": self.failed,
            "pending": self.pending,
            "in_doubt": self.in_doubt,
            "owned": self.owned,
            "unsettled": self.unsettled,
            "released": self.released,
        }


def entry_from_row(row: dict[str, Any]) -> SnapshotEntry:
    """A SnapshotEntry from a mapping holding ``ENTRY_COLUMNS``."""
    return SnapshotEntry(
        pk=row["pk"],
        row_hash=row["row_hash"],
        dest_id=row["dest_id"],
        status=row["status"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        pending_op=row["pending_op"],
        updated_at=row["updated_at"],
        pending_key=row.get("pending_key"),
        pending_at=row.get("pending_at"),
        landed=row.get("landed"),
        found_key=row.get("found_key"),
    )


def entries_from_arrow(table: pa.Table, prefix: str = "e_") -> list[SnapshotEntry | None]:
    """Each row's entry from the columns ``<prefix><entry column>`` (``SnapshotRelation.entry_sql``
    selects them), None for a row whose key is not in the snapshot."""
    columns = [python_values(table.column(f"{prefix}{name}")) for name in ENTRY_COLUMNS]
    # ENTRY_COLUMNS are SnapshotEntry's fields in order: positional is the fastest way to make one.
    return [
        SnapshotEntry(*row) if row[0] is not None else None for row in zip(*columns, strict=True)
    ]


def python_values(column: pa.ChunkedArray) -> list[Any]:
    """The column as Python values, as ``to_pylist`` gives them (maps as dicts)."""
    if column.type == _UTC_MICROS:
        # pyarrow converts each aware timestamp through the time zone database (~3 µs a value);
        # an offset from an aware epoch gives equal datetimes, with the same tzinfo, 6× faster.
        epoch = dt.datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
        # (view, not cast: cast would import pyarrow.compute, 50 ms, on the first chunk)
        micros = [v for part in column.chunks for v in part.view(pa.int64()).to_pylist()]
        return [None if v is None else epoch + dt.timedelta(microseconds=v) for v in micros]
    if _has_map(column.type):
        # Maps as dicts; pyarrow's option costs ~15× on every type, so only maps pay for it.
        return column.to_pylist(maps_as_pydicts="strict")  # type: ignore[no-any-return]
    return column.to_pylist()  # type: ignore[no-any-return]


def _has_map(arrow_type: pa.DataType) -> bool:
    if pa.types.is_map(arrow_type):
        return True
    return any(_has_map(arrow_type.field(i).type) for i in range(arrow_type.num_fields))


class JoinKey(NamedTuple):
    """How a model's key column meets the snapshot's keys: both sides as SQL."""

    model: str  # the model's key, as the snapshot's join column holds it
    snapshot: str  # the snapshot's join column


@dataclass(frozen=True)
class SnapshotRelation:
    """The snapshot's entries as a relation that SQL on the snapshot's connection reads: the
    planner diffs a model against it without spelling the snapshot's table or columns.

    ``table`` names the table with its database, so it still resolves while another database
    is the connection's default (a DuckDB model attached to it, ``bcsync.warehouse.duckdb``).
    Entries are located by their ``rowid``, which moves only when the table is written: a
    reader that locates entries found by an earlier statement runs both in one transaction.
    """

    table: str
    entry_columns: tuple[str, ...] = ENTRY_COLUMNS

    def join_key(self, key_sql: str, key_type: DuckDBPyType) -> JoinKey:
        """How a model key ``key_sql`` of ``key_type`` joins the entries' keys."""
        if key_type.id in _BIGINT_KEYS:
            # Integer keys join on pk_int: no text is made for the 99% of rows unchanged.
            return JoinKey(f"CAST({key_sql} AS BIGINT)", "pk_int")
        return JoinKey(canonical_sql(key_sql, key_type), "pk")

    def scan_sql(self, key: JoinKey) -> str:
        """Every entry's join key (``s_key``), place (``s_rowid``) and cached quick hash
        (``s_fast``, NULL when none): narrow, for the side of a join DuckDB builds its table on."""
        return (
            f"SELECT {key.snapshot} AS s_key, rowid AS s_rowid, fast_hash AS s_fast "
            f"FROM {self.table}"
        )

    def count_sql(self) -> str:
        """The number of entries."""
        return f"SELECT count(*) FROM {self.table}"

    def at_sql(self, alias: str, place: str) -> str:
        """A join target: the entry whose ``s_rowid`` (from ``scan_sql``) is ``place``."""
        return f"{self.table} {alias} ON {alias}.rowid = {place}"

    def key_sql(self, alias: str) -> str:
        """The primary key (canonical text) of the entry joined as ``alias``."""
        return f"{alias}.pk"

    def entry_sql(self, alias: str, prefix: str = "e_") -> str:
        """The select list of the entry joined as ``alias``: each of ``entry_columns`` as
        ``<prefix><column>``, which ``entries_from_arrow`` reads back."""
        return ", ".join(f"{alias}.{name} AS {prefix}{name}" for name in self.entry_columns)


class Snapshot:
    """The snapshot file of one sync. Not thread-safe: one run uses it at a time."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        shared: SharedSnapshot | None = None,
        upload: bool = False,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._shared = shared
        self._head: Head | None = None  # the shared version this copy is at
        # This transaction's writes, for the shared copy: key -> entry written, None if
        # removed; ``None`` for the whole map: every entry may have changed (a reset).
        self._written: dict[str, dict[str, Any] | None] | None = {}
        try:
            self._nested = False  # inside ``_transaction``: writes do not commit on their own
            self._conn = duckdb.connect(str(self.path))
            # The relation's qualifier: another database may become the default (a model).
            self._database = str(self._conn.execute("SELECT current_database()").fetchall()[0][0])
            self._conn.execute("SET TimeZone = 'UTC'")
            self._conn.execute(f"SET memory_limit = '{memory_limit}'")
            self._conn.execute("SET preserve_insertion_order = false")
            tables = self._conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
            if {("snapshot",), ("snapshot_meta",)} - set(tables):  # a new file (skip the write)
                self._conn.execute(_SCHEMA)
            version = self._conn.execute(
                "SELECT value FROM snapshot_meta WHERE key = 'format'"
            ).fetchall()
            while version and version[0][0] in _MIGRATIONS:  # one format at a time
                self._write(_MIGRATIONS[version[0][0]], None, shared=False)
                version = self._conn.execute(
                    "SELECT value FROM snapshot_meta WHERE key = 'format'"
                ).fetchall()
        except (duckdb.Error, StateError) as exc:
            raise StateError(f"cannot open snapshot {self.path}: {exc}") from exc
        if not version or version[0][0] != FORMAT_VERSION:
            found = version[0][0] if version else "none"
            self._conn.close()
            raise StateError(f"snapshot {self.path} has format {found}, expected {FORMAT_VERSION}")
        if shared is not None:
            try:
                self._follow(shared, upload=upload)
            except BaseException:
                self._conn.close()
                raise

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for the planner's temp tables. Do not write ``snapshot``."""
        return self._conn

    def relation(self) -> SnapshotRelation:
        """The entries as a relation for SQL on ``connection`` (see ``SnapshotRelation``)."""
        return SnapshotRelation(f"{quote_ident(self._database)}.main.snapshot")

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- reading -----------------------------------------------------------------------------

    def count(self) -> int:
        """The records this sync owns, for its guards: those its rows hold, and the creates in
        flight (each may have made a record; DESIGN §3.8)."""
        return self._scalar(
            f"SELECT count(*) FROM snapshot WHERE ({HELD}) OR pending_op IS NOT NULL"
        )

    def holders(self, dest_ids: Sequence[str]) -> dict[str, list[str]]:
        """The rows holding each of these records (record id → pks), for those held at all.
        Normally one; two for a moment while a record moves from a leaving key to a new one."""
        if not dest_ids:
            return {}
        ids = pa.table({"dest_id": pa.array(sorted(set(dest_ids)), type=pa.string())})
        rows = self._select(
            f"SELECT s.* FROM snapshot s SEMI JOIN ids i ON s.dest_id = i.dest_id WHERE {HELD} "
            "ORDER BY s.pk",
            ids=ids,
        )
        found: dict[str, list[str]] = {}
        for entry in rows:
            found.setdefault(str(entry.dest_id), []).append(entry.pk)
        return found

    def get(self, pks: Sequence[str]) -> dict[str, SnapshotEntry]:
        """The entries of those of ``pks`` that are in the snapshot."""
        if not pks:
            return {}
        keys = pa.table({"pk": pa.array(list(pks), type=pa.string())})
        rows = self._select("SELECT s.* FROM snapshot s SEMI JOIN keys k ON s.pk = k.pk", keys=keys)
        return {entry.pk: entry for entry in rows}

    def pending(self) -> list[SnapshotEntry]:
        """Entries whose write was marked in flight and never settled (a crashed run), by pk."""
        return self._select("SELECT * FROM snapshot WHERE pending_op IS NOT NULL ORDER BY pk")

    def unsettled(self, limit: int | None = None) -> list[SnapshotEntry]:
        """Entries in doubt, then failed ones, most attempts first: the rows a user looks at
        when the same rows keep failing (``bcsync state show``)."""
        return self._select(
            "SELECT * FROM snapshot WHERE status = 'failed' OR pending_op IS NOT NULL "
            "ORDER BY pending_op IS NULL, attempts DESC, pk"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )

    def summary(self) -> SnapshotSummary:
        row = self._conn.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE status = 'synced'),
                   count(*) FILTER (WHERE status = 'failed'),
                   count(*) FILTER (WHERE status = 'pending'),
                   count(*) FILTER (WHERE pending_op IS NOT NULL),
                   count(*) FILTER (WHERE dest_id IS NOT NULL AND status <> 'released'),
                   count(*) FILTER (WHERE status = 'failed' OR pending_op IS NOT NULL),
                   count(*) FILTER (WHERE status = 'released')
            FROM snapshot
            """
        ).fetchall()[0]
        return SnapshotSummary(*(int(v) for v in row))

    def quick_hash_key(self) -> str | None:
        """The key the cached quick hashes were made under (None: there are none)."""
        rows = self._conn.execute(
            "SELECT value FROM snapshot_meta WHERE key = 'quick_hash_key'"
        ).fetchall()
        return str(rows[0][0]) if rows else None

    # -- writing (each call is one transaction) ----------------------------------------------

    def mark_pending(
        self,
        items: Sequence[tuple[str, str]],
        keys: Mapping[str, str | None] | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        """Record ``(pk, op)`` as in flight, BEFORE the write is sent.

        An existing entry keeps its status, hash and id, except that a create holds no record
        yet (a tombstone's or a vanished record's id is dropped). A new entry is ``pending``.
        ``keys`` (pk → key) say how each write is found again in BigCommerce if it is lost
        (``SnapshotEntry.pending_key``); ``at`` is the store's time of marking, the evidence a
        found record was made by this create and not before it.
        """
        for _, op in items:
            if op not in OPS:
                raise ValueError(f"unknown operation {op!r}; expected one of {sorted(OPS)}")
        unique = _last_wins(items, lambda i: i[0])
        keys = keys or {}
        batch = pa.table(
            {
                "pk": pa.array([pk for pk, _ in unique], pa.string()),
                "op": pa.array([op for _, op in unique], pa.string()),
                "key": pa.array([keys.get(pk) for pk, _ in unique], pa.string()),
                "marked": pa.array([at] * len(unique), _UTC_MICROS),
            }
        )
        self._write(
            f"""
            INSERT INTO snapshot
                (pk, status, attempts, pending_op, updated_at, pk_int, pending_key, pending_at)
            SELECT pk, 'pending', 0, op, now(), {PK_INT}, key, marked FROM batch
            ON CONFLICT (pk) DO UPDATE SET
                pending_op = excluded.pending_op,
                pending_key = excluded.pending_key,
                pending_at = excluded.pending_at,
                status = CASE WHEN excluded.pending_op = 'create'
                              AND snapshot.status = 'released'
                              THEN 'pending' ELSE snapshot.status END,
                dest_id = CASE WHEN excluded.pending_op = 'create' THEN NULL
                               ELSE snapshot.dest_id END,
                updated_at = excluded.updated_at, fast_hash = NULL
            """,
            batch,
        )

    def unmark_pending(self, pks: Sequence[str]) -> None:
        """Writes marked but never sent: clear the marker; drop entries that only held it."""
        batch = pa.table({"pk": pa.array(list(pks), pa.string())})
        self._write(
            """
            DELETE FROM snapshot WHERE status = 'pending' AND pk IN (SELECT pk FROM batch);
            UPDATE snapshot SET pending_op = NULL, pending_key = NULL, pending_at = NULL
            WHERE pk IN (SELECT pk FROM batch);
            """,
            batch,
        )

    def confirm(
        self, items: Sequence[Confirmed], release: Sequence[tuple[str, str | None]] = ()
    ) -> None:
        """BigCommerce confirmed these writes: the entries advance to the written hash. In the
        same transaction, the rows in ``release`` (whose records these writes took over) become
        tombstones, so no crash leaves two rows holding one record."""
        if release:
            with self._transaction():
                self.release(release)
                self.confirm(items)
            return
        unique = _last_wins(items, lambda c: c.pk)
        batch = pa.table(
            {
                "pk": pa.array([c.pk for c in unique], pa.string()),
                "row_hash": pa.array([c.row_hash for c in unique], pa.string()),
                "dest_id": pa.array([c.dest_id for c in unique], pa.string()),
                "fast_hash": pa.array([c.fast_hash for c in unique], pa.uint64()),
                "landed": pa.array([c.landed for c in unique], pa.string()),
                "found_key": pa.array([c.found_key for c in unique], pa.string()),
            }
        )
        self._write(
            f"""
            INSERT INTO snapshot (pk, row_hash, dest_id, status, attempts, updated_at, fast_hash,
                                  pk_int, landed, found_key)
            SELECT pk, row_hash, dest_id, 'synced', 0, now(), fast_hash, {PK_INT}, landed,
                   found_key
            FROM batch
            ON CONFLICT (pk) DO UPDATE SET
                row_hash = excluded.row_hash,
                dest_id = coalesce(excluded.dest_id, snapshot.dest_id),
                status = 'synced', attempts = 0, last_error = NULL, pending_op = NULL,
                pending_key = NULL, pending_at = NULL, updated_at = excluded.updated_at,
                fast_hash = excluded.fast_hash,
                landed = coalesce(excluded.landed, snapshot.landed),
                found_key = coalesce(excluded.found_key, snapshot.found_key)
            """,
            batch,
        )

    def fail(self, items: Sequence[Failed]) -> None:
        """BigCommerce rejected these writes: keep the old hash, count the attempt and the error."""
        unique = _last_wins(items, lambda f: f.pk)
        batch = pa.table(
            {
                "pk": pa.array([f.pk for f in unique], pa.string()),
                "error": pa.array([f.error[:MAX_ERROR_CHARS] for f in unique], pa.string()),
                "dest_id": pa.array([f.dest_id for f in unique], pa.string()),
                "landed": pa.array([f.landed for f in unique], pa.string()),
            }
        )
        # A tombstone whose returning row was rejected stays a tombstone (it holds nothing);
        # a create that failed holds nothing either.
        self._write(
            f"""
            INSERT INTO snapshot
                (pk, dest_id, status, attempts, last_error, updated_at, pk_int, landed)
            SELECT pk, dest_id, 'failed', 1, error, now(), {PK_INT}, landed FROM batch
            ON CONFLICT (pk) DO UPDATE SET
                dest_id = coalesce(excluded.dest_id, snapshot.dest_id),
                status = CASE WHEN excluded.dest_id IS NULL AND snapshot.status = 'released'
                              THEN 'released' ELSE 'failed' END,
                attempts = snapshot.attempts + 1,
                last_error = excluded.last_error, pending_op = NULL, pending_key = NULL,
                pending_at = NULL, updated_at = excluded.updated_at, fast_hash = NULL,
                landed = coalesce(excluded.landed, snapshot.landed)
            """,
            batch,
        )

    def forget(self, pks: Sequence[str]) -> None:
        """Drop entries: rows whose record was deleted, or that never made one."""
        batch = pa.table({"pk": pa.array(list(pks), pa.string())})
        self._write("DELETE FROM snapshot WHERE pk IN (SELECT pk FROM batch)", batch, returns=False)

    def tombstones_by_key(self, keys: Sequence[str], leaving: Sequence[str]) -> dict[str, str]:
        """Records found by these keys (compared without case) that a tombstone, or a row in
        ``leaving``, remembers: key → record id. A new row with such a key takes its record
        over instead of making another (a primary key change; DESIGN §3.8)."""
        if not keys:
            return {}
        wanted = pa.table({"k": pa.array(sorted({k.lower() for k in keys}), pa.string())})
        gone = pa.table({"pk": pa.array(sorted(set(leaving)), pa.string())})
        self._conn.register("wanted", wanted)
        self._conn.register("gone", gone)
        try:
            rows = self._conn.execute(
                """
                SELECT lower(found_key), dest_id FROM snapshot
                WHERE dest_id IS NOT NULL AND lower(found_key) IN (SELECT k FROM wanted)
                  AND (status = 'released' OR pk IN (SELECT pk FROM gone))
                ORDER BY status = 'released', updated_at DESC
                """
            ).fetchall()
        finally:
            self._conn.unregister("wanted")
            self._conn.unregister("gone")
        found: dict[str, str] = {}
        for key, dest_id in rows:
            found.setdefault(str(key), str(dest_id))
        return {k: found[k.lower()] for k in keys if k.lower() in found}

    def release(self, items: Sequence[tuple[str, str | None]]) -> None:
        """Rows that left the model and whose record stays (left alone, cleared, or now held by
        another row): tombstones that hold nothing and keep the record's id (``(pk, id)``; None
        keeps the stored one), so that the row finds its record again if it comes back."""
        unique = _last_wins(items, lambda i: i[0])
        batch = pa.table(
            {
                "pk": pa.array([pk for pk, _ in unique], pa.string()),
                "dest_id": pa.array([d for _, d in unique], pa.string()),
            }
        )
        self._write(
            f"""
            UPDATE snapshot SET {_RELEASED}, dest_id = coalesce(b.dest_id, snapshot.dest_id)
            FROM batch b WHERE snapshot.pk = b.pk
            """,
            batch,
        )

    def cache_quick_hashes(self, table: str, key: str) -> None:
        """Cache the quick hashes in ``table`` (columns ``pk``, ``fast_hash``) under ``key``.

        The planner calls this with the unchanged rows whose quick hash was missing or stale.
        When ``key`` differs from the stored one, every older quick hash is dropped first.
        """
        reset = self.quick_hash_key() != key
        self._write(
            ("UPDATE snapshot SET fast_hash = NULL WHERE fast_hash IS NOT NULL;" if reset else "")
            + f"""
            UPDATE snapshot SET fast_hash = q.fast_hash FROM {table} q WHERE snapshot.pk = q.pk;
            INSERT INTO snapshot_meta VALUES ('quick_hash_key', {quote_literal(key)})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value;
            """,
            None,
            shared=False,  # valid on this machine only
        )

    def reset(self) -> None:
        """Forget what was synced and held: the next plan sees every row as added, and no
        record is cleared or deleted for a row absent from the model. Every entry stays as a
        tombstone, with its create's key and time if one was in flight, so that rows find the
        records they made before (DESIGN §3.8) instead of making them twice."""
        self._write(
            """
            UPDATE snapshot SET status = 'released', row_hash = NULL, fast_hash = NULL,
                landed = NULL, attempts = 0, last_error = NULL, updated_at = now()
            """,
            None,
        )
        self._conn.execute("CHECKPOINT")

    # -- helpers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Several writes as one transaction (the writes inside do not commit on their own)."""
        conn = self._conn
        conn.execute("BEGIN TRANSACTION")
        self._nested = True
        self._written = {}
        try:
            yield
            self._publish()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            self._nested = False

    def _write(
        self, sql: str, batch: pa.Table | None, *, shared: bool = True, returns: bool = True
    ) -> None:
        """Run ``sql`` (over the table ``batch``, whose ``pk`` column names the entries it
        writes) in a transaction, made in the shared copy first when there is one. ``shared``
        False: a local cache only. ``returns``: the last statement of ``sql`` is an INSERT or
        UPDATE that can end in RETURNING, and every entry of ``batch`` it does not return is
        gone (``forget`` passes False: none is returned)."""
        if batch is not None and batch.num_rows == 0:
            return
        conn = self._conn
        own = not self._nested
        try:
            if own:
                conn.execute("BEGIN TRANSACTION")
                self._written = {}
            if batch is not None:
                conn.register("batch", batch)
            if not (shared and self._shared is not None):
                conn.execute(sql)
            elif batch is None or self._written is None or self._head is None:
                conn.execute(sql)
                self._written = None
            else:
                self._note_written(sql, batch, returns=returns)
            if own:
                self._publish()
                conn.execute("COMMIT")
        except BaseException as exc:
            if own:
                conn.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise StateError(f"snapshot {self.path}: write failed: {exc}") from exc
            raise
        finally:
            if batch is not None:
                conn.unregister("batch")

    # -- the shared copy (see bcsync.state.shared_snapshot) ---------------------------------

    def _follow(self, shared: SharedSnapshot, *, upload: bool) -> None:
        """Bring this copy to the shared version, or leave it as the ledger to share.

        - at the shared version already: nothing to do (one query);
        - the run store has no entries for this sync yet: this copy is the ledger, uploaded
          now if ``upload`` (a run opens it: the first after moving to PostgreSQL), else by
          its first write (so ``plan`` or ``state show`` write nothing to the run store);
        - a ledger made here before the run store was PostgreSQL (never shared), while the run
          store already holds another: if that one is empty it is replaced, else this refuses
          (taking either would lose what the other knows; the message says how to choose);
        - otherwise (behind, reset elsewhere, or a fresh checkout): reloaded from the store.
        """
        head = shared.head()
        lineage = self._meta("shared_lineage")
        if head is not None and (lineage, self._meta("shared_generation")) == (
            head.lineage,
            str(head.generation),
        ):
            self._head = head
        elif head is None and upload:
            self._head = shared.replace(self._shared_rows(), None)
            self._record_head()
        elif head is None:
            self._head = None  # shared by the first write (``_publish``)
        elif lineage is None and self._scalar("SELECT count(*) FROM snapshot") > 0:
            if shared.count() > 0:
                raise StateError(
                    f"sync {shared.sync!r}: this checkout's snapshot {self.path} was made before "
                    "the run store was PostgreSQL, and the run store already holds another "
                    f"snapshot of the sync ({shared.count():,} entries). bcsync will not pick one "
                    "and lose what the other knows. To keep the run store's, move this file "
                    "away; to keep this file's, delete the sync's rows from the run store's "
                    "snapshot_entries and snapshot_heads tables. Then run again"
                )
            self._head = shared.replace(self._shared_rows(), head, over_empty=True)
            self._record_head()
        else:
            self._head = self._reload(shared)
            self._record_head()

    def _reload(self, shared: SharedSnapshot) -> Head:
        from bcsync.state.shared_snapshot import read_csv_sql

        with tempfile.NamedTemporaryFile(dir=self.path.parent, suffix=".csv") as out:
            head = shared.export(out)
            out.flush()
            if head is None:  # removed since we looked: start it again from this copy
                return shared.replace(self._shared_rows(), None)
            conn = self._conn
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute("DELETE FROM snapshot")
                conn.execute("DELETE FROM snapshot_meta WHERE key = 'quick_hash_key'")
                conn.execute(
                    f"""
                    INSERT INTO snapshot (pk, row_hash, dest_id, status, attempts, last_error,
                        pending_op, updated_at, pending_key, pending_at, landed, found_key,
                        pk_int)
                    SELECT *, {PK_INT} FROM ({read_csv_sql(Path(out.name))})
                    """
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return head

    def _note_written(self, sql: str, batch: pa.Table, *, returns: bool) -> None:
        """Run ``sql`` and note the entries it wrote (see ``_write``) for ``_publish``.

        The written entries come back through RETURNING: reading them again afterwards would
        scan the whole table for keys spread over it (a 1M-row snapshot: 0.3 s a chunk)."""
        assert self._written is not None
        result = self._conn.execute(
            f"{sql.rstrip().rstrip(';')} RETURNING {_SHARED_SELECT}" if returns else sql
        )
        self._written.update(dict.fromkeys(batch.column("pk").to_pylist()))
        if returns:
            names = [d[0] for d in result.description or ()]
            for row in result.fetchall():
                self._written[row[0]] = dict(zip(names, row, strict=True))

    def _publish(self) -> None:
        """Write this transaction's entries to the shared copy first (see module docstring);
        the whole copy when every entry may have changed (a reset) or none is shared yet."""
        if self._shared is None or self._written == {}:
            return
        if self._written is None or self._head is None:
            self._head = self._shared.replace(self._shared_rows(), self._head)
        else:
            rows = [row for row in self._written.values() if row is not None]
            deleted = sorted(pk for pk, row in self._written.items() if row is None)
            table = pa.Table.from_pylist(rows, schema=SHARED_SCHEMA)
            self._head = self._shared.push(table, deleted, self._head)
        self._record_head()

    def _shared_rows(self) -> pa.Table:
        """Every entry, as the shared copy's columns."""
        return self._conn.sql(f"SELECT {_SHARED_SELECT} FROM snapshot").to_arrow_table()

    def _record_head(self) -> None:
        assert self._head is not None
        self._conn.execute(
            """
            INSERT INTO snapshot_meta VALUES ('shared_lineage', $lineage),
                                             ('shared_generation', $generation)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """,
            {"lineage": self._head.lineage, "generation": str(self._head.generation)},
        )

    def _meta(self, key: str) -> str | None:
        rows = self._conn.execute(
            "SELECT value FROM snapshot_meta WHERE key = $key", {"key": key}
        ).fetchall()
        return str(rows[0][0]) if rows else None

    def _scalar(self, sql: str) -> int:
        return int(self._conn.execute(sql).fetchall()[0][0])

    def _select(self, sql: str, **tables: pa.Table) -> list[SnapshotEntry]:
        for name, table in tables.items():
            self._conn.register(name, table)
        try:
            cursor = self._conn.execute(sql)
            names = [d[0] for d in cursor.description or ()]
            return [entry_from_row(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
        finally:
            for name in tables:
                self._conn.unregister(name)


_RELEASED = """
    status = 'released', row_hash = NULL, fast_hash = NULL, landed = NULL, attempts = 0,
    last_error = NULL, pending_op = NULL, pending_key = NULL, pending_at = NULL,
    updated_at = now()
"""
# An entry as the shared copy keeps it (``bcsync.state.shared_snapshot``): timestamps as integer
# microseconds since the epoch, which no session setting changes.
SHARED_TIMESTAMPS = {"updated_at": "updated_us", "pending_at": "pending_us"}
SHARED_COLUMNS = tuple(SHARED_TIMESTAMPS.get(name, name) for name in ENTRY_COLUMNS)
SHARED_SCHEMA = pa.schema(
    (
        name,
        pa.int64()
        if name in SHARED_TIMESTAMPS.values()
        else pa.int32()
        if name == "attempts"
        else pa.string(),
    )
    for name in SHARED_COLUMNS
)
_SHARED_SELECT = ", ".join(
    f"epoch_us({name}) AS {SHARED_TIMESTAMPS[name]}" if name in SHARED_TIMESTAMPS else name
    for name in ENTRY_COLUMNS
)


def _last_wins(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Items with duplicate keys collapsed to the last one (an upsert batch needs unique keys)."""
    return list({key(item): item for item in items}.values())
