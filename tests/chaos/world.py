"""The store as the chaos driver sees it, and what the driver does to it "outside bcsync".

``World`` creates *foreign* records straight through the emulator's API (customers with an
e-mail some model row has or will have, unrelated customers, orders), deletes records outside
bcsync ("gone is gone"), and remembers, per record id, when it was first and last seen live in a
round's dump. Calls made here may meet the fault rules injected for bcsync's run (they share the
emulator); a create whose answer is lost is looked up again, as bcsync itself must do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.chaos.kinds import Kind, Scenario, Store


@dataclass
class Foreign:
    id: int
    label: str
    original: tuple[Any, ...]  # observed values at creation
    round: int
    claimable_from: int | None = None  # first round whose model matched it (update/upsert)


@dataclass(frozen=True)
class ForeignPlan:
    """A foreign record decided in advance (so the seed fixes it, whenever it is made)."""

    number: int
    email: str | None = None  # customers only


class World:
    def __init__(self, scenario: Scenario, kind: Kind, emulator: Any) -> None:
        self.scenario = scenario
        self.kind = kind
        self.http: httpx.Client = emulator.client(check_contract=False, timeout=15)
        self.emulator = emulator
        self.foreign: dict[int, Foreign] = {}
        self.outside_deleted: set[int] = set()
        self.first_seen: dict[int, int] = {}
        self.last_live: dict[int, tuple[int, dict[str, Any]]] = {}
        self.store = Store(kind, {"customers": [], "orders": [], "attributes": []})
        self.round = 0

    def refresh(self) -> Store:
        self.store = Store(self.kind, self.emulator.dump())
        return self.store

    # -- records created outside bcsync ----------------------------------------------------------
    def make(self, plan: ForeignPlan) -> str:
        if self.scenario.kind == "customers":
            return self._make_customer(plan)
        return self._make_order(plan)

    def _make_customer(self, plan: ForeignPlan) -> str:
        name = f"Foreign{plan.number}"
        body = [{"email": plan.email, "first_name": name, "last_name": "Outside", "phone": "000"}]
        try:
            response = self.http.post("/v3/customers", json=body)
            created = response.json()["data"][0] if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError, IndexError):
            created = None
        if created is None:  # refused, or the answer was lost: did it land?
            created = self._find_customer(plan.email or "", name)
        if created is None:
            return f"foreign {plan.email} not created"
        self._register(created["id"], f"{plan.email}#{created['id']}", body[0])
        return f"foreign+{plan.email}#{created['id']}"

    def _find_customer(self, email: str, name: str) -> dict[str, Any] | None:
        # Through the admin dump, not the API: the run's injected faults apply to the API.
        found = self.emulator.dump()["customers"]
        wanted = email.strip().lower()
        return next(
            (c for c in found if c["email"].lower() == wanted and c["first_name"] == name), None
        )

    def _make_order(self, plan: ForeignPlan) -> str:
        external = f"foreign-{plan.number}"
        body = {
            "billing_address": {
                "first_name": f"Foreign{plan.number}",
                "last_name": "Outside",
                "street_1": "1 Side Street",
                "city": "Austin",
                "zip": "78751",
                "country_iso2": "US",
                "email": f"outside{plan.number}@example.com",
            },
            "products": [
                {"name": "Kettle", "quantity": 1, "price_inc_tax": 30, "price_ex_tax": 25}
            ],
            "status_id": 11,
            "staff_notes": f"base{plan.number}",
            "external_order_id": external,
        }
        try:
            response = self.http.post("/v2/orders", json=body)
            created = response.json() if response.status_code in (200, 201) else None
        except (httpx.HTTPError, ValueError):
            created = None
        if created is None:
            created = self._find_order(external)
        if created is None:
            return f"foreign order {external} not created"
        shape = {**body, "status": "Awaiting Fulfillment", "metafields": []}
        self._register(created["id"], f"order#{created['id']}", shape)
        return f"foreign+order#{created['id']}"

    def _find_order(self, external: str) -> dict[str, Any] | None:
        # Through the admin dump, not the API: the run's injected faults apply to the API.
        found = self.emulator.dump()["orders"]
        return next((o for o in found if o.get("external_order_id") == external), None)

    def _register(self, record_id: int, label: str, sent: dict[str, Any]) -> None:
        """Remember a foreign record with the values it was created with (not read back: bcsync
        may already be changing it)."""
        if record_id not in self.foreign:
            original = self.kind.observed(sent, self.store)
            self.foreign[record_id] = Foreign(record_id, label, original, self.round)

    # -- deletes outside bcsync ------------------------------------------------------------------
    def delete_outside(self, record_id: int) -> bool:
        self.outside_deleted.add(record_id)
        try:
            if self.scenario.kind == "customers":
                response = self.http.delete("/v3/customers", params={"id:in": str(record_id)})
            else:
                response = self.http.delete(f"/v2/orders/{record_id}")
        except httpx.HTTPError:
            return False
        return response.status_code in (200, 204)

    def close(self) -> None:
        self.http.close()
