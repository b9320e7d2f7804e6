"""Customer attributes: definitions (``/v3/customers/attributes``) and values
(``/v3/customers/attribute-values``).

- Definitions: at most ``max_attributes`` (50) per store; ``type`` is string/number/date and can
  never change (a PUT that sends a different type → 422); PUT renames. Names are unique
  (case-insensitive), since clients address attributes by name. Deleting one deletes its values.
- Values: PUT upserts on (customer_id, attribute_id) (UNCONFIRMED key), at most 10 per call.
  Requests use ``value``, responses ``attribute_value``; values are strings of 0–255 characters.
  With ``validate_attribute_values`` (UNCONFIRMED) a non-empty value of a number/date attribute
  must parse as one. Writes are all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.pagination import (
    QueryError,
    date_filters,
    int_list,
    iso_z,
    now_utc,
    paged,
    query_error_response,
)
from bcsync.emulator.responses import no_content, v3_data, v3_error
from bcsync.emulator.validation import (
    ItemErrors,
    batch_body,
    check_int,
    check_string,
    is_date_text,
    is_number_text,
)

TYPES = ("string", "number", "date")


class AttributeTable:
    """Definitions and values, with the indexes upserts and customer reads need."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.definitions: dict[int, dict[str, Any]] = {}
        self.values: dict[int, dict[str, Any]] = {}
        self.value_key: dict[tuple[int, int], int] = {}  # (customer_id, attribute_id) → value id
        self.by_customer: dict[int, set[int]] = {}
        self.next_definition_id = 1
        self.next_value_id = 1

    # -- definitions -------------------------------------------------------------------------
    def definition_out(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "date_created": iso_z(row["date_created"]),
            "date_modified": iso_z(row["date_modified"]),
        }

    def by_name(self, name: str) -> dict[str, Any] | None:
        lowered = name.casefold()
        for row in self.definitions.values():
            if row["name"].casefold() == lowered:
                return row
        return None

    def delete_definitions(self, ids: Collection[int]) -> None:
        for attribute_id in ids:
            if self.definitions.pop(attribute_id, None) is None:
                continue
            doomed = [v["id"] for v in self.values.values() if v["attribute_id"] == attribute_id]
            self.delete_values(doomed)

    # -- values ------------------------------------------------------------------------------
    def value_out(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "attribute_id": row["attribute_id"],
            "attribute_value": row["value"],
            "customer_id": row["customer_id"],
            "date_created": iso_z(row["date_created"]),
            "date_modified": iso_z(row["date_modified"]),
        }

    def value_problem(
        self, attribute_id: Any, value: Any, check_type: bool
    ) -> tuple[str, str] | None:
        """``(field, why)`` when ``value`` cannot be stored for ``attribute_id``, else None."""
        definition = self.definitions.get(attribute_id) if isinstance(attribute_id, int) else None
        if definition is None:
            return "attribute_id", f"attribute {attribute_id} does not exist"
        if not isinstance(value, str):
            return "value", "the value must be a string"
        if len(value) > 255:
            return "value", "the value must be at most 255 characters"
        if check_type and value != "":
            kind = definition["type"]
            if (kind == "number" and not is_number_text(value)) or (
                kind == "date" and not is_date_text(value)
            ):
                return "value", f"{value!r} is not a {kind} (attribute {attribute_id} is a {kind})"
        return None

    def upsert_value(self, customer_id: int, attribute_id: int, value: str) -> dict[str, Any]:
        now = now_utc()
        existing = self.value_key.get((customer_id, attribute_id))
        if existing is not None:
            row = self.values[existing]
            row["value"] = value
            row["date_modified"] = now
            return row
        row = {
            "id": self.next_value_id,
            "attribute_id": attribute_id,
            "customer_id": customer_id,
            "value": value,
            "date_created": now,
            "date_modified": now,
        }
        self.next_value_id += 1
        self.values[row["id"]] = row
        self.value_key[(customer_id, attribute_id)] = row["id"]
        self.by_customer.setdefault(customer_id, set()).add(row["id"])
        return row

    def delete_values(self, ids: Collection[int]) -> None:
        for value_id in ids:
            row = self.values.pop(value_id, None)
            if row is None:
                continue
            self.value_key.pop((row["customer_id"], row["attribute_id"]), None)
            owned = self.by_customer.get(row["customer_id"])
            if owned is not None:
                owned.discard(value_id)
                if not owned:
                    del self.by_customer[row["customer_id"]]

    def values_for(self, customer_id: int) -> list[dict[str, Any]]:
        ids = sorted(self.by_customer.get(customer_id, ()))
        return [self.value_out(self.values[i]) for i in ids]

    def count_for(self, customer_id: int) -> int:
        return len(self.by_customer.get(customer_id, ()))

    def on_deleted(self, resource_type: str, ids: Collection[int]) -> None:
        if resource_type == "customer":
            doomed = [v for c in ids for v in self.by_customer.get(c, ())]
            self.delete_values(doomed)

    # -- admin -------------------------------------------------------------------------------
    def dump(self, emu: Emulator) -> list[dict[str, Any]]:
        return [self.definition_out(row) for row in self.definitions.values()]

    def export(self) -> dict[str, Any]:
        def plain(row: dict[str, Any]) -> dict[str, Any]:
            return {k: iso_z(v) if isinstance(v, datetime) else v for k, v in row.items()}

        return {
            "definitions": [plain(r) for r in self.definitions.values()],
            "values": [plain(r) for r in self.values.values()],
        }

    def load(self, data: dict[str, Any]) -> None:
        self.reset()
        for raw in data.get("definitions", []):
            row = _with_dates(raw)
            self.definitions[row["id"]] = row
            self.next_definition_id = max(self.next_definition_id, row["id"] + 1)
        for raw in data.get("values", []):
            row = _with_dates(raw)
            self.values[row["id"]] = row
            self.value_key[(row["customer_id"], row["attribute_id"])] = row["id"]
            self.by_customer.setdefault(row["customer_id"], set()).add(row["id"])
            self.next_value_id = max(self.next_value_id, row["id"] + 1)


def _with_dates(raw: dict[str, Any]) -> dict[str, Any]:
    row = dict(raw)
    for key in ("date_created", "date_modified"):
        row[key] = datetime.fromisoformat(row[key].replace("Z", "+00:00"))
    return row


def routes(emu: Emulator) -> list[Route]:
    table: AttributeTable = emu.register_table("attributes", AttributeTable())

    async def list_definitions(request: Request) -> Response:
        query = request.query_params
        try:
            rows = list(table.definitions.values())
            if query.get("name"):
                rows = [r for r in rows if r["name"] == query["name"]]
            if query.get("name:like"):
                needle = query["name:like"].casefold()
                rows = [r for r in rows if needle in r["name"].casefold()]
            if query.get("type"):
                rows = [r for r in rows if r["type"] == query["type"]]
            for field in ("date_created", "date_modified"):
                for check in date_filters(query, field):
                    rows = [r for r in rows if check(r[field])]
            page, meta = paged([table.definition_out(r) for r in rows], query, emu.settings, False)
        except QueryError as exc:
            return query_error_response(exc)
        return v3_data(page, meta)

    async def create_definitions(request: Request) -> Response:
        body = await batch_body(request, max_items=emu.settings.max_attributes)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        seen: set[str] = set()
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each item must be an object")
            else:
                check_string(errs, item, "name", 1, 255, required=True)
                if item.get("type") not in TYPES:
                    errs.add("type", "type must be one of string, number, date")
                name = item.get("name")
                if isinstance(name, str) and (table.by_name(name) or name.casefold() in seen):
                    errs.add("name", f"an attribute named {name!r} already exists")
                if isinstance(name, str):
                    seen.add(name.casefold())
            errors.update(errs.errors)
        if len(table.definitions) + len(body) > emu.settings.max_attributes:
            errors["body"] = (
                f"a store can have at most {emu.settings.max_attributes} customer attributes "
                f"({len(table.definitions)} exist)"
            )
        if errors:
            return v3_error(422, "The attributes were not valid.", errors)
        created = []
        for item in body:
            now = now_utc()
            row = {
                "id": table.next_definition_id,
                "name": item["name"],
                "type": item["type"],
                "date_created": now,
                "date_modified": now,
            }
            table.next_definition_id += 1
            table.definitions[row["id"]] = row
            created.append(table.definition_out(row))
        return v3_data(created)

    async def update_definitions(request: Request) -> Response:
        body = await batch_body(request, max_items=emu.settings.max_attributes)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each item must be an object")
                errors.update(errs.errors)
                continue
            check_int(errs, item, "id", required=True)
            check_string(errs, item, "name", 1, 255, required=True)
            row = table.definitions.get(item.get("id"))  # type: ignore[arg-type]
            if not errs and row is None:
                errs.add("id", f"attribute {item['id']} does not exist")
            if row is not None and "type" in item and item["type"] != row["type"]:
                errs.add("type", "an attribute's type cannot be changed; delete and recreate it")
            clash = table.by_name(item["name"]) if isinstance(item.get("name"), str) else None
            if clash is not None and clash["id"] != item.get("id"):
                errs.add("name", f"an attribute named {item['name']!r} already exists")
            errors.update(errs.errors)
        if errors:
            return v3_error(422, "The attributes were not valid.", errors)
        updated = []
        for item in body:
            row = table.definitions[item["id"]]
            row["name"] = item["name"]
            row["date_modified"] = now_utc()
            updated.append(table.definition_out(row))
        return v3_data(updated)

    async def delete_definitions(request: Request) -> Response:
        try:
            ids = int_list(request.query_params, "id:in")
        except QueryError as exc:
            return query_error_response(exc)
        table.delete_definitions(ids or [])
        return no_content()

    async def list_values(request: Request) -> Response:
        query = request.query_params
        try:
            customer_ids = int_list(query, "customer_id:in")
            attribute_ids = int_list(query, "attribute_id:in")
            if customer_ids is not None:
                wanted = sorted({v for c in customer_ids for v in table.by_customer.get(c, ())})
                rows = [table.values[v] for v in wanted]
            else:
                rows = list(table.values.values())
            if attribute_ids is not None:
                rows = [r for r in rows if r["attribute_id"] in set(attribute_ids)]
            if query.get("name"):
                named = table.by_name(query["name"])
                rows = [r for r in rows if named is not None and r["attribute_id"] == named["id"]]
            for field in ("date_created", "date_modified"):
                for check in date_filters(query, field):
                    rows = [r for r in rows if check(r[field])]
            page, meta = paged([table.value_out(r) for r in rows], query, emu.settings, False)
        except QueryError as exc:
            return query_error_response(exc)
        return v3_data(page, meta)

    async def upsert_values(request: Request) -> Response:
        body = await batch_body(request)
        if isinstance(body, Response):
            return body
        customers = emu.tables.get("customers")
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each item must be an object")
                errors.update(errs.errors)
                continue
            check_int(errs, item, "attribute_id", required=True)
            check_int(errs, item, "customer_id", required=True)
            check_string(errs, item, "value", 0, 255, required=True)
            if "id" in item:
                check_int(errs, item, "id")
            if not errs:
                if customers is not None and not customers.exists(item["customer_id"]):
                    errs.add("customer_id", f"customer {item['customer_id']} does not exist")
                problem = table.value_problem(
                    item["attribute_id"], item["value"], emu.settings.validate_attribute_values
                )
                if problem:
                    errs.add(*problem)
            errors.update(errs.errors)
        if errors:
            return v3_error(422, "The attribute values were not valid.", errors)
        rows = [
            table.upsert_value(item["customer_id"], item["attribute_id"], item["value"])
            for item in body
        ]
        return v3_data([table.value_out(r) for r in rows])

    async def delete_values(request: Request) -> Response:
        try:
            ids = int_list(request.query_params, "id:in")
        except QueryError as exc:
            return query_error_response(exc)
        table.delete_values(ids or [])
        return no_content()

    return [
        Route("/v3/customers/attributes", list_definitions, methods=["GET"]),
        Route("/v3/customers/attributes", create_definitions, methods=["POST"]),
        Route("/v3/customers/attributes", update_definitions, methods=["PUT"]),
        Route("/v3/customers/attributes", delete_definitions, methods=["DELETE"]),
        Route("/v3/customers/attribute-values", list_values, methods=["GET"]),
        Route("/v3/customers/attribute-values", upsert_values, methods=["PUT"]),
        Route("/v3/customers/attribute-values", delete_values, methods=["DELETE"]),
    ]
