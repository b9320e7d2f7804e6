"""The change set: what ``plan()`` decided, kept in DuckDB and handed out in chunks.

A plan's rows live in one temp table of the snapshot's connection (``bcsync.run.planner.sql``
builds it), ordered by kind and key, so each kind is a range of rowids: chunks are read by
range, and only added/changed rows are ever turned into Python values.
"""

from __future__ import annotations

import decimal
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from bcsync.errors import StateError
from bcsync.run.planner.warehouse.report import PlannerReport
from bcsync.run.snapshot import SnapshotEntry, entries_from_arrow, python_values
from bcsync.vocabulary import RowKind

Kind = RowKind  # the kinds of rows sent with their values (removed rows are entries)
KINDS: tuple[RowKind, ...] = (RowKind.ADDED, RowKind.CHANGED)
DEFAULT_CHUNK = 500
# Rows read from DuckDB per query when handing out chunks (see ChangeSet._slices).
_FETCH_ROWS = 5000


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


class ChangeSet:
    """The outcome of ``plan()``: counts, and the rows to act on, read from DuckDB in chunks.

    It lives in a temp table of the snapshot's connection: ``close()`` it (or use ``with``)
    before closing the snapshot. Snapshot writes made while iterating do not change it.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: str,
        *,
        carried: list[str],
        queried: int,
        in_doubt: list[SnapshotEntry],
        decimals: Collection[str] = (),
        timings: dict[str, float] | None = None,
    ) -> None:
        """Take over ``table`` (classified rows, see ``run.planner.sql``), dropped on failure.

        ``carried`` are the model's columns in the table's ``v0``, ``v1``… order; ``queried``
        the model's row count; ``in_doubt`` the entries a crashed run left in flight.
        """
        self._conn = conn
        self._changes = table
        self._carried = carried
        self._decimals = frozenset(decimals)
        self._ranges: dict[str, tuple[int, int]] = {}
        self._closed = False
        self.timings: dict[str, float] = timings or {}  # seconds per planning stage
        self.report: PlannerReport | None = None  # what planning read (set by the planner)
        started = time.perf_counter()
        try:
            sizes = self._ranged()
        except BaseException:
            self.close()
            raise
        self.timings["count"] = time.perf_counter() - started
        # Unchanged rows are stored only when the snapshot lacks their quick hash.
        self._uncached = sizes.get("unchanged", 0) > 0
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
            in_doubt=len(in_doubt),
            obsolete=sizes.get("obsolete", 0),
        )

    def _ranged(self) -> dict[str, int]:
        """Each kind's rowid range (chunks are read by range) and number of rows."""
        sizes: dict[str, int] = {}
        for kind, low, high, size in self._conn.execute(
            f"SELECT kind, min(rowid), max(rowid), count(*) FROM {self._changes} GROUP BY kind"
        ).fetchall():
            if int(high) - int(low) + 1 != size:  # chunks are read by rowid range
                raise StateError(f"the planned {kind} rows were not stored in order")
            self._ranges[kind] = (int(low), int(high))
            sizes[kind] = int(size)
        return sizes

    # -- quick hashes ------------------------------------------------------------------------

    @property
    def uncached(self) -> bool:
        """Whether some unchanged rows' quick hashes are missing from the snapshot's cache."""
        return self._uncached

    def quick_hashes_sql(self) -> str:
        """The unchanged rows' quick hashes, as ``Snapshot.cache_quick_hashes`` reads them."""
        return f"(SELECT pk, fast AS fast_hash FROM {self._changes} WHERE kind = 'unchanged')"

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
            yield _entries_of(table)

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
            yield _entries_of(table)

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
        """Drop the temp table. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._conn.execute(f"DROP TABLE IF EXISTS temp.{self._changes}")

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

    def _planned(self, table: pa.Table) -> list[PlannedRow]:
        columns: list[list[Any]] = []
        for i, name in enumerate(self._carried):
            column = python_values(table.column(f"v{i}"))
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
                entries_from_arrow(table),
                table.column("fast").to_pylist(),
                strict=True,
            )
        ]


def _entries_of(table: pa.Table) -> list[SnapshotEntry]:
    return [entry for entry in entries_from_arrow(table) if entry is not None]


def _decimals(text: str | list[Any] | None) -> Any:
    """A ``DECIMAL_TEXT`` value (or list of them) as ``decimal.Decimal``, exactly."""
    if isinstance(text, list):
        return [_decimals(item) for item in text]
    return None if text is None else decimal.Decimal(text)
