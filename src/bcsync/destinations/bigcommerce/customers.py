"""The customers object: BigCommerce customers (v3) kept in step with model rows.

Calls per operation (DESIGN §3.4): creates and updates go 10 customers to a request; email and id
look-ups 50 to a request; attribute values 10 to a request; deletes 50 ids to a request. A batch
BigCommerce rejects as a whole is bisected until the bad rows are isolated. A create whose answer
was lost is settled by an email look-up before anything is re-sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bcsync.destinations.base import Decision, Problem, RowOp, RowOutcome
from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customer_extras import CustomerExtras
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
from bcsync.errors import AmbiguousWriteError, RequestRejectedError
from bcsync.project import SyncConfig

WRITE_BATCH = 10
LOOKUP_BATCH = 50
DELETE_BATCH = 50
MODES = ("insert", "update", "upsert")
MATCH_FIELDS = ("id", "email")


def _norm_email(value: Any) -> str:
    return str(value).strip().casefold()


class CustomerObject:
    """Customers for one sync: validates rows, matches them, and writes them."""

    name = "customers"
    probe_path = "/v3/customers"  # a cheap read that proves the token has the customers scope

    def __init__(self, sync: SyncConfig, client: BigCommerceClient) -> None:
        self.sync = sync
        self.client = client
        self.extras = CustomerExtras(client)
        mapped = map_fields(
            sync.mappings,
            CUSTOMER_FIELDS,
            what="customer",
            custom={"attribute", "form_field", "metafield"},
        )
        self.native = mapped.native
        self._problems = mapped.problems
        for column, ref in mapped.custom:
            if ref.kind == "attribute":
                self.extras.attributes.append((column, ref.name))
            elif ref.kind == "form_field":
                self.extras.form_fields.append((column, ref.name))
            else:
                self.extras.metafields.append((column, ref.namespace, ref.name))
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
        if self.email_column is None and self.sync.mode != "update":
            problems.append(
                Problem("creating customers needs a mapping to the 'email' field", ("mappings",))
            )
        return problems

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        problems = type_problems(self.sync.mappings, CUSTOMER_FIELDS, column_types, what="customer")
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
        calls += -(-writes * len(self.extras.attributes) // WRITE_BATCH)  # attribute values
        calls += writes * (1 if self.extras.metafields else 0)  # metafield reads, at most
        calls += -(-lookups // LOOKUP_BATCH)
        calls += -(-operations.get("clear", 0) // WRITE_BATCH)
        calls += -(-operations.get("delete", 0) // DELETE_BATCH)
        return calls

    # -- resolving ---------------------------------------------------------------------------

    async def resolve(self, rows: Sequence[RowOp]) -> Decision:
        mode = self.sync.mode
        ops: list[RowOp] = []
        outcomes: list[RowOutcome] = []
        unmatched: list[RowOp] = []
        for row in rows:
            if row.dest_id is not None:
                if mode == "insert" and not row.in_doubt:
                    outcomes.append(
                        RowOutcome(
                            row.pk,
                            None,
                            "skipped",
                            row.dest_id,
                            "insert mode does not update existing customers",
                            row.row_hash,
                        )
                    )
                else:
                    ops.append(replace(row, op="update"))
            elif mode == "insert" and not row.in_doubt:
                ops.append(replace(row, op="create"))
            else:
                unmatched.append(row)
        found = await self._match(unmatched)
        for row in unmatched:
            dest_id = found.get(row.pk)
            if dest_id is not None:
                ops.append(replace(row, op="update", dest_id=dest_id))
            elif mode == "update":
                outcomes.append(
                    RowOutcome(row.pk, None, "skipped", None, "no matching customer in BigCommerce")
                )
            else:
                ops.append(replace(row, op="create", dest_id=None))
        final: list[RowOp] = []
        for op in ops:
            missing = self._missing_required(op) if op.op == "create" else []
            if missing:
                outcomes.append(
                    RowOutcome(
                        op.pk,
                        "create",
                        "invalid",
                        None,
                        "creating a customer needs " + ", ".join(missing),
                    )
                )
            else:
                final.append(op)
        return Decision(final, outcomes)

    def _missing_required(self, op: RowOp) -> list[str]:
        missing = []
        for name in ("email", "first_name", "last_name"):
            column = self.email_column if name == "email" else None
            if column is None:
                column = next((c for c, s in self.native if s.name == name), None)
            if column is None:
                missing.append(f"field '{name}' (not mapped)")
            elif op.values.get(column) in (None, ""):
                missing.append(f"column '{column}' (field {name}) to be set")
        return missing

    async def _match(self, rows: Sequence[RowOp]) -> dict[str, str]:
        """Existing customer ids for rows without a pinned id, by id or by email. A create left
        in doubt is always looked up by email: that is what the lost create would have used."""
        match = self.sync.match
        by_id: dict[str, str] = {}
        by_email: dict[str, str] = {}
        for row in rows:
            if match is not None and match.field == "id" and not row.in_doubt:
                value = row.values.get(match.column)
                if value is not None:
                    by_id[row.pk] = str(convert(FieldSpec("id", "integer"), value))
            elif self.email_column is not None:
                value = row.values.get(self.email_column)
                if value is not None:
                    by_email[row.pk] = _norm_email(value)
        ids_from_id = await self.lookup(list(by_id.values()), by="id")
        ids_from_email = await self.lookup(list(by_email.values()), by="email")
        found = {pk: ids_from_id[k] for pk, k in by_id.items() if k in ids_from_id}
        found.update({pk: ids_from_email[k] for pk, k in by_email.items() if k in ids_from_email})
        return found

    def found_by(self, op: RowOp) -> str | None:
        value = op.values.get(self.email_column) if self.email_column is not None else None
        return None if value in (None, "") else _norm_email(value)

    async def find_created(self, keys: Sequence[str]) -> dict[str, str]:
        return await self.lookup(keys, by="email")

    async def lookup(self, keys: Sequence[str], *, by: str) -> dict[str, str]:
        """Map emails (case-folded) or ids to existing customer ids, in batched look-ups."""
        unique = sorted(set(keys))
        found: dict[str, str] = {}

        async def one(batch: Sequence[str]) -> None:
            params = {f"{by}:in": ",".join(batch), "limit": "250"}
            async for page in self.client.get_all("/v3/customers", params=params, v=3):
                for customer in page:
                    key = _norm_email(customer["email"]) if by == "email" else str(customer["id"])
                    found[key] = str(customer["id"])

        await asyncio.gather(*(one(batch) for batch in chunks(unique, LOOKUP_BATCH)))
        return found

    # -- writing -----------------------------------------------------------------------------

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        outcomes: dict[str, RowOutcome] = {}
        creates = [op for op in ops if op.op == "create"]
        updates = [op for op in ops if op.op == "update"]
        clears = [op for op in ops if op.op == "clear"]
        deletes = [op for op in ops if op.op == "delete"]
        tasks = [self._write_batch(batch, outcomes) for batch in chunks(creates, WRITE_BATCH)]
        tasks += [self._write_batch(batch, outcomes) for batch in chunks(updates, WRITE_BATCH)]
        tasks += [self._clear_batch(batch, outcomes) for batch in chunks(clears, WRITE_BATCH)]
        tasks += [self._delete_batch(batch, outcomes) for batch in chunks(deletes, DELETE_BATCH)]
        await asyncio.gather(*tasks)
        return [outcomes[op.pk] for op in ops]

    def body(self, op: RowOp) -> dict[str, Any]:
        """The customer object for a create or a partial update (only mapped fields)."""
        create = op.op == "create"
        body: dict[str, Any] = {} if create else {"id": int(str(op.dest_id))}
        for column, spec in self.native:
            if spec.create_only and not create:
                continue
            value = convert(spec, op.values.get(column))
            if value is None:
                if create or spec.required or spec.kind != "string":
                    continue
                value = ""  # a null in the model clears an optional text field
            if spec.name == "store_credit_amount":
                body["store_credit_amounts"] = [{"amount": value}]
            else:
                set_path(body, spec.name, value)
        if "email" not in body and create and self.email_column is not None:
            body["email"] = str(op.values.get(self.email_column)).strip()
        form_fields = self.extras.form_field_values(op.values, create=create)
        if form_fields:
            body["form_fields"] = form_fields
        return body

    async def _write_batch(self, batch: Sequence[RowOp], outcomes: dict[str, RowOutcome]) -> None:
        written: dict[str, str] = {}

        def reject(op: RowOp, message: str) -> None:
            outcomes[op.pk] = RowOutcome(op.pk, op.op, "rejected", op.dest_id, message)

        async def send(items: Sequence[RowOp]) -> None:
            # Rows already written (settled by a look-up, or applied by a partly failed batch)
            # are never sent again when a batch is split.
            items = [op for op in items if op.pk not in written]
            if not items:
                return
            if items[0].op == "create":
                await self._send_creates(items, written, reject)
            else:
                await self._send_updates(items, written)

        await bisect(batch, send, reject)
        done = [op for op in batch if op.pk in written]
        extra_errors = await self.extras.write(
            [(op, written[op.pk]) for op in done],
            created={op.pk for op in done if op.op == "create"},
        )
        for op in done:
            error = extra_errors.get(op.pk)
            outcomes[op.pk] = RowOutcome(
                op.pk,
                op.op,
                "rejected" if error else "succeeded",
                written[op.pk],
                error,
                op.row_hash,
            )

    async def _send_creates(
        self,
        items: Sequence[RowOp],
        written: dict[str, str],
        reject: Any,
        settled_once: bool = False,
    ) -> None:
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
        except AmbiguousWriteError as exc:
            # The answer was lost: read BigCommerce before deciding anything.
            found = await self.lookup(list(email_of.values()), by="email")
            for op in items:
                if email_of[op.pk] in found:
                    written[op.pk] = found[email_of[op.pk]]
            missing = [op for op in items if op.pk not in written]
            if missing and settled_once:
                for op in missing:
                    reject(op, f"create failed twice without an answer: {exc}")
            elif missing:
                await self._send_creates(missing, written, reject, settled_once=True)
            return
        except RequestRejectedError as exc:
            data = exc.body.get("data") if isinstance(exc.body, dict) else None
            if not data:
                raise
            self._take(items, data, email_of, written)
            rest = [op for op in items if op.pk not in written]
            if rest:
                await bisect(rest, lambda part: self._send_creates(part, written, reject), reject)
            return
        self._take(items, data, email_of, written)
        for op in items:
            if op.pk not in written:
                reject(op, "BigCommerce accepted the batch but did not return this customer")

    @staticmethod
    def _take(
        items: Sequence[RowOp],
        data: Sequence[Mapping[str, Any]],
        email_of: Mapping[str, str],
        written: dict[str, str],
    ) -> None:
        ids = {_norm_email(c.get("email", "")): str(c["id"]) for c in data if "id" in c}
        for op in items:
            if email_of[op.pk] in ids:
                written[op.pk] = ids[email_of[op.pk]]

    async def _send_updates(self, items: Sequence[RowOp], written: dict[str, str]) -> None:
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
            data = exc.body.get("data") if isinstance(exc.body, dict) else None
            if not data:
                raise
            returned = {str(c.get("id")) for c in data}
            for op in items:
                if op.dest_id in returned:
                    written[op.pk] = str(op.dest_id)
            rest = [op for op in items if op.pk not in written]
            if rest:
                raise
            return
        returned = {str(c.get("id")) for c in data}
        for op in items:
            if op.dest_id in returned or not data:
                written[op.pk] = str(op.dest_id)

    async def _clear_batch(self, batch: Sequence[RowOp], outcomes: dict[str, RowOutcome]) -> None:
        cleared: dict[str, str] = {}
        blank = [spec for _, spec in self.native if spec.kind == "string" and not spec.required]
        kept = [spec.name for _, spec in self.native if spec not in blank]
        note = f"left as they are: {', '.join(kept)}" if kept else None

        def reject(op: RowOp, message: str) -> None:
            outcomes[op.pk] = RowOutcome(op.pk, "clear", "rejected", op.dest_id, message)

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

        await bisect(batch, send, reject)
        done = [op for op in batch if op.pk in cleared]
        errors = await self.extras.clear([(op, cleared[op.pk]) for op in done])
        for op in done:
            error = errors.get(op.pk)
            outcomes[op.pk] = RowOutcome(
                op.pk, "clear", "rejected" if error else "succeeded", op.dest_id, error, note=note
            )

    async def _delete_batch(self, batch: Sequence[RowOp], outcomes: dict[str, RowOutcome]) -> None:
        def reject(op: RowOp, message: str) -> None:
            outcomes[op.pk] = RowOutcome(op.pk, "delete", "rejected", op.dest_id, message)

        async def send(items: Sequence[RowOp]) -> None:
            await self.client.request(
                "DELETE",
                "/v3/customers",
                params={"id:in": ",".join(str(op.dest_id) for op in items)},
                pks=[op.pk for op in items],
                write_kind="write",
            )
            for op in items:
                outcomes[op.pk] = RowOutcome(op.pk, "delete", "succeeded", op.dest_id)

        await bisect(batch, send, reject)
