"""Change detection: diff the model's rows against the sync's snapshot, in DuckDB.

``plan()`` reads the model stream once: each row gets its quick hash as it arrives
(``bcsync.run.rowhash``) and is joined with the snapshot in the same pass, in the snapshot's DuckDB
connection. A row whose quick hash matches the one the snapshot cached is unchanged and goes no
further; the others (about 1% on a typical run) get their md5 and keep their values. Each row
is classified against the snapshot (DESIGN §3.1):

- *added*: the key is not in the snapshot, or is there without a BigCommerce id and not synced
  (a create that failed or is in doubt);
- *changed*: the hash differs from the last confirmed write, or the entry is ``failed`` (retried
  every run with the latest values), or a write to its id is in doubt;
- *removed*: the key is in the snapshot as ``synced`` or ``failed`` with an id, and absent now;
  also a write in flight when a run died whose row is absent now, if its record is known or its
  create can be looked up (``SnapshotEntry.pending_key``);
- *invalid*: a NULL key, or a key shared by several rows (every one of them is invalid);
- *in doubt*: entries a crashed run left in flight, listed apart for the engine to settle.

The result is a ``ChangeSet`` that keeps the rows in DuckDB and hands them out in chunks; only
added/changed rows are ever turned into Python values.

The package: ``sources`` (the model as a FROM item: a stream, or a DuckDB warehouse's query),
``sql`` (the two classifying statements), ``changes`` (the change set and its rows). The
snapshot is read only through its relation (``Snapshot.relation()``), the seam the planner
running inside the warehouse (``warehouse``, ``planner: warehouse``) uses to classify the few rows
its diff reads out with the same ``classify``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from bcsync.errors import StateError
from bcsync.run.planner.changes import (
    DEFAULT_CHUNK,
    KINDS,
    ChangeSet,
    InvalidRow,
    Kind,
    PlanCounts,
    PlannedRow,
)
from bcsync.run.planner.sources import Source, check_columns, open_source
from bcsync.run.planner.sql import classify
from bcsync.run.planner.warehouse.report import PlannerReport, counted
from bcsync.run.rowhash import quote_ident
from bcsync.run.snapshot import Snapshot
from bcsync.warehouse.base import LocalQuery

__all__ = [
    "DEFAULT_CHUNK",
    "KINDS",
    "ChangeSet",
    "InvalidRow",
    "Kind",
    "PlanCounts",
    "PlannedRow",
    "plan",
]


def plan(
    model: pa.RecordBatchReader | LocalQuery,
    snapshot: Snapshot,
    *,
    primary_key: str,
    columns: Sequence[str],
    full_resync: bool = False,
    mapping: str = "",
) -> ChangeSet:
    """Diff the model's rows, streamed or run by the snapshot's DuckDB, against ``snapshot``.

    ``columns`` are the match column and the mapped columns; only they are hashed and returned.
    ``mapping`` describes where those columns go (column → field): it is part of every row's
    hash, so a changed mapping re-sends the rows (DESIGN §3.8).
    Raises ``ConfigError`` naming the column when the key or a column is missing from the model.
    ``full_resync`` makes every valid row *added* (carrying its snapshot entry) and removes nothing.
    Unchanged rows whose quick hash was missing or stale get it cached in the snapshot.

    Long because opening the source, building the change set and caching quick hashes each need
    their own clean-up on failure, spelled out here.
    """
    hashed = list(dict.fromkeys(columns))
    carried = list(dict.fromkeys([primary_key, *hashed]))
    conn = snapshot.connection
    tag = uuid.uuid4().hex[:12]
    # Read now: the source may switch the connection's default database.
    cached_key = snapshot.quick_hash_key()
    in_doubt = snapshot.pending()
    report = PlannerReport("local")
    if isinstance(model, pa.RecordBatchReader):
        model = counted(model, report)
    try:
        source: Source = open_source(conn, tag, model, carried)
    except duckdb.Error as exc:
        raise _failure(model, snapshot, exc) from exc
    try:
        check_columns(source.names, primary_key, columns)
        projection = ", ".join(quote_ident(name) for name in carried)
        types = dict(
            zip(carried, conn.sql(f"SELECT {projection} FROM {source.relation}").types, strict=True)
        )
        classified = classify(
            conn,
            snapshot.relation(),
            source.relation,
            tag,
            primary_key=primary_key,
            carried=carried,
            types=types,
            hashed=hashed,
            cached_key=cached_key,
            full_resync=full_resync,
            mapping=mapping,
        )
        changes = ChangeSet(
            conn,
            classified.table,
            carried=carried,
            queried=classified.queried,
            in_doubt=in_doubt,
            decimals=source.decimals,
            timings=classified.timings,
        )
    except duckdb.Error as exc:
        raise _failure(model, snapshot, exc) from exc
    finally:
        source.close()
    report.scanned = classified.queried
    if isinstance(model, LocalQuery):  # run by the planner's DuckDB: nothing streamed
        report.rows_read = classified.queried
    changes.report = report
    try:
        if cached_key != classified.key or changes.uncached:
            # Unchanged rows whose quick hash was missing (all of them, when stale).
            snapshot.cache_quick_hashes(changes.quick_hashes_sql(), classified.key)
    except BaseException:
        changes.close()
        raise
    return changes


def _failure(
    model: pa.RecordBatchReader | LocalQuery, snapshot: Snapshot, exc: duckdb.Error
) -> Exception:
    if isinstance(model, LocalQuery):
        return model.failed(exc)  # the snapshot's side is simple scans: the model failed
    return StateError(f"planning against snapshot {snapshot.path} failed: {exc}")
