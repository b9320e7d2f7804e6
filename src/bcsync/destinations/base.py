"""The seam between the engine and a destination object (customers, orders).

The engine knows rows, operations and outcomes; an object knows BigCommerce. For each chunk of
planned rows the engine asks the object to:

1. ``validate_row``  — type and length errors become *invalid* outcomes before anything is sent;
2. ``resolve``       — decide per row what to do (create / update / skip), matching rows to
                       existing records (pinned id from the snapshot, or batched look-ups);
   ``create_problem`` — a create that lacks a value BigCommerce requires is *invalid*, not sent;
3. ``apply``         — send the operations and return one outcome per operation.

A create left in flight by a crashed run comes back as a row with ``in_doubt=True``; ``resolve``
first looks it up in BigCommerce (a customer by email, an order by ``external_order_id``) so that
nothing is ever created twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bcsync.vocabulary import Operation, Outcome

# What the row's snapshot entry becomes besides its status: ``forget`` (its record is gone, or
# never was), ``release`` (it stays a tombstone: the record stays but the row holds it no more).
After = Literal["forget", "release"]


@dataclass(frozen=True)
class RowOp:
    """One write for one model row."""

    pk: str
    op: Operation  # never SKIP: a skipped row is an outcome, not a write
    values: Mapping[str, Any]  # column name -> value (mapped and match columns)
    row_hash: str | None  # the hash the snapshot takes if the write is confirmed
    dest_id: str | None = None  # BigCommerce id, known for update / clear / delete
    in_doubt: bool = False  # a create of this row was in flight when an earlier run died
    found_by: str | None = None  # that create's key (email as sent, external_order_id)
    marked_at: dt.datetime | None = None  # when that create was marked, in the store's clock
    landed: Mapping[str, Any] = field(default_factory=dict)  # targets confirmed before
    retry: bool = False  # the row's last write failed: some of its targets may be missing
    hint: str | None = None  # the record the row held before it left the model (tombstone)


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one row in this run."""

    pk: str
    op: Operation | None
    status: Outcome
    dest_id: str | None = None
    error: str | None = None  # BigCommerce's message, or the reason a row was invalid/skipped
    row_hash: str | None = None
    note: str | None = None  # e.g. "required fields left as they are: email"
    landed: Mapping[str, Any] | None = None  # the targets confirmed so far (None: unchanged)
    after: After | None = None  # forget or release the row's entry, whatever the status
    displaces: str | None = None  # a leaving row whose record this write took over
    found_key: str | None = None  # how the record is found again (kept in the snapshot)


@dataclass(frozen=True)
class Decision:
    """``resolve``'s answer for a chunk: operations to send and rows settled without a write."""

    ops: list[RowOp] = field(default_factory=list)
    outcomes: list[RowOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """A configuration problem found by ``check``; ``where`` is a key path into the sync config."""

    message: str
    where: tuple[str | int, ...] = ()


class DestinationObject(Protocol):
    """A BigCommerce object type bcsync can sync into."""

    name: str
    probe_path: str  # a cheap read that proves the token has this object's scope

    def column_problems(self, column_types: Mapping[str, str]) -> list[Problem]:
        """Mapped columns whose type cannot become their field's: needs nothing from the store,
        so a run checks it before any call (``prepare`` checks it too)."""
        ...

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        """Load what the store defines (attributes, statuses…) and report what does not fit the
        model's columns (``column_types`` maps column name to Arrow type string). A dry run
        writes nothing to the store."""
        ...

    def predict(self, kind: str, dest_id: str | None) -> tuple[str, int]:
        """For ``plan``: the operation a planned row most likely becomes, and whether it needs
        a look-up (1) or not (0)."""
        ...

    def estimate_calls(self, operations: Mapping[str, int], lookups: int) -> int:
        """For ``plan``: the API calls these operations and look-ups cost."""
        ...

    def static_problems(self) -> list[Problem]:
        """Problems visible from the config alone: unknown fields, unsupported mode or match."""
        ...

    def validate_row(self, values: Mapping[str, Any]) -> str | None:
        """The reason a row cannot be sent (naming the column), or None if it is valid."""
        ...

    def create_problem(self, values: Mapping[str, Any]) -> str | None:
        """Why a new record cannot be made from a row's ``values`` (a field BigCommerce requires
        on create is not mapped, or the row leaves it empty), or None. The one rule behind the
        ``static_problems`` of a mode that creates, the rows ``plan`` shows invalid, and the
        creates a run refuses (the engine checks every create ``resolve`` decides on)."""
        ...

    async def resolve(self, rows: Sequence[RowOp]) -> Decision:
        """Turn candidate rows (op create/update, dest_id pinned or not) into the writes to send."""
        ...

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        """Send the writes; exactly one outcome per op."""
        ...

    def found_by(self, op: RowOp) -> str | None:
        """The key a create of ``op`` is found by in BigCommerce if its answer is lost (a
        customer's email, an order's ``external_order_id``); kept while the create is in
        flight, so that it can be settled even after its row leaves the model."""
        ...

    async def find_created(self, marks: Sequence[tuple[str, dt.datetime | None]]) -> dict[str, str]:
        """Records made by creates marked in flight, given as (``found_by`` key, time marked),
        as key → BigCommerce id. A record found under a key but created before its mark was
        not made by that create and is left out (DESIGN §3.8)."""
        ...

    async def clock(self) -> dt.datetime:
        """The store's time now, which marks creates in flight."""
        ...


def landed_of(text: str | None) -> dict[str, Any]:
    """A snapshot entry's ``landed`` JSON as a dict (write target → what was confirmed)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def landed_json(landed: Mapping[str, Any] | None) -> str | None:
    return None if landed is None else json.dumps(dict(landed), sort_keys=True)
