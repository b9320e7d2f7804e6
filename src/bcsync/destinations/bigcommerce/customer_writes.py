"""Writing customers: create, update, clear and delete batches, and each row's outcome.

Creates and updates go 10 customers to a request; deletes 50 ids to a request (DESIGN §3.4). A
batch BigCommerce rejects as a whole is bisected until the bad rows are isolated. A create whose
answer was lost is settled by an email look-up before anything is re-sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from bcsync.destinations.base import RowOp, RowOutcome
from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.destinations.bigcommerce.creates import Created, create_settled
from bcsync.destinations.bigcommerce.customer_extras import CustomerExtras
from bcsync.destinations.bigcommerce.customer_matching import (
    CUSTOMER,
    CustomerMatching,
    _norm_email,
)
from bcsync.destinations.bigcommerce.error_bodies import applied_items
from bcsync.destinations.bigcommerce.fields import FieldSpec, convert, set_path
from bcsync.destinations.bigcommerce.targets import NATIVE, digest, merge, to_send
from bcsync.errors import RequestRejectedError
from bcsync.vocabulary import Operation, Outcome

WRITE_BATCH = 10
DELETE_BATCH = 50


class CustomerWrites(CustomerMatching):
    """The customers object's write path: sends each planned write and settles its outcome."""

    native: list[tuple[str, FieldSpec]]
    extras: CustomerExtras

    def targets(self, op: RowOp) -> dict[str, str]:
        """The row's write targets and their hashes (``targets``): the customer's own fields as
        an update would send them, each attribute value, each metafield."""
        found = {NATIVE: digest(self._fields(op.values, create=False))}
        found.update(self.extras.targets(op.values))
        return found

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        creates = [op for op in ops if op.op == "create"]
        updates = [op for op in ops if op.op == "update"]
        clears = [op for op in ops if op.op == "clear"]
        deletes = [op for op in ops if op.op == "delete"]
        results = await asyncio.gather(
            *(self._bisect_creates(batch) for batch in chunks(creates, WRITE_BATCH)),
            self._update_all(updates),
            *(self._clear_batch(batch) for batch in chunks(clears, WRITE_BATCH)),
            *(self._delete_batch(batch) for batch in chunks(deletes, DELETE_BATCH)),
        )
        created = Created()
        outcomes: dict[str, RowOutcome] = {}
        for result in results:
            if isinstance(result, Created):
                created = created.then(result)
            elif isinstance(result, dict):
                outcomes.update(result)
        for op in creates:
            if op.pk not in created.ids and op.pk in created.errors:
                outcomes[op.pk] = RowOutcome(
                    op.pk, op.op, Outcome.REJECTED, None, created.errors[op.pk]
                )
        # The new customers' metafields all at once: full batches, not one per 10 customers.
        done = [op for op in creates if op.pk in created.ids]
        targets = {op.pk: self.targets(op) for op in done}
        outcomes.update(await self._finish(done, created.ids, targets))
        return [outcomes[op.pk] for op in ops]

    def _fields(self, values: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
        """The customer's own mapped fields (and form fields) as a create or an update sends
        them; the email is always sent, so a changed email reaches the held customer."""
        body: dict[str, Any] = {}
        for column, spec in self.native:
            if spec.create_only and not create:
                continue
            value = convert(spec, values.get(column))
            if value is None:
                if create or spec.required or spec.kind != "string":
                    continue
                value = ""  # a null in the model clears an optional text field
            if spec.name == "store_credit_amount":
                body["store_credit_amounts"] = [{"amount": value}]
            else:
                set_path(body, spec.name, value)
        if "email" not in body and self.email_column is not None:
            email = values.get(self.email_column)
            if email not in (None, ""):
                body["email"] = str(email).strip()
        form_fields = self.extras.form_field_values(values, create=create)
        if form_fields:
            body["form_fields"] = form_fields
        return body

    def body(self, op: RowOp) -> dict[str, Any]:
        """The customer object for a create (with its attribute values) or a partial update."""
        if op.op == "create":
            body = self._fields(op.values, create=True)
            attributes = self.extras.inline_attributes(op.values)
            if attributes:
                body["attributes"] = attributes
            addresses = self.extras.addresses.inline(op.values)
            if addresses:
                body["addresses"] = addresses
            return body
        return {"id": int(str(op.dest_id)), **self._fields(op.values, create=False)}

    async def _update_all(self, ops: Sequence[RowOp]) -> dict[str, RowOutcome]:
        """Updates send only the targets that changed: a PUT for rows whose own fields did,
        then attribute values and metafields. A customer gone from the store is released."""
        wanted = {op.pk: self._wanted(op) for op in ops}
        native = [op for op in ops if NATIVE in wanted[op.pk]]
        written: dict[str, str] = {op.pk: str(op.dest_id) for op in ops if op not in native}

        async def send(items: Sequence[RowOp]) -> None:
            # A batch that partly landed is split; its written rows are not sent again.
            items = [op for op in items if op.pk not in written]
            if items:
                landed, refused = await self._put_updates(items)
                written.update(landed)
                if refused is not None:
                    raise refused

        parts = await asyncio.gather(
            *(bisect(batch, send) for batch in chunks(native, WRITE_BATCH))
        )
        rejected = {op.pk: message for part in parts for op, message in part}
        gone = await self._gone([op for op in ops if op.pk in rejected])
        outcomes: dict[str, RowOutcome] = {}
        for op in ops:
            if op.pk in gone:
                note = f"customer {op.dest_id} no longer exists in BigCommerce"
                outcomes[op.pk] = RowOutcome(
                    op.pk, Operation.UPDATE, Outcome.SKIPPED, None, note, after="forget"
                )
            elif op.pk in rejected:
                outcomes[op.pk] = RowOutcome(
                    op.pk,
                    Operation.UPDATE,
                    Outcome.REJECTED,
                    op.dest_id,
                    rejected[op.pk],
                    landed=op.landed,
                )
        finished = await self._finish([op for op in ops if op.pk in written], written, wanted)
        return {**outcomes, **finished}

    def _wanted(self, op: RowOp) -> dict[str, str]:
        complete = self.sync.mode == "insert"  # insert mode only finishes its own create
        return to_send(self.targets(op), op.landed, complete=complete)

    async def _gone(self, ops: Sequence[RowOp]) -> set[str]:
        """The rows whose held customer no longer exists (DESIGN §3.8: gone is gone)."""
        if not ops:
            return set()
        present = await self.lookup([str(op.dest_id) for op in ops], by="id")
        return {op.pk for op in ops if str(op.dest_id) not in present}

    async def _finish(
        self,
        done: Sequence[RowOp],
        written: Mapping[str, str],
        wanted: Mapping[str, Mapping[str, str]],
    ) -> dict[str, RowOutcome]:
        """Write the custom-field targets of customers whose own fields landed, and settle
        each row: synced only when every target it had to write landed."""
        created = {op.pk for op in done if op.op == "create"}
        extras = await self.extras.write(
            [(op, written[op.pk], wanted[op.pk]) for op in done], created
        )
        outcomes = {}
        for op in done:
            native = wanted[op.pk].get(NATIVE)
            targets = {NATIVE: native} if native is not None else {}
            targets.update(extras.confirmed.get(op.pk, {}))
            error = extras.errors.get(op.pk)
            failed = [t for t in wanted[op.pk] if t not in targets]
            outcomes[op.pk] = RowOutcome(
                op.pk,
                op.op,
                Outcome.REJECTED if error else Outcome.SUCCEEDED,
                written[op.pk],
                error,
                op.row_hash,
                landed=merge(op.landed, targets, failed),
            )
        return outcomes

    async def _bisect_creates(
        self, ops: Sequence[RowOp], *, resend_settled: bool = False
    ) -> Created:
        """Send creates, bisecting a batch BigCommerce rejects; a lost answer is settled by an
        email look-up. Rows already settled (by a look-up, or applied by a partly failed batch)
        are not sent again when the batch is split, unless ``resend_settled``."""
        done = Created()

        async def send(items: Sequence[RowOp]) -> None:
            nonlocal done
            if not resend_settled:
                items = [op for op in items if not done.settled(op.pk)]
            if items:
                result = await create_settled(items, self._post_creates, self._find_lost, CUSTOMER)
                done = done.then(result)
                if result.failed is not None:
                    raise result.failed

        rejected = await bisect(ops, send)
        return done.then(Created(errors={op.pk: message for op, message in rejected}))

    async def _find_lost(self, items: Sequence[RowOp]) -> dict[str, Mapping[str, Any]]:
        """The customers holding the emails a lost create sent, by pk."""
        email_of = {op.pk: _norm_email(self.body(op)["email"]) for op in items}
        found = await self.lookup_records([str(self.body(op)["email"]) for op in items], by="email")
        return {pk: found[email] for pk, email in email_of.items() if email in found}

    async def _post_creates(self, items: Sequence[RowOp]) -> Created:
        """One create request; the customers BigCommerce returns are matched back by email."""
        email_of = {op.pk: _norm_email(self.body(op)["email"]) for op in items}
        try:
            response = await self.client.request(
                "POST",
                "/v3/customers",
                json=[self.body(op) for op in items],
                pks=[op.pk for op in items],
                write_kind="create",
            )
            data = response.body.get("data", []) if isinstance(response.body, dict) else []
        except RequestRejectedError as exc:
            applied = applied_items(exc.body)
            if applied is None:
                raise
            self.extras.addresses.remember_created(applied)
            partly = Created(_taken(items, applied, email_of))
            rest = [op for op in items if op.pk not in partly.ids]
            if not rest:
                return partly
            return partly.then(await self._bisect_creates(rest, resend_settled=True))
        self.extras.addresses.remember_created(data)  # the nested addresses, with their ids
        taken = _taken(items, data, email_of)
        lost = "BigCommerce accepted the batch but did not return this customer"
        return Created(taken, {op.pk: lost for op in items if op.pk not in taken})

    async def _put_updates(
        self, items: Sequence[RowOp]
    ) -> tuple[dict[str, str], RequestRejectedError | None]:
        """One update request: the rows it wrote (pk → id), and the rejection of a batch that
        applied only some of them (the caller splits it)."""
        try:
            response = await self.client.request(
                "PUT",
                "/v3/customers",
                json=[self.body(op) for op in items],
                pks=[op.pk for op in items],
                write_kind="write",
            )
            data = response.body.get("data", []) if isinstance(response.body, dict) else []
        except RequestRejectedError as exc:
            applied = applied_items(exc.body)
            if applied is None:
                raise
            returned = {str(c.get("id")) for c in applied}
            return {op.pk: str(op.dest_id) for op in items if op.dest_id in returned}, exc
        returned = {str(c.get("id")) for c in data}
        return {op.pk: str(op.dest_id) for op in items if op.dest_id in returned or not data}, None

    async def _clear_batch(self, batch: Sequence[RowOp]) -> dict[str, RowOutcome]:
        cleared: dict[str, str] = {}
        blank = [spec for _, spec in self.native if spec.kind == "string" and not spec.required]
        kept = [spec.name for _, spec in self.native if spec not in blank]
        note = f"left as they are: {', '.join(kept)}" if kept else None

        async def send(items: Sequence[RowOp]) -> None:
            body = []
            for op in items:
                item: dict[str, Any] = {"id": int(str(op.dest_id))}
                for spec in blank:
                    set_path(item, spec.name, "")
                form_fields = self.extras.form_field_blanks()
                if form_fields:
                    item["form_fields"] = form_fields
                body.append(item)
            if len(body[0]) > 1:
                await self.client.request(
                    "PUT",
                    "/v3/customers",
                    json=body,
                    pks=[op.pk for op in items],
                    write_kind="write",
                )
            for op in items:
                cleared[op.pk] = str(op.dest_id)

        outcomes = {
            op.pk: RowOutcome(op.pk, Operation.CLEAR, Outcome.REJECTED, op.dest_id, message)
            for op, message in await bisect(batch, send)
        }
        # A customer deleted outside bcsync has nothing left to clear: the row is forgotten.
        for pk in await self._gone([op for op in batch if op.pk in outcomes]):
            note = "the customer no longer exists in BigCommerce"
            outcomes[pk] = RowOutcome(
                pk, Operation.CLEAR, Outcome.SUCCEEDED, None, note=note, after="forget"
            )
        done = [op for op in batch if op.pk in cleared]
        errors = await self.extras.clear([(op, cleared[op.pk]) for op in done])
        for op in done:
            error = errors.get(op.pk)
            outcomes[op.pk] = RowOutcome(
                op.pk,
                Operation.CLEAR,
                Outcome.REJECTED if error else Outcome.SUCCEEDED,
                op.dest_id,
                error,
                note=note,
            )
        return outcomes

    async def _delete_batch(self, batch: Sequence[RowOp]) -> dict[str, RowOutcome]:
        deleted: list[RowOp] = []

        async def send(items: Sequence[RowOp]) -> None:
            await self.client.request(
                "DELETE",
                "/v3/customers",
                params={"id:in": ",".join(str(op.dest_id) for op in items)},
                pks=[op.pk for op in items],
                write_kind="write",
            )
            deleted.extend(items)

        outcomes = {
            op.pk: RowOutcome(op.pk, Operation.DELETE, Outcome.REJECTED, op.dest_id, message)
            for op, message in await bisect(batch, send)
        }
        for op in deleted:
            outcomes[op.pk] = RowOutcome(op.pk, Operation.DELETE, Outcome.SUCCEEDED, op.dest_id)
        return outcomes


def _taken(
    items: Sequence[RowOp], data: Sequence[Mapping[str, Any]], email_of: Mapping[str, str]
) -> dict[str, str]:
    """The new customer id of each row, matched by email in a create's answer."""
    ids = {_norm_email(c.get("email", "")): str(c["id"]) for c in data if "id" in c}
    return {op.pk: ids[email_of[op.pk]] for op in items if email_of[op.pk] in ids}
