"""One warehouse-planned diff, from the token check to the change set and its write-back.

1. the token check: a snapshot and a warehouse table that do not share a token are made
   consistent again by rebuilding the table from the ledger (bootstrap);
2. the diff in the warehouse (``diff``), its candidates and gone keys read out;
3. a run marks them dirty in the warehouse before anything is sent (``writeback.mark_dirty``);
4. they are classified locally by the local planner's own ``classify``, against a copy of only
   their ledger entries, so the result is the same ``ChangeSet`` the local planner makes; rows
   the warehouse found clean count as unchanged (``queried`` is the model's row count);
5. at the run's end ``WarehousePlan.write_back`` records what each key is now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from bcsync.config.project import ModelConfig
from bcsync.errors import StateError
from bcsync.run.planner.changes import ChangeSet
from bcsync.run.planner.sql import classify
from bcsync.run.planner.warehouse.diff import Diff, model_relation, prepare_diff, read_diff
from bcsync.run.planner.warehouse.report import PlannerReport
from bcsync.run.planner.warehouse.tables import BATCH_ROWS, PlannerTables, current
from bcsync.run.planner.warehouse.writeback import mark_dirty, write_back
from bcsync.run.rowhash import quote_ident
from bcsync.run.snapshot import Snapshot, SnapshotRelation
from bcsync.warehouse.session import WarehouseSession

# The snapshot connection's DuckDB buffer limit while a warehouse-planned diff is open: it reads
# only the entries of the keys read out, but the scans that find them fill the buffer pool up to
# its limit (the ledger's 1GB default made a 1%-changed 10M-entry plan peak at ~800 MB, issue
# 14). What the plan holds grows with the keys read out (its temp tables and results), so the
# limit does too, never above the snapshot's own. 96 MiB at least (128 MiB peaked at 324 MB on
# the 10M-row benchmark, 96 MiB at 292); 512 bytes a key ran out of memory on a 167,000-key
# diff in the tests (DuckDB does not spill every temp table), 1 KiB does not.
PLANNING_MEMORY_FLOOR = 96 * 2**20
PLANNING_MEMORY_PER_KEY = 1024
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


@dataclass
class WarehousePlan:
    """The change set of a warehouse-planned diff and what its write-back needs."""

    changes: ChangeSet
    report: PlannerReport
    tables: PlannerTables
    snapshot: Snapshot
    diff: Diff
    classified: str  # the change set's table, read by the write-back
    entries: str  # the restricted copy of the ledger entries
    own: tuple[str, int]  # the snapshot connection's memory limit and threads, given back

    def write_back(self, session: WarehouseSession) -> None:
        """Record each candidate and gone key as the ledger now has it (``writeback``), through
        ``session`` (a DuckDB warehouse file is not held open while rows are sent), unless the
        table was rebuilt for another ledger meanwhile (its keys then stay as that made them:
        this ledger's next run rebuilds it again)."""
        tables = PlannerTables(session, self.tables.schema, self.tables.sync)
        if tables.token() != self.snapshot.warehouse_token():
            return
        write_back(
            tables,
            self.snapshot.connection,
            self.snapshot.relation(),
            self.diff.table,
            self.classified,
        )

    def close(self) -> None:
        """Drop the change set and the temp tables (after any write-back)."""
        self.changes.close()
        _drop(self.snapshot.connection, self.diff.table, self.entries)
        _settle(self.snapshot.connection, *self.own)


def plan_in_warehouse(
    session: WarehouseSession,
    snapshot: Snapshot,
    sync: str,
    model: ModelConfig,
    *,
    schema: str,
    columns: Sequence[str],
    mapping: str,
    run: bool,
) -> WarehousePlan:
    """Diff the ``model`` of ``sync`` in the warehouse against the sync's table of hashes
    (made from the ledger first if the tokens differ); ``run``: mark the keys read out dirty
    (``bcsync plan`` writes nothing but a bootstrap)."""
    tables = PlannerTables(session, schema, sync)
    own = _settings(snapshot.connection)
    # One thread: each holds buffers of its own, and the plan's own work is small next to the
    # warehouse's (the diff's stream).
    _settle(snapshot.connection, _budget(own[0], 0), 1)
    try:
        return _plan(snapshot, tables, sync, model, columns, mapping, run, own)
    except BaseException:
        _settle(snapshot.connection, *own)
        raise


def _plan(
    snapshot: Snapshot,
    tables: PlannerTables,
    sync: str,
    model: ModelConfig,
    columns: Sequence[str],
    mapping: str,
    run: bool,
    own: tuple[str, int],
) -> WarehousePlan:
    report = PlannerReport("warehouse")
    hashed = list(dict.fromkeys(columns))
    carried = list(dict.fromkeys([model.primary_key, *hashed]))
    query = prepare_diff(tables, model, carried=carried, hashed=hashed, mapping=mapping)
    token = snapshot.warehouse_token()
    in_table = tables.count() if current(token) and tables.token() == token else None
    if in_table is None or in_table < _held(snapshot):
        bootstrap(tables, snapshot, query.rebuild)
        in_table = tables.count()
    conn = snapshot.connection
    tag = uuid.uuid4().hex[:12]
    in_doubt = snapshot.pending()
    diff = read_diff(query, conn, tag, report, in_table=in_table)
    entries = f"bcsync_wentries_{tag}"
    try:
        keys = conn.execute(f"SELECT count(*) FROM temp.{diff.table}").fetchall()[0][0]
        limit = _budget(own[0], int(keys), report.bytes_read)
        _settle(conn, limit, 1 if limit != own[0] else own[1])
        if run:
            mark_dirty(tables, conn, diff.table)
            # Warehouse first: cut short between the two, the tokens differ (a rebuild).
            snapshot.set_warehouse_token(tables.rotate())
        conn.execute(
            f"""CREATE TEMP TABLE {entries} AS SELECT * FROM {snapshot.relation().table}
            WHERE pk IN (SELECT coalesce(bcsync_pk, bcsync_known) FROM temp.{diff.table})"""
        )
        relation = model_relation(diff.table, carried)
        projection = ", ".join(quote_ident(name) for name in carried)
        found = conn.sql(f"SELECT {projection} FROM {relation}").types
        types = dict(zip(carried, found, strict=True))
        classified = classify(
            conn,
            SnapshotRelation(f"temp.main.{entries}"),
            relation,
            tag,
            primary_key=model.primary_key,
            carried=carried,
            types=types,
            hashed=hashed,
            cached_key=None,  # the quick-hash cache is the local planner's, never written here
            full_resync=False,
            mapping=mapping,
        )
        # Quick hashes are cached under the local planner's key, which these rows' types (as
        # they came through Arrow) may not share: confirms must not cache them.
        conn.execute(f"UPDATE temp.{classified.table} SET fast = NULL")
        changes = ChangeSet(
            conn,
            classified.table,
            carried=carried,
            queried=diff.scanned,
            in_doubt=in_doubt,
            decimals=diff.decimals,
            timings=classified.timings,
        )
    except duckdb.Error as exc:
        _drop(conn, diff.table, entries)
        raise StateError(f"planning against snapshot {snapshot.path} failed: {exc}") from exc
    except BaseException:
        _drop(conn, diff.table, entries)
        raise
    changes.report = report
    return WarehousePlan(changes, report, tables, snapshot, diff, classified.table, entries, own)


def bootstrap(
    tables: PlannerTables, snapshot: Snapshot, rebuild: Callable[[str], str | None]
) -> None:
    """Rebuild the sync's table from the ledger: every entry but tombstones, with its hash when
    it is synced and nothing is in flight (else dirty), made a quick hash by ``rebuild`` where
    the model still has that row, and give both sides a new token."""
    snapshot.set_warehouse_token(None)
    # Streamed as the ledger stores it, not sorted: under the plan's memory budget (the floor,
    # 96 MiB, at this point) DuckDB could not sort a ledger of 100M entries, and the table is
    # filled by one INSERT … SELECT in the warehouse whatever order the rows come in.
    hashes = snapshot.connection.sql(
        f"""SELECT pk, CASE WHEN status = 'synced' AND pending_op IS NULL THEN row_hash END
                   AS row_hash
            FROM {snapshot.relation().table} WHERE status <> 'released'"""
    ).to_arrow_reader(BATCH_ROWS)
    try:
        token = tables.bootstrap(hashes, rebuild)
    finally:
        hashes.close()
    snapshot.set_warehouse_token(token)


def _held(snapshot: Snapshot) -> int:
    """The ledger's entries that W1 wants in the table. A table with fewer rows was emptied or
    cut by hand (the token cannot tell): its keys would never be diffed as gone, so a row
    leaving the model would keep its record for good; it is rebuilt instead (W1 only ever
    lets the table hold more keys, those of a run killed before its write-back)."""
    found = snapshot.connection.execute(
        f"SELECT count(*) FROM {snapshot.relation().table} WHERE status <> 'released'"
    ).fetchall()
    return int(found[0][0])


def _settings(conn: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """The connection's DuckDB ``memory_limit`` and ``threads``."""
    found = conn.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads')"
    ).fetchall()[0]
    return str(found[0]), int(found[1])


def _settle(conn: duckdb.DuckDBPyConnection, memory_limit: str, threads: int) -> None:
    conn.execute(f"SET memory_limit = '{memory_limit}'")
    conn.execute(f"SET threads = {threads}")


def _budget(own: str, keys: int, read: int = 0) -> str:
    """The memory limit of a plan that read ``keys`` out, ``read`` bytes of rows (its temp
    tables hold them: wide rows need more than the per-key allowance), never above the
    connection's ``own`` (as DuckDB shows it: ``953.6 MiB``; one it cannot read is kept)."""
    number, _, unit = own.partition(" ")
    try:
        ceiling = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        return own
    wanted = max(PLANNING_MEMORY_FLOOR, keys * PLANNING_MEMORY_PER_KEY, 4 * read)
    return own if wanted >= ceiling else f"{wanted // 2**10}KiB"


def _drop(conn: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in tables:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
