"""The orders object: BigCommerce orders (v2) created from, and updated by, model rows.

The v2 API has no batch endpoint, so every order is one request; the requests of a chunk go out
concurrently under the store's rate governor. Every order bcsync creates carries an
``external_order_id`` (deterministic from the sync and the primary key unless mapped) and
``external_source: bcsync``, so a create whose answer was lost is settled with
``GET /v2/orders?external_order_id=…`` before anything is re-sent.

An order is shipped (``products``, ``shipping_addresses``) or picked up (``consignments``: one
pickup whose line items become the order's products), never both in one row. ``fees`` go out in
full on every update (BigCommerce replaces them: a null column is no fees); a pickup's update
carries the pickup ``id`` read from the order's ``/consignments`` and only its changed lines
(``order_extras``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import Decision, Problem, RowOp, RowOutcome
from bcsync.destinations.bigcommerce.catalog import ORDER_FIELDS, ORDER_PAIRS
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.creates import Created, RecordKind, create_settled
from bcsync.destinations.bigcommerce.error_bodies import error_text
from bcsync.destinations.bigcommerce.fields import (
    FieldSpec,
    ValueProblem,
    convert,
    map_fields,
    set_path,
    type_problems,
)
from bcsync.destinations.bigcommerce.metafields import Confirmation, MetafieldWriter
from bcsync.destinations.bigcommerce.order_extras import fees_payload, pickup_payload, pin_pickup
from bcsync.destinations.bigcommerce.order_lines import check_products, products_payload
from bcsync.destinations.bigcommerce.targets import NATIVE, digest, merge, to_send
from bcsync.errors import ApiError, RequestRejectedError, Retriable
from bcsync.run.ownership import made_by_create
from bcsync.vocabulary import Operation, Outcome

MODES = ("insert", "update")
ORDER_ID = FieldSpec("id", "integer")
# Text fields that `clear` blanks; everything else (status included) is left as it is.
CLEARABLE = ("customer_message", "staff_notes", "payment_method", "payment_provider_id")
# What POST /v2/orders requires: a billing address (at least its zip), and products or a
# pickup consignment (whose line items become the order's products).
CREATE_REQUIRED = ("billing_address.zip",)
LINES = ("products", "consignments")
# A pickup order is not shipped: consignments never come with these (reference §5.2).
SHIPPING = ("products", "shipping_addresses")
_CREATING = "creating an order needs"
_LINES_PAGE = 250  # order lines read per page (pickup updates whose lines came as links)


class OrderObject:
    """Orders for one sync."""

    name = "orders"
    probe_path = "/v2/orders"

    def __init__(self, sync: SyncConfig, client: BigCommerceClient) -> None:
        self.sync = sync
        self.client = client
        self.statuses: dict[str, int] = {}  # case-folded name or label -> status id
        self._prepared = False  # statuses loaded: until then a status is not checked
        mapped = map_fields(sync.mappings, ORDER_FIELDS, what="order", custom={"metafield"})
        self.native = mapped.native
        self._problems = mapped.problems
        self.metafields = [(column, ref.namespace, ref.name) for column, ref in mapped.custom]
        self.metafield_writer = MetafieldWriter(client, "orders", self.metafields)
        self._column_of = {spec.name: column for column, spec in self.native}
        # A lost create is found by its external_order_id, and is ours if it carries the one
        # bcsync made for the row or was made after its mark.
        self.kind = RecordKind(
            noun="order",
            plural="orders",
            key_field="external_order_id",
            lost_twice="create lost twice",
            made_by=self._made_by,
        )

    # -- checks ------------------------------------------------------------------------------

    def static_problems(self) -> list[Problem]:
        problems = list(self._problems)
        if self.sync.mode not in MODES:
            problems.append(
                Problem(
                    f"orders support modes insert and update, not '{self.sync.mode}': the v2 "
                    "orders API has no key to match new rows on, so upsert could duplicate orders",
                    ("mode",),
                )
            )
        match = self.sync.match
        if match is not None and match.field != "id":
            problems.append(
                Problem(f"orders are matched on 'id' only, not '{match.field}'", ("match", "field"))
            )
        cannot = self._unmapped_for_create() if self.sync.mode == "insert" else []
        if cannot:
            problems.append(
                Problem(
                    f"{_CREATING} {', '.join(cannot)}: mode insert creates orders",
                    ("mappings",),
                )
            )
        if self.sync.mode == "update" and "products" in self._column_of:
            problems.append(
                Problem(
                    "'products' cannot be mapped in update mode: BigCommerce adds every line "
                    "sent without a line id, so re-sending products would duplicate them",
                    ("mappings",),
                )
            )
        return problems

    def column_problems(self, column_types: Mapping[str, str]) -> list[Problem]:
        # A status may be a name or a number: checked per row against the store's statuses.
        return type_problems(
            self.sync.mappings,
            ORDER_FIELDS,
            column_types,
            what="order",
            skip=frozenset({"status_id"}),
        )

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        problems = self.column_problems(column_types)
        self._prepared = True
        if "status_id" not in self._column_of:
            return problems  # the status list is read only when a status is mapped
        response = await self.client.request("GET", "/v2/order_statuses")
        self.statuses = {}
        for status in response.body or []:
            for label in (
                status.get("name"),
                status.get("system_label"),
                status.get("custom_label"),
            ):
                if label:
                    self.statuses[str(label).strip().casefold()] = int(status["id"])
        return problems

    def status_id(self, value: Any) -> int:
        """A status given as a number or as a name ("Shipped"), as the store's status id."""
        if isinstance(value, str) and not value.strip().isdigit():
            found = self.statuses.get(value.strip().casefold())
            if found is None:
                names = sorted({k for k in self.statuses if not k.isdigit()})
                raise ValueProblem(f"unknown order status {value!r} (known: {', '.join(names)})")
            return found
        number = convert(FieldSpec("status_id", "integer"), value)
        if number not in set(self.statuses.values()):
            raise ValueProblem(f"unknown order status id {number}")
        return int(number)

    def validate_row(self, values: Mapping[str, Any]) -> str | None:
        reasons: list[str] = []
        for column, spec in self.native:
            try:
                self._value(spec, values.get(column))
            except ValueProblem as exc:
                reasons.append(f"column '{column}' (field {spec.name}): {exc}")
        reasons.extend(self._pickup_problems(values))
        for low, high in ORDER_PAIRS:
            columns = [self._column_of.get(low), self._column_of.get(high)]
            present = [c is not None and values.get(c) is not None for c in columns]
            if any(present) and not all(present):
                reasons.append(f"fields {low} and {high} must be given together")
        create_problem = self.create_problem(values) if self.sync.mode == "insert" else None
        if create_problem:  # insert sends creates only: checked before any call
            reasons.append(create_problem)
        match = self.sync.match
        if self.sync.mode == "update" and match is not None:
            try:
                convert(ORDER_ID, values.get(match.column))
            except ValueProblem as exc:
                reasons.append(f"column '{match.column}' (order id): {exc}")
        reasons.extend(self.metafield_writer.validate(values))
        return "; ".join(reasons) or None

    def _pickup_problems(self, values: Mapping[str, Any]) -> list[str]:
        """A row's pickup may not come with products or shipping addresses (one row, one
        order: shipped or picked up, not both)."""
        pickup = self._column_of.get("consignments")
        if pickup is None or values.get(pickup) is None:
            return []
        clashing = [
            f"'{column}' ({name})"
            for name in SHIPPING
            if (column := self._column_of.get(name)) is not None and values.get(column) is not None
        ]
        if not clashing:
            return []
        return [
            f"column '{pickup}' (consignments) cannot come with {' or '.join(clashing)} in one "
            "row: an order is either shipped or picked up"
        ]

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        if spec.name == "status_id" and value is not None:
            return self.status_id(value) if self._prepared else value
        if spec.name == "products":
            return products_payload(value)
        if spec.name == "fees":
            return fees_payload(value)
        if spec.name == "consignments":
            return pickup_payload(value)
        return convert(spec, value)

    def create_problem(self, values: Mapping[str, Any]) -> str | None:
        unmapped = self._unmapped_for_create()
        if unmapped:
            return f"{_CREATING} {', '.join(unmapped)}"
        zip_column = self._column_of["billing_address.zip"]
        zip_code = values.get(zip_column)
        reasons = []
        if zip_code is None or len(str(zip_code).strip()) < 2:
            reasons.append(f"column '{zip_column}' (billing_address.zip): at least 2 characters")
        pickup_column = self._column_of.get("consignments")
        if pickup_column is not None and values.get(pickup_column) is not None:
            return "; ".join(reasons) or None  # its line items were checked with the field
        products_column = self._column_of.get("products")
        if products_column is None:
            reasons.append(
                f"column '{pickup_column}' (consignments): an order needs a pickup consignment "
                "when no products are mapped"
            )
        else:
            reasons.extend(check_products(products_column, values.get(products_column)))
        return "; ".join(reasons) or None

    def _unmapped_for_create(self) -> list[str]:
        missing = [
            f"field '{name}' (not mapped)"
            for name in CREATE_REQUIRED
            if name not in self._column_of
        ]
        if not any(name in self._column_of for name in LINES):
            missing.append("field 'products' (not mapped), or 'consignments' for pickups")
        return missing

    def predict(self, kind: str, dest_id: str | None) -> tuple[str, int]:
        if self.sync.mode == "insert":
            return ("skip", 0) if dest_id is not None else ("create", 0)
        return "update", 0

    def estimate_calls(self, operations: Mapping[str, int], lookups: int) -> int:
        writes = sum(operations.get(k, 0) for k in ("create", "update", "clear", "delete"))
        if self.sync.mode == "update" and "consignments" in self._column_of:
            writes += operations.get("update", 0)  # the pickup's id is read before its update
        return writes + lookups

    # -- resolving ---------------------------------------------------------------------------

    def external_order_id(self, op: RowOp) -> str:
        column = self._column_of.get("external_order_id")
        if column is not None and op.values.get(column) not in (None, ""):
            return str(op.values[column])
        key = f"bcsync:{self.sync.name}:{op.pk}"
        if len(key) <= 64:
            return key
        return f"bcsync:{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    async def resolve(self, rows: Sequence[RowOp]) -> Decision:
        """Decide each row's write (DESIGN §3.2, §3.8). Update mode writes the held or matched
        order. Insert mode creates, but first settles a create left in flight, and finds the
        order a row back from a tombstone made before, by ``external_order_id``."""
        ops: list[RowOp] = []
        outcomes: list[RowOutcome] = []
        if self.sync.mode == "update":
            match = self.sync.match
            for row in rows:
                dest_id = row.dest_id
                landed = row.landed
                if dest_id is None and match is not None:
                    value = row.values.get(match.column)
                    dest_id = None if value is None else str(convert(ORDER_ID, value))
                    landed = {}
                if dest_id is None:
                    outcomes.append(RowOutcome(row.pk, None, Outcome.SKIPPED, None, "no order id"))
                else:
                    ops.append(replace(row, op=Operation.UPDATE, dest_id=dest_id, landed=landed))
            return Decision(ops, outcomes)
        searched = [r for r in rows if r.dest_id is None and (r.in_doubt or r.hint is not None)]
        keys = [r.found_by or self.external_order_id(r) for r in searched]
        orders = dict(
            zip(
                [r.pk for r in searched],
                await asyncio.gather(*(self._find(key) for key in keys)),
                strict=True,
            )
        )
        for row in rows:
            order = orders.get(row.pk)
            if order is not None and row.in_doubt and not self._made_by(row, order):
                outcomes.append(self.kind.not_adopted(row, order))
            elif order is not None:
                # The order this row made before (a lost create, or before it left the model or
                # the state was reset): held again; metafields it lacks are added.
                landed = {NATIVE: self.targets(row)[NATIVE]}
                ops.append(
                    replace(row, op=Operation.UPDATE, dest_id=str(order["id"]), landed=landed)
                )
            elif row.dest_id is not None and row.retry:
                ops.append(replace(row, op=Operation.UPDATE))  # finish its own create
            elif row.dest_id is not None:
                outcomes.append(self.kind.insert_skip(row))
            else:
                ops.append(replace(row, op=Operation.CREATE, dest_id=None))
        return Decision(ops, outcomes)

    def _made_by(self, row: RowOp, order: Mapping[str, Any]) -> bool:
        """Evidence that a found order was made by this row's lost create: created after the
        mark, or carrying the ``external_order_id`` bcsync makes for this sync and key."""
        generated = self._column_of.get("external_order_id") is None
        if generated and order.get("external_order_id") == self.external_order_id(row):
            return True
        return made_by_create(order, row.marked_at)

    def found_by(self, op: RowOp) -> str | None:
        return self.external_order_id(op)

    async def find_created(self, marks: Sequence[tuple[str, dt.datetime | None]]) -> dict[str, str]:
        unique = sorted({key for key, _ in marks})
        found = dict(
            zip(unique, await asyncio.gather(*(self._find(k) for k in unique)), strict=True)
        )
        result = {}
        for key, marked_at in marks:
            order = found.get(key)
            generated = key.startswith("bcsync:")
            if order is not None and (generated or made_by_create(order, marked_at)):
                result[key] = str(order["id"])
        return result

    async def clock(self) -> dt.datetime:
        return await self.client.store_time(self.probe_path)

    async def _find(self, external_order_id: str) -> Mapping[str, Any] | None:
        response = await self.client.request(
            "GET", "/v2/orders", params={"external_order_id": external_order_id, "limit": "5"}
        )
        orders = response.body if isinstance(response.body, list) else []
        return orders[0] if orders else None

    # -- writing -----------------------------------------------------------------------------

    def targets(self, op: RowOp) -> dict[str, str]:
        """The row's write targets (``targets``): the order's own fields, each metafield."""
        found = {NATIVE: digest(self._fields(op.values, create=False))}
        found.update(self.metafield_writer.targets(op.values))
        return found

    def _fields(self, values: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for column, spec in self.native:
            if spec.create_only and not create:
                continue
            value = self._value(spec, values.get(column))
            if value is None and spec.name == "fees" and not create:
                value = []  # no fees in the model: none in the order (fees are replaced in full)
            if value is None:
                if create or spec.kind != "string":
                    continue
                value = ""
            set_path(body, spec.name, value)
        return body

    def body(self, op: RowOp) -> dict[str, Any]:
        create = op.op == "create"
        body = self._fields(op.values, create=create)
        if create:
            body["external_order_id"] = self.external_order_id(op)
            body.setdefault("external_source", "bcsync")
        return body

    def _wanted(self, op: RowOp) -> dict[str, str]:
        """The targets ``op`` writes, with their hashes."""
        targets = self.targets(op)
        if op.op == "create":
            return targets
        if self.sync.mode == "insert":
            # Insert mode only finishes its own create, and never re-sends an order's fields
            # (products sent again would be added as new lines).
            wanted = to_send(targets, op.landed, complete=True)
            wanted.pop(NATIVE, None)
            return wanted
        return to_send(targets, op.landed, complete=False)

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        wanted = {op.pk: self._wanted(op) for op in ops if op.op in ("create", "update")}
        results = await asyncio.gather(*(self._apply_one(op, wanted.get(op.pk)) for op in ops))
        done = [
            (op, str(outcome.dest_id), wanted[op.pk])
            for op, outcome in zip(ops, results, strict=True)
            if outcome.status == "succeeded" and op.op in ("create", "update")
        ]
        cleared = [
            (op, str(op.dest_id), ())
            for op, outcome in zip(ops, results, strict=True)
            if outcome.status == "succeeded" and op.op == "clear"
        ]
        created = {op.pk for op, _, _ in done if op.op == "create"}
        # Insert mode only fills in what an order it holds lacks; it never updates a value.
        overwrite = self.sync.mode != "insert"
        written = await self.metafield_writer.write(done, created, overwrite=overwrite)
        blanked = await self.metafield_writer.write(cleared, set(), blank=True)
        errors = Confirmation.of([written, blanked]).errors
        final = []
        for op, outcome in zip(ops, results, strict=True):
            if op.pk in wanted and outcome.status == "succeeded":
                targets = dict(written.confirmed.get(op.pk, {}))
                if NATIVE in wanted[op.pk]:
                    targets[NATIVE] = wanted[op.pk][NATIVE]
                failed = [t for t in wanted[op.pk] if t not in targets]
                outcome = replace(outcome, landed=merge(op.landed, targets, failed))
            if op.pk in errors:
                outcome = replace(outcome, status=Outcome.REJECTED, error=errors[op.pk])
            final.append(outcome)
        return final

    async def _apply_one(self, op: RowOp, wanted: Mapping[str, str] | None) -> RowOutcome:
        try:
            if op.op == "create":
                return await self._create(op)
            if op.op == "delete":
                await self.client.request(
                    "DELETE", f"/v2/orders/{int(str(op.dest_id))}", pks=[op.pk]
                )
                return RowOutcome(
                    op.pk, Operation.DELETE, Outcome.SUCCEEDED, op.dest_id, note="archived"
                )
            note = None
            if op.op == "clear":
                body = self._clear_body()
                note = "status and other required fields left as they are"
            else:
                body = self.body(op) if NATIVE in (wanted or {}) else {}
                if "consignments" in body:
                    body["consignments"] = await self._pinned_pickup(op, body["consignments"])
            if body:
                await self.client.request(
                    "PUT", f"/v2/orders/{int(str(op.dest_id))}", json=body, pks=[op.pk]
                )
            return RowOutcome(
                op.pk, op.op, Outcome.SUCCEEDED, op.dest_id, row_hash=op.row_hash, note=note
            )
        except RequestRejectedError as exc:
            if exc.status == 404 and op.op in ("update", "clear"):
                note = f"order {op.dest_id} does not exist in BigCommerce (any more)"
                return RowOutcome(op.pk, op.op, Outcome.SKIPPED, None, note, after="forget")
            return RowOutcome(
                op.pk,
                op.op,
                Outcome.REJECTED,
                op.dest_id,
                error_text(exc.body, str(exc)),
                landed=op.landed,
            )
        except ValueProblem as exc:  # what the store holds does not allow the update
            return RowOutcome(
                op.pk, op.op, Outcome.REJECTED, op.dest_id, str(exc), landed=op.landed
            )
        except ApiError as exc:
            if not isinstance(exc, Retriable):
                raise
            message = f"BigCommerce did not confirm the write: {exc}"
            return RowOutcome(op.pk, op.op, Outcome.REJECTED, op.dest_id, message, landed=op.landed)

    async def _pinned_pickup(self, op: RowOp, consignments: dict[str, Any]) -> dict[str, Any]:
        """The pickup of an update, with the ``id`` BigCommerce gave it read from the order (an
        update needs it; bcsync never guesses it) and only the line items that changed."""
        order_id = int(str(op.dest_id))
        response = await self.client.request(
            "GET",
            f"/v2/orders/{order_id}/consignments",
            params={"include": "consignments.line_items"},
            pks=[op.pk],
        )
        stored = response.body if isinstance(response.body, dict) else {}
        pickups = stored.get("pickups") or []
        if pickups and not all("id" in line for line in pickups[0].get("line_items") or []):
            # Line items answered as links: the order's lines (a pickup order has no others).
            pickups[0]["line_items"] = await self._order_lines(order_id, op.pk)
        return pin_pickup(consignments, stored, str(order_id))  # ValueProblem: rejected

    async def _order_lines(self, order_id: int, pk: str) -> list[dict[str, Any]]:
        """Every line of an order (``GET /v2/orders/{id}/products``, page by page)."""
        lines: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.client.request(
                "GET",
                f"/v2/orders/{order_id}/products",
                params={"page": str(page), "limit": str(_LINES_PAGE)},
                pks=[pk],
            )
            found = response.body if isinstance(response.body, list) else []
            lines.extend(found)
            if len(found) < _LINES_PAGE:
                return lines
            page += 1

    def _clear_body(self) -> dict[str, Any]:
        return {spec.name: "" for _, spec in self.native if spec.name in CLEARABLE}

    async def _create(self, op: RowOp) -> RowOutcome:
        """Create one order; a lost answer is settled by its ``external_order_id``."""
        result = await create_settled([op], self._post_create, self._find_lost, self.kind)
        if op.pk in result.ids:
            return RowOutcome(
                op.pk, Operation.CREATE, Outcome.SUCCEEDED, result.ids[op.pk], row_hash=op.row_hash
            )
        return RowOutcome(op.pk, Operation.CREATE, Outcome.REJECTED, None, result.errors[op.pk])

    async def _post_create(self, ops: Sequence[RowOp]) -> Created:
        """One order's POST (the v2 API has no batch create)."""
        (op,) = ops
        response = await self.client.request(
            "POST", "/v2/orders", json=self.body(op), pks=[op.pk], write_kind="create"
        )
        return Created({op.pk: str(response.body["id"])})

    async def _find_lost(self, ops: Sequence[RowOp]) -> dict[str, Mapping[str, Any]]:
        """The order a lost create may have made, found by the external_order_id it sent."""
        (op,) = ops
        found = await self._find(self.external_order_id(op))
        return {} if found is None else {op.pk: found}
