"""Order syncs end to end against the emulator: inserts with external ids, status updates,
metafields, delete behaviour, and no duplicate order after a lost answer or a killed run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.projects import SyncProject

INSERT_ORDERS = """\
orders:
  destination: store
  object: orders
  model:
    table: orders
    primary_key: order_key
  mode: insert
  mappings:
    - {column: first_name, field: billing_address.first_name}
    - {column: last_name, field: billing_address.last_name}
    - {column: street, field: billing_address.street_1}
    - {column: city, field: billing_address.city}
    - {column: zip, field: billing_address.zip}
    - {column: country, field: billing_address.country_iso2}
    - {column: email, field: billing_address.email}
    - {column: products, field: products}
    - {column: status, field: status_id}
    - {column: note, field: staff_notes}
    - {column: channel, field: metafields.warehouse.channel}
"""

STATUS_UPDATES = """\
order_status:
  destination: store
  object: orders
  model:
    table: status_updates
    primary_key: order_id
  mode: update
  match: {column: order_id, field: id}
  mappings:
    - {column: status, field: status_id}
    - {column: tracking, field: metafields.shipping.tracking}
"""


def order(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "order_key": f"ERP-{n}",
        "first_name": f"Ann{n}",
        "last_name": "Buyer",
        "street": f"{n} Main Street",
        "city": "Austin",
        "zip": "78751",
        "country": "US",
        "email": f"buyer{n}@example.com",
        "products": json.dumps(
            [
                {
                    "name": "Coffee Mug",
                    "quantity": n % 3 + 1,
                    "price_inc_tax": 12.5,
                    "price_ex_tax": 10,
                }
            ]
        ),
        "status": "Awaiting Fulfillment",
        "note": f"imported {n}",
        "channel": "phone" if n % 2 else "marketplace",
    }
    row.update(overrides)
    return row


def live_orders(emulator: Any) -> list[dict[str, Any]]:
    return [o for o in emulator.dump()["orders"] if not o.get("is_deleted")]


def tracking(order: dict[str, Any]) -> list[str]:
    return [
        m["value"]
        for m in order["metafields"]
        if (m["namespace"], m["key"]) == ("shipping", "tracking")
    ]


def by_external(emulator: Any) -> dict[str, dict[str, Any]]:
    return {o["external_order_id"]: o for o in live_orders(emulator)}


def test_insert_orders_with_addresses_products_and_external_ids(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 21)])
    sync_project.configure(INSERT_ORDERS)
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows[:3])
    assert result.counts["succeeded"] == 20
    held = by_external(emulator)
    assert set(held) == {f"bcsync:orders:ERP-{n}" for n in range(1, 21)}
    third = held["bcsync:orders:ERP-3"]
    assert third["external_source"] == "bcsync"
    assert third["billing_address"]["first_name"] == "Ann3"
    assert third["billing_address"]["zip"] == "78751"
    assert third["status_id"] == 11 and third["status"] == "Awaiting Fulfillment"
    assert third["staff_notes"] == "imported 3"
    [line] = third["products"]
    assert line["name"] == "Coffee Mug" and line["quantity"] == 1
    assert third["subtotal_inc_tax"] == "12.5000"
    assert {(m["namespace"], m["key"], m["value"]) for m in third["metafields"]} == {
        ("warehouse", "channel", "phone")
    }
    assert emulator.stats()["by_endpoint"]["POST /v2/orders"] == 20

    before = emulator.stats()
    sync_project.load(
        "orders", [order(n, note="edited") if n == 5 else order(n) for n in range(1, 21)]
    )
    again = sync_project.run("orders")
    assert again.status == "success"
    assert again.counts["changed"] == 1 and again.counts["skipped"] == 1
    after = emulator.stats()
    sent = {
        key: n - before["by_endpoint"].get(key, 0)
        for key, n in after["by_endpoint"].items()
        if n != before["by_endpoint"].get(key, 0)
    }
    assert sent == {}  # nothing written, nothing even read: insert mode skips it unchecked
    assert again.api_calls == 0
    assert by_external(emulator)["bcsync:orders:ERP-5"]["staff_notes"] == "imported 5"


def test_bad_order_rows_are_invalid_before_sending(
    sync_project: SyncProject, emulator: Any
) -> None:
    rows = [
        order(1),
        order(2, status="Teleported"),
        order(3, products=json.dumps([{"name": "Mug", "quantity": 1}])),
        order(4, zip="7"),
        order(5, products="[]"),
    ]
    sync_project.load("orders", rows)
    sync_project.configure(INSERT_ORDERS)
    result = sync_project.run("orders")
    assert result.status == "warning"
    reasons = {row["pk"]: row["reason"] for row in result.invalid_rows}
    assert "'status'" in reasons["ERP-2"] and "Teleported" in reasons["ERP-2"]
    assert "'products'" in reasons["ERP-3"] and "price_inc_tax" in reasons["ERP-3"]
    assert "'zip'" in reasons["ERP-4"]
    assert "'products'" in reasons["ERP-5"]
    assert set(by_external(emulator)) == {"bcsync:orders:ERP-1"}
    assert emulator.stats()["by_endpoint"]["POST /v2/orders"] == 1


def test_lost_create_answer_does_not_duplicate_orders(
    sync_project: SyncProject, emulator: Any
) -> None:
    emulator.faults(
        [{"method": "POST", "path": "/v2/orders", "drop_after_apply": True, "times": 2}]
    )
    sync_project.load("orders", [order(n) for n in range(1, 11)])
    sync_project.configure(INSERT_ORDERS)
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows)
    externals = [o["external_order_id"] for o in live_orders(emulator)]
    assert len(externals) == len(set(externals)) == 10


def test_killed_order_run_resumes_without_duplicates(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 301)])
    sync_project.configure(INSERT_ORDERS)
    sync_project.kill_midway("orders", endpoint="POST /v2/orders", after=40, latency_ms=30)
    assert 0 < len(live_orders(emulator)) < 300
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows[:3])
    externals = [o["external_order_id"] for o in live_orders(emulator)]
    assert len(externals) == len(set(externals)) == 300


def test_orders_created_by_a_killed_run_whose_rows_then_left_are_archived(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 301)])
    sync_project.configure(INSERT_ORDERS + "  on_delete: delete\n")
    sync_project.kill_midway("orders", endpoint="POST /v2/orders", after=40, latency_ms=30)
    landed = {o["external_order_id"] for o in live_orders(emulator)}
    # Keys go out in text order ("1", "10", "100", …): rows 100-199 are among the first sent.
    leaving = {f"bcsync:orders:ERP-{n}" for n in range(100, 200)}
    assert landed & leaving, "some orders of the rows about to leave should have landed"
    sync_project.load("orders", [order(n) for n in range(1, 301) if not 100 <= n < 200])
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows[:3])
    externals = [o["external_order_id"] for o in live_orders(emulator)]
    # The orders the killed run created for rows that left were found by their
    # external_order_id and archived; no order is left behind, none is doubled.
    assert len(externals) == len(set(externals)) == 200
    assert not set(externals) & leaving


def test_status_updates_by_number_and_name(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 5)])
    sync_project.configure(INSERT_ORDERS + STATUS_UPDATES)
    assert sync_project.run("orders").status == "success"
    ids = sorted(o["id"] for o in live_orders(emulator))
    updates = [
        {"order_id": ids[0], "status": "Shipped", "tracking": "1Z999"},
        {"order_id": ids[1], "status": "5", "tracking": None},
        {"order_id": ids[2], "status": "Beamed Up", "tracking": None},
        {"order_id": 999_999, "status": "Shipped", "tracking": None},
    ]
    sync_project.load("status_updates", updates)
    result = sync_project.run("order_status")
    assert result.status == "warning"
    assert result.counts["succeeded"] == 2
    assert [r["pk"] for r in result.invalid_rows] == [str(ids[2])]
    assert "Beamed Up" in result.invalid_rows[0]["reason"]
    # An order id that matches no order: not sent, skipped (DESIGN §3.2), and said so.
    assert result.rejected_rows == [] and result.counts["skipped"] == 1
    shown = sync_project.cli("debug", result.run_id, "--pk", "999999", "--json")
    row = json.loads(shown.stdout)["row"]
    assert row["outcome"] == "skipped" and "does not exist" in json.dumps(row)
    held = {o["id"]: o for o in live_orders(emulator)}
    assert held[ids[0]]["status"] == "Shipped"
    assert held[ids[1]]["status_id"] == 5 and held[ids[1]]["status"] == "Cancelled"
    assert held[ids[2]]["status_id"] == 11
    assert tracking(held[ids[0]]) == ["1Z999"]

    updates[0]["tracking"] = "1Z000"
    updates[1]["status"] = "Completed"
    sync_project.load("status_updates", updates[:2])
    result = sync_project.run("order_status")
    held = {o["id"]: o for o in live_orders(emulator)}
    assert result.counts["changed"] == 2, result
    assert held[ids[1]]["status"] == "Completed"
    assert tracking(held[ids[0]]) == ["1Z000"]


@pytest.mark.parametrize("on_delete", ["clear", "delete"])
def test_orders_that_leave_the_model(
    sync_project: SyncProject, emulator: Any, on_delete: str
) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 6)])
    sync_project.configure(INSERT_ORDERS + f"  on_delete: {on_delete}\n")
    assert sync_project.run("orders").status == "success"
    sync_project.load("orders", [order(n) for n in range(1, 4)])
    result = sync_project.run("orders")
    assert result.status == "success", result.error
    everything = {o["external_order_id"]: o for o in emulator.dump()["orders"]}
    gone = [everything[f"bcsync:orders:ERP-{n}"] for n in (4, 5)]
    kept = [everything[f"bcsync:orders:ERP-{n}"] for n in (1, 2, 3)]
    assert not any(o.get("is_deleted") for o in kept)
    if on_delete == "delete":
        assert all(o["is_deleted"] for o in gone)
    else:
        assert not any(o.get("is_deleted") for o in gone)
        assert all(o["staff_notes"] == "" and o["metafields"] == [] for o in gone)
        assert all(o["status_id"] == 11 for o in gone)
    assert "DELETE /v2/orders" not in emulator.stats()["by_endpoint"]


@pytest.mark.parametrize("on_delete", ["clear", "delete"])
def test_an_order_removal_killed_before_its_confirm_then_the_row_returning(
    sync_project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch, on_delete: str
) -> None:
    """A delete or clear is marked in flight before it is sent: a run killed after the order
    was archived or cleared, before the ledger recorded it, leaves no row 'unchanged' whose
    order is gone or blank when the row returns."""
    from bcsync.run.snapshot import Snapshot

    rows = [order(n) for n in range(1, 6)]
    sync_project.load("orders", rows)
    sync_project.configure(INSERT_ORDERS + f"  on_delete: {on_delete}\n")
    assert sync_project.run("orders").status == "success"
    sync_project.load("orders", rows[:4])

    def killed(self: Snapshot, items: Any) -> None:
        raise SystemExit("killed after the order was removed, before the ledger recorded it")

    recorded = "forget" if on_delete == "delete" else "release"
    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, recorded, killed)
        sync_project.run("orders")
    key = "bcsync:orders:ERP-5"
    if on_delete == "delete":
        assert key not in by_external(emulator)
    else:
        assert by_external(emulator)[key]["staff_notes"] == ""
    sync_project.load("orders", rows)
    back = sync_project.run("orders")
    assert back.status == "success", (back.error, back.rejected_rows)
    held = by_external(emulator)
    assert len(held) == 5
    # Insert mode never re-sends an order's own fields (DESIGN §3.2): a cleared order gets its
    # metafields back, as one whose clear was recorded does when its row returns.
    assert held[key]["staff_notes"] == ("imported 5" if on_delete == "delete" else "")
    assert [(m["key"], m["value"]) for m in held[key]["metafields"]] == [("channel", "phone")]
    assert sync_project.run("orders").counts["changed"] == 0
