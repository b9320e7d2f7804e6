"""The words every layer shares: run statuses, row kinds, operations, outcomes, and a run's counts.

Each is a ``StrEnum``, so a member *is* its text: it compares equal to ``"failed"``, goes into
JSON and the run store as ``"failed"``, and a value read back from either is turned into a member
with ``RunStatus(text)``. ``Counts`` is a frozen value: a run's counters change by making a new
one (``counts.plus(rejected=1)``), never by mutating a dict passed around.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Waiting to start (``queued``), where a run is (the next three) or how it ended (the rest)."""

    QUEUED = "queued"  # created by a scheduler or the API; an executor has yet to start it
    QUERYING = "querying"
    PLANNING = "planning"
    SYNCING = "syncing"
    SUCCESS = "success"
    WARNING = "warning"  # finished, with rejected or invalid rows
    FAILED = "failed"
    SKIPPED = "skipped"  # refused at the start: another live run held the sync's lock
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process died; found and closed by a later run

    @property
    def running(self) -> bool:
        return self in RUNNING

    @property
    def stopped_short(self) -> bool:
        """Ended before doing all its work (exit code 1)."""
        return self in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED)


RUNNING = (RunStatus.QUERYING, RunStatus.PLANNING, RunStatus.SYNCING)
FINISHED = tuple(status for status in RunStatus if status not in (*RUNNING, RunStatus.QUEUED))


class RowKind(StrEnum):
    """What the plan found for a row, comparing the model with the snapshot."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    INVALID = "invalid"


class Operation(StrEnum):
    """What a row does to its BigCommerce record."""

    CREATE = "create"
    UPDATE = "update"
    CLEAR = "clear"
    DELETE = "delete"
    SKIP = "skip"


class Outcome(StrEnum):
    """How a row's operation ended."""

    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    INVALID = "invalid"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Counts(Mapping[str, int]):
    """A run's counters, in the order of the run JSON (DESIGN §1.2).

    A read-only mapping too (``counts["rejected"]``, ``dict(counts)``), so readers of the JSON
    shape need not know the class.
    """

    queried: int = 0
    invalid: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    planned: int = 0
    succeeded: int = 0
    rejected: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Counts:
        """From any mapping holding some of the keys (others are 0; unknown keys are refused)."""
        unknown = set(values) - set(COUNT_KEYS)
        if unknown:
            raise ValueError(f"unknown run counters {sorted(unknown)}; known: {COUNT_KEYS}")
        return cls(**{key: int(value) for key, value in values.items()})

    def plus(self, **deltas: int) -> Counts:
        return replace(self, **{key: getattr(self, key) + n for key, n in deltas.items()})

    def with_values(self, **values: int) -> Counts:
        return replace(self, **values)

    def to_json(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in COUNT_KEYS}

    def __getitem__(self, key: str) -> int:
        if key not in COUNT_KEYS:
            raise KeyError(key)
        value: int = getattr(self, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(COUNT_KEYS)

    def __len__(self) -> int:
        return len(COUNT_KEYS)


@dataclass(frozen=True)
class SentByKind:
    """How the rows sent of each kind ended: the run history's added, changed and removed, each
    split into succeeded and rejected."""

    added_succeeded: int = 0
    added_rejected: int = 0
    changed_succeeded: int = 0
    changed_rejected: int = 0
    removed_succeeded: int = 0
    removed_rejected: int = 0

    def plus(self, kind: RowKind, outcomes: Mapping[str, int]) -> SentByKind:
        """Add a chunk of ``kind``'s outcomes (counts by outcome; others than these two ignored)."""
        if kind not in (RowKind.ADDED, RowKind.CHANGED, RowKind.REMOVED):
            return self
        succeeded, rejected = f"{kind}_succeeded", f"{kind}_rejected"
        return replace(
            self,
            **{
                succeeded: getattr(self, succeeded) + outcomes.get(Outcome.SUCCEEDED, 0),
                rejected: getattr(self, rejected) + outcomes.get(Outcome.REJECTED, 0),
            },
        )

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            kind: {
                "succeeded": getattr(self, f"{kind}_succeeded"),
                "rejected": getattr(self, f"{kind}_rejected"),
            }
            for kind in (RowKind.ADDED.value, RowKind.CHANGED.value, RowKind.REMOVED.value)
        }


COUNT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Counts))
SENT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SentByKind))
OPERATIONS: tuple[str, ...] = tuple(Operation)
OUTCOMES: tuple[str, ...] = tuple(Outcome)
