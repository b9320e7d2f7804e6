"""Record ownership (DESIGN §3.8): which BigCommerce records a sync may write, and which row holds
each — the rules that keep bcsync from touching, duplicating or losing a record.

The ledger is the sync's snapshot (``bcsync.run.snapshot``): an entry that is ``synced`` or
``failed`` with a record id *holds* that record; a create in flight keeps the key it is found by
and when it was marked, in the store's clock; a ``released`` entry is a tombstone that holds
nothing but remembers the record, so a row that comes back finds it again. The rules:

1. **One holder.** A record is held by at most one live row. A row that resolves to a record
   another live row holds is rejected with a reason (``claim``), except when the holder is leaving
   the model in the same run: the holding moves, and the leaving row is released, not deleted
   (``split_removed``).
2. **Delete only what no row holds**, and only records this sync created or matched: removed
   rows clear or delete their own record, never one another row now holds.
3. **Insert never adopts.** A lost create is ours only if the record found was created at or after
   the create was marked (``made_by_create``); otherwise the row is rejected, the record untouched.
4. **Settle before re-sending**, by the in-flight key, whatever the row's values are now (the
   objects' ``resolve``, with ``RowOp.found_by`` and ``RowOp.marked_at``).
5. **Records are found again**: tombstones keep the record (``RowOp.hint``); orders are also found
   by their ``external_order_id``.
6. **Gone is gone**: a held record that no longer exists is released (outcome ``after=forget``).
7. **Synced only when every write target landed** (``bcsync.destinations.bigcommerce.targets``).
8. **Guards count in-flight creates as owned** (``Snapshot.count``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from bcsync.destinations.base import RowOp, RowOutcome
from bcsync.run.snapshot import SnapshotEntry
from bcsync.vocabulary import Outcome


def made_by_create(record: Mapping[str, Any], marked_at: dt.datetime | None) -> bool:
    """Whether ``record`` can have been made by a create marked in flight at ``marked_at``:
    created at or after the mark, both in the store's clock (whole seconds). Without a mark
    (made by an older bcsync) or a readable ``date_created`` there is no evidence."""
    created = _moment(record.get("date_created"))
    if created is None or marked_at is None:
        return False
    return created >= marked_at.replace(microsecond=0)


def claim(
    ops: Sequence[RowOp],
    holders: Mapping[str, Sequence[str]],
    leaving: Callable[[Collection[str]], set[str]],
    what: str,
) -> tuple[list[RowOp], list[RowOutcome], dict[str, str]]:
    """Keep the writes whose record no other live row holds (rule 1); reject the others.

    ``holders`` maps record ids to the rows holding each (from the snapshot); ``leaving`` says
    which of some rows left the model in this run. Within ``ops``, a record wanted by several
    rows goes to its holder, or else to the first row by key. Also returns, per kept row that
    takes a record over from a leaving row, that row: it must be released in the same step
    that confirms the new holder, so a crash never leaves two rows holding one record."""
    writing = {op.pk for op in ops}
    others = {pk for op in ops for pk in holders.get(str(op.dest_id), ())} - writing
    gone = leaving(others) if others else set()
    taken: dict[str, str] = {}
    for op in sorted(ops, key=lambda o: (o.pk not in holders.get(str(o.dest_id), ()), o.pk)):
        if op.dest_id is None:
            continue
        live = [pk for pk in holders.get(op.dest_id, ()) if pk != op.pk and pk not in gone]
        taken.setdefault(op.dest_id, live[0] if live else op.pk)
    kept: list[RowOp] = []
    rejected: list[RowOutcome] = []
    displaced: dict[str, str] = {}
    for op in ops:
        owner = taken.get(str(op.dest_id), op.pk) if op.dest_id is not None else op.pk
        if owner == op.pk:
            kept.append(op)
            leaving_holders = [pk for pk in holders.get(str(op.dest_id), ()) if pk in gone]
            if leaving_holders:
                displaced[op.pk] = leaving_holders[0]
        else:
            reason = (
                f"{what} {op.dest_id} is already the record of row '{owner}' of this sync; "
                "a record is held by one row only"
            )
            rejected.append(RowOutcome(op.pk, op.op, Outcome.REJECTED, None, reason))
    return kept, rejected, displaced


def split_removed(
    entries: Sequence[SnapshotEntry], holders: Mapping[str, Sequence[str]]
) -> tuple[list[SnapshotEntry], list[RowOutcome]]:
    """Removed rows whose record is still theirs to clear or delete, and outcomes releasing
    those whose record another row holds now (rule 2: the holding moved)."""
    mine: list[SnapshotEntry] = []
    moved: list[RowOutcome] = []
    for entry in entries:
        others = [pk for pk in holders.get(str(entry.dest_id), ()) if pk != entry.pk]
        if entry.dest_id is not None and others:
            note = f"record {entry.dest_id} is now held by row '{others[0]}'; left in place"
            moved.append(
                RowOutcome(
                    entry.pk, None, Outcome.SUCCEEDED, entry.dest_id, note=note, after="release"
                )
            )
        else:
            mine.append(entry)
    return mine, moved


def _moment(value: Any) -> dt.datetime | None:
    """A BigCommerce date: ISO 8601 (v3) or RFC 2822 (v2), as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
