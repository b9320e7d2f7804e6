"""Change detection: diff the model's rows against the sync's snapshot, in DuckDB.

``plan()`` streams the model into a temp table of the snapshot's DuckDB connection, hashing each
row as it arrives (``bcsync.rowhash``), then classifies it against the snapshot (DESIGN §3.1):

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

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal

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

    It lives in temp tables of the snapshot's connection: ``close()`` it (or use ``with``)
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
        self._rows = f"bcsync_rows_{tag}"
        self._changes = f"bcsync_changes_{tag}"
        self._invalid = f"bcsync_invalid_{tag}"
        self._removed = f"bcsync_removed_{tag}"
        self._obsolete = f"bcsync_obsolete_{tag}"
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
        value_cols = [f"v{i}" for i in range(len(self._carried))]
        fields = [
            (
                name,
                field_sql(canonical_sql(quote_ident(name), self._types[name]), self._types[name]),
            )
            for name in hashed
        ]
        pk_canon = canonical_sql(quote_ident(self.primary_key), self._types[self.primary_key])
        raw = ", ".join(
            f"{quote_ident(name)} AS {col}"
            for name, col in zip(self._carried, value_cols, strict=True)
        )
        self._stage(
            "stream_and_hash",
            f"""
            CREATE TEMP TABLE {self._rows} AS
            SELECT {pk_canon} AS pk_text, {row_hash_sql(fields)} AS row_hash, {raw}
            FROM {source}
            """,
        )
        null_reason = quote_literal(f"primary key column {self.primary_key!r} is null")
        dup_prefix = quote_literal("duplicate primary key '")
        dup_suffix = quote_literal(f"' in column {self.primary_key!r} (")
        self._stage(
            "invalid_keys",
            f"""
            CREATE TEMP TABLE {self._invalid} AS
            WITH dups AS (
                SELECT pk_text, count(*) AS n FROM {self._rows}
                WHERE pk_text IS NOT NULL GROUP BY pk_text HAVING count(*) > 1
            )
            SELECT row_number() OVER (ORDER BY pk NULLS FIRST) AS seq, *
            FROM (
                SELECT pk_text AS pk, {null_reason} AS reason
                FROM {self._rows} WHERE pk_text IS NULL
                UNION ALL
                SELECT pk_text, {dup_prefix} || pk_text || {dup_suffix} || n || ' rows)'
                FROM {self._rows} JOIN dups USING (pk_text)
            )
            ORDER BY seq
            """,
        )
        entry = ", ".join(f"s.{name} AS e_{name}" for name in ENTRY_COLUMNS)
        kind = (
            "'added'"
            if full_resync
            else """CASE
                WHEN s.pk IS NULL THEN 'added'
                WHEN s.dest_id IS NULL AND (s.status <> 'synced' OR s.pending_op IS NOT NULL)
                    THEN 'added'
                WHEN s.pending_op IS NOT NULL OR s.status = 'failed' THEN 'changed'
                WHEN s.row_hash IS DISTINCT FROM r.row_hash THEN 'changed'
                ELSE 'unchanged' END"""
        )
        self._stage(
            "diff",
            f"""
            CREATE TEMP TABLE {self._changes} AS
            SELECT row_number() OVER (ORDER BY kind, pk_text) AS seq, *
            FROM (
                SELECT {kind} AS kind, r.*, {entry}
                FROM {self._rows} r
                ANTI JOIN {self._invalid} i ON r.pk_text = i.pk
                LEFT JOIN snapshot s ON s.pk = r.pk_text
                WHERE r.pk_text IS NOT NULL
            )
            WHERE kind <> 'unchanged'
            ORDER BY seq
            """,
        )
        absent = f"""
            SELECT row_number() OVER (ORDER BY s.pk) AS seq, s.*
            FROM snapshot s ANTI JOIN {self._rows} r ON r.pk_text = s.pk
            WHERE s.pending_op IS NULL AND {{condition}} AND NOT {str(full_resync).lower()}
            ORDER BY seq
        """
        removable = "s.status IN ('synced', 'failed') AND s.dest_id IS NOT NULL"
        orphan = "s.dest_id IS NULL"
        self._stage(
            "removed",
            f"CREATE TEMP TABLE {self._removed} AS {absent.format(condition=removable)};"
            f"CREATE TEMP TABLE {self._obsolete} AS {absent.format(condition=orphan)}",
        )
        started = time.perf_counter()
        self._count()
        self.timings["count"] = time.perf_counter() - started

    def _stage(self, name: str, sql: str) -> None:
        started = time.perf_counter()
        self._conn.execute(sql)
        self.timings[name] = time.perf_counter() - started

    def _count(self) -> None:
        conn = self._conn

        def scalar(sql: str) -> int:
            rows = conn.execute(sql).fetchall()
            return int(rows[0][0]) if rows and rows[0][0] is not None else 0

        for kind in KINDS:
            low, high = conn.execute(
                f"SELECT min(seq), max(seq) FROM {self._changes} WHERE kind = ?", [kind]
            ).fetchall()[0]
            if low is not None:
                self._ranges[kind] = (int(low), int(high))
        queried = scalar(f"SELECT count(*) FROM {self._rows}")
        invalid = scalar(f"SELECT count(*) FROM {self._invalid}")
        added, changed = (self._size(kind) for kind in KINDS)
        self.in_doubt = _entries(conn, "SELECT * FROM snapshot WHERE pending_op IS NOT NULL")
        self.counts = PlanCounts(
            queried=queried,
            added=added,
            changed=changed,
            removed=scalar(f"SELECT count(*) FROM {self._removed}"),
            invalid=invalid,
            unchanged=queried - invalid - added - changed,
            in_doubt=len(self.in_doubt),
            obsolete=scalar(f"SELECT count(*) FROM {self._obsolete}"),
        )

    def _size(self, kind: str) -> int:
        low, high = self._ranges.get(kind, (1, 0))
        return high - low + 1

    # -- reading -----------------------------------------------------------------------------

    def rows(self, kind: Kind, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[PlannedRow]]:
        """The ``kind`` rows in lists of at most ``chunk``, ordered by primary key text."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        low, high = self._ranges.get(kind, (1, 0))
        for start in range(low, high + 1, chunk):
            table = self._fetch(self._changes, start, min(start + chunk - 1, high))
            yield self._planned(table)

    def removed(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[SnapshotEntry]]:
        """Snapshot entries whose rows left the model and whose records this sync owns."""
        yield from self._entry_chunks(self._removed, self.counts.removed, chunk)

    def obsolete(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[SnapshotEntry]]:
        """Entries without a BigCommerce id whose rows left the model: nothing to do but forget."""
        yield from self._entry_chunks(self._obsolete, self.counts.obsolete, chunk)

    def invalid(self, *, chunk: int = DEFAULT_CHUNK) -> Iterator[list[InvalidRow]]:
        """Rows with a NULL or duplicate primary key, NULL keys first, then by key."""
        total = self.counts.invalid
        for start in range(1, total + 1, chunk):
            fetched = self._fetch(self._invalid, start, min(start + chunk - 1, total))
            yield [
                InvalidRow(pk=pk, reason=reason)
                for pk, reason in zip(
                    _pylist(fetched.column("pk")), _pylist(fetched.column("reason")), strict=True
                )
            ]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the temp tables. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for table in (self._rows, self._changes, self._invalid, self._removed, self._obsolete):
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

    def _check_open(self) -> None:
        if self._closed:
            raise StateError("this change set was closed")

    def _fetch(self, table: str, low: int, high: int) -> pa.Table:
        self._check_open()
        return self._conn.sql(
            f"SELECT * FROM {table} WHERE seq BETWEEN $low AND $high ORDER BY seq",
            params={"low": low, "high": high},
        ).to_arrow_table()

    def _entry_chunks(self, table: str, total: int, chunk: int) -> Iterator[list[SnapshotEntry]]:
        for start in range(1, total + 1, chunk):
            fetched = self._fetch(table, start, min(start + chunk - 1, total))
            yield [entry_from_row(row) for row in fetched.to_pylist()]

    def _planned(self, table: pa.Table) -> list[PlannedRow]:
        values: list[list[Any]] = []
        for i, name in enumerate(self._carried):
            column = _pylist(table.column(f"v{i}"))
            if name in self._json:
                column = [_parse_json(v) for v in column]
            values.append(column)
        entries = [_pylist(table.column(f"e_{name}")) for name in ENTRY_COLUMNS]
        planned = []
        for n, (pk, kind, row_hash) in enumerate(
            zip(
                _pylist(table.column("pk_text")),
                _pylist(table.column("kind")),
                _pylist(table.column("row_hash")),
                strict=True,
            )
        ):
            entry_values = {name: col[n] for name, col in zip(ENTRY_COLUMNS, entries, strict=True)}
            planned.append(
                PlannedRow(
                    pk=pk,
                    kind=kind,
                    values={name: values[i][n] for i, name in enumerate(self._carried)},
                    row_hash=row_hash,
                    entry=entry_from_row(entry_values) if entry_values["pk"] is not None else None,
                )
            )
        return planned


def _parse_json(text: str | None) -> Any:
    """A JSON value as Python; text that is not JSON stays text (see ``canonical_json``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    return column.combine_chunks().to_pylist(maps_as_pydicts="strict")  # type: ignore[no-any-return]


def _entries(conn: duckdb.DuckDBPyConnection, sql: str) -> list[SnapshotEntry]:
    return [entry_from_row(row) for row in conn.sql(sql).to_arrow_table().to_pylist()]
