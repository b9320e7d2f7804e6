"""Creates whose answer was lost, and the rows insert mode leaves alone: one rule for every object.

BigCommerce may apply a create and lose the answer (a 5xx, a timeout): the client raises
``AmbiguousWriteError`` and never re-sends it (DESIGN §3.8). The create is settled by reading
BigCommerce with the key it was sent with (a customer's email, an order's ``external_order_id``):
a record made by that create is the row's; a record that was there before is not ours to take
(insert mode never takes over a record); nothing found means nothing was made, so the create is
sent once more. Objects differ only in how they find a record and prove it is theirs, which
they give as a :class:`RecordKind`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bcsync.destinations.base import RowOp, RowOutcome
from bcsync.errors import AmbiguousWriteError, ApiError
from bcsync.vocabulary import Operation, Outcome

Record = Mapping[str, Any]


@dataclass(frozen=True)
class RecordKind:
    """What an object tells the shared rules: its names, the field a lost create is found by, and
    the evidence that a found record was made by a row's create."""

    noun: str  # "customer"
    plural: str  # "customers"
    key_field: str  # the record field the create is found by: "email", "external_order_id"
    lost_twice: str  # the reason given when the create is lost again after settling
    made_by: Callable[[RowOp, Record], bool]

    def not_adopted(self, row: RowOp, record: Record) -> RowOutcome:
        """Insert mode found a record under the row's key that its own create did not make."""
        reason = (
            f"{self.noun} {record['id']} with {self.key_field} {record.get(self.key_field)!r} "
            f"already existed before this sync's create; insert mode never takes over an "
            f"existing {self.noun}"
        )
        return RowOutcome(row.pk, Operation.CREATE, Outcome.REJECTED, None, reason)

    def insert_skip(self, row: RowOp) -> RowOutcome:
        """A row that holds a record and has nothing to finish: insert mode leaves it as it is."""
        note = f"insert mode does not update existing {self.plural}"
        return RowOutcome(row.pk, None, Outcome.SKIPPED, row.dest_id, note, row.row_hash)


@dataclass(frozen=True)
class Created:
    """What a round of creates settled: the new record id per pk, the reason per pk refused, and
    an error that stopped a re-send after part of the round was already settled (the caller
    treats it as if the whole send had raised it, keeping what was settled)."""

    ids: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    failed: ApiError | None = None

    def then(self, later: Created) -> Created:
        """This round followed by ``later``: a later reason replaces an earlier one."""
        return Created({**self.ids, **later.ids}, {**self.errors, **later.errors}, later.failed)

    def settled(self, pk: str) -> bool:
        return pk in self.ids or pk in self.errors


Send = Callable[[Sequence[RowOp]], Awaitable[Created]]
Find = Callable[[Sequence[RowOp]], Awaitable[Mapping[str, Record]]]


async def create_settled(
    ops: Sequence[RowOp], send: Send, find: Find, kind: RecordKind, *, resent: bool = False
) -> Created:
    """Send creates with ``send``; if the answer is lost, ``find`` the records by the rows' keys
    (pk → record) and settle each row; rows with nothing found are sent once more, and refused if
    that answer is lost too."""
    try:
        return await send(ops)
    except AmbiguousWriteError as exc:
        lost = exc
    found = await find(ops)
    ids: dict[str, str] = {}
    errors: dict[str, str] = {}
    missing: list[RowOp] = []
    for op in ops:
        record = found.get(op.pk)
        if record is None:
            missing.append(op)
        elif kind.made_by(op, record):
            ids[op.pk] = str(record["id"])
        else:  # it was there before this create: not ours to take
            errors[op.pk] = kind.not_adopted(op, record).error or ""
    settled = Created(ids, errors)
    if missing and resent:
        return settled.then(Created(errors={op.pk: f"{kind.lost_twice}: {lost}" for op in missing}))
    if not missing:
        return settled
    try:
        again = await create_settled(missing, send, find, kind, resent=True)
    except ApiError as exc:
        if not ids and not errors:
            raise
        return Created(ids, errors, exc)
    return settled.then(again)
