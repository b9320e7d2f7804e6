"""The snapshot file of one sync: opening it (schema, migrations, following the shared copy)
and its writes, each one transaction (see ``bcsync.run.snapshot``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import pyarrow as pa

from bcsync.errors import StateError
from bcsync.run.rowhash import quote_ident, quote_literal
from bcsync.run.snapshot.entries import _UTC_MICROS, OPS, Confirmed, Failed
from bcsync.run.snapshot.relation import SnapshotRelation
from bcsync.run.snapshot.schema import _MIGRATIONS, _RELEASED, _SCHEMA, FORMAT_VERSION, PK_INT
from bcsync.run.snapshot.shared import SharedCopy

if TYPE_CHECKING:
    from bcsync.state.shared_snapshot import Head, SharedSnapshot

T = TypeVar("T")
_TOKEN = "warehouse_token"  # snapshot_meta key of the warehouse planner's token
MAX_ERROR_CHARS = 2000
# DuckDB's buffer limit for this connection: a plan's temp tables spill to ``<file>.tmp`` past
# it, which bounds a run's memory (spilling is much slower, so not too low).
DEFAULT_MEMORY_LIMIT = "1GB"


class Snapshot(SharedCopy):
    """The snapshot file of one sync. Not thread-safe: one run uses it at a time.

    Its reads are ``SnapshotReads`` (``bcsync.run.snapshot.reads``); keeping the file a copy of a
    PostgreSQL run store's entries is ``SharedCopy`` (``bcsync.run.snapshot.shared``)."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        shared: SharedSnapshot | None = None,
        upload: bool = False,
        keeps_warehouse_token: bool = False,
    ) -> None:
        self.path = Path(path)
        # Only a warehouse-planned run keeps the warehouse planner's token: any other write
        # may change what the warehouse's cache of hashes stands for (``_write``).
        self.keeps_warehouse_token = keeps_warehouse_token
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

    # -- the warehouse planner's token ------------------------------------------------------

    def warehouse_token(self) -> str | None:
        """The token of the warehouse planner's table this ledger is consistent with (None:
        none; see ``bcsync.run.planner.warehouse``)."""
        return self._meta(_TOKEN)

    def set_warehouse_token(self, token: str | None) -> None:
        """Record (or, None, forget) the token; local to this copy, never shared."""
        if token is None:
            self._conn.execute("DELETE FROM snapshot_meta WHERE key = $key", {"key": _TOKEN})
            return
        self._conn.execute(
            "INSERT INTO snapshot_meta VALUES ($key, $token) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            {"key": _TOKEN, "token": token},
        )

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
            if not self.keeps_warehouse_token:  # in the same transaction as the write
                conn.execute("DELETE FROM snapshot_meta WHERE key = $key", {"key": _TOKEN})
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


def _last_wins(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Items with duplicate keys collapsed to the last one (an upsert batch needs unique keys)."""
    return list({key(item): item for item in items}.values())
