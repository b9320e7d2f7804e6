"""Matching model rows to existing BigCommerce customers, by id or email, and the look-ups.

Email and id look-ups go 50 to a request (DESIGN §3.4). A create whose answer was lost is found
again by the email it was sent with (``CUSTOMER``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import Decision, RowOp, RowOutcome
from bcsync.destinations.bigcommerce.batching import chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.creates import RecordKind
from bcsync.destinations.bigcommerce.fields import FieldSpec, convert
from bcsync.run.ownership import made_by_create
from bcsync.vocabulary import Operation, Outcome

LOOKUP_BATCH = 50


def _norm_email(value: Any) -> str:
    return str(value).strip().casefold()


# A lost create is found by the email it was sent with, and is ours if made after its mark.
CUSTOMER = RecordKind(
    noun="customer",
    plural="customers",
    key_field="email",
    lost_twice="create failed twice without an answer",
    made_by=lambda row, record: made_by_create(record, row.marked_at),
)


class CustomerMatching:
    """The customers object's matching half: which customer, if any, each row writes to."""

    sync: SyncConfig
    client: BigCommerceClient
    email_column: str | None

    async def resolve(self, rows: Sequence[RowOp]) -> Decision:
        """Decide each row's write (DESIGN §3.2, §3.8). A row that holds a customer updates it
        (insert mode only finishes its own create); a create left in flight is settled by the
        email it was sent with; a row back from a tombstone looks for the customer it held;
        the others are matched by id or email, or created."""
        mode = self.sync.mode
        ops: list[RowOp] = []
        outcomes: list[RowOutcome] = []
        doubtful = [row for row in rows if row.in_doubt and row.found_by]
        settled = await self.lookup_records([str(row.found_by) for row in doubtful], by="email")
        unmatched: list[RowOp] = []
        for row in rows:
            record = settled.get(_norm_email(row.found_by)) if row.found_by else None
            if row.in_doubt and record is not None and made_by_create(record, row.marked_at):
                # The lost create landed: this row holds it, and writes all its targets.
                ops.append(replace(row, op=Operation.UPDATE, dest_id=str(record["id"]), landed={}))
            elif row.in_doubt and record is not None and mode == "insert":
                outcomes.append(CUSTOMER.not_adopted(row, record))  # there before: not ours
            elif row.dest_id is not None and not row.in_doubt:
                if mode == "insert" and not row.retry:
                    outcomes.append(CUSTOMER.insert_skip(row))
                else:
                    ops.append(replace(row, op=Operation.UPDATE))
            elif mode == "insert" and row.hint is None:
                ops.append(replace(row, op=Operation.CREATE, dest_id=None))
            else:
                unmatched.append(row)
        found = await self._match(unmatched)
        for row in unmatched:
            dest_id = found.get(row.pk)
            if mode == "insert":
                if dest_id is not None and dest_id == row.hint:
                    # The customer this row made before it left the model: held again, and
                    # given the row's values (it may have been cleared meanwhile).
                    ops.append(
                        replace(row, op=Operation.UPDATE, dest_id=dest_id, landed={}, retry=True)
                    )
                else:  # someone else's customer with that email is rejected by BigCommerce
                    ops.append(replace(row, op=Operation.CREATE, dest_id=None))
            elif dest_id is not None:
                ops.append(replace(row, op=Operation.UPDATE, dest_id=dest_id, landed={}))
            elif mode == "update":
                outcomes.append(
                    RowOutcome(
                        row.pk, None, Outcome.SKIPPED, None, "no matching customer in BigCommerce"
                    )
                )
            else:
                ops.append(replace(row, op=Operation.CREATE, dest_id=None))
        return Decision(ops, outcomes)

    async def _match(self, rows: Sequence[RowOp]) -> dict[str, str]:
        """Existing customer ids for rows without a held record, by id or by email (a row back
        from a tombstone in insert mode looks for its customer by email)."""
        match = self.sync.match
        by_id: dict[str, str] = {}
        by_email: dict[str, str] = {}
        for row in rows:
            if match is not None and match.field == "id" and self.sync.mode != "insert":
                value = row.values.get(match.column)
                if value is not None:
                    by_id[row.pk] = str(convert(FieldSpec("id", "integer"), value))
            elif self.email_column is not None:
                value = row.values.get(self.email_column)
                if value is not None:
                    by_email[row.pk] = str(value).strip()
        ids_from_id = await self.lookup(list(by_id.values()), by="id")
        from_email = await self.lookup_records(list(by_email.values()), by="email")
        found = {pk: ids_from_id[k] for pk, k in by_id.items() if k in ids_from_id}
        for pk, email in by_email.items():
            record = from_email.get(_norm_email(email))
            if record is not None:
                found[pk] = str(record["id"])
        if self.sync.mode != "insert":
            # Nothing matched, but the row made or held a customer before (it left and came
            # back, or its key changed): that customer, if it still exists (DESIGN §3.8).
            hinted = {row.pk: str(row.hint) for row in rows if row.hint and row.pk not in found}
            alive = await self.lookup(sorted(set(hinted.values())), by="id")
            found.update({pk: hint for pk, hint in hinted.items() if hint in alive})
        return found

    def found_by(self, op: RowOp) -> str | None:
        value = op.values.get(self.email_column) if self.email_column is not None else None
        return None if value in (None, "") else str(value).strip()

    async def find_created(self, marks: Sequence[tuple[str, dt.datetime | None]]) -> dict[str, str]:
        records = await self.lookup_records([key for key, _ in marks], by="email")
        found = {}
        for key, marked_at in marks:
            record = records.get(_norm_email(key))
            if record is not None and made_by_create(record, marked_at):
                found[key] = str(record["id"])
        return found

    async def lookup(self, keys: Sequence[str], *, by: str) -> dict[str, str]:
        """Map ids (or case-folded emails) to existing customer ids, in batched look-ups."""
        records = await self.lookup_records(keys, by=by)
        return {key: str(record["id"]) for key, record in records.items()}

    async def lookup_records(self, keys: Sequence[str], *, by: str) -> dict[str, Mapping[str, Any]]:
        """Existing customers by id, or by email case-folded. Emails are asked for as they were
        sent and in lower case: whether ``email:in`` ignores case is not documented."""
        if by == "email":
            asked = {variant for key in keys for variant in (key.strip(), _norm_email(key))}
        else:
            asked = set(keys)
        unique = sorted(asked)
        found: dict[str, Mapping[str, Any]] = {}

        async def one(batch: Sequence[str]) -> None:
            params = {f"{by}:in": ",".join(batch), "limit": "250"}
            async for page in self.client.get_all("/v3/customers", params=params, v=3):
                for customer in page:
                    key = _norm_email(customer["email"]) if by == "email" else str(customer["id"])
                    found[key] = customer

        await asyncio.gather(*(one(batch) for batch in chunks(unique, LOOKUP_BATCH)))
        return found
