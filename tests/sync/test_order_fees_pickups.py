"""Orders with fees and pickup consignments end to end against the emulator: created by an insert
sync, updated by an update sync (a fee changed, a fee removed, a pickup's details and line items
changed), bad rows invalid before sending and named, and the store holding what the model says."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.projects import SyncProject

INSERT = """\
orders:
  destination: store
  object: orders
  model:
    table: orders
    primary_key: order_key
  mode: insert
  mappings:
    - {column: first_name, field: billing_address.first_name}
    - {column: zip, field: billing_address.zip}
    - {column: email, field: billing_address.email}
    - {column: products, field: products}
    - {column: pickup, field: consignments}
    - {column: fees, field: fees}
"""

UPDATE = """\
order_extras:
  destination: store
  object: orders
  model:
    table: extras
    primary_key: order_id
  mode: update
  match: {column: order_id, field: id}
  mappings:
    - {column: fees, field: fees}
    - {column: pickup, field: consignments}
"""

MUG = {"name": "Mug", "quantity": 2, "price_inc_tax": 11, "price_ex_tax": 10, "sku": "MUG"}
POSTER = {"name": "Poster", "quantity": 1, "price_inc_tax": 5.5, "price_ex_tax": 5}
BAG = {"display_name_customer": "Gift bag", "cost_ex_tax": 2, "cost_inc_tax": 2.2}
INSURANCE = {
    "type": "custom_fee",
    "display_name_merchant": "Insurance",
    "cost_ex_tax": "4.50",
    "cost_tax": "0.45",
    "source": "warehouse",
}
LOCATION = {
    "name": "Austin store",
    "city": "Austin",
    "postal_code": "78726",
    "country_alpha2": "US",
}


def pickup(*lines: dict[str, Any], **fields: Any) -> str:
    one = {"pickup_method_id": 1, "pickup_method_display_name": "Pick Up", "location": LOCATION}
    one.update(fields)
    return json.dumps({"pickups": [{**one, "line_items": list(lines)}]})


def row(key: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "order_key": key,
        "first_name": "Ann",
        "zip": "78751",
        "email": "ann@example.com",
        "products": json.dumps([MUG]),
        "pickup": None,
        "fees": None,
    }
    values.update(overrides)
    return values


def orders(emulator: Any) -> dict[str, dict[str, Any]]:
    """The live orders by their row key (the dump side-loads fees and consignments)."""
    return {
        o["external_order_id"].removeprefix("bcsync:orders:"): o
        for o in emulator.dump()["orders"]
        if not o.get("is_deleted")
    }


def fees_of(order: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            f["display_name_customer"],
            f["display_name_merchant"],
            f["cost_ex_tax"],
            f["cost_inc_tax"],
        )
        for f in order["fees"]
    ]


def lines_of(order: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((line["name"], line["quantity"]) for line in order["products"])


def test_orders_with_fees_and_a_pickup_are_created_and_updated(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load(
        "orders",
        [
            row("A", fees=json.dumps([BAG, INSURANCE])),
            row("B", fees=json.dumps(BAG)),
            row("P", products=None, pickup=pickup(MUG, POSTER), fees=json.dumps([BAG])),
        ],
    )
    sync_project.configure(INSERT + UPDATE)
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.invalid_rows, result.rejected_rows)
    held = orders(emulator)
    assert fees_of(held["A"]) == [
        ("Gift bag", "Gift bag", "2.0000", "2.2000"),
        ("Insurance", "Insurance", "4.5000", "4.9500"),
    ]
    assert held["A"]["fees"][1]["source"] == "warehouse"
    assert held["A"]["total_inc_tax"] == "29.1500"  # 2 mugs at 11 + 2.20 + 4.95
    assert fees_of(held["B"]) == [("Gift bag", "Gift bag", "2.0000", "2.2000")]
    (picked,) = held["P"]["consignments"]["pickups"]
    assert picked["pickup_method_id"] == 1 and picked["location"]["city"] == "Austin"
    assert lines_of(held["P"]) == [("Mug", 2), ("Poster", 1)]
    assert held["P"]["consignments"]["shipping"] == []
    assert held["P"]["shipping_address_count"] == 0

    # An update sync: A's fees changed (one fewer, the other's amount changed), B's removed,
    # P's pickup moved to another method and its lines changed (one more mug, no poster).
    ids = {key: order["id"] for key, order in held.items()}
    line_ids = {line["name"]: line["id"] for line in held["P"]["products"]}
    dearer = {**BAG, "cost_ex_tax": 3, "cost_inc_tax": "3.30"}
    updates = [
        {"order_id": ids["A"], "fees": json.dumps([dearer]), "pickup": None},
        {"order_id": ids["B"], "fees": None, "pickup": None},
        {
            "order_id": ids["P"],
            "fees": json.dumps([BAG]),
            "pickup": pickup(
                {**MUG, "quantity": 3}, pickup_method_id=2, collection_instructions="Bring ID"
            ),
        },
    ]
    sync_project.load("extras", updates)
    result = sync_project.run("order_extras")
    assert result.status == "success", (result.error, result.invalid_rows, result.rejected_rows)
    assert result.counts["succeeded"] == 3
    held = orders(emulator)
    assert fees_of(held["A"]) == [("Gift bag", "Gift bag", "3.0000", "3.3000")]
    assert held["A"]["total_inc_tax"] == "25.3000"
    assert held["B"]["fees"] == []
    assert held["B"]["total_inc_tax"] == "22.0000"
    assert fees_of(held["P"]) == [("Gift bag", "Gift bag", "2.0000", "2.2000")]
    (picked,) = held["P"]["consignments"]["pickups"]
    assert picked["id"] == held["P"]["products"][0]["order_pickup_method_id"]
    assert picked["pickup_method_id"] == 2
    assert picked["collection_instructions"] == "Bring ID"
    assert picked["location"]["city"] == "Austin"
    assert lines_of(held["P"]) == [("Mug", 3)]
    assert line_ids["Mug"] not in {line["id"] for line in held["P"]["products"]}
    assert emulator.stats()["by_endpoint"]["GET /v2/orders/{id}/consignments"] == 1

    # Unchanged lines are kept, not replaced: only the pickup's own fields go out.
    mug_line = held["P"]["products"][0]["id"]
    updates[2]["pickup"] = pickup({**MUG, "quantity": 3}, pickup_method_id=3)
    sync_project.load("extras", updates)
    result = sync_project.run("order_extras")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert result.counts["changed"] == 1
    held = orders(emulator)
    assert held["P"]["consignments"]["pickups"][0]["pickup_method_id"] == 3
    assert [line["id"] for line in held["P"]["products"]] == [mug_line]

    # Nothing changed: nothing is sent.
    before = emulator.stats()["by_endpoint"].get("PUT /v2/orders/{id}", 0)
    again = sync_project.run("order_extras")
    assert again.status == "success" and again.api_calls == 0
    assert emulator.stats()["by_endpoint"].get("PUT /v2/orders/{id}", 0) == before


def test_a_pickup_update_of_a_shipped_order_is_rejected_not_guessed(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [row("S")])
    sync_project.configure(INSERT + UPDATE)
    assert sync_project.run("orders").status == "success"
    order_id = orders(emulator)["S"]["id"]
    sync_project.load("extras", [{"order_id": order_id, "fees": None, "pickup": pickup(MUG)}])
    result = sync_project.run("order_extras")
    (rejected,) = result.rejected_rows
    assert "no pickup consignment" in rejected["error"], rejected
    assert lines_of(orders(emulator)["S"]) == [("Mug", 2)]


def test_bad_fee_and_pickup_rows_are_invalid_and_named(
    sync_project: SyncProject, emulator: Any
) -> None:
    nameless = {"cost_ex_tax": 1, "cost_inc_tax": 1}
    rows = [
        row("ok", fees=json.dumps([BAG])),
        row("nameless", fees=json.dumps([nameless])),
        row("one-cost", fees=json.dumps([{"display_name_customer": "X", "cost_ex_tax": 1}])),
        row("negative", fees=json.dumps([{**BAG, "cost_ex_tax": -1}])),
        row("other-type", fees=json.dumps([{**BAG, "type": "shipping_fee"}])),
        row("fee-id", fees=json.dumps([{**BAG, "id": 7}])),
        row("both", pickup=pickup(MUG)),
        row("two-pickups", products=None, pickup=json.dumps({"pickups": [{}, {}]})),
        row("no-method", products=None, pickup=json.dumps({"pickups": [{"line_items": [MUG]}]})),
        row("no-lines", products=None, pickup=json.dumps({"pickups": [{"pickup_method_id": 1}]})),
        row("nothing", products=None),
    ]
    sync_project.load("orders", rows)
    sync_project.configure(INSERT)
    result = sync_project.run("orders")
    assert result.status == "warning"
    reasons = {r["pk"]: r["reason"] for r in result.invalid_rows}
    assert set(reasons) == {r["order_key"] for r in rows} - {"ok"}
    for key in ("nameless", "one-cost", "negative", "other-type", "fee-id"):
        assert "column 'fees' (field fees): fee 1" in reasons[key], reasons[key]
    assert "display_name" in reasons["nameless"]
    assert "at least two of cost_ex_tax" in reasons["one-cost"]
    assert "cost_ex_tax" in reasons["negative"] and "non-negative" in reasons["negative"]
    assert "custom_fee" in reasons["other-type"]
    assert "'id'" in reasons["fee-id"]
    assert "column 'pickup' (consignments) cannot come with 'products'" in reasons["both"]
    assert "at most one pickup" in reasons["two-pickups"]
    assert "pickup_method_id" in reasons["no-method"]
    assert "line_items" in reasons["no-lines"]
    assert "'products'" in reasons["nothing"]
    assert set(orders(emulator)) == {"ok"}
    assert emulator.stats()["by_endpoint"]["POST /v2/orders"] == 1


def test_a_sync_without_products_or_consignments_cannot_insert(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [row("A")])
    config = INSERT.replace("    - {column: products, field: products}\n", "").replace(
        "    - {column: pickup, field: consignments}\n", ""
    )
    sync_project.configure(config)
    shown = sync_project.cli("check", "orders")
    assert shown.returncode == 2
    assert "'products' (not mapped), or 'consignments'" in shown.stdout + shown.stderr
