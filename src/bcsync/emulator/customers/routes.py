"""Customers v3: ``GET/POST/PUT/DELETE /v3/customers`` (reference §4.1–4.5, §9.6).

Batch writes take 1–10 items (more → 413, none → 422). Problems are reported in the v3 error
shape keyed by item index and field (``{"0.email": "…"}``).

- ``batch_atomic`` true (default): one bad item rejects the batch; nothing is written; 422.
- ``batch_atomic`` false: the good items are written. If every item succeeded the answer is the
  usual 200 ``{data, meta}``. If any failed it is **422** with the v3 error fields *and* the
  written customers in ``data`` (``{"status":422,"title":…,"errors":{"1.email":…},"data":[…],
  "meta":{}}``), as metafield batches report partial success: the status says "not everything
  landed", the body says which did.

On PUT, read-only fields (``registration_ip_address``, ``date_created``, ``date_modified``,
``origin_channel_id``) and the sub-resources ``addresses``/``attributes`` are ignored.
``authentication.new_password`` is accepted but neither stored nor ever returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.customers import formfields
from bcsync.emulator.customers.table import INCLUDES, CustomerTable
from bcsync.emulator.pagination import (
    QueryError,
    date_filters,
    int_list,
    paged,
    query_error_response,
    str_list,
)
from bcsync.emulator.responses import ERROR_TYPE, no_content, v3_data
from bcsync.emulator.validation import (
    EMAIL,
    ItemErrors,
    batch_body,
    check_bool,
    check_int,
    check_string,
)

PUT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "notes",
    "tax_exempt_category",
    "customer_group_id",
    "authentication",
    "accepts_product_review_abandoned_cart_emails",
    "store_credit_amounts",
    "channel_ids",
    "form_fields",
)
SORTS: dict[str, tuple[str, bool]] = {
    "date_created:asc": ("date_created", False),
    "date_created:desc": ("date_created", True),
    "date_modified:asc": ("date_modified", False),
    "date_modified:desc": ("date_modified", True),
    "last_name:asc": ("last_name", False),
    "last_name:desc": ("last_name", True),
}


def _check_common(emu: Emulator, errs: ItemErrors, item: dict[str, Any], creating: bool) -> None:
    """Checks shared by POST and PUT items."""
    check_string(errs, item, "email", 3, 250 if creating else 255, required=creating)
    if isinstance(item.get("email"), str) and not EMAIL.match(item["email"]):
        errs.add("email", f"{item['email']!r} is not a valid email address")
    check_string(errs, item, "first_name", 1, 100, required=creating)
    check_string(errs, item, "last_name", 1, 100, required=creating)
    check_string(errs, item, "company", 0, 255)
    check_string(errs, item, "phone", 0, 50)
    check_string(errs, item, "notes")
    check_string(errs, item, "tax_exempt_category", 0, 255)
    check_int(errs, item, "customer_group_id")
    check_bool(errs, item, "accepts_product_review_abandoned_cart_emails")
    if "channel_ids" in item and item["channel_ids"] is not None:
        ids = item["channel_ids"]
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            errs.add("channel_ids", "channel_ids must be null or a list of channel ids")
        elif not ids:
            errs.add("channel_ids", "channel_ids cannot be empty; send null for global access")
    if "store_credit_amounts" in item:
        credit = item["store_credit_amounts"]
        if not isinstance(credit, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("amount"), int | float)
            and not isinstance(c.get("amount"), bool)
            for c in credit
        ):
            errs.add("store_credit_amounts", "store_credit_amounts must be a list of {amount}")
    if "authentication" in item:
        auth = item["authentication"]
        if not isinstance(auth, dict):
            errs.add("authentication", "authentication must be an object")
        else:
            check_bool(errs, auth, "force_password_reset")
            if "new_password" in auth and not isinstance(auth["new_password"], str):
                errs.add("authentication.new_password", "new_password must be a string")
    if "form_fields" in item:
        formfields.check_values(emu.settings, errs, item["form_fields"])


def _check_address(errs: ItemErrors, index: int, raw: Any) -> None:
    where = f"addresses.{index}"
    if not isinstance(raw, dict):
        errs.add(where, "each address must be an object")
        return
    sub = ItemErrors(where)
    check_string(sub, raw, "first_name", 1, 255, required=True)
    check_string(sub, raw, "last_name", 1, 255, required=True)
    check_string(sub, raw, "address1", required=True)
    check_string(sub, raw, "city", 0, 100, required=True)
    check_string(sub, raw, "country_code", 2, 2, required=True)
    check_string(sub, raw, "company", 0, 255)
    check_string(sub, raw, "address2")
    check_string(sub, raw, "state_or_province", 0, 100)
    check_string(sub, raw, "postal_code", 0, 30)
    check_string(sub, raw, "phone", 0, 50)
    if "address_type" in raw and raw["address_type"] not in ("residential", "commercial"):
        sub.add("address_type", "address_type must be residential or commercial")
    if "form_fields" in raw and not (
        isinstance(raw["form_fields"], list)
        and all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in raw["form_fields"])
    ):
        sub.add("form_fields", "form_fields must be a list of {name, value}")
    for key, message in sub.errors.items():
        errs.errors.setdefault(f"{errs.prefix}{key}", message)


def _check_create(emu: Emulator, item: dict[str, Any], errs: ItemErrors) -> None:
    _check_common(emu, errs, item, creating=True)
    check_int(errs, item, "origin_channel_id")
    check_bool(errs, item, "trigger_account_created_notification")
    addresses = item.get("addresses", [])
    if not isinstance(addresses, list):
        errs.add("addresses", "addresses must be a list")
    elif len(addresses) > 10:
        errs.add("addresses", "a customer can be created with at most 10 addresses")
    else:
        for i, address in enumerate(addresses):
            _check_address(errs, i, address)
    attributes = item.get("attributes", [])
    table = emu.tables.get("attributes")
    if not isinstance(attributes, list) or len(attributes) > 10:
        errs.add(
            "attributes", "attributes must be a list of at most 10 {attribute_id, attribute_value}"
        )
        return
    for i, attr in enumerate(attributes):
        if not isinstance(attr, dict):
            errs.add(f"attributes.{i}", "each attribute must be an object")
            continue
        problem = (
            table.value_problem(
                attr.get("attribute_id"),
                attr.get("attribute_value", ""),
                emu.settings.validate_attribute_values,
            )
            if table is not None
            else ("attribute_id", "the store has no attributes")
        )
        if problem:
            errs.add(f"attributes.{i}.{problem[0]}", problem[1])


def routes(emu: Emulator) -> list[Route]:
    table: CustomerTable = emu.register_table("customers", CustomerTable(emu))

    def batch_answer(
        written: list[dict[str, Any]], errors: dict[str, str], title: str, ok_status: int = 200
    ) -> Response:
        if not errors:
            return v3_data(written, status=ok_status)
        body: dict[str, Any] = {"status": 422, "title": title, "type": ERROR_TYPE, "errors": errors}
        if not emu.settings.batch_atomic:
            body.update(data=written, meta={})
        return JSONResponse(body, status_code=422)

    def unique_emails(
        body: list[Any], errors: dict[str, str], own_id: Callable[[Any], Any]
    ) -> None:
        """Each item's email must be free in the store and not repeated in the batch."""
        seen: dict[str, int] = {}
        fold = emu.settings.email_case_insensitive
        for index, item in enumerate(body):
            email = item.get("email") if isinstance(item, dict) else None
            if not isinstance(email, str) or f"{index}.email" in errors:
                continue
            key = email.casefold() if fold else email
            if table.email_taken(email, except_id=own_id(item)):
                errors[f"{index}.email"] = f"the email {email!r} is already in use"
            elif key in seen:
                errors[f"{index}.email"] = f"the email {email!r} repeats item {seen[key]}"
            else:
                seen[key] = index

    async def create(request: Request) -> Response:
        body = await batch_body(request)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if isinstance(item, dict):
                _check_create(emu, item, errs)
            else:
                errs.add("body", "each customer must be an object")
            errors.update(errs.errors)
        unique_emails(body, errors, lambda item: None)
        if errors and emu.settings.batch_atomic:
            return batch_answer([], errors, "Create customers failed.")
        failed = {int(key.split(".", 1)[0]) for key in errors}
        written = []
        attributes = emu.table("attributes")
        for index, item in enumerate(body):
            if index in failed:
                continue
            row = table.insert(item)
            for attr in item.get("attributes", []):
                attributes.upsert_value(
                    row["id"], attr["attribute_id"], attr.get("attribute_value", "")
                )
            include = {"storecredit"}
            include |= {"addresses"} if item.get("addresses") else set()
            include |= {"attributes"} if item.get("attributes") else set()
            include |= {"formfields"} if item.get("form_fields") else set()
            written.append(table.out(row, include))
        return batch_answer(written, errors, "Create customers failed.", emu.settings.create_status)

    async def update(request: Request) -> Response:
        body = await batch_body(request)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        for index, item in enumerate(body):
            errs = ItemErrors(index)
            if not isinstance(item, dict):
                errs.add("body", "each customer must be an object")
            else:
                check_int(errs, item, "id", required=True)
                if not errs and not table.exists(item["id"]):
                    errs.add("id", f"customer {item['id']} does not exist")
                _check_common(emu, errs, item, creating=False)
            errors.update(errs.errors)
        unique_emails(body, errors, lambda item: item.get("id"))
        if errors and emu.settings.batch_atomic:
            return batch_answer([], errors, "Update customers failed.")
        failed = {int(key.split(".", 1)[0]) for key in errors}
        written = []
        for index, item in enumerate(body):
            if index in failed:
                continue
            row = table.rows[item["id"]]
            table.update(row, {k: v for k, v in item.items() if k in PUT_FIELDS})
            include = {"formfields"} if item.get("form_fields") else set()
            if "store_credit_amounts" in item:
                include.add("storecredit")
            written.append(table.out(row, include))
        return batch_answer(written, errors, "Update customers failed.")

    async def delete(request: Request) -> Response:
        try:
            ids = int_list(request.query_params, "id:in")
        except QueryError as exc:
            return query_error_response(exc)
        if not ids:  # documented: no id:in → 204 and nothing deleted
            return no_content()
        deleted = table.delete(ids)
        if deleted:
            emu.notify_deleted("customer", deleted)
        return no_content()

    async def list_customers(request: Request) -> Response:
        try:
            rows = _filtered(emu, table, request)
            include = set(str_list(request.query_params, "include") or []) & INCLUDES
            page, meta = paged(rows, request.query_params, emu.settings)
        except QueryError as exc:
            return query_error_response(exc)
        return v3_data([table.out(row, include) for row in page], meta)

    return [
        Route("/v3/customers", list_customers, methods=["GET"]),
        Route("/v3/customers", create, methods=["POST"]),
        Route("/v3/customers", update, methods=["PUT"]),
        Route("/v3/customers", delete, methods=["DELETE"]),
    ]


def _filtered(emu: Emulator, table: CustomerTable, request: Request) -> list[dict[str, Any]]:
    """The customers the query selects, sorted; id:in and email:in use the indexes."""
    query = request.query_params
    ids = int_list(query, "id:in")
    emails = str_list(query, "email:in")
    rows: list[dict[str, Any]]
    if ids is not None or emails is not None:
        wanted: set[int] | None = None
        if ids is not None:
            wanted = {i for i in ids if i in table.rows}
        if emails is not None:
            by_email = {i for e in emails for i in table.ids_with_email(e)}
            wanted = by_email if wanted is None else wanted & by_email
        rows = [table.rows[i] for i in sorted(wanted or ())]
    else:
        rows = list(table.rows.values())
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for field in ("company", "phone", "registration_ip_address"):
        values = str_list(query, f"{field}:in")
        if values is not None:
            checks.append(_field_in(field, set(values)))
    groups = int_list(query, "customer_group_id:in")
    if groups is not None:
        checks.append(_field_in("customer_group_id", set(groups)))
    names = str_list(query, "name:in")
    if names is not None:
        wanted_names = {n.casefold() for n in names}
        checks.append(lambda r: _full_name(r) in wanted_names)
    likes = str_list(query, "name:like")
    if likes is not None:
        needles = [n.casefold() for n in likes]
        checks.append(lambda r: any(n in _full_name(r) for n in needles))
    for field in ("date_created", "date_modified"):
        for date_check in date_filters(query, field):
            checks.append(_date_field(field, date_check))
    if checks:
        rows = [r for r in rows if all(check(r) for check in checks)]
    sort = query.get("sort")
    if sort:
        if sort not in SORTS:
            raise QueryError("sort", f"sort must be one of {', '.join(SORTS)}")
        field, descending = SORTS[sort]
        rows.sort(key=lambda r: r["id"], reverse=descending)
        rows.sort(key=lambda r: (r[field].casefold() if field == "last_name" else r[field]),
                  reverse=descending)  # fmt: skip
    return rows


def _full_name(row: dict[str, Any]) -> str:
    return f"{row['first_name']} {row['last_name']}".casefold()


def _field_in(field: str, values: set[Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda row: row[field] in values


def _date_field(field: str, check: Callable[[datetime], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda row: check(row[field])
