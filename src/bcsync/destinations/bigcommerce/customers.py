"""The customers object: BigCommerce customers (v3) kept in step with model rows.

Calls per operation (DESIGN §3.4): creates and updates go 10 customers to a request; email and id
look-ups 50 to a request; attribute values and addresses 10 to a request; deletes 50 ids to a
request. A batch
BigCommerce rejects as a whole is bisected until the bad rows are isolated. A create whose answer
was lost is settled by an email look-up before anything is re-sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import Problem
from bcsync.destinations.bigcommerce.catalog import CUSTOMER_FIELDS
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customer_extras import CustomerExtras
from bcsync.destinations.bigcommerce.customer_matching import CUSTOMER, LOOKUP_BATCH
from bcsync.destinations.bigcommerce.customer_writes import (
    DELETE_BATCH,
    WRITE_BATCH,
    CustomerWrites,
)
from bcsync.destinations.bigcommerce.fields import (
    EMAIL_RE,
    FieldSpec,
    ValueProblem,
    convert,
    map_fields,
    type_problems,
)

__all__ = [
    "CREATE_REQUIRED",
    "CUSTOMER",
    "DELETE_BATCH",
    "LOOKUP_BATCH",
    "MATCH_FIELDS",
    "MODES",
    "WRITE_BATCH",
    "CustomerObject",
]

MODES = ("insert", "update", "upsert")
MATCH_FIELDS = ("id", "email")
CREATE_REQUIRED = ("email", "first_name", "last_name")  # what POST /v3/customers requires
_CREATING = "creating a customer needs"


class CustomerObject(CustomerWrites):
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
            custom={"attribute", "form_field", "metafield", "consent", "address"},
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
                if ref.kind == "metafield"
            ],
            consent=[(column, ref.name) for column, ref in custom if ref.kind == "consent"],
            addresses=[(column, ref.name) for column, ref in custom if ref.kind == "address"],
            names={spec.name: column for column, spec in self.native},
        )
        self.email_column = next((c for c, s in self.native if s.name == "email"), None)
        match = sync.match
        if self.email_column is None and match is not None and match.field == "email":
            self.email_column = match.column

    # -- checks ------------------------------------------------------------------------------

    def static_problems(self) -> list[Problem]:
        problems = [
            *self._problems,
            *self.extras.consent.static_problems(),
            *self.extras.addresses.static_problems(),
        ]
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
        return [
            *type_problems(self.sync.mappings, CUSTOMER_FIELDS, column_types, what="customer"),
            *self.extras.addresses.column_problems(column_types),
        ]

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
        calls += writes * (1 if self.extras.consent.mappings else 0)  # one PUT per customer
        # Addresses ride inside creates; updates write them apart, 10 to a request.
        calls += (
            -(-operations.get("update", 0) // WRITE_BATCH) if self.extras.addresses.mappings else 0
        )
        calls += -(-lookups // LOOKUP_BATCH)
        calls += -(-operations.get("clear", 0) // WRITE_BATCH)
        calls += -(-operations.get("delete", 0) // DELETE_BATCH)
        return calls

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

    async def clock(self) -> dt.datetime:
        return await self.client.store_time(self.probe_path)
