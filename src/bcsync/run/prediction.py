"""What ``plan`` predicts for a chunk of added or changed rows: the operation each would get, the
lookups that costs, and the rows the run would refuse, with the run's own reasons.

A row is invalid in the plan exactly when the run would refuse it: ``validate_row`` for every
row, and for a row the plan predicts a create, ``create_problem`` (a value BigCommerce requires
on create is missing). In upsert mode such a row is only refused if no existing record matches
it, so those rows alone are matched here as the run matches them — reads only, one lookup per
chunk at most — and a row that matches is an update, not an invalid row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import DestinationObject
from bcsync.run.planner import KINDS, ChangeSet, PlannedRow
from bcsync.run.results import PlanResult
from bcsync.run.sending import CHUNK_ROWS, row_op
from bcsync.vocabulary import OPERATIONS, Counts, RowKind

_REMOVED_OP = {"nothing": "skip", "clear": "clear", "delete": "delete"}


async def predict_plan(
    obj: DestinationObject,
    sync: SyncConfig,
    changes: ChangeSet,
    seconds_for: Callable[[int], float],
) -> PlanResult:
    """What the next run of ``sync`` would do with ``changes``: counts, operations, the calls
    they cost and how long those take at the store's pace (``seconds_for``), invalid rows."""
    found = changes.counts
    prediction = Prediction()
    prediction.invalid.extend(
        {"pk": r.pk, "reason": r.reason}
        for chunk in changes.invalid(chunk=CHUNK_ROWS)
        for r in chunk
    )
    refused = Counter[str]()  # rows of each kind found invalid: counted apart
    for kind in KINDS:
        for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
            refused[kind] += await predict(obj, sync, kind, chunk, prediction)
    added, changed = found.added - refused[RowKind.ADDED], found.changed - refused[RowKind.CHANGED]
    operations = dict.fromkeys(OPERATIONS, 0)
    operations.update(prediction.operations)
    operations[_REMOVED_OP[sync.on_delete]] += found.removed
    counts = Counts(
        queried=found.queried,
        invalid=len(prediction.invalid),
        added=added,
        changed=changed,
        removed=found.removed,
        planned=added + changed + found.removed,
    )
    calls = obj.estimate_calls(operations, prediction.lookups)
    return PlanResult(sync.name, counts, operations, calls, seconds_for(calls), prediction.invalid)


@dataclass
class Prediction:
    """The sum of the chunks predicted so far."""

    operations: Counter[str] = field(default_factory=Counter)
    lookups: int = 0
    invalid: list[dict[str, str | None]] = field(default_factory=list)


async def predict(
    obj: DestinationObject,
    sync: SyncConfig,
    kind: str,
    chunk: Sequence[PlannedRow],
    into: Prediction,
) -> int:
    """Add ``chunk``'s prediction to ``into``; returns how many of its rows are invalid."""
    unsure: list[tuple[PlannedRow, str, int]] = []
    refused = 0
    for row in chunk:
        op, lookup = obj.predict(kind, row.entry.holds if row.entry else None)
        reason = obj.validate_row(row.values)
        if reason is None and op == "create":
            reason = obj.create_problem(row.values)
            if reason and sync.mode == "upsert":
                unsure.append((row, reason, lookup))
                continue
        if reason:
            into.invalid.append({"pk": row.pk, "reason": reason})
            refused += 1
            continue
        into.operations[op] += 1
        into.lookups += lookup
    if unsure:
        decision = await obj.resolve([row_op(kind, row) for row, _, _ in unsure])
        matched = {op.pk for op in decision.ops if op.op == "update" and op.dest_id is not None}
        for row, reason, lookup in unsure:
            if row.pk in matched:
                into.operations["update"] += 1
                into.lookups += lookup
            else:
                into.invalid.append({"pk": row.pk, "reason": reason})
                refused += 1
    return refused
