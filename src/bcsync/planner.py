"""Change detection: diff the model's rows against the sync's snapshot, in DuckDB.

``plan()`` reads the model stream once: each row is hashed as it arrives (``bcsync.rowhash``) and
joined with the snapshot in the same pass, in the snapshot's DuckDB connection; only the rows to
act on keep their values. Each row is classified against the snapshot (DESIGN §3.1):

- *added*: the key is not in the snapshot, or is there without a BigCommerce id and not synced
  (a create that failed or is in doubt);
- *changed*: the hash differs from the last confirmed write, or the entry is ``failed`` (retried
  every run with the latest values), or a write to its id is in doubt;
- *removed*: the key is in the snapshot as ``synced`` or ``failed`` with an id, and absent now;
- *invalid*: a NULL key, or a key shared by several rows (every one of them is invalid);
- *in doubt*: entries a crashed run left in flight, listed apart for the engine to settle.

The result is a ``ChangeSet`` that keeps the rows in DuckDB and hands them out in chunks; only
added/changed rows are ever turned into Python values.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from duckdb.sqltypes import DuckDBPyType

from bcsync.errors import ConfigError, StateError
from bcsync.rowhash import (
    canonical_json,
    canonical_sql,
    field_sql,
    is_json,
    quote_ident,
    quote_literal,
    row_hash_sql,
)
from bcsync.snapshot import ENTRY_COLUMNS, Snapshot, SnapshotEntry, entry_from_row

Kind = Literal["added", "changed"]
KINDS: tuple[Kind, ...] = ("added", "changed")
DEFAULT_CHUNK = 500
# Rows read from DuckDB per query when handing out chunks (see ChangeSet._slices).
_FETCH_ROWS = 5000
_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class PlannedRow:
    """A model row to send. ``values`` holds the pk column and ``columns`` as Python values."""

    pk: str
    kind: Kind
    values: dict[str, Any]
    row_hash: str
    entry: SnapshotEntry | None


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
    batches: pa.RecordBatchReader,
    snapshot: Snapshot,
    *,
    primary_key: str,
    columns: Sequence[str],
    full_resync: bool = False,
) -> ChangeSet:
    """Diff the model's rows against ``snapshot``.

    ``columns`` are the match column and the mapped columns; only they are hashed and returned.
    Raises ``ConfigError`` naming the column when the key or a column is missing from the model.
    ``full_resync`` makes every valid row *added* (carrying its snapshot entry) and removes nothing.
    """
    _check_columns(batches.schema, primary_key, columns)
    hashed = list(dict.fromkeys(columns))
    carried = list(dict.fromkeys([primary_key, *hashed]))
    conn = snapshot.connection
    tag = uuid.uuid4().hex[:12]
    source = f"bcsync_model_{tag}"
    conn.register(source, _with_canonical_json(batches, carried))
    try:
        projection = ", ".join(quote_ident(name) for name in carried)
        types = dict(
            zip(carried, conn.sql(f"SELECT {projection} FROM {source}").types, strict=True)
        )
        changes = ChangeSet(conn, tag, primary_key, carried, types)
        try:
            changes._build(source, hashed, full_resync=full_resync)
        except BaseException:
            changes.close()
            raise
    except duckdb.Error as exc:
        raise StateError(f"planning against snapshot {snapshot.path} failed: {exc}") from exc
    finally:
        conn.unregister(source)
    return changes


def _with_canonical_json(
    batches: pa.RecordBatchReader, carried: Sequence[str]
) -> pa.RecordBatchReader:
    """The same stream with JSON columns rewritten by ``canonical_json``.

    JSON needs a parser to canonicalise, which DuckDB SQL lacks; only JSON columns pay for it.
    """
    schema = batches.schema
    positions = [i for i, f in enumerate(schema) if f.name in carried and _is_json(f.type)]
    if not positions:
        return batches

    def rewritten() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            arrays = list(batch.columns)
            for i in positions:
                json_type = schema.field(i).type
                text = arrays[i].storage.to_pylist()
                storage = pa.array([canonical_json(v) for v in text], json_type.storage_type)
                arrays[i] = pa.ExtensionArray.from_storage(json_type, storage)
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, rewritten())


def _is_json(arrow_type: pa.DataType) -> bool:
    return (
        isinstance(arrow_type, pa.BaseExtensionType) and arrow_type.extension_name == "arrow.json"
    )


def _check_columns(schema: pa.Schema, primary_key: str, columns: Sequence[str]) -> None:
    available = schema.names
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
    ) -> None:
        self._conn = conn
        self._paired = f"bcsync_paired_{tag}"
        self._changes = f"bcsync_changes_{tag}"
        self.primary_key = primary_key
        self._carried = carried
        self._json = {name for name, t in types.items() if is_json(t)}
        self._types = types
        self._ranges: dict[str, tuple[int, int]] = {}
        self._closed = False
        self.counts = PlanCounts(0, 0, 0, 0, 0, 0, 0, 0)
        self.in_doubt: list[SnapshotEntry] = []
        self.timings: dict[str, float] = {}  # seconds per planning stage, for diagnostics

    # -- building ----------------------------------------------------------------------------

    def _build(self, source: str, hashed: list[str], *, full_resync: bool) -> None:
        """Two statements: one pass over the stream, then one over its narrow result.

        1. ``paired``: each model row hashed and full-outer-joined with the snapshot as it
           streams, so the model is read once. Every row keeps its key (for duplicate keys and
           removals), but only added/changed rows (about 1% on a typical run) keep their
           values and hash; the others store NULLs, which cost next to nothing.
        2. ``changes``: the rows to act on (added, changed, invalid, removed, obsolete), one
           kind after the other, ordered by key and numbered, with their snapshot entries.
        """
        fields = [
            (
                name,
                field_sql(canonical_sql(quote_ident(name), self._types[name]), self._types[name]),
            )
            for name in hashed
        ]
        pk_canon = canonical_sql(quote_ident(self.primary_key), self._types[self.primary_key])
        values = [f"v{i}" for i in range(len(self._carried))]
        raw = ", ".join(
            f"{quote_ident(name)} AS {col}" for name, col in zip(self._carried, values, strict=True)
        )
        kept = "kind IN ('added', 'changed')"
        kept_values = ", ".join(f"CASE WHEN {kept} THEN {col} END AS {col}" for col in values)
        self._stage(
            "stream_hash_join",
            f"""
            CREATE TEMP TABLE {self._paired} AS
            WITH model AS (
                SELECT {pk_canon} AS pk_text, {row_hash_sql(fields)} AS row_hash, {raw},
                       TRUE AS present
                FROM {source}
            ), paired AS (
                SELECT m.*, s.pk AS s_pk, s.row_hash AS s_hash, s.dest_id AS s_dest,
                       s.status AS s_status, s.pending_op AS s_op
                FROM model m FULL OUTER JOIN snapshot s ON s.pk = m.pk_text
            ), classified AS (
                SELECT *, {_kind_sql(full_resync)} AS kind FROM paired
            )
            SELECT coalesce(pk_text, s_pk) AS pk, present, kind,
                   CASE WHEN {kept} THEN row_hash END AS row_hash, {kept_values}
            FROM classified
            WHERE kind IS NOT NULL
            """,
        )
        null_reason = quote_literal(f"primary key column {self.primary_key!r} is null")
        dup_prefix = quote_literal("duplicate primary key '")
        dup_suffix = quote_literal(f"' in column {self.primary_key!r} (")
        entry = ", ".join(f"s.{name} AS e_{name}" for name in ENTRY_COLUMNS)
        self._stage(
            "classify",
            f"""
            CREATE TEMP TABLE {self._changes} AS
            WITH duplicates AS (
                SELECT pk, count(*) AS copies FROM {self._paired}
                WHERE present AND pk IS NOT NULL GROUP BY pk HAVING count(*) > 1
            ), acted AS (
                SELECT CASE WHEN p.pk IS NULL OR d.copies IS NOT NULL THEN 'invalid'
                            ELSE p.kind END AS kind,
                       p.pk, p.row_hash, {", ".join(f"p.{col}" for col in values)},
                       CASE WHEN p.pk IS NULL THEN {null_reason}
                            WHEN d.copies IS NOT NULL
                            THEN {dup_prefix} || p.pk || {dup_suffix} || d.copies || ' rows)'
                       END AS reason
                FROM {self._paired} p LEFT JOIN duplicates d ON d.pk = p.pk
                WHERE p.kind <> 'unchanged' OR d.copies IS NOT NULL
            )
            SELECT row_number() OVER (ORDER BY a.kind, a.pk NULLS FIRST) AS seq, a.*, {entry}
            FROM acted a LEFT JOIN snapshot s ON s.pk = a.pk AND a.kind <> 'invalid'
            ORDER BY seq
            """,
        )
        started = time.perf_counter()
        self._count()
        self._conn.execute(f"DROP TABLE {self._paired}")
        self.timings["count"] = time.perf_counter() - started

    def _stage(self, name: str, sql: str) -> None:
        started = time.perf_counter()
        self._conn.execute(sql)
        self.timings[name] = time.perf_counter() - started

    def _count(self) -> None:
        conn = self._conn
        sizes: dict[str, int] = {}
        for kind, low, high in conn.execute(
            f"SELECT kind, min(seq), max(seq) FROM {self._changes} GROUP BY kind"
        ).fetchall():
            self._ranges[kind] = (int(low), int(high))
            sizes[kind] = int(high) - int(low) + 1
        queried = int(
            conn.execute(f"SELECT count(*) FROM {self._paired} WHERE present").fetchall()[0][0]
        )
        self.in_doubt = _entries(conn, "SELECT * FROM snapshot WHERE pending_op IS NOT NULL")
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
        for table in (self._paired, self._changes):
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
                f"SELECT * FROM {self._changes} WHERE seq BETWEEN $low AND $high ORDER BY seq",
                params={"low": start, "high": min(start + step - 1, high)},
            ).to_arrow_table()
            for offset in range(0, slab.num_rows, chunk):
                yield slab.slice(offset, chunk)

    def _entries_of(self, table: pa.Table) -> list[SnapshotEntry]:
        return [entry for entry in self._optional_entries(table) if entry is not None]

    def _optional_entries(self, table: pa.Table) -> list[SnapshotEntry | None]:
        """Each row's snapshot entry, None for a row whose key is not in the snapshot."""
        columns = [_pylist(table.column(f"e_{name}")) for name in ENTRY_COLUMNS]
        return [
            entry_from_row(dict(zip(ENTRY_COLUMNS, values, strict=True)))
            if values[0] is not None
            else None
            for values in zip(*columns, strict=True)
        ]

    def _planned(self, table: pa.Table) -> list[PlannedRow]:
        columns: list[list[Any]] = []
        for i, name in enumerate(self._carried):
            column = _pylist(table.column(f"v{i}"))
            if name in self._json:
                column = [_parse_json(v) for v in column]
            columns.append(column)
        values = [dict(zip(self._carried, row, strict=True)) for row in zip(*columns, strict=True)]
        return [
            PlannedRow(pk=pk, kind=kind, values=row_values, row_hash=row_hash, entry=entry)
            for pk, kind, row_hash, row_values, entry in zip(
                table.column("pk").to_pylist(),
                table.column("kind").to_pylist(),
                table.column("row_hash").to_pylist(),
                values,
                self._optional_entries(table),
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
            WHEN s_op IS NOT NULL THEN NULL
            WHEN s_dest IS NULL THEN 'obsolete'
            WHEN s_status IN ('synced', 'failed') THEN 'removed' END
        WHEN pk_text IS NULL THEN 'invalid'
        WHEN s_pk IS NULL THEN 'added'
        WHEN s_dest IS NULL AND (s_status <> 'synced' OR s_op IS NOT NULL) THEN 'added'
        WHEN s_op IS NOT NULL OR s_status = 'failed' THEN 'changed'
        WHEN s_hash IS DISTINCT FROM row_hash THEN 'changed'
        ELSE 'unchanged' END"""


def _parse_json(text: str | None) -> Any:
    """A JSON value as Python; text that is not JSON stays text (see ``canonical_json``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """The column as Python values, as ``to_pylist`` gives them (maps as dicts)."""
    if column.type == _UTC_MICROS:
        # pyarrow converts each aware timestamp through the time zone database (~3 µs a value);
        # an offset from an aware epoch gives equal datetimes, with the same tzinfo, 6× faster.
        epoch = dt.datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
        # (view, not cast: cast would import pyarrow.compute, 50 ms, on the first chunk)
        micros = [v for part in column.chunks for v in part.view(pa.int64()).to_pylist()]
        return [None if v is None else epoch + dt.timedelta(microseconds=v) for v in micros]
    return column.to_pylist(maps_as_pydicts="strict")  # type: ignore[no-any-return]


def _entries(conn: duckdb.DuckDBPyConnection, sql: str) -> list[SnapshotEntry]:
    return [entry_from_row(row) for row in conn.sql(sql).to_arrow_table().to_pylist()]
