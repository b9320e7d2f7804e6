"""The snapshot's reads: the queries a run, its guards, the planner and ``bcsync state show``
make on the snapshot file (none of them writes it)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from bcsync.run.snapshot.entries import SnapshotEntry, SnapshotSummary, entry_from_row
from bcsync.run.snapshot.schema import HELD


class SnapshotReads:
    """The reads of ``Snapshot`` (``bcsync.run.snapshot.ledger``), over the connection it opens."""

    _conn: duckdb.DuckDBPyConnection

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
