"""A customer's cookie consent, mapped from the model: ``PUT /v3/customers/{id}/consent``.

Two ways to map it (one per sync):

- boolean columns ``consent.<category>`` (``essential``, ``functional``, ``analytics``,
  ``targeting``): true allows the category, false denies it, null leaves it out of both lists;
- one list column mapped to ``consent``: the categories the customer allows; every other
  category except ``essential`` is denied (a storefront always keeps its essential cookies).

BigCommerce has no batch endpoint for consent, so it costs one request per customer whose consent
changed (its own target, ``consent``, hashed like the others: an unchanged consent is not sent
again). A PUT replaces both lists, so it is idempotent and safe to retry. Creating a customer
cannot carry consent: it is written right after the create. Clearing sends two empty lists.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bcsync.destinations.base import Problem, RowOp
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.error_bodies import error_text
from bcsync.destinations.bigcommerce.fields import FieldSpec, ValueProblem, convert
from bcsync.destinations.bigcommerce.metafields import Confirmation, add_error
from bcsync.destinations.bigcommerce.targets import digest
from bcsync.errors import ApiError, RequestRejectedError, Retriable

CATEGORIES = ("essential", "functional", "analytics", "targeting")
TARGET = "consent"
_BOOLEAN = FieldSpec("consent", "boolean")


def category_problem(category: str) -> str | None:
    """Why ``consent.<category>`` cannot be mapped ('' is the list form); None when it can."""
    if category == "" or category in CATEGORIES:
        return None
    return f"unknown consent category '{category}' (known: {', '.join(CATEGORIES)})"


class ConsentWriter:
    """The consent mappings of one customers sync: ``(column, category)``, category '' for a
    list column."""

    def __init__(self, client: BigCommerceClient, mappings: Sequence[tuple[str, str]]) -> None:
        self.client = client
        self.mappings = list(mappings)

    def static_problems(self) -> list[Problem]:
        problems = []
        lists = [column for column, category in self.mappings if category == ""]
        if lists and len(self.mappings) > 1:
            problems.append(
                Problem(
                    "map consent either as one list column ('consent') or as boolean columns "
                    "('consent.<category>'), not both",
                    ("mappings",),
                )
            )
        return problems

    def body(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """The allow and deny lists the row's values say (raises ValueProblem)."""
        allow: list[str] = []
        deny: list[str] = []
        for column, category in self.mappings:
            value = values.get(column)
            try:
                if category == "":
                    allowed = _categories(value)
                    allow = [c for c in CATEGORIES if c in allowed]
                    deny = [c for c in CATEGORIES if c not in allowed and c != "essential"]
                    continue
                if value is None:
                    continue
                if convert(_BOOLEAN, value):
                    allow.append(category)
                elif category == "essential":
                    raise ValueProblem("essential cookies cannot be denied (leave it true or null)")
                else:
                    deny.append(category)
            except ValueProblem as exc:
                # The column that said it, and only it (DESIGN §3: errors name the column).
                field = f"consent.{category}" if category else "consent"
                raise ValueProblem(f"column '{column}' ({field}): {exc}") from None
        return {"allow": allow, "deny": deny}

    def validate(self, values: Mapping[str, Any]) -> list[str]:
        if not self.mappings:
            return []
        try:
            self.body(values)
        except ValueProblem as exc:
            return [str(exc)]
        return []

    def targets(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {TARGET: digest(self.body(values))} if self.mappings else {}

    async def write(self, rows: Sequence[tuple[RowOp, str, Collection[str]]]) -> Confirmation:
        """Declare the consent of each customer whose ``consent`` target is wanted."""
        wanted = [(op, cid) for op, cid, targets in rows if TARGET in targets and self.mappings]
        results = await asyncio.gather(
            *(self._put(op.pk, cid, self.body(op.values)) for op, cid in wanted)
        )
        return Confirmation.of(results)

    async def clear(self, rows: Sequence[tuple[RowOp, str]]) -> Confirmation:
        if not self.mappings:
            return Confirmation()
        blank: dict[str, list[str]] = {"allow": [], "deny": []}
        return Confirmation.of(
            await asyncio.gather(*(self._put(op.pk, cid, blank) for op, cid in rows))
        )

    async def _put(self, pk: str, customer_id: str, body: dict[str, list[str]]) -> Confirmation:
        try:
            await self.client.request(
                "PUT", f"/v3/customers/{int(customer_id)}/consent", json=body, pks=[pk]
            )
        except ApiError as exc:
            if not isinstance(exc, RequestRejectedError | Retriable):
                raise
            errors: dict[str, str] = {}
            add_error(errors, pk, f"consent: {error_text(exc.body, str(exc))}")
            return Confirmation(errors=errors)
        return Confirmation({pk: {TARGET: digest(body)}})


def _categories(value: Any) -> set[str]:
    """A list column's categories: a list, a JSON array, or comma-separated text."""
    if value is None:
        return set()
    if isinstance(value, str):
        text = value.strip()
        try:
            items: Any = json.loads(text) if text.startswith("[") else text.split(",")
        except json.JSONDecodeError:
            raise ValueProblem("is not a JSON list of consent categories") from None
    else:
        items = value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ValueProblem("must be a list of consent categories")
    found = {item.strip() for item in items if item.strip()}
    unknown = sorted(found - set(CATEGORIES))
    if unknown:
        raise ValueProblem(f"unknown consent categories {unknown} (known: {', '.join(CATEGORIES)})")
    return found
