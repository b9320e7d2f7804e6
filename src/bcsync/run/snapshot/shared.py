"""The snapshot file as a local copy of the entries a PostgreSQL run store keeps
(``bcsync.state.shared_snapshot``): following the shared version when the file is opened, and
publishing each transaction's entries there.

The ordering is the guarantee: a write is made in the shared store first, then committed
locally. Both happen inside the same local DuckDB transaction: ``Snapshot._write`` and
``Snapshot._transaction`` call ``_publish`` after the local statements and before ``COMMIT``, so a
shared write that fails rolls the local one back, and a process killed between the two commits
leaves the local copy behind the shared version, which the next open reloads (``_follow``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from bcsync.errors import StateError
from bcsync.run.snapshot.entries import ENTRY_COLUMNS
from bcsync.run.snapshot.reads import SnapshotReads
from bcsync.run.snapshot.schema import PK_INT

if TYPE_CHECKING:
    from bcsync.state.shared_snapshot import Head, SharedSnapshot

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


class SharedCopy(SnapshotReads):
    """The shared-copy half of ``Snapshot`` (``bcsync.run.snapshot.ledger``), which sets these
    attributes when it opens the file."""

    path: Path
    _shared: SharedSnapshot | None
    _head: Head | None
    _written: dict[str, dict[str, Any] | None] | None

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
            theirs = shared.count()
            if theirs > 0:
                raise StateError(
                    f"sync {shared.sync!r}: this checkout's snapshot {self.path} was made before "
                    "the run store was PostgreSQL, and the run store already holds another "
                    f"snapshot of the sync ({theirs:,} entries). bcsync will not pick one "
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
                conn.execute(
                    "DELETE FROM snapshot_meta "
                    "WHERE key IN ('quick_hash_key', 'warehouse_token')"  # stand for the old copy
                )
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
