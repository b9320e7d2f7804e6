"""The customers object: BigCommerce customers (v3) kept in step with model rows.

Calls per operation (DESIGN §3.4): creates and updates go 10 customers to a request; email and id
look-ups 50 to a request; attribute values 10 to a request; deletes 50 ids to a request. A batch
BigCommerce rejects as a whole is bisected until the bad rows are isolated. A create whose answer
was lost is settled by an email look-up before anything is re-sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bcsync.destinations.base import Decision, Problem, RowOp, RowOutcome
from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.creates import Created, RecordKind, create_settled
from bcsync.destinations.bigcommerce.customer_extras import CustomerExtras
from bcsync.destinations.bigcommerce.error_bodies import applied_items
from bcsync.destinations.bigcommerce.fields import (
    CUSTOMER_FIELDS,
    EMAIL_RE,
    FieldSpec,
    ValueProblem,
    convert,
    map_fields,
    set_path,
    type_problems,
)
from bcsync.destinations.bigcommerce.targets import NATIVE, digest, merge, to_send
from bcsync.errors import RequestRejectedError
from bcsync.ownership import made_by_create
from bcsync.project import SyncConfig

WRITE_BATCH = 10
LOOKUP_BATCH = 50
DELETE_BATCH = 50
MODES = ("insert", "update", "upsert")
MATCH_FIELDS = ("id", "email")
CREATE_REQUIRED = ("email", "first_name", "last_name")  # what POST /v3/customers requires
_CREATING = "creating a customer needs"


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


class CustomerObject:
    """Customers for one sync: validates rows, matches them, and writes them."""

    name = "customers"
    probe_path = "/v3/customers"  # a cheap read that proves the token has the customers scope

    def __init__(self, sync: SyncConfig, client: BigCommerceClient) -> None:
        self.sync = sync
        self.client = client
        mapped = map_fields(
            sync.mappings,
            CUSTOMER_FIELDS,
            what="customer",
            custom={"attribute", "form_field", "metafield"},
        )
        self.native = mapped.native
        self._problems = mapped.problems
        custom = mapped.custom
        self.extras = CustomerExtras(
            client,
            attributes=[(column, ref.name) for column, ref in custom if ref.kind == "attribute"],
            form_fields=[(column, ref.name) for column, ref in custom if ref.kind == "form_field"],
            metafields=[
                (column, ref.namespace, ref.name)
                for column, ref in custom
                if ref.kind not in ("attribute", "form_field")
            ],
        )
        self.email_column = next((c for c, s in self.native if s.name == "email"), None)
        match = sync.match
        if self.email_column is None and match is not None and match.field == "email":
            self.email_column = match.column

    # -- checks ------------------------------------------------------------------------------

    def static_problems(self) -> list[Problem]:
        problems = list(self._problems)
        if self.sync.mode not in MODES:
            problems.append(Problem(f"customers support modes {', '.join(MODES)}", ("mode",)))
        match = self.sync.match
        if match is not None and match.field not in MATCH_FIELDS:
            problems.append(
                Problem(
                    f"customers can be matched on 'id' or 'email', not '{match.field}'",
                    ("match", "field"),
                )
            )
        cannot = self._create_gaps(None) if self.sync.mode != "update" else []
        if cannot:
            problems.append(
                Problem(
                    f"{_CREATING} {', '.join(cannot)}: mode {self.sync.mode} creates customers "
                    "(map these fields, or use mode update)",
                    ("mappings",),
                )
            )
        return problems

    def column_problems(self, column_types: Mapping[str, str]) -> list[Problem]:
        return type_problems(self.sync.mappings, CUSTOMER_FIELDS, column_types, what="customer")

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        problems = self.column_problems(column_types)
        problems.extend(
            await self.extras.load_attributes(
                column_types, self.sync.create_missing_attributes, dry_run=dry_run or bool(problems)
            )
        )
        return problems

    def validate_row(self, values: Mapping[str, Any]) -> str | None:
        reasons: list[str] = []
        for column, spec in self.native:
            try:
                convert(spec, values.get(column))
            except ValueProblem as exc:
                reasons.append(f"column '{column}' (field {spec.name}): {exc}")
        match = self.sync.match
        if match is not None and match.column not in {c for c, _ in self.native}:
            value = values.get(match.column)
            if value is not None and match.field == "email" and not EMAIL_RE.match(str(value)):
                reasons.append(f"column '{match.column}': {str(value)!r} is not a valid email")
            if value is not None and match.field == "id":
                try:
                    convert(FieldSpec("id", "integer"), value)
                except ValueProblem as exc:
                    reasons.append(f"column '{match.column}' (match id): {exc}")
        reasons.extend(self.extras.validate(values))
        return "; ".join(reasons) or None

    def predict(self, kind: str, dest_id: str | None) -> tuple[str, int]:
        """The operation a planned row will most likely become, and whether it needs a look-up
        (for ``plan``, which reads nothing per row)."""
        mode = self.sync.mode
        if dest_id is not None:
            return ("skip", 0) if mode == "insert" else ("update", 0)
        if mode == "insert":
            return "create", 0
        return ("update", 1) if mode == "update" else ("create", 1)

    def estimate_calls(self, operations: Mapping[str, int], lookups: int) -> int:
        writes = operations.get("create", 0) + operations.get("update", 0)
        calls = -(-writes // WRITE_BATCH)
        # Attribute values ride inside creates; updates send them apart (when they changed).
        calls += -(-operations.get("update", 0) * len(self.extras.attributes) // WRITE_BATCH)
        calls += writes * (1 if self.extras.metafields else 0)  # metafield reads, at most
        calls += -(-lookups // LOOKUP_BATCH)
        calls += -(-operations.get("clear", 0) // WRITE_BATCH)
        calls += -(-operations.get("delete", 0) // DELETE_BATCH)
        return calls

    # -- resolving ---------------------------------------------------------------------------

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
                ops.append(replace(row, op="update", dest_id=str(record["id"]), landed={}))
            elif row.in_doubt and record is not None and mode == "insert":
                outcomes.append(CUSTOMER.not_adopted(row, record))  # there before: not ours
            elif row.dest_id is not None and not row.in_doubt:
                if mode == "insert" and not row.retry:
                    outcomes.append(CUSTOMER.insert_skip(row))
                else:
                    ops.append(replace(row, op="update"))
            elif mode == "insert" and row.hint is None:
                ops.append(replace(row, op="create", dest_id=None))
            else:
                unmatched.append(row)
        found = await self._match(unmatched)
        for row in unmatched:
            dest_id = found.get(row.pk)
            if mode == "insert":
                if dest_id is not None and dest_id == row.hint:
                    # The customer this row made before it left the model: held again, and
                    # given the row's values (it may have been cleared meanwhile).
                    ops.append(replace(row, op="update", dest_id=dest_id, landed={}, retry=True))
                else:  # someone else's customer with that email is rejected by BigCommerce
                    ops.append(replace(row, op="create", dest_id=None))
            elif dest_id is not None:
                ops.append(replace(row, op="update", dest_id=dest_id, landed={}))
            elif mode == "update":
                outcomes.append(
                    RowOutcome(row.pk, None, "skipped", None, "no matching customer in BigCommerce")
                )
            else:
                ops.append(replace(row, op="create", dest_id=None))
        return Decision(ops, outcomes)

    def create_problem(self, values: Mapping[str, Any]) -> str | None:
        cannot = self._create_gaps(values)
        return f"{_CREATING} {', '.join(cannot)}" if cannot else None

    def _create_gaps(self, values: Mapping[str, Any] | None) -> list[str]:
        """What a create lacks: each required field not mapped, and (given ``values``) each
        mapped one the row leaves empty. BigCommerce refuses a customer without them."""
        gaps = []
        for name in CREATE_REQUIRED:
            column = self.email_column if name == "email" else None
            if column is None:
                column = next((c for c, s in self.native if s.name == name), None)
            if column is None:
                gaps.append(f"field '{name}' (not mapped)")
            elif values is not None and values.get(column) in (None, ""):
                gaps.append(f"column '{column}' (field {name}) to be set")
        return gaps

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

    async def clock(self) -> dt.datetime:
        return await self.client.store_time(self.probe_path)

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

    # -- writing -----------------------------------------------------------------------------

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
                outcomes[op.pk] = RowOutcome(op.pk, op.op, "rejected", None, created.errors[op.pk])
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
                outcomes[op.pk] = RowOutcome(op.pk, "update", "skipped", None, note, after="forget")
            elif op.pk in rejected:
                outcomes[op.pk] = RowOutcome(
                    op.pk, "update", "rejected", op.dest_id, rejected[op.pk], landed=op.landed
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
                "rejected" if error else "succeeded",
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
            partly = Created(_taken(items, applied, email_of))
            rest = [op for op in items if op.pk not in partly.ids]
            if not rest:
                return partly
            return partly.then(await self._bisect_creates(rest, resend_settled=True))
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
            op.pk: RowOutcome(op.pk, "clear", "rejected", op.dest_id, message)
            for op, message in await bisect(batch, send)
        }
        # A customer deleted outside bcsync has nothing left to clear: the row is forgotten.
        for pk in await self._gone([op for op in batch if op.pk in outcomes]):
            note = "the customer no longer exists in BigCommerce"
            outcomes[pk] = RowOutcome(pk, "clear", "succeeded", None, note=note, after="forget")
        done = [op for op in batch if op.pk in cleared]
        errors = await self.extras.clear([(op, cleared[op.pk]) for op in done])
        for op in done:
            error = errors.get(op.pk)
            outcomes[op.pk] = RowOutcome(
                op.pk, "clear", "rejected" if error else "succeeded", op.dest_id, error, note=note
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
            op.pk: RowOutcome(op.pk, "delete", "rejected", op.dest_id, message)
            for op, message in await bisect(batch, send)
        }
        for op in deleted:
            outcomes[op.pk] = RowOutcome(op.pk, "delete", "succeeded", op.dest_id)
        return outcomes


def _taken(
    items: Sequence[RowOp], data: Sequence[Mapping[str, Any]], email_of: Mapping[str, str]
) -> dict[str, str]:
    """The new customer id of each row, matched by email in a create's answer."""
    ids = {_norm_email(c.get("email", "")): str(c["id"]) for c in data if "id" in c}
    return {op.pk: ids[email_of[op.pk]] for op in items if email_of[op.pk] in ids}
