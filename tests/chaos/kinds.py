"""What the chaos test syncs: the scenarios (one sync config each) and, per kind of record, how a
model row is generated, what it should look like in BigCommerce, and how a record is read back.

Every model row carries a *lineage tag* ``L<lineage>V<version>`` in one mapped text field (a
customer's ``first_name``, an order's billing ``first_name``, an order update's ``staff_notes``).
A lineage is one logical row: it keeps its tag's lineage number through value edits, e-mail
changes, primary-key changes and leaving/returning, so any record in the store can be traced back
to the row that wrote it. Records created outside bcsync carry ``Foreign<n>`` / ``base<n>``.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TAG = re.compile(r"^L(\d+)V(\d+)$")
SURNAMES = ("Smith", "Jones", "Garcia", "Lee", "Novak")
TIERS = ("gold", "silver", "bronze")
LTVS = (3.5, 10.25, 99.5, 250.0, 1000.75)
STATUSES = ("Pending", "Awaiting Fulfillment", "Awaiting Shipment", "Shipped", "Completed")
PRODUCTS = ("Coffee Mug", "Tea Pot", "Spoon")
CHANNELS = ("phone", "web", "marketplace")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def tag(lineage: int, version: int) -> str:
    return f"L{lineage}V{version}"


def lineage_of(text: Any) -> int | None:
    found = TAG.match(text) if isinstance(text, str) else None
    return int(found.group(1)) if found else None


def fold(email: Any) -> str:
    return str(email or "").strip().casefold()


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # customers | orders | order_updates
    mode: str  # insert | update | upsert
    match: str | None  # email | id | None (insert)
    on_delete: str  # nothing | clear | delete
    email_mapped: bool = True

    @property
    def adopts(self) -> bool:
        """update/upsert take over records they match; insert never does (DESIGN §3.8)."""
        return self.mode != "insert"

    def yaml(self) -> str:
        return KINDS[self.kind].yaml(self)


SCENARIOS = (
    Scenario("customers_upsert_email", "customers", "upsert", "email", "delete"),
    Scenario("customers_upsert_email_unmapped", "customers", "upsert", "email", "clear", False),
    Scenario("customers_upsert_id", "customers", "upsert", "id", "nothing"),
    Scenario("customers_insert_delete", "customers", "insert", None, "delete"),
    Scenario("customers_insert_clear", "customers", "insert", None, "clear"),
    Scenario("customers_update_email_unmapped", "customers", "update", "email", "delete", False),
    Scenario("customers_update_id", "customers", "update", "id", "clear"),
    Scenario("orders_insert_nothing", "orders", "insert", None, "nothing"),
    Scenario("orders_insert_delete", "orders", "insert", None, "delete"),
    Scenario("orders_update_clear", "order_updates", "update", "id", "clear"),
)


def _sync_yaml(scenario: Scenario, table: str, pk: str, match: str, mappings: list[str]) -> str:
    lines = [
        f"{KINDS[scenario.kind].sync}:",
        "  destination: store",
        f"  object: {'customers' if scenario.kind == 'customers' else 'orders'}",
        f"  model: {{table: {table}, primary_key: {pk}}}",
        f"  mode: {scenario.mode}",
    ]
    if scenario.mode != "insert":
        lines.append(f"  match: {match}")
    lines.append("  mappings:")
    lines += [f"    - {m}" for m in mappings]
    lines += [
        f"  on_delete: {scenario.on_delete}",
        # The guard against mass deletes is not what this test is about: removals pile up over
        # failed and killed runs. The empty-model guard stays on (and is tested).
        "  max_delete_fraction: 1.0",
    ]
    return "\n".join(lines) + "\n"


# -- customers ------------------------------------------------------------------------------


class CustomerKind:
    sync = "customers"
    table = "customers"
    pk = "customer_key"
    key_prefix = "K"
    schema = pa.schema(
        [
            ("customer_key", pa.string()),
            ("email", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("phone", pa.string()),
            ("tier", pa.string()),
            ("ltv", pa.float64()),
            ("bc_id", pa.int64()),
        ]
    )

    def yaml(self, scenario: Scenario) -> str:
        mappings = [
            "{column: first_name, field: first_name}",
            "{column: last_name, field: last_name}",
            "{column: phone, field: phone}",
            '{column: tier, field: "attributes.Loyalty Tier"}',
            "{column: ltv, field: metafields.warehouse.ltv}",
        ]
        if scenario.email_mapped:
            mappings.insert(0, "{column: email, field: email}")
        match = (
            "{column: bc_id, field: id}"
            if scenario.match == "id"
            else "{column: email, field: email}"
        )
        text = _sync_yaml(scenario, self.table, self.pk, match, mappings)
        return text + "  create_missing_attributes: true\n"

    def fresh(self, rng: random.Random, lineage: int, key: str) -> dict[str, Any]:
        return {
            "customer_key": key,
            "email": None,  # set by the edit (identity is the edit's choice)
            "first_name": tag(lineage, 0),
            "last_name": rng.choice(SURNAMES),
            "phone": f"555-{rng.randrange(10_000):04d}",
            "tier": rng.choice(TIERS),
            "ltv": rng.choice(LTVS),
            "bc_id": None,
        }

    def mutate(self, rng: random.Random, values: dict[str, Any]) -> dict[str, Any]:
        """New values for some of the non-identity fields (and a fix of an invalid value)."""
        out = dict(values)
        fields = rng.sample(["last_name", "phone", "tier", "ltv"], rng.randint(1, 3))
        for name in fields:
            out[name] = self.fresh(rng, 0, "")[name]
        if not EMAIL.match(out["email"] or "") and rng.random() < 0.7:
            out["email"] = f"fixed{rng.randrange(10**6)}@example.com"
        return out

    def spoil(self, rng: random.Random, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        out = dict(values)
        what = rng.choice(["email", "phone", "ltv-nan", "ltv-inf"])
        if what == "email":
            out["email"] = "not-an-email"
        elif what == "phone":
            out["phone"] = "5" * 60
        else:
            out["ltv"] = math.nan if what == "ltv-nan" else -math.inf
        return out, what

    def problem(self, values: dict[str, Any]) -> str | None:
        if not EMAIL.match(values["email"] or ""):
            return "email"
        if len(values["phone"] or "") > 50:
            return "phone"
        if values["ltv"] is not None and not math.isfinite(values["ltv"]):
            return "ltv"
        return None

    def expected(self, values: dict[str, Any]) -> tuple[Any, ...]:
        ltv = values["ltv"]
        return (
            fold(values["email"]),
            values["first_name"],
            values["last_name"],
            values["phone"],
            values["tier"],
            (float(ltv),) if ltv is not None else (),
        )

    def observed(self, record: dict[str, Any], store: Store) -> tuple[Any, ...]:
        tiers = [
            a["attribute_value"]
            for a in record.get("attributes", [])
            if store.attribute_names.get(a["attribute_id"]) == "Loyalty Tier"
        ]
        ltv = [_number(m["value"]) for m in _metafields(record, "warehouse", "ltv")]
        return (
            fold(record["email"]),
            record["first_name"],
            record["last_name"],
            record["phone"],
            tiers[0] if len(tiers) == 1 else tuple(tiers) or None,
            tuple(ltv),
        )

    def cleared(self, record: dict[str, Any], store: Store) -> bool:
        observed = self.observed(record, store)
        return observed[3] == "" and observed[4] is None and observed[5] == ()

    def owner(self, record: dict[str, Any]) -> int | None:
        return lineage_of(record.get("first_name"))

    def live(self, record: dict[str, Any]) -> bool:
        return True

    def records(self, dump: dict[str, Any]) -> list[dict[str, Any]]:
        return list(dump["customers"])

    def resolves(self, scenario: Scenario, values: dict[str, Any], record: dict[str, Any]) -> bool:
        """Whether the sync's matching would find ``record`` for a row with ``values``."""
        if scenario.match == "id":
            return values["bc_id"] is not None and values["bc_id"] == record["id"]
        return fold(values["email"]) == fold(record["email"])


# -- orders (insert) ------------------------------------------------------------------------


class OrderKind:
    sync = "orders"
    table = "orders"
    pk = "order_key"
    key_prefix = "ERP-"
    schema = pa.schema(
        [(name, pa.string()) for name in ("order_key", "first_name", "last_name", "street")]
        + [(name, pa.string()) for name in ("city", "zip", "country", "email", "products")]
        + [(name, pa.string()) for name in ("status", "note", "channel")]
    )
    prefix = "bcsync:orders:"

    def yaml(self, scenario: Scenario) -> str:
        mappings = [
            "{column: first_name, field: billing_address.first_name}",
            "{column: last_name, field: billing_address.last_name}",
            "{column: street, field: billing_address.street_1}",
            "{column: city, field: billing_address.city}",
            "{column: zip, field: billing_address.zip}",
            "{column: country, field: billing_address.country_iso2}",
            "{column: email, field: billing_address.email}",
            "{column: products, field: products}",
            "{column: status, field: status_id}",
            "{column: note, field: staff_notes}",
            "{column: channel, field: metafields.warehouse.channel}",
        ]
        return _sync_yaml(scenario, self.table, self.pk, "", mappings)

    def fresh(self, rng: random.Random, lineage: int, key: str) -> dict[str, Any]:
        lines = [
            {
                "name": name,
                "quantity": rng.randint(1, 3),
                "price_inc_tax": 12.5,
                "price_ex_tax": 10,
            }
            for name in rng.sample(PRODUCTS, rng.randint(1, 2))
        ]
        return {
            "order_key": key,
            "first_name": tag(lineage, 0),
            "last_name": rng.choice(SURNAMES),
            "street": f"{rng.randint(1, 999)} Main Street",
            "city": rng.choice(("Austin", "Dallas")),
            "zip": "78751",
            "country": "US",
            "email": f"buyer{lineage}@example.com",
            "products": json.dumps(lines),
            "status": rng.choice(STATUSES),
            "note": f"note {rng.randrange(1000)}",
            "channel": rng.choice(CHANNELS),
        }

    def mutate(self, rng: random.Random, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        fields = ["last_name", "street", "products", "status", "note", "channel"]
        for name in rng.sample(fields, rng.randint(1, 3)):
            out[name] = self.fresh(rng, 0, "")[name]
        return out

    def spoil(self, rng: random.Random, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {**values, "status": "Teleported"}, "status"

    def problem(self, values: dict[str, Any]) -> str | None:
        return None if values["status"] in STATUSES else "status"

    def expected(self, values: dict[str, Any]) -> tuple[Any, ...]:
        lines = tuple(
            sorted(
                (p["name"], p["quantity"], float(p["price_inc_tax"]), float(p["price_ex_tax"]))
                for p in json.loads(values["products"])
            )
        )
        keys = ("first_name", "last_name", "street", "city", "zip", "country", "email")
        head = tuple(values[k] for k in keys)
        return (*head, lines, values["status"], values["note"], (values["channel"],))

    def observed(self, record: dict[str, Any], store: Store) -> tuple[Any, ...]:
        billing = record["billing_address"]
        keys = ("first_name", "last_name", "street_1", "city", "zip", "country_iso2", "email")
        lines = tuple(
            sorted(
                (p["name"], p["quantity"], float(p["price_inc_tax"]), float(p["price_ex_tax"]))
                for p in record.get("products", [])
            )
        )
        channel = tuple(m["value"] for m in _metafields(record, "warehouse", "channel"))
        return (
            *(billing.get(k) for k in keys),
            lines,
            record["status"],
            record["staff_notes"],
            channel,
        )

    def cleared(self, record: dict[str, Any], store: Store) -> bool:
        return record["staff_notes"] == "" and not _metafields(record, "warehouse", "channel")

    def owner(self, record: dict[str, Any]) -> int | None:
        return lineage_of(record.get("billing_address", {}).get("first_name"))

    def live(self, record: dict[str, Any]) -> bool:
        return not record.get("is_deleted")

    def records(self, dump: dict[str, Any]) -> list[dict[str, Any]]:
        return list(dump["orders"])

    def resolves(self, scenario: Scenario, values: dict[str, Any], record: dict[str, Any]) -> bool:
        return record.get("external_order_id") == self.prefix + values["order_key"]


# -- order updates (update mode, match on the order id) -------------------------------------


class OrderUpdateKind:
    sync = "order_updates"
    table = "order_updates"
    pk = "update_key"
    key_prefix = "U"
    schema = pa.schema(
        [
            ("update_key", pa.string()),
            ("order_id", pa.int64()),
            ("status", pa.string()),
            ("note", pa.string()),
            ("tracking", pa.string()),
        ]
    )

    def yaml(self, scenario: Scenario) -> str:
        mappings = [
            "{column: status, field: status_id}",
            "{column: note, field: staff_notes}",
            "{column: tracking, field: metafields.shipping.tracking}",
        ]
        return _sync_yaml(scenario, self.table, self.pk, "{column: order_id, field: id}", mappings)

    def fresh(self, rng: random.Random, lineage: int, key: str) -> dict[str, Any]:
        return {
            "update_key": key,
            "order_id": None,  # set by the edit
            "status": rng.choice(STATUSES),
            "note": tag(lineage, 0),
            "tracking": f"1Z{rng.randrange(10**6):06d}",
        }

    def mutate(self, rng: random.Random, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for name in rng.sample(["status", "tracking"], rng.randint(1, 2)):
            out[name] = self.fresh(rng, 0, "")[name]
        return out

    def spoil(self, rng: random.Random, values: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return {**values, "status": "Teleported"}, "status"

    def problem(self, values: dict[str, Any]) -> str | None:
        return None if values["status"] in STATUSES else "status"

    def expected(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return (values["status"], values["note"], (values["tracking"],))

    def observed(self, record: dict[str, Any], store: Store) -> tuple[Any, ...]:
        tracking = tuple(m["value"] for m in _metafields(record, "shipping", "tracking"))
        return (record["status"], record["staff_notes"], tracking)

    def cleared(self, record: dict[str, Any], store: Store) -> bool:
        return record["staff_notes"] == "" and not _metafields(record, "shipping", "tracking")

    def owner(self, record: dict[str, Any]) -> int | None:
        return lineage_of(record.get("staff_notes"))

    def live(self, record: dict[str, Any]) -> bool:
        return not record.get("is_deleted")

    def records(self, dump: dict[str, Any]) -> list[dict[str, Any]]:
        return list(dump["orders"])

    def resolves(self, scenario: Scenario, values: dict[str, Any], record: dict[str, Any]) -> bool:
        return values["order_id"] is not None and values["order_id"] == record["id"]


Kind = CustomerKind | OrderKind | OrderUpdateKind
KINDS: dict[str, Kind] = {
    "customers": CustomerKind(),
    "orders": OrderKind(),
    "order_updates": OrderUpdateKind(),
}


class Store:
    """One emulator dump, indexed the way the checks read it."""

    def __init__(self, kind: Kind, dump: dict[str, Any]) -> None:
        self.dump = dump
        self.attribute_names = {a["id"]: a["name"] for a in dump.get("attributes", [])}
        self.all = {r["id"]: r for r in kind.records(dump)}
        self.live = {i: r for i, r in self.all.items() if kind.live(r)}


def _metafields(record: dict[str, Any], namespace: str, key: str) -> list[dict[str, Any]]:
    return [
        m
        for m in record.get("metafields", [])
        if m.get("namespace") == namespace and m.get("key") == key
    ]


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
