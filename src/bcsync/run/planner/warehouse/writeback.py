"""What a warehouse-planned run tells the warehouse: the keys it is about to act on are dirty
(before anything is sent), and at its end, success or failure, what each of them is now.

At the end, for each candidate or gone key, from the ledger as it is then:

- no entry, or a tombstone: the key leaves the table (invariant W1 needs only records);
- ``synced`` with nothing in flight, the key's one model row read out, and that row either
  classified unchanged or now confirmed (the entry's hash is the row's local md5): the row's
  warehouse hash, so the next diff skips it (invariant W2);
- anything else (failed, in flight, not sent, a duplicate key): NULL, read out next run.

A run killed before this leaves its keys dirty: the next run reads them out and classifies them
against the ledger, so nothing is lost or sent twice.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from bcsync.run.planner.warehouse.tables import PlannerTables
from bcsync.run.snapshot import SnapshotRelation


def _keys_sql(diff: str) -> str:
    return (
        f"SELECT DISTINCT coalesce(bcsync_pk, bcsync_known) AS pk FROM temp.{diff} "
        "WHERE coalesce(bcsync_pk, bcsync_known) IS NOT NULL"
    )


def mark_dirty(tables: PlannerTables, conn: duckdb.DuckDBPyConnection, diff: str) -> None:
    """Every candidate and gone key of the diff dirty (NULL hash) in the warehouse: the keys
    the table has (the diff saw them there: ``bcsync_known``) in place, the others inserted."""
    keys = conn.sql(
        f"""SELECT coalesce(bcsync_pk, bcsync_known) AS pk,
                   bool_and(bcsync_known IS NULL) AS new
            FROM temp.{diff} WHERE coalesce(bcsync_pk, bcsync_known) IS NOT NULL
            GROUP BY 1 ORDER BY 1"""
    ).to_arrow_table()
    tables.dirty(keys)


def write_back(
    tables: PlannerTables,
    conn: duckdb.DuckDBPyConnection,
    snapshot: SnapshotRelation,
    diff: str,
    changes: str,
) -> None:
    """The diff's keys as the ledger now stands (see the module docstring); ``changes`` is the
    classified table (``bcsync.run.planner.sql``)."""
    outcome = conn.sql(
        f"""
        WITH keys AS ({_keys_sql(diff)}),
        rows AS (
            SELECT bcsync_pk AS pk, count(*) AS copies, any_value(bcsync_hash) AS w_hash
            FROM temp.{diff} WHERE bcsync_present AND bcsync_pk IS NOT NULL GROUP BY 1
        ), kinds AS (
            SELECT pk, min(kind) AS kind, count(*) AS copies, any_value(row_hash) AS md5
            FROM temp.{changes} WHERE pk IS NOT NULL GROUP BY 1
        )
        SELECT k.pk,
               CASE WHEN e.status = 'synced' AND e.pending_op IS NULL AND r.copies = 1
                         AND c.copies = 1
                         AND (c.kind = 'unchanged' OR e.row_hash = c.md5)
                    THEN r.w_hash END AS row_hash,
               e.pk IS NOT NULL AND e.status <> 'released' AS keep
        FROM keys k
        LEFT JOIN {snapshot.table} e ON e.pk = k.pk
        LEFT JOIN rows r ON r.pk = k.pk
        LEFT JOIN kinds c ON c.pk = k.pk
        ORDER BY k.pk
        """
    ).to_arrow_table()
    tables.replace(
        outcome.cast(
            pa.schema([("pk", pa.string()), ("row_hash", pa.string()), ("keep", pa.bool_())])
        )
    )
