"""The orders object: BigCommerce orders (v2) created from, and updated by, model rows.

The v2 API has no batch endpoint, so every order is one request; the requests of a chunk go out
concurrently under the store's rate governor. Every order bcsync creates carries an
``external_order_id`` (deterministic from the sync and the primary key unless mapped) and
``external_source: bcsync``, so a create whose answer was lost is settled with
``GET /v2/orders?external_order_id=…`` before anything is re-sent.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bcsync.destinations.base import Decision, Problem, RowOp, RowOutcome
from bcsync.destinations.bigcommerce.batching import error_text
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.fields import (
    ORDER_FIELDS,
    ORDER_PAIRS,
    FieldSpec,
    ValueProblem,
    convert,
    map_fields,
    set_path,
    type_problems,
)
from bcsync.destinations.bigcommerce.metafields import MetafieldWriter
from bcsync.destinations.bigcommerce.order_lines import check_products, products_payload
from bcsync.errors import AmbiguousWriteError, RequestRejectedError
from bcsync.project import SyncConfig

MODES = ("insert", "update")
ORDER_ID = FieldSpec("id", "integer")
# Text fields that `clear` blanks; everything else (status included) is left as it is.
CLEARABLE = ("customer_message", "staff_notes", "payment_method", "payment_provider_id")


class OrderObject:
    """Orders for one sync."""

    name = "orders"
    probe_path = "/v2/orders"

    def __init__(self, sync: SyncConfig, client: BigCommerceClient) -> None:
        self.sync = sync
        self.client = client
        self.statuses: dict[str, int] = {}  # case-folded name or label -> status id
        mapped = map_fields(sync.mappings, ORDER_FIELDS, what="order", custom={"metafield"})
        self.native = mapped.native
        self._problems = mapped.problems
        self.metafields = [(column, ref.namespace, ref.name) for column, ref in mapped.custom]
        self.metafield_writer = MetafieldWriter(client, "orders", self.metafields)
        self._column_of = {spec.name: column for column, spec in self.native}

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
        if self.sync.mode == "insert":
            for needed in ("products", "billing_address.zip"):
                if needed not in self._column_of:
                    problems.append(
                        Problem(f"creating orders needs a mapping to '{needed}'", ("mappings",))
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

    async def prepare(
        self, column_types: Mapping[str, str], *, dry_run: bool = False
    ) -> list[Problem]:
        # A status may be a name or a number: checked per row against the store's statuses.
        problems = type_problems(
            self.sync.mappings,
            ORDER_FIELDS,
            column_types,
            what="order",
            skip=frozenset({"status_id"}),
        )
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
        for low, high in ORDER_PAIRS:
            columns = [self._column_of.get(low), self._column_of.get(high)]
            present = [c is not None and values.get(c) is not None for c in columns]
            if any(present) and not all(present):
                reasons.append(f"fields {low} and {high} must be given together")
        if self.sync.mode == "insert":
            zip_column = self._column_of.get("billing_address.zip")
            zip_code = values.get(zip_column) if zip_column else None
            if zip_code is None or len(str(zip_code).strip()) < 2:
                reasons.append(
                    f"column '{zip_column}' (billing_address.zip): at least 2 characters"
                )
            products_column = self._column_of.get("products")
            if products_column is not None:
                reasons.extend(check_products(products_column, values.get(products_column)))
        match = self.sync.match
        if self.sync.mode == "update" and match is not None:
            try:
                convert(ORDER_ID, values.get(match.column))
            except ValueProblem as exc:
                reasons.append(f"column '{match.column}' (order id): {exc}")
        reasons.extend(self.metafield_writer.validate(values))
        return "; ".join(reasons) or None

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        if spec.name == "status_id" and value is not None:
            return self.status_id(value)
        if spec.name == "products":
            return products_payload(value)
        return convert(spec, value)

    def predict(self, kind: str, dest_id: str | None) -> tuple[str, int]:
        if self.sync.mode == "insert":
            return ("skip", 0) if dest_id is not None else ("create", 0)
        return "update", 0

    def estimate_calls(self, operations: Mapping[str, int], lookups: int) -> int:
        writes = sum(operations.get(k, 0) for k in ("create", "update", "clear", "delete"))
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
        ops: list[RowOp] = []
        outcomes: list[RowOutcome] = []
        if self.sync.mode == "update":
            match = self.sync.match
            for row in rows:
                dest_id = row.dest_id
                if dest_id is None and match is not None:
                    value = row.values.get(match.column)
                    dest_id = None if value is None else str(convert(ORDER_ID, value))
                if dest_id is None:
                    outcomes.append(RowOutcome(row.pk, None, "skipped", None, "no order id"))
                else:
                    ops.append(replace(row, op="update", dest_id=dest_id))
            return Decision(ops, outcomes)
        doubtful = [row for row in rows if row.in_doubt]
        found = dict(
            zip(
                [row.pk for row in doubtful],
                await asyncio.gather(*(self._find(self.external_order_id(r)) for r in doubtful)),
                strict=True,
            )
        )
        for row in rows:
            if row.in_doubt and found.get(row.pk) is not None:
                # The lost create did land: adopt it instead of creating a second order.
                outcomes.append(
                    RowOutcome(row.pk, "create", "succeeded", found[row.pk], row_hash=row.row_hash)
                )
            elif row.dest_id is not None and not row.in_doubt:
                outcomes.append(
                    RowOutcome(
                        row.pk,
                        None,
                        "skipped",
                        row.dest_id,
                        "insert mode does not update existing orders",
                        row.row_hash,
                    )
                )
            else:
                ops.append(replace(row, op="create", dest_id=None))
        return Decision(ops, outcomes)

    def found_by(self, op: RowOp) -> str | None:
        return self.external_order_id(op)

    async def find_created(self, keys: Sequence[str]) -> dict[str, str]:
        unique = sorted(set(keys))
        found = await asyncio.gather(*(self._find(key) for key in unique))
        return {key: order_id for key, order_id in zip(unique, found, strict=True) if order_id}

    async def _find(self, external_order_id: str) -> str | None:
        response = await self.client.request(
            "GET", "/v2/orders", params={"external_order_id": external_order_id, "limit": "5"}
        )
        orders = response.body if isinstance(response.body, list) else []
        return str(orders[0]["id"]) if orders else None

    # -- writing -----------------------------------------------------------------------------

    def body(self, op: RowOp) -> dict[str, Any]:
        create = op.op == "create"
        body: dict[str, Any] = {}
        for column, spec in self.native:
            if spec.create_only and not create:
                continue
            value = self._value(spec, op.values.get(column))
            if value is None:
                if create or spec.kind != "string":
                    continue
                value = ""
            set_path(body, spec.name, value)
        if create:
            body["external_order_id"] = self.external_order_id(op)
            body.setdefault("external_source", "bcsync")
        return body

    async def apply(self, ops: Sequence[RowOp]) -> list[RowOutcome]:
        results = await asyncio.gather(*(self._apply_one(op) for op in ops))
        done = [
            (op, str(outcome.dest_id))
            for op, outcome in zip(ops, results, strict=True)
            if outcome.status == "succeeded" and op.op in ("create", "update")
        ]
        cleared = [
            (op, str(op.dest_id))
            for op, outcome in zip(ops, results, strict=True)
            if outcome.status == "succeeded" and op.op == "clear"
        ]
        errors: dict[str, str] = {}
        created = {op.pk for op, _ in done if op.op == "create"}
        await self.metafield_writer.write(done, created, errors)
        await self.metafield_writer.write(cleared, set(), errors, blank=True)
        final = []
        for outcome in results:
            if outcome.pk in errors:
                outcome = replace(outcome, status="rejected", error=errors[outcome.pk])
            final.append(outcome)
        return final

    async def _apply_one(self, op: RowOp) -> RowOutcome:
        try:
            if op.op == "create":
                return await self._create(op)
            if op.op == "delete":
                await self.client.request(
                    "DELETE", f"/v2/orders/{int(str(op.dest_id))}", pks=[op.pk]
                )
                return RowOutcome(op.pk, "delete", "succeeded", op.dest_id, note="archived")
            body = self.body(op) if op.op == "update" else self._clear_body()
            note = None
            if op.op == "clear":
                note = "status and other required fields left as they are"
            if body:
                await self.client.request(
                    "PUT", f"/v2/orders/{int(str(op.dest_id))}", json=body, pks=[op.pk]
                )
            return RowOutcome(
                op.pk, op.op, "succeeded", op.dest_id, row_hash=op.row_hash, note=note
            )
        except RequestRejectedError as exc:
            return RowOutcome(op.pk, op.op, "rejected", op.dest_id, error_text(exc.body, str(exc)))

    def _clear_body(self) -> dict[str, Any]:
        return {spec.name: "" for _, spec in self.native if spec.name in CLEARABLE}

    async def _create(self, op: RowOp, settled_once: bool = False) -> RowOutcome:
        external_id = self.external_order_id(op)
        try:
            response = await self.client.request(
                "POST", "/v2/orders", json=self.body(op), pks=[op.pk], write_kind="create"
            )
        except AmbiguousWriteError as exc:
            found = await self._find(external_id)
            if found is not None:
                return RowOutcome(op.pk, "create", "succeeded", found, row_hash=op.row_hash)
            if settled_once:
                return RowOutcome(op.pk, "create", "rejected", None, f"create lost twice: {exc}")
            return await self._create(op, settled_once=True)
        order_id = str(response.body["id"])
        return RowOutcome(op.pk, "create", "succeeded", order_id, row_hash=op.row_hash)
