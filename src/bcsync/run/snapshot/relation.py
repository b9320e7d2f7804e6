"""The snapshot's read API for the planner: its entries as a relation that SQL on the
snapshot's connection joins, and the entries read back from the Arrow rows of such a join."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import pyarrow as pa

from bcsync.run.rowhash import canonical_sql
from bcsync.run.snapshot.entries import _UTC_MICROS, ENTRY_COLUMNS, SnapshotEntry

if TYPE_CHECKING:
    from duckdb.sqltypes import DuckDBPyType

# Key types whose every value is a BIGINT, whose canonical text is that BIGINT's.
_BIGINT_KEYS = {"tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint", "uinteger"}


def entries_from_arrow(table: pa.Table, prefix: str = "e_") -> list[SnapshotEntry | None]:
    """Each row's entry from the columns ``<prefix><entry column>`` (``SnapshotRelation.entry_sql``
    selects them), None for a row whose key is not in the snapshot."""
    columns = [python_values(table.column(f"{prefix}{name}")) for name in ENTRY_COLUMNS]
    # ENTRY_COLUMNS are SnapshotEntry's fields in order: positional is the fastest way to make one.
    return [
        SnapshotEntry(*row) if row[0] is not None else None for row in zip(*columns, strict=True)
    ]


def python_values(column: pa.ChunkedArray) -> list[Any]:
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


class JoinKey(NamedTuple):
    """How a model's key column meets the snapshot's keys: both sides as SQL."""

    model: str  # the model's key, as the snapshot's join column holds it
    snapshot: str  # the snapshot's join column


@dataclass(frozen=True)
class SnapshotRelation:
    """The snapshot's entries as a relation that SQL on the snapshot's connection reads: the
    planner diffs a model against it without spelling the snapshot's table or columns.

    ``table`` names the table with its database, so it still resolves while another database
    is the connection's default (a DuckDB model attached to it, ``bcsync.warehouse.duckdb``).
    Entries are located by their ``rowid``, which moves only when the table is written: a
    reader that locates entries found by an earlier statement runs both in one transaction.
    """

    table: str
    entry_columns: tuple[str, ...] = ENTRY_COLUMNS

    def join_key(self, key_sql: str, key_type: DuckDBPyType) -> JoinKey:
        """How a model key ``key_sql`` of ``key_type`` joins the entries' keys."""
        if key_type.id in _BIGINT_KEYS:
            # Integer keys join on pk_int: no text is made for the 99% of rows unchanged.
            return JoinKey(f"CAST({key_sql} AS BIGINT)", "pk_int")
        return JoinKey(canonical_sql(key_sql, key_type), "pk")

    def scan_sql(self, key: JoinKey) -> str:
        """Every entry's join key (``s_key``), place (``s_rowid``) and cached quick hash
        (``s_fast``, NULL when none): narrow, for the side of a join DuckDB builds its table on."""
        return (
            f"SELECT {key.snapshot} AS s_key, rowid AS s_rowid, fast_hash AS s_fast "
            f"FROM {self.table}"
        )

    def count_sql(self) -> str:
        """The number of entries."""
        return f"SELECT count(*) FROM {self.table}"

    def at_sql(self, alias: str, place: str) -> str:
        """A join target: the entry whose ``s_rowid`` (from ``scan_sql``) is ``place``."""
        return f"{self.table} {alias} ON {alias}.rowid = {place}"

    def key_sql(self, alias: str) -> str:
        """The primary key (canonical text) of the entry joined as ``alias``."""
        return f"{alias}.pk"

    def entry_sql(self, alias: str, prefix: str = "e_") -> str:
        """The select list of the entry joined as ``alias``: each of ``entry_columns`` as
        ``<prefix><column>``, which ``entries_from_arrow`` reads back."""
        return ", ".join(f"{alias}.{name} AS {prefix}{name}" for name in self.entry_columns)
