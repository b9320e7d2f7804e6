"""Customer addresses: ``/v3/customers/addresses`` (list, batch create, batch update, delete).

Addresses live inside their customer's record (``CustomerTable``), so deleting a customer deletes
its addresses and ``include=addresses`` on customers reads the same list.

- ``GET``: ``page``, ``limit``, ``id:in``, ``customer_id:in``, ``company:in``, ``name:in`` (first
  and last name joined by a space) and ``include=formfields``; offset pagination only.
- ``POST``: an array of up to 10 (reference §4.6); every field of ``address_Post`` that the
  OpenAPI file requires is required here (``state_or_province`` and ``postal_code`` included),
  and for a country that has states (``COUNTRIES_WITH_STATES``, UNCONFIRMED list) the state must
  not be blank. A write is all-or-nothing: one bad item → 422 naming it (``"1.city"``).
- ``PUT``: an array of up to 10 partial updates, each with ``id``.
- An address identical to one the customer already has (customer, names, company, phone, type,
  lines, city, country, state and postal code) is skipped silently: 200, missing from ``data``.
- ``DELETE ?id:in=``: 204; without ``id:in`` nothing is deleted (as for customers).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.customers.table import CustomerTable
from bcsync.emulator.pagination import (
    QueryError,
    int_list,
    paged,
    query_error_response,
    str_list,
)
from bcsync.emulator.responses import no_content, v3_data, v3_error
from bcsync.emulator.validation import ItemErrors, batch_body, check_int, check_string

# Countries whose addresses need a state or province (UNCONFIRMED: BigCommerce requires one for
# countries it lists states for; these are the common ones).
COUNTRIES_WITH_STATES = frozenset({"US", "CA", "AU", "IN", "BR", "MX"})
_DUPLICATE_KEY = (
    "first_name",
    "last_name",
    "company",
    "phone",
    "address_type",
    "address1",
    "address2",
    "city",
    "country_code",
    "state_or_province",
    "postal_code",
)
MAX_ADDRESSES_PER_CALL = 10


def check_fields(errs: ItemErrors, item: dict[str, Any], *, creating: bool) -> None:
    """Field rules shared by create and update (``creating``: the required ones too)."""
    required = creating
    check_string(errs, item, "first_name", 1, 255, required=required)
    check_string(errs, item, "last_name", 1, 255, required=required)
    check_string(errs, item, "address1", required=required)
    check_string(errs, item, "city", 0, 100, required=required)
    check_string(errs, item, "country_code", 2, 2, required=required)
    check_string(errs, item, "state_or_province", 0, 100, required=required)
    check_string(errs, item, "postal_code", 0, 30, required=required)
    check_string(errs, item, "company", 0, 255)
    check_string(errs, item, "address2")
    check_string(errs, item, "phone", 0, 50)
    if "address_type" in item and item["address_type"] not in ("residential", "commercial"):
        errs.add("address_type", "address_type must be residential or commercial")
    if "form_fields" in item and not (
        isinstance(item["form_fields"], list)
        and all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in item["form_fields"])
    ):
        errs.add("form_fields", "form_fields must be a list of {name, value}")


def check_state(errs: ItemErrors, address: dict[str, Any]) -> None:
    """The address as it would be stored names a state when its country has states."""
    country = str(address.get("country_code", "")).upper()
    state = address.get("state_or_province", "")
    if country in COUNTRIES_WITH_STATES and isinstance(state, str) and not state.strip():
        errs.add("state_or_province", f"state_or_province is required for country {country}")


def duplicate_key(address: dict[str, Any]) -> tuple[Any, ...]:
    values = {**address, "country_code": str(address.get("country_code", "")).upper()}
    values.setdefault("address_type", "residential")
    return (address.get("customer_id"), *(values.get(name, "") for name in _DUPLICATE_KEY))


def _listed(address: dict[str, Any], with_form_fields: bool) -> dict[str, Any]:
    """An address as this endpoint lists it: its form field values name it (``address_id``)."""
    out = CustomerTable.address_out(address, with_form_fields)
    if with_form_fields:
        out["form_fields"] = [{**f, "address_id": address["id"]} for f in out["form_fields"]]
    return out


def routes(emu: Emulator) -> list[Route]:
    def customers() -> CustomerTable:
        table: CustomerTable = emu.tables["customers"]
        return table

    def every_address() -> list[dict[str, Any]]:
        rows = customers().rows.values()
        return sorted((a for row in rows for a in row["addresses"]), key=lambda a: a["id"])

    def find(address_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for row in customers().rows.values():
            for address in row["addresses"]:
                if address["id"] == address_id:
                    return row, address
        return None

    async def list_addresses(request: Request) -> Response:
        query = request.query_params
        try:
            ids = int_list(query, "id:in")
            customer_ids = int_list(query, "customer_id:in")
            companies = str_list(query, "company:in")
            names = str_list(query, "name:in")
            rows = every_address()
            if ids is not None:
                rows = [a for a in rows if a["id"] in set(ids)]
            if customer_ids is not None:
                rows = [a for a in rows if a["customer_id"] in set(customer_ids)]
            if companies is not None:
                rows = [a for a in rows if a["company"] in set(companies)]
            if names is not None:
                rows = [a for a in rows if f"{a['first_name']} {a['last_name']}" in set(names)]
            include = set((query.get("include") or "").split(","))
            out = [_listed(a, "formfields" in include) for a in rows]
            page, meta = paged(out, query, emu.settings, False)
        except QueryError as exc:
            return query_error_response(exc)
        return v3_data(page, meta)

    async def create_addresses(request: Request) -> Response:
        body = await batch_body(request, max_items=MAX_ADDRESSES_PER_CALL)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each item must be an object")
            else:
                check_int(errs, item, "customer_id", required=True)
                check_fields(errs, item, creating=True)
                check_state(errs, item)
                if "customer_id" not in errs.errors and not customers().exists(
                    item.get("customer_id", -1)
                ):
                    errs.add("customer_id", f"customer {item['customer_id']} does not exist")
            errors.update(errs.errors)
        if errors:
            return v3_error(422, "The address was not valid.", errors)
        created = []
        for item in body:
            row = customers().rows[item["customer_id"]]
            known = {duplicate_key(a) for a in row["addresses"]}
            if duplicate_key(item) in known:
                continue  # BigCommerce skips a duplicate silently
            address = customers().new_address(row["id"], item)
            row["addresses"].append(address)
            created.append(CustomerTable.address_out(address, False))
        return v3_data(created)

    async def update_addresses(request: Request) -> Response:
        body = await batch_body(request, max_items=MAX_ADDRESSES_PER_CALL)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each item must be an object")
            else:
                check_int(errs, item, "id", required=True)
                check_fields(errs, item, creating=False)
                found = find(item["id"]) if "id" not in errs.errors else None
                if "id" not in errs.errors and found is None:
                    errs.add("id", f"address {item['id']} does not exist")
                if found is not None:
                    check_state(errs, {**found[1], **item})
            errors.update(errs.errors)
        if errors:
            return v3_error(422, "The address was not valid.", errors)
        updated = []
        for item in body:
            found = find(item["id"])
            assert found is not None
            row, address = found
            changed = {**address, **{k: v for k, v in item.items() if k != "customer_id"}}
            others = {duplicate_key(a) for a in row["addresses"] if a["id"] != address["id"]}
            if duplicate_key(changed) in others:
                continue  # the same duplicate rule as on create
            customers().change_address(address, item)
            updated.append(CustomerTable.address_out(address, False))
        return v3_data(updated)

    async def delete_addresses(request: Request) -> Response:
        try:
            ids = int_list(request.query_params, "id:in")
        except QueryError as exc:
            return query_error_response(exc)
        doomed = set(ids or ())
        for row in customers().rows.values():
            row["addresses"] = [a for a in row["addresses"] if a["id"] not in doomed]
        return no_content()

    return [
        Route("/v3/customers/addresses", list_addresses, methods=["GET"]),
        Route("/v3/customers/addresses", create_addresses, methods=["POST"]),
        Route("/v3/customers/addresses", update_addresses, methods=["PUT"]),
        Route("/v3/customers/addresses", delete_addresses, methods=["DELETE"]),
    ]
