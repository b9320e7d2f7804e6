"""Form fields: the store's signup-form definitions (from settings) and their values.

The API cannot create definitions; the emulator takes them from ``settings.form_fields``
(``PUT /_emulator/config {"form_fields": [{"name": "Segment", "type": "text"}]}``). Values are
set with ``form_fields`` on customer POST/PUT and read with ``include=formfields`` or
``GET /v3/customers/form-field-values``. With ``reject_unknown_form_fields`` (UNCONFIRMED) a value
for a field the store does not define is refused with 422.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.pagination import QueryError, paged, query_error_response
from bcsync.emulator.responses import v3_data
from bcsync.emulator.settings import EmulatorSettings
from bcsync.emulator.validation import ItemErrors

FIELD_TYPES = (
    "checkboxes",
    "date",
    "multiline",
    "numbers",
    "password",
    "radiobuttons",
    "text",
    "picklist",
)


def definitions_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid ``form_fields`` setting (None when it is)."""
    if not isinstance(value, list):
        return "form_fields must be a list of {name, type}"
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            return f"form_fields[{i}] needs a non-empty name"
        if item.get("type") not in FIELD_TYPES:
            return f"form_fields[{i}].type must be one of {', '.join(FIELD_TYPES)}"
    return None


def field_type(settings: EmulatorSettings, name: str) -> str | None:
    for definition in settings.form_fields:
        if definition.get("name") == name:
            return definition.get("type")
    return None


def check_values(settings: EmulatorSettings, errs: ItemErrors, raw: Any) -> None:
    """Validate a ``form_fields`` list of ``{name, value}`` from a customer write."""
    if not isinstance(raw, list):
        errs.add("form_fields", "form_fields must be a list of {name, value}")
        return
    for i, item in enumerate(raw):
        where = f"form_fields.{i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            errs.add(where, "each form field needs a name")
            continue
        value = item.get("value")
        if isinstance(value, bool) or not (
            isinstance(value, str | int | float)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            errs.add(where, "value must be a string, a number or a list of strings")
            continue
        if settings.reject_unknown_form_fields and field_type(settings, item["name"]) is None:
            errs.add(where, f"the store has no form field named {item['name']!r}")


def merge_values(
    current: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Set each named field in ``changes``; fields not mentioned keep their values."""
    merged = {f["name"]: f["value"] for f in current}
    for item in changes:
        merged[item["name"]] = item["value"]
    return [{"name": name, "value": value} for name, value in merged.items()]


def routes(emu: Emulator) -> list[Route]:
    async def list_values(request: Request) -> Response:
        query = request.query_params
        customers = emu.tables.get("customers")
        rows: list[dict[str, Any]] = []
        try:
            customer_id = _opt_int(query.get("customer_id"), "customer_id")
            address_id = _opt_int(query.get("address_id"), "address_id")
            if customers is not None:
                rows = customers.form_field_values(customer_id, address_id)
            if query.get("field_name"):
                rows = [r for r in rows if r["name"] == query["field_name"]]
            if query.get("field_type"):
                wanted = query["field_type"]
                rows = [r for r in rows if field_type(emu.settings, r["name"]) == wanted]
            # Cursors address items by position; number them in their stable order.
            numbered = [{**r, "id": i + 1} for i, r in enumerate(rows)]
            page, meta = paged(numbered, query, emu.settings)
        except QueryError as exc:
            return query_error_response(exc)
        return v3_data([{k: v for k, v in r.items() if k != "id"} for r in page], meta)

    return [Route("/v3/customers/form-field-values", list_values, methods=["GET"])]


def _opt_int(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise QueryError(name, f"{raw!r} is not an integer") from None
