"""A customer's cookie consent: ``GET``/``PUT /v3/customers/{id}/consent``.

The body is ``{"allow": [...], "deny": [...]}`` over BigCommerce's four categories (``essential``,
``functional``, ``analytics``, ``targeting``; the OpenAPI file's ``consentAllow`` enum) and the
answer adds ``updated_at``, without a ``data`` wrapper. Rules (beyond the enum: UNCONFIRMED):
- a category may not be both allowed and denied, nor listed twice (the schema says unique);
- ``essential`` cannot be denied (a storefront always needs its essential cookies);
- a PUT replaces both lists; a list left out is empty;
- a customer that never declared consent answers empty lists;
- an unknown customer → 404.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.customers.table import CustomerTable
from bcsync.emulator.pagination import iso_z, now_utc
from bcsync.emulator.responses import json_response, v3_error

CATEGORIES = ("essential", "functional", "analytics", "targeting")


def problems(body: Any) -> dict[str, str]:
    """What is wrong with a consent body, keyed ``allow`` / ``deny`` / ``body``."""
    if not isinstance(body, dict):
        return {"body": "send an object with allow and deny lists"}
    errors: dict[str, str] = {}
    for key in ("allow", "deny"):
        values = body.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors[key] = f"{key} must be a list of categories"
            continue
        unknown = [v for v in values if v not in CATEGORIES]
        if unknown:
            errors[key] = f"unknown consent categories {unknown}; known: {', '.join(CATEGORIES)}"
        elif len(set(values)) != len(values):
            errors[key] = f"{key} lists a category twice"
    unknown_keys = sorted(set(body) - {"allow", "deny"})
    if unknown_keys:
        errors["body"] = f"unknown keys {unknown_keys}; send allow and deny"
    if not errors:
        both = sorted(set(body.get("allow", [])) & set(body.get("deny", [])))
        if both:
            errors["deny"] = f"{', '.join(both)} cannot be both allowed and denied"
        elif "essential" in body.get("deny", []):
            errors["deny"] = "essential cookies cannot be denied"
    return errors


def routes(emu: Emulator) -> list[Route]:
    def customer(request: Request) -> dict[str, Any] | None:
        table: CustomerTable = emu.tables["customers"]
        return table.get(request.path_params["customer_id"])

    def answer(row: dict[str, Any]) -> Response:
        consent = row.get("consent") or {"allow": [], "deny": []}
        return json_response(
            {"allow": consent["allow"], "deny": consent["deny"], "updated_at": iso_z(now_utc())}
        )

    async def read(request: Request) -> Response:
        row = customer(request)
        if row is None:
            return v3_error(404, "The customer was not found.")
        return answer(row)

    async def declare(request: Request) -> Response:
        row = customer(request)
        if row is None:
            return v3_error(404, "The customer was not found.")
        body = await request.json() if await request.body() else None
        errors = problems(body)
        if errors:
            return v3_error(422, "The consent was not valid.", errors)
        assert isinstance(body, dict)
        row["consent"] = {"allow": list(body.get("allow", [])), "deny": list(body.get("deny", []))}
        row["date_modified"] = now_utc()
        return answer(row)

    path = "/v3/customers/{customer_id:int}/consent"
    return [Route(path, read, methods=["GET"]), Route(path, declare, methods=["PUT"])]
