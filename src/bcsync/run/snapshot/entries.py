"""A snapshot's entries as values: one primary key's entry, the outcomes a run records, the
summary ``bcsync state show`` prints, and where a sync's snapshot file lives (see
``bcsync.run.snapshot`` for what an entry means)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa

Status = Literal["synced", "failed", "pending", "released"]
Op = Literal["create", "update", "clear", "delete"]
OPS: frozenset[str] = frozenset(("create", "update", "clear", "delete"))
_UTC_MICROS = pa.timestamp("us", tz="UTC")

ENTRY_COLUMNS = (
    "pk",
    "row_hash",
    "dest_id",
    "status",
    "attempts",
    "last_error",
    "pending_op",
    "updated_at",
    "pending_key",
    "pending_at",
    "landed",
    "found_key",
)


def snapshot_path(project_dir: Path, sync: str) -> Path:
    """Where a sync's snapshot (or, with a PostgreSQL run store, its local copy) lives."""
    return project_dir / ".bcsync" / "snapshots" / f"{sync}.duckdb"


class SnapshotEntry(NamedTuple):
    """One primary key's entry. A NamedTuple, not a dataclass: a plan makes one per row to
    send, and a NamedTuple is made in half the time of a frozen dataclass."""

    pk: str
    row_hash: str | None
    dest_id: str | None
    status: Status
    attempts: int
    last_error: str | None
    pending_op: Op | None
    updated_at: dt.datetime
    # How a create in flight is found again if its row leaves the model (an email, an
    # external_order_id): without it, a create that landed could not be cleared or deleted.
    pending_key: str | None = None
    pending_at: dt.datetime | None = None  # when the write was marked, in the store's clock
    landed: str | None = None  # JSON: write target -> what BigCommerce confirmed (see module)
    found_key: str | None = None  # how its record is found (email as sent, external_order_id)

    @property
    def in_doubt(self) -> bool:
        """A write was marked in flight and its outcome never recorded."""
        return self.pending_op is not None

    @property
    def holds(self) -> str | None:
        """The record this row holds (DESIGN §3.8), None for a tombstone or a row without one."""
        return None if self.status == "released" else self.dest_id


@dataclass(frozen=True)
class Confirmed:
    """BigCommerce confirmed the write of ``pk`` with values hashing to ``row_hash``.

    ``dest_id`` None keeps the id already pinned.
    """

    pk: str
    row_hash: str
    dest_id: str | None
    fast_hash: int | None = None  # the quick hash of the written values, when known
    landed: str | None = None  # JSON of the targets confirmed (None keeps the stored one)
    found_key: str | None = None  # how the record is found again (None keeps the stored one)


@dataclass(frozen=True)
class Failed:
    """BigCommerce rejected the write of ``pk``; ``dest_id`` None keeps the id already pinned."""

    pk: str
    error: str
    dest_id: str | None = None
    landed: str | None = None  # JSON of the targets that did land (None keeps the stored one)


@dataclass(frozen=True)
class SnapshotSummary:
    total: int
    synced: int
    failed: int
    pending: int
    in_doubt: int
    owned: int  # entries that hold a record: the records this sync created or matched
    unsettled: int  # failed or in doubt (an entry can be both): what ``unsettled()`` lists
    released: int = 0  # tombstones: rows that left the model, or every row after a reset

    def to_json(self) -> dict[str, int]:
        return {
            "total": self.total,
            "synced": self.synced,
            "failed": self.failed,
            "pending": self.pending,
            "in_doubt": self.in_doubt,
            "owned": self.owned,
            "unsettled": self.unsettled,
            "released": self.released,
        }


def entry_from_row(row: dict[str, Any]) -> SnapshotEntry:
    """A SnapshotEntry from a mapping holding ``ENTRY_COLUMNS``."""
    return SnapshotEntry(
        pk=row["pk"],
        row_hash=row["row_hash"],
        dest_id=row["dest_id"],
        status=row["status"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        pending_op=row["pending_op"],
        updated_at=row["updated_at"],
        pending_key=row.get("pending_key"),
        pending_at=row.get("pending_at"),
        landed=row.get("landed"),
        found_key=row.get("found_key"),
    )
