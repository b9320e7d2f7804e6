"""Sending one chunk of a run: from planned rows to BigCommerce's answers, one outcome per row.

The engine hands each chunk of added or changed rows to ``ChunkSender.send`` and each chunk of
removed rows to ``ChunkSender.remove``; the outcomes go to the checkpoint. In between, per
DESIGN §3.2 and §3.8: insert mode skips rows that hold a record; rows are validated (the store's
definitions loaded by the first valid row, through ``prepare``); a new row whose key is that of a
record a leaving row made takes that record over; the destination matches; creates BigCommerce
would refuse become invalid rows; one row holds each record (``ownership.claim``); creates and
first writes to a matched record are marked in flight before they are sent, and so are deletes
and clears; a held record deleted outside bcsync is made anew in upsert mode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import (
    After,
    DestinationObject,
    Problem,
    RowOp,
    RowOutcome,
    landed_of,
)
from bcsync.run.ownership import claim, split_removed
from bcsync.run.planner import KINDS, ChangeSet, PlannedRow
from bcsync.run.snapshot import Snapshot, SnapshotEntry
from bcsync.vocabulary import Operation, Outcome, RowKind

CHUNK_ROWS = 1000  # rows per chunk: one checkpoint each


@dataclass
class Preparation:
    """Loads what the store defines (attributes, order statuses) the first time a row is about
    to go to the store, then answers False: an unchanged model, or rows that are invalid
    anyway, cost no API call at all. ``fail_on`` raises the problems found, if any."""

    obj: DestinationObject
    column_types: Mapping[str, str]
    fail_on: Callable[[Sequence[Problem]], None]
    done: bool = False

    async def __call__(self) -> bool:
        if self.done:
            return False
        self.fail_on(await self.obj.prepare(self.column_types, dry_run=False))
        self.done = True
        return True


@dataclass
class ChunkSender:
    """Sends the chunks of one run of ``sync`` through ``obj``, keeping ``snapshot``'s ledger."""

    sync: SyncConfig
    obj: DestinationObject
    snapshot: Snapshot
    changes: ChangeSet
    prepare: Callable[[], Awaitable[bool]]

    async def send_all(
        self,
        save: Callable[..., None],
        uncount: Callable[[str, int], None],
        progress: Callable[[int], None],
        *,
        full_resync: bool,
    ) -> None:
        """The whole change set, chunk by chunk: the invalid rows, the added and changed rows,
        then (unless a full resync) the removed ones. ``save`` checkpoints each chunk's
        outcomes (with its planned rows); a row found invalid before sending is taken out of
        its kind and planned (``uncount``); ``progress`` gets the rows done so far."""
        changes, snapshot = self.changes, self.snapshot
        for invalid_rows in changes.invalid(chunk=CHUNK_ROWS):
            save(
                [
                    RowOutcome(r.pk or "", None, Outcome.INVALID, error=r.reason)
                    for r in invalid_rows
                ]
            )
        done = 0
        for kind in KINDS:
            for chunk in changes.rows(kind, chunk=CHUNK_ROWS):
                outcomes = await self.send(kind, chunk)
                save(outcomes, chunk, kind)
                invalid_here = sum(1 for o in outcomes if o.status == Outcome.INVALID)
                if invalid_here:
                    uncount(kind, invalid_here)
                done += len(chunk)
                progress(done)
        for entries in changes.obsolete(chunk=CHUNK_ROWS):
            snapshot.forget([e.pk for e in entries])  # never reached BigCommerce
        if full_resync:
            return
        for entries in changes.removed(chunk=CHUNK_ROWS):
            if self.sync.on_delete == "clear":
                await self.prepare()
            save(await self.remove(entries), (), RowKind.REMOVED)
            done += len(entries)
            progress(done)

    async def send(self, kind: str, chunk: Sequence[PlannedRow]) -> list[RowOutcome]:
        """The outcomes of a chunk of added or changed rows: skipped, invalid, refused, or
        what BigCommerce answered to their writes.

        Long because its steps are the ownership rules of DESIGN §3.8 in the order they must apply,
        which reads best as one sequence."""
        sync, obj, snapshot, changes, prepare = (
            self.sync,
            self.obj,
            self.snapshot,
            self.changes,
            self.prepare,
        )
        outcomes: list[RowOutcome] = []
        candidates: list[RowOp] = []
        for row in chunk:
            candidate = row_op(kind, row)
            if sync.mode == "insert" and candidate.dest_id is not None and not candidate.retry:
                # Insert mode never updates a record it holds (DESIGN §3.2): nothing to check
                # or send, and the row's hash advances.
                note = f"insert mode does not update existing {obj.name}"
                skipped = RowOutcome(
                    row.pk, None, Outcome.SKIPPED, candidate.dest_id, note, row.row_hash
                )
                outcomes.append(skipped)
                continue
            # Checks that need nothing from the store first: a chunk of rows that are invalid
            # anyway costs no call. The first valid row loads the store's attributes or
            # statuses, and is checked again against them (the rows after it once only).
            reason = obj.validate_row(row.values)
            if reason is None and await prepare():
                reason = obj.validate_row(row.values)
            if reason:
                outcomes.append(RowOutcome(row.pk, None, Outcome.INVALID, error=reason))
                continue
            candidates.append(candidate)
        candidates = self._found_again(candidates)
        decision = await obj.resolve(candidates)
        writes, uncreatable = _creatable(obj, decision.ops)
        outcomes.extend(decision.outcomes + uncreatable)
        holders = snapshot.holders([op.dest_id for op in writes if op.dest_id is not None])
        ops, refused, displaced = claim(writes, holders, changes.leaving, obj.name.rstrip("s"))
        outcomes.extend(refused)
        ops = self._moved_landed(ops, displaced)
        keys = {op.pk: obj.found_by(op) for op in ops}
        # A row holds a record it matched (not made) only once a write to it landed: a rejected
        # write must not keep another row from that record for good.
        matched = {c.pk for c in candidates if not c.in_doubt and c.dest_id is None}
        sent = []
        for o in await self._apply(ops, matched):
            if o.status != "rejected":
                o = replace(o, displaces=displaced.get(o.pk), found_key=keys.get(o.pk))
            elif o.op == "update" and o.pk in matched:
                o = replace(o, dest_id=None)
            sent.append(o)
        # A held record deleted outside bcsync (gone is gone): upsert makes it anew.
        gone = {o.pk for o in sent if o.after == "forget" and o.op == "update"}
        if gone and sync.mode == "upsert":
            again, uncreatable = _creatable(
                obj,
                [
                    replace(op, op=Operation.CREATE, dest_id=None, landed={}, hint=None)
                    for op in ops
                    if op.pk in gone
                ],
            )
            remade = {o.pk: replace(o, after="forget") for o in uncreatable}  # its record is gone
            if again:
                remade.update((o.pk, o) for o in await self._apply(again))
            sent = [_remade(o, remade[o.pk]) if o.pk in remade else o for o in sent]
        return outcomes + sent

    def _moved_landed(self, ops: list[RowOp], displaced: Mapping[str, str]) -> list[RowOp]:
        """A row taking over the record of a row leaving in this run takes over what landed on
        it too (e.g. the addresses that row pinned), so that they stay bcsync's: updated in
        place and cleared later, never left behind as the customer's own (DESIGN §3.8). Not in
        insert mode, which writes a moved record in full (only what never landed is sent)."""
        if not displaced or self.sync.mode == "insert":
            return ops
        leaving = self.snapshot.get(sorted(set(displaced.values())))
        moved = []
        for op in ops:
            entry = leaving.get(displaced.get(op.pk, ""))
            if entry is not None and entry.dest_id == op.dest_id and entry.landed:
                op = replace(op, landed={**landed_of(entry.landed), **op.landed})
            moved.append(op)
        return moved

    def _found_again(self, rows: Sequence[RowOp]) -> list[RowOp]:
        """New rows whose key (an email, an external_order_id) is that of a record this sync
        made for a row that left (a tombstone, or a row leaving in this run) carry that record
        as their hint: the record moves to them instead of being made twice (DESIGN §3.8)."""
        obj = self.obj
        new = {op.pk: obj.found_by(op) for op in rows if op.dest_id is None and op.hint is None}
        keys = [key for key in new.values() if key]
        if not keys:
            return list(rows)
        found = self.snapshot.tombstones_by_key(keys, self.changes.removed_keys())
        return [
            replace(op, hint=found[key])
            if (key := new.get(op.pk)) is not None and key in found
            else op
            for op in rows
        ]

    async def _apply(self, ops: Sequence[RowOp], matched: Collection[str] = ()) -> list[RowOutcome]:
        """Send ``ops``; creates are marked in flight first, with the key they are found by and
        the store's time, so that a lost one is settled by reading BigCommerce (DESIGN §3.8).
        So are first writes to a record the row has just matched (``matched``), with that
        record's id, so that a run killed after the write landed finds the same record again
        even if the row's email changes meanwhile."""
        obj, snapshot = self.obj, self.snapshot
        first = [op for op in ops if op.op == "update" and op.pk in matched]
        if first:
            snapshot.mark_pending(
                [(op.pk, "update") for op in first], {op.pk: op.dest_id for op in first}
            )
        creates = [op for op in ops if op.op == "create"]
        if creates:
            at = await obj.clock()
            snapshot.mark_pending(
                [(op.pk, "create") for op in creates],
                {op.pk: obj.found_by(op) for op in creates},
                at,
            )
            ops = [replace(op, marked_at=at) if op.op == "create" else op for op in ops]
        return list(await obj.apply(ops))

    async def remove(self, entries: Sequence[SnapshotEntry]) -> list[RowOutcome]:
        """The outcomes of a chunk of removed rows, as the sync's ``on_delete`` says."""
        sync, obj, snapshot = self.sync, self.obj, self.snapshot
        # A create in flight when a run died, whose row has left the model since: if it landed
        # (and was made by that create), its record is this sync's like any other.
        lost = [
            (e.pending_key, e.pending_at)
            for e in entries
            if e.dest_id is None and e.pending_key and e.pending_op == "create"
        ]
        found = await obj.find_created(lost) if lost else {}
        located = [e._replace(dest_id=e.dest_id or found.get(e.pending_key or "")) for e in entries]
        holders = snapshot.holders([e.dest_id for e in located if e.dest_id is not None])
        mine, outcomes = split_removed(located, holders)
        ops: list[RowOp] = []
        for e in mine:
            if e.dest_id is None:
                note = (
                    "its create never reached BigCommerce"
                    if e.pending_op != "update"
                    else "its first write to a matched record was never confirmed; left as it is"
                )
                outcomes.append(
                    RowOutcome(e.pk, None, Outcome.SUCCEEDED, None, note=note, after="forget")
                )
            elif sync.on_delete == "nothing":
                note = "left in BigCommerce"
                outcomes.append(
                    RowOutcome(e.pk, None, Outcome.SUCCEEDED, e.dest_id, note=note, after="release")
                )
            else:
                kind = Operation.DELETE if sync.on_delete == "delete" else Operation.CLEAR
                # What landed: a clear removes what bcsync wrote (e.g. the addresses it pinned).
                ops.append(RowOp(e.pk, kind, {}, None, e.dest_id, landed=landed_of(e.landed)))
        if ops:
            # In flight first, with the record's id: a run killed after BigCommerce deleted or
            # cleared the record, before the outcome was recorded, must not leave the entry
            # synced, or the row returning would be unchanged and its record never made again.
            snapshot.mark_pending([(op.pk, op.op) for op in ops], {op.pk: op.dest_id for op in ops})
        for outcome in await obj.apply(ops):
            if outcome.status == "succeeded" and outcome.after is None:
                after: After = "forget" if outcome.op == "delete" else "release"
                outcome = replace(outcome, after=after)
            outcomes.append(outcome)
        return outcomes


def row_op(kind: str, row: PlannedRow) -> RowOp:
    """A planned row as a candidate write, with what its snapshot entry knows."""
    entry = row.entry
    if entry is None:
        return RowOp(row.pk, Operation.CREATE, row.values, row.row_hash)
    if entry.pending_op == "delete":
        # A delete was in flight when a run died: its record may be gone. The row comes back
        # as a tombstone's does, finding that record again if it still exists, else making it.
        return RowOp(row.pk, Operation.CREATE, row.values, row.row_hash, hint=entry.dest_id)
    in_doubt = entry.pending_op == "create"
    # A clear was in flight: any of its targets may have been blanked; all are written again.
    cleared = entry.pending_op == "clear"
    # A first write to a record it had matched was in flight: that record, found again.
    was_writing = entry.pending_key if entry.pending_op == "update" else None
    return RowOp(
        pk=row.pk,
        op=Operation.CREATE if kind == "added" else Operation.UPDATE,
        values=row.values,
        row_hash=row.row_hash,
        dest_id=entry.holds if not in_doubt else None,
        in_doubt=in_doubt,
        found_by=entry.pending_key if in_doubt else None,
        marked_at=entry.pending_at if in_doubt else None,
        landed={} if cleared else landed_of(entry.landed),
        retry=entry.status == "failed" or cleared,
        hint=was_writing or (entry.dest_id if entry.status == "released" else None),
    )


def _creatable(
    obj: DestinationObject, ops: Sequence[RowOp]
) -> tuple[list[RowOp], list[RowOutcome]]:
    """``ops`` without the creates BigCommerce would refuse for a missing required value, and
    those as invalid rows: the check ``check`` and ``plan`` make (``create_problem``)."""
    kept: list[RowOp] = []
    refused: list[RowOutcome] = []
    for op in ops:
        reason = obj.create_problem(op.values) if op.op == "create" else None
        if reason:
            refused.append(RowOutcome(op.pk, Operation.CREATE, Outcome.INVALID, None, reason))
        else:
            kept.append(op)
    return kept, refused


def _remade(gone: RowOutcome, remade: RowOutcome) -> RowOutcome:
    """The outcome of a row whose held record had vanished and that upsert made anew."""
    note = f"{gone.error or gone.note}; created anew"
    return replace(remade, note=note) if remade.status == "succeeded" else remade
