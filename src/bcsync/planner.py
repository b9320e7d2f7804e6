"""Change detection: diff the model's rows against the sync's snapshot, in DuckDB.

``plan()`` reads the model stream once: each row gets its quick hash as it arrives
(``bcsync.rowhash``) and is joined with the snapshot in the same pass, in the snapshot's DuckDB
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
"""

from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from duckdb.sqltypes import DuckDBPyType

from bcsync.errors import ConfigError, StateError
from bcsync.rowhash import (
    canonical_json,
    canonical_sql,
    field_sql,
    quick_hash_key,
    quick_hash_sql,
    quote_ident,
    quote_literal,
    row_hash_sql,
)
from bcsync.snapshot import ENTRY_COLUMNS, Snapshot, SnapshotEntry, entry_from_row
from bcsync.warehouse.arrow_rows import is_decimal_text
from bcsync.warehouse.base import LocalQuery, is_arrow_json

Kind = Literal["added", "changed"]
KINDS: tuple[Kind, ...] = ("added", "changed")
DEFAULT_CHUNK = 500
# Rows read from DuckDB per query when handing out chunks (see ChangeSet._slices).
_FETCH_ROWS = 5000
_UTC_MICROS = pa.timestamp("us", tz="UTC")
# Key types whose every value is a BIGINT, whose canonical text is that BIGINT's.
_BIGINT_KEYS = {"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger"}


class PlannedRow(NamedTuple):
    """A model row to send. ``values`` holds the pk column and ``columns`` as Python values;
    JSON as its canonical text (exact: parsing would round its numbers to floats).

    A NamedTuple, not a dataclass: a plan makes one per row to send, in half the time."""

    pk: str
    kind: Kind
    values: dict[str, Any]
    row_hash: str
    entry: SnapshotEntry | None
    fast_hash: int | None = None  # the row's quick hash, cached by the snapshot on confirm


@dataclass(frozen=True)
class InvalidRow:
    """A model row that is never sent. ``pk`` is None when the key itself is NULL."""

    pk: str | None
    reason: str


@dataclass(frozen=True)
class PlanCounts:
    queried: int
    added: int
    changed: int
    removed: int
    invalid: int
    unchanged: int
    in_doubt: int
    obsolete: int  # snapshot entries without a BigCommerce id whose rows left the model

    def to_json(self) -> dict[str, int]:
        return asdict(self)


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
    """
    hashed = list(dict.fromkeys(columns))
    carried = list(dict.fromkeys([primary_key, *hashed]))
    conn = snapshot.connection
    tag = uuid.uuid4().hex[:12]
    cached_key = snapshot.quick_hash_key()  # read now: the source may switch the default database
    try:
        source: _Source = (
            _LocalSource(conn, tag, model)
            if isinstance(model, LocalQuery)
            else _StreamSource(conn, tag, model, carried)
        )
    except duckdb.Error as exc:
        raise _failure(model, snapshot, exc) from exc
    try:
        _check_columns(source.names, primary_key, columns)
        projection = ", ".join(quote_ident(name) for name in carried)
        types = dict(
            zip(carried, conn.sql(f"SELECT {projection} FROM {source.relation}").types, strict=True)
        )
        changes = ChangeSet(conn, tag, primary_key, carried, types, decimals=source.decimals)
        try:
            key = changes._build(
                source, cached_key, hashed, full_resync=full_resync, mapping=mapping
            )
        except BaseException:
            changes.close()
            raise
    except duckdb.Error as exc:
        raise _failure(model, snapshot, exc) from exc
    finally:
        source.close()
    try:
        changes._cache_quick_hashes(snapshot, stale=cached_key != key, key=key)
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


class _Source(Protocol):
    """Where the planner's first statement reads the model from."""

    relation: str  # a FROM item
    names: list[str]  # the model's columns
    snapshot: str  # how the planner's statements name the snapshot table
    decimals: frozenset[str]  # columns of decimals as canonical text (arrow_rows.DECIMAL_TEXT)

    def close(self) -> None: ...


class _LocalSource:
    """A DuckDB model run by the snapshot's own connection: its database attached read-only."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, tag: str, query: LocalQuery) -> None:
        self._conn = conn
        self._home = quote_ident(str(conn.execute("SELECT current_database()").fetchall()[0][0]))
        self._search_path = str(
            conn.execute("SELECT current_setting('file_search_path')").fetchall()[0][0]
        )
        self._catalog = f"bcsync_model_{tag}"
        self.snapshot = f"{self._home}.main.snapshot"
        self.decimals: frozenset[str] = frozenset()  # a DuckDB model's are DECIMALs
        self.relation = f"({query.sql}) AS bcsync_model"
        if query.database is None:  # a query over files: an empty database to run it in
            conn.execute(f"ATTACH ':memory:' AS {self._catalog}")
        else:
            conn.execute(f"ATTACH {quote_literal(query.database)} AS {self._catalog} (READ_ONLY)")
        try:
            # The model names its tables as the warehouse does: its database is the default.
            conn.execute(f"USE {self._catalog}")
            conn.execute(f"SET file_search_path = {quote_literal(query.file_search_path)}")
            self.names = [str(name) for name in conn.sql(f"SELECT * FROM {self.relation}").columns]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn = self._conn
        conn.execute(f"USE {self._home}")
        conn.execute(f"SET file_search_path = {quote_literal(self._search_path)}")
        conn.execute(f"DETACH {self._catalog}")


class _StreamSource:
    """The model's Arrow batches, registered with the snapshot's connection for one scan.

    JSON (``arrow.json``) columns are rewritten by ``canonical_json`` as they pass (JSON needs a
    parser to canonicalise, which DuckDB SQL lacks; only JSON columns pay for it): this is where
    every JSON column is made canonical, whichever warehouse it comes from. ``DECIMAL_TEXT``
    columns are canonical already; they are hashed as text and handed out as decimals.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        tag: str,
        batches: pa.RecordBatchReader,
        carried: Sequence[str],
    ) -> None:
        self._conn = conn
        self._batches = batches
        schema = batches.schema
        self.snapshot = "snapshot"
        self.names = list(schema.names)
        self.decimals = frozenset(f.name for f in schema if is_decimal_text(f.type))
        self._json = [
            i for i, f in enumerate(schema) if f.name in carried and is_arrow_json(f.type)
        ]
        self.relation = f"bcsync_model_{tag}"
        reader = batches
        if self._json:
            reader = pa.RecordBatchReader.from_batches(schema, self._canonical_json())
        conn.register(self.relation, reader)

    def close(self) -> None:
        self._conn.unregister(self.relation)

    def _canonical_json(self) -> Iterator[pa.RecordBatch]:
        schema = self._batches.schema
        for batch in self._batches:
            arrays = list(batch.columns)
            for i in self._json:
                json_type = schema.field(i).type
                text = arrays[i].storage.to_pylist()
                storage = pa.array([canonical_json(v) for v in text], json_type.storage_type)
                arrays[i] = pa.ExtensionArray.from_storage(json_type, storage)
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _check_columns(available: list[str], primary_key: str, columns: Sequence[str]) -> None:
    listing = ", ".join(available) if available else "(none)"
    duplicated = sorted({name for name in available if available.count(name) > 1})
    if duplicated:
        raise ConfigError(f"the model has more than one column named {duplicated[0]!r}")
    if primary_key not in available:
        raise ConfigError(
            f"primary key column {primary_key!r} is not in the model; available columns: {listing}"
        )
    for name in columns:
        if name not in available:
            raise ConfigError(
                f"mapped column {name!r} is not in the model; available columns: {listing}"
            )


class ChangeSet:
    """The outcome of ``plan()``: counts, and the rows to act on, read from DuckDB in chunks.

    It lives in a temp table of the snapshot's connection: ``close()`` it (or use ``with``)
    before closing the snapshot. Snapshot writes made while iterating do not change it.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        tag: str,
        primary_key: str,
        carried: list[str],
        types: dict[str, DuckDBPyType],
        *,
        decimals: Collection[str] = (),
    ) -> None:
        self._conn = conn
        self._kept = f"bcsync_kept_{tag}"
        self._changes = f"bcsync_changes_{tag}"
        self._refreshable = False
        self._snapshot = "snapshot"
        self.primary_key = primary_key
        self._carried = carried
        self._decimals = set(decimals)
        self._types = types
        self._ranges: dict[str, tuple[int, int]] = {}
        self._closed = False
        self.counts = PlanCounts(0, 0, 0, 0, 0, 0, 0, 0)
        self.in_doubt: list[SnapshotEntry] = []
        self.timings: dict[str, float] = {}  # seconds per planning stage, for diagnostics

    # -- building ----------------------------------------------------------------------------

    def _build(
        self,
        source: _Source,
        cached_key: str | None,
        hashed: list[str],
        *,
        full_resync: bool,
        mapping: str = "",
    ) -> str:
        """Two statements: one pass over the model, then one over the few rows it kept.

        Returns the quick-hash key of this model's columns (see ``bcsync.rowhash``); the
        snapshot's cached quick hashes are used only if they were made under the same key.

        1. ``kept``: each model row gets its quick hash as it streams and is full-outer-joined
           with the snapshot's keys and quick hashes. A row whose quick hash equals the cached
           one is unchanged: only its place in the snapshot is stored. The others (new, edited,
           or without a valid cached hash, and NULL keys) keep their values; the snapshot
           entries absent from the model are there too.
        2. ``changes``: the kept rows' md5s, their snapshot entries and their kinds, ordered by
           kind and key and numbered; duplicate keys are listed as invalid, once per row.

        Duplicate keys among dropped rows show in the counts: rows matching a snapshot key
        outnumber the snapshot keys matched. Only then are the matched rows grouped by key.
        """
        conn = self._conn
        self._snapshot = source.snapshot
        key = quick_hash_key({name: self._types[name] for name in hashed}, mapping)
        trusted = cached_key == key and not full_resync
        values = [f"v{i}" for i in range(len(self._carried))]
        raw = ", ".join(
            f"{quote_ident(name)} AS {col}" for name, col in zip(self._carried, values, strict=True)
        )
        quick = quick_hash_sql([(n, quote_ident(n), self._types[n]) for n in hashed])
        pk_type = self._types[self.primary_key]
        if pk_type.id in _BIGINT_KEYS:
            # Integer keys join on the snapshot's pk_int: no text made for the 99% unchanged.
            model_key, snapshot_key = f"CAST({quote_ident(self.primary_key)} AS BIGINT)", "pk_int"
        else:
            model_key, snapshot_key = canonical_sql(quote_ident(self.primary_key), pk_type), "pk"
        # A dropped row keeps only its place in the snapshot (s_rowid) and costs next to nothing
        # to store: a NULL list. The kept rows' values ride in the list's one element.
        keep = "m.present" + (" AND NOT coalesce(m.fast = s.s_fast, FALSE)" if trusted else "")
        preserve = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        conn.execute("BEGIN TRANSACTION")  # rowids must not move between the statements
        try:
            # Keep the join as written: DuckDB cannot size a stream, and would build its hash
            # table over the model's 1M wide rows instead of the snapshot's narrow keys.
            conn.execute("SET disabled_optimizers = 'build_side_probe_side'")
            self._stage(
                "model_join",
                f"""
                CREATE TEMP TABLE {self._kept} AS
                WITH model AS (
                    SELECT {model_key} AS m_key, {quick} AS fast, TRUE AS present, {raw}
                    FROM {source.relation}
                ), snap AS (
                    SELECT {snapshot_key} AS s_key, rowid AS s_rowid, fast_hash AS s_fast
                    FROM {self._snapshot}
                )
                SELECT s.s_rowid, m.present, CASE WHEN {keep} THEN [struct_pack(
                    fast := m.fast, {", ".join(f"{col} := m.{col}" for col in values)}
                )] END AS payload
                FROM model m FULL OUTER JOIN snap s ON s.s_key = m.m_key
                """,
            )
            # Only this join: the next ones are best built over the few kept rows.
            conn.execute("RESET disabled_optimizers")
            started = time.perf_counter()
            queried, duplicates = self._duplicates()
            self.timings["duplicates"] = time.perf_counter() - started
            self._classify(hashed, duplicates, full_resync=full_resync, mapping=mapping)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:  # after COMMIT or ROLLBACK: settings cannot change in an aborted transaction
            conn.execute("RESET disabled_optimizers")
            conn.execute(f"SET preserve_insertion_order = {bool(preserve[0][0])}")
            conn.execute(f"DROP TABLE IF EXISTS temp.{self._kept}")
        started = time.perf_counter()
        self._count(queried)  # after COMMIT: a transaction's new rows have provisional rowids
        self.timings["count"] = time.perf_counter() - started
        return key

    def _cache_quick_hashes(self, snapshot: Snapshot, *, stale: bool, key: str) -> None:
        """Cache the quick hashes of the unchanged rows that lacked one (all, when ``stale``)."""
        if stale or self._refreshable:
            snapshot.cache_quick_hashes(
                f"(SELECT pk, fast AS fast_hash FROM {self._changes} WHERE kind = 'unchanged')",
                key,
            )

    def _duplicates(self) -> tuple[int, str]:
        """The model's row count, and a query listing each duplicated key (``pk``) with its
        number of rows (``copies``)."""
        conn, kept = self._conn, self._kept
        queried, matched, absent = conn.execute(
            f"""
            SELECT count(*) FILTER (WHERE present),
                   count(*) FILTER (WHERE present AND s_rowid IS NOT NULL),
                   count(*) FILTER (WHERE present IS NULL)
            FROM {kept}
            """
        ).fetchall()[0]
        pk_text = canonical_sql("payload[1].v0", self._types[self.primary_key])
        unmatched = f"""
            SELECT {pk_text} AS pk, count(*) AS copies FROM {kept}
            WHERE present AND s_rowid IS NULL AND payload[1].v0 IS NOT NULL
            GROUP BY 1 HAVING count(*) > 1
        """
        in_snapshot = int(conn.execute(f"SELECT count(*) FROM {self._snapshot}").fetchall()[0][0])
        if int(matched) == in_snapshot - int(absent):
            # Each snapshot key the model has, it has once: duplicates can only be new keys.
            return int(queried), unmatched
        return (
            int(queried),
            f"""
            {unmatched}
            UNION ALL
            SELECT s.pk, d.copies
            FROM (SELECT s_rowid, count(*) AS copies FROM {kept}
                  WHERE present AND s_rowid IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d
            JOIN {self._snapshot} s ON s.rowid = d.s_rowid
        """,
        )

    def _classify(
        self, hashed: list[str], duplicates: str, *, full_resync: bool, mapping: str = ""
    ) -> None:
        """The kept rows' md5s, snapshot entries and kinds, into the ``changes`` table."""
        by_name = {name: f"v{i}" for i, name in enumerate(self._carried)}
        fields = [
            (name, field_sql(canonical_sql(by_name[name], self._types[name]), self._types[name]))
            for name in hashed
        ]
        if mapping:  # a field no column can be: the name sorts first, the value is constant
            fields.append(("\x00mapping", quote_literal(mapping)))
        pk_text = canonical_sql("v0", self._types[self.primary_key])
        kept_values = ", ".join(
            f"CASE WHEN kind IN ('added', 'changed') THEN {col} END AS {col}"
            for col in by_name.values()
        )
        null_reason = quote_literal(f"primary key column {self.primary_key!r} is null")
        dup_prefix = quote_literal("duplicate primary key '")
        dup_suffix = quote_literal(f"' in column {self.primary_key!r} (")
        entry = ", ".join(f"s.{name} AS e_{name}" for name in ENTRY_COLUMNS)
        nulls = ", ".join(f"NULL AS {col}" for col in by_name.values())
        null_entry = ", ".join(f"NULL AS e_{name}" for name in ENTRY_COLUMNS)
        # Unchanged rows are kept only to cache their quick hash: their entries are not needed.
        kept_entry = ", ".join(
            f"CASE WHEN kind <> 'unchanged' THEN e_{name} END AS e_{name}" for name in ENTRY_COLUMNS
        )
        # Rows are stored in the ORDER BY's order, so their rowids number them by kind and key
        # (a row_number() window would sort the whole wide rows again, 5x slower).
        self._conn.execute("SET preserve_insertion_order = true")  # put back by _build
        self._stage(
            "classify",
            f"""
            CREATE TEMP TABLE {self._changes} AS
            WITH duplicates AS ({duplicates}),
            unpacked AS (
                SELECT s_rowid, present, payload[1].fast AS fast,
                       {", ".join(f"payload[1].{col} AS {col}" for col in by_name.values())}
                FROM {self._kept} WHERE payload IS NOT NULL OR present IS NULL
            ), kept AS (
                SELECT *, {pk_text} AS pk_text,
                       CASE WHEN present AND v0 IS NOT NULL
                            THEN {row_hash_sql(fields)} END AS row_hash
                FROM unpacked
            ), joined AS (
                SELECT k.*, s.pk AS s_pk, s.row_hash AS s_hash, s.dest_id AS s_dest,
                       s.status AS s_status, s.pending_op AS s_op, s.pending_key AS s_found_by,
                       {entry}
                FROM kept k LEFT JOIN {self._snapshot} s ON s.rowid = k.s_rowid
            ), classified AS (
                SELECT *, {_kind_sql(full_resync)} AS kind FROM joined
            ), acted AS (
                SELECT kind, coalesce(pk_text, s_pk) AS pk,
                       CASE WHEN kind IN ('added', 'changed') THEN row_hash END AS row_hash,
                       fast,
                       {kept_values},
                       NULL AS reason, {kept_entry}
                FROM classified
                WHERE kind IS NOT NULL AND kind <> 'invalid'
                  AND (NOT coalesce(present, FALSE)
                       OR pk_text NOT IN (SELECT pk FROM duplicates))
                UNION ALL
                SELECT 'invalid', NULL, NULL, NULL, {nulls}, {null_reason}, {null_entry}
                FROM classified WHERE kind = 'invalid'
                UNION ALL
                SELECT 'invalid', d.pk, NULL, NULL, {nulls},
                       {dup_prefix} || d.pk || {dup_suffix} || d.copies || ' rows)',
                       {null_entry}
                FROM duplicates d, range(d.copies)
            )
            SELECT * FROM acted ORDER BY kind, pk NULLS FIRST
            """,
        )

    def _stage(self, name: str, sql: str) -> None:
        started = time.perf_counter()
        self._conn.execute(sql)
        self.timings[name] = time.perf_counter() - started

    def _count(self, queried: int) -> None:
        conn = self._conn
        sizes: dict[str, int] = {}
        for kind, low, high, size in conn.execute(
            f"SELECT kind, min(rowid), max(rowid), count(*) FROM {self._changes} GROUP BY kind"
        ).fetchall():
            if int(high) - int(low) + 1 != size:  # chunks are read by rowid range
                raise StateError(f"the planned {kind} rows were not stored in order")
            self._ranges[kind] = (int(low), int(high))
            sizes[kind] = int(size)
        self._refreshable = sizes.get("unchanged", 0) > 0
        self.in_doubt = _entries(
            conn, f"SELECT * FROM {self._snapshot} WHERE pending_op IS NOT NULL"
        )
        invalid = sizes.get("invalid", 0)
        added = sizes.get("added", 0)
        changed = sizes.get("changed", 0)
        self.counts = PlanCounts(
            queried=queried,
            added=added,
            changed=changed,
            removed=sizes.get("removed", 0),
            invalid=invalid,
            unchanged=queried - invalid - added - changed,
            in_doubt=len(self.in_doubt),
            obsolete=sizes.get("obsolete", 0),
        )

    # -- reading -----------------------------------------------------------------------------

    def rows(self, kind: Kind, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[PlannedRow]]:
        """The ``kind`` rows in lists of at most ``chunk``, ordered by primary key text."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        for table in self._slices(kind, chunk):
            yield self._planned(table)

    def removed(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[SnapshotEntry]]:
        """Snapshot entries whose rows left the model and whose records this sync owns."""
        for table in self._slices("removed", chunk):
            yield self._entries_of(table)

    def removed_keys(self) -> list[str]:
        """The primary keys of every removed entry (a few: rows that left since the last run)."""
        low, high = self._ranges.get("removed", (1, 0))
        rows = self._conn.execute(
            f"SELECT pk FROM {self._changes} WHERE rowid BETWEEN $low AND $high",
            {"low": low, "high": high},
        ).fetchall()
        return [str(pk) for (pk,) in rows]

    def leaving(self, pks: Collection[str]) -> set[str]:
        """Which of ``pks`` left the model in this plan (their entries are *removed*)."""
        if not pks:
            return set()
        keys = pa.table({"pk": pa.array(sorted(pks), pa.string())})
        self._conn.register("bcsync_leaving", keys)
        try:
            rows = self._conn.execute(
                f"SELECT pk FROM {self._changes} WHERE kind = 'removed' "
                "AND pk IN (SELECT pk FROM bcsync_leaving)"
            ).fetchall()
        finally:
            self._conn.unregister("bcsync_leaving")
        return {str(pk) for (pk,) in rows}

    def obsolete(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[SnapshotEntry]]:
        """Entries without a BigCommerce id whose rows left the model: nothing to do but forget."""
        for table in self._slices("obsolete", chunk):
            yield self._entries_of(table)

    def invalid(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[InvalidRow]]:
        """Rows with a NULL or duplicate primary key, NULL keys first, then by key."""
        for table in self._slices("invalid", chunk):
            yield [
                InvalidRow(pk=pk, reason=reason)
                for pk, reason in zip(
                    table.column("pk").to_pylist(), table.column("reason").to_pylist(), strict=True
                )
            ]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the temp tables. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for table in (self._kept, self._changes):
            self._conn.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def __enter__(self) -> ChangeSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------------

    def _slices(self, kind: str, chunk: int) -> Iterator[pa.Table]:
        """The rows of ``kind`` as Arrow tables of at most ``chunk`` rows.

        Read ``_FETCH_ROWS`` at a time (one query each, not one per chunk): a query costs more
        than converting a few hundred rows, and a slab of Arrow is small next to the Python
        values made from it one chunk at a time.
        """
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        low, high = self._ranges.get(kind, (1, 0))
        step = max(chunk, _FETCH_ROWS // chunk * chunk)
        for start in range(low, high + 1, step):
            if self._closed:
                raise StateError("this change set was closed")
            slab = self._conn.sql(
                f"SELECT * FROM {self._changes} WHERE rowid BETWEEN $low AND $high ORDER BY rowid",
                params={"low": start, "high": min(start + step - 1, high)},
            ).to_arrow_table()
            for offset in range(0, slab.num_rows, chunk):
                yield slab.slice(offset, chunk)

    def _entries_of(self, table: pa.Table) -> list[SnapshotEntry]:
        return [entry for entry in self._optional_entries(table) if entry is not None]

    def _optional_entries(self, table: pa.Table) -> list[SnapshotEntry | None]:
        """Each row's snapshot entry, None for a row whose key is not in the snapshot."""
        columns = {name: _pylist(table.column(f"e_{name}")) for name in ENTRY_COLUMNS}
        return [
            SnapshotEntry(
                pk=pk,
                row_hash=row_hash,
                dest_id=dest_id,
                status=status,
                attempts=attempts,
                last_error=last_error,
                pending_op=pending_op,
                updated_at=updated_at,
                pending_key=pending_key,
                pending_at=pending_at,
                landed=landed,
                found_key=found_key,
            )
            if pk is not None
            else None
            for (
                pk,
                row_hash,
                dest_id,
                status,
                attempts,
                last_error,
                pending_op,
                updated_at,
                pending_key,
                pending_at,
                landed,
                found_key,
            ) in zip(*(columns[name] for name in ENTRY_COLUMNS), strict=True)
        ]

    def _planned(self, table: pa.Table) -> list[PlannedRow]:
        columns: list[list[Any]] = []
        for i, name in enumerate(self._carried):
            column = _pylist(table.column(f"v{i}"))
            if name in self._decimals:
                column = [_decimals(v) for v in column]
            columns.append(column)
        values = [dict(zip(self._carried, row, strict=True)) for row in zip(*columns, strict=True)]
        return [
            PlannedRow(
                pk=pk, kind=kind, values=row_values, row_hash=row_hash, entry=entry, fast_hash=fast
            )
            for pk, kind, row_hash, row_values, entry, fast in zip(
                table.column("pk").to_pylist(),
                table.column("kind").to_pylist(),
                table.column("row_hash").to_pylist(),
                values,
                self._optional_entries(table),
                table.column("fast").to_pylist(),
                strict=True,
            )
        ]


def _kind_sql(full_resync: bool) -> str:
    """What a row of the model/snapshot full join is (NULL: nothing to do, not even count)."""
    if full_resync:
        return (
            "CASE WHEN present THEN CASE WHEN pk_text IS NULL THEN 'invalid' ELSE 'added' END END"
        )
    return """CASE
        WHEN present IS NULL THEN CASE
            WHEN s_status = 'released' THEN NULL  -- a tombstone: it holds nothing to act on
            WHEN s_op IS NOT NULL THEN CASE
                -- a write in flight when a run died: the record is known, or its create can
                -- be looked up by its key; without either it waits for its row to return
                WHEN s_dest IS NOT NULL OR s_found_by IS NOT NULL THEN 'removed' END
            WHEN s_dest IS NULL THEN 'obsolete'
            WHEN s_status IN ('synced', 'failed') THEN 'removed' END
        WHEN pk_text IS NULL THEN 'invalid'
        WHEN s_pk IS NULL OR s_status = 'released' THEN 'added'
        WHEN s_dest IS NULL AND (s_status <> 'synced' OR s_op IS NOT NULL) THEN 'added'
        WHEN s_op IS NOT NULL OR s_status = 'failed' THEN 'changed'
        WHEN s_hash IS DISTINCT FROM row_hash THEN 'changed'
        ELSE 'unchanged' END"""


def _decimals(text: str | list[Any] | None) -> Any:
    """A ``DECIMAL_TEXT`` value (or list of them) as ``decimal.Decimal``, exactly."""
    if isinstance(text, list):
        return [_decimals(item) for item in text]
    return None if text is None else decimal.Decimal(text)


def _pylist(column: pa.ChunkedArray) -> list[Any]:
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


def _entries(conn: duckdb.DuckDBPyConnection, sql: str) -> list[SnapshotEntry]:
    return [entry_from_row(row) for row in conn.sql(sql).to_arrow_table().to_pylist()]
