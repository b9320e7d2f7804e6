"""Updating and archiving orders (reference §5.4, §5.1, §9.8) and the orders in the admin dump."""

from __future__ import annotations

import json
import time

import pytest

from tests.emulator.test_orders import NOT_FOUND, READ_ONLY_MESSAGE, create_order


@pytest.fixture
def api(emulator):
    return emulator.client()


def test_put_is_partial_and_moves_date_modified(api):
    order = create_order(api, customer_message="hello", external_order_id="e-1")
    time.sleep(1.1)  # v2 dates have one-second resolution
    response = api.put(f"/v2/orders/{order['id']}", json={"staff_notes": "call first"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["staff_notes"] == "call first"
    assert updated["customer_message"] == "hello"
    assert updated["external_order_id"] == "e-1"
    assert updated["date_created"] == order["date_created"]
    assert updated["date_modified"] != order["date_modified"]
    assert api.get(f"/v2/orders/{order['id']}").json() == updated


def test_status_id_drives_status_and_custom_status(api):
    order = create_order(api)
    updated = api.put(f"/v2/orders/{order['id']}", json={"status_id": 2}).json()
    assert (updated["status_id"], updated["status"], updated["custom_status"]) == (
        2,
        "Shipped",
        "Shipped",
    )


def test_products_are_added_updated_and_removed(api):
    order = create_order(
        api,
        products=[
            {"name": "Keep", "quantity": 1, "price_inc_tax": 10, "price_ex_tax": 10},
            {"name": "Drop", "quantity": 1, "price_inc_tax": 5, "price_ex_tax": 5},
        ],
    )
    keep, drop = api.get(f"/v2/orders/{order['id']}/products").json()
    products = [
        {"id": keep["id"], "quantity": 3},
        {"id": drop["id"], "quantity": 0},
        {"name": "New", "quantity": 2, "price_inc_tax": 1.5, "price_ex_tax": 1.5},
    ]
    updated = api.put(f"/v2/orders/{order['id']}", json={"products": products}).json()
    lines = api.get(f"/v2/orders/{order['id']}/products").json()
    assert [(line["name"], line["quantity"]) for line in lines] == [("Keep", 3), ("New", 2)]
    assert lines[0]["id"] == keep["id"]
    assert updated["subtotal_inc_tax"] == "33.0000"
    assert updated["total_inc_tax"] == "33.0000"
    assert updated["items_total"] == 5


def test_changing_costs_recalculates_and_drops_an_old_total_override(api):
    order = create_order(api, total_ex_tax="1", total_inc_tax="1")
    updated = api.put(
        f"/v2/orders/{order['id']}",
        json={"shipping_cost_ex_tax": "10", "shipping_cost_inc_tax": "11"},
    ).json()
    assert updated["total_inc_tax"] == "61.0000"  # 50 + 11
    notes_only = api.put(f"/v2/orders/{order['id']}", json={"staff_notes": "x"}).json()
    assert notes_only["total_inc_tax"] == "61.0000"


@pytest.mark.parametrize(
    "field", ["external_merchant_id", "id", "status", "total_tax", "is_deleted", "date_modified"]
)
def test_read_only_field_on_update_is_400_and_changes_nothing(api, field):
    order = create_order(api)
    body = {"staff_notes": "should not land", field: "x"}
    response = api.put(f"/v2/orders/{order['id']}", json=body)
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": READ_ONLY_MESSAGE.format(field)}]
    assert api.get(f"/v2/orders/{order['id']}").json() == order


def test_bad_product_line_leaves_the_order_as_it_was(api):
    order = create_order(api)
    bad = [
        {"name": "Fine", "quantity": 1, "price_inc_tax": 1, "price_ex_tax": 1},
        {"id": 999999, "quantity": 2},
    ]
    response = api.put(f"/v2/orders/{order['id']}", json={"products": bad})
    assert response.status_code == 400
    assert "products[1].id" in response.json()[0]["message"]
    assert len(api.get(f"/v2/orders/{order['id']}/products").json()) == 1


def test_unknown_order_on_put_and_delete_is_404(api):
    assert api.put("/v2/orders/999", json={"staff_notes": "x"}).json() == NOT_FOUND
    response = api.delete("/v2/orders/999")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_put_on_the_collection_is_405(emulator, api):
    # The spec has no PUT on /orders, so the contract checker has no operation to match.
    response = emulator.client(check_contract=False).put("/v2/orders", json={"status_id": 2})
    assert response.status_code == 405
    assert response.json()[0]["status"] == 405


def test_delete_archives_and_get_still_returns_it(api):
    order = create_order(api)
    response = api.delete(f"/v2/orders/{order['id']}")
    assert response.status_code == 204
    assert response.content == b""
    archived = api.get(f"/v2/orders/{order['id']}")
    assert archived.status_code == 200
    assert archived.json()["is_deleted"] is True
    assert api.get("/v2/orders").status_code == 204


def test_delete_without_id_archives_every_order_and_is_counted(emulator, api):
    orders = [create_order(api) for _ in range(3)]
    assert api.delete("/v2/orders").status_code == 204
    assert api.get("/v2/orders").status_code == 204
    assert all(api.get(f"/v2/orders/{o['id']}").json()["is_deleted"] for o in orders)
    assert emulator.stats()["by_endpoint"]["DELETE /v2/orders"] == 1


def test_dump_lists_orders_with_products_and_metafields(emulator, api):
    kept = create_order(api, external_order_id="k")
    archived = create_order(api)
    api.delete(f"/v2/orders/{archived['id']}")
    metafield = {"namespace": "sync", "key": "pk", "value": "42", "permission_set": "app_only"}
    assert api.post(f"/v3/orders/{kept['id']}/metafields", json=metafield).status_code == 200

    dumped = {o["id"]: o for o in emulator.dump()["orders"]}
    assert set(dumped) == {kept["id"], archived["id"]}
    assert dumped[archived["id"]]["is_deleted"] is True
    first = dumped[kept["id"]]
    assert first["external_order_id"] == "k"
    assert [p["name"] for p in first["products"]] == ["BigCommerce Coffee Mug"]
    assert [(m["key"], m["value"]) for m in first["metafields"]] == [("pk", "42")]
    assert dumped[archived["id"]]["metafields"] == []


def test_reset_empties_the_orders(emulator, api):
    create_order(api)
    emulator.reset()
    assert api.get("/v2/orders").status_code == 204
    assert create_order(api)["id"] == 100  # ids start again


def test_orders_and_metafields_survive_export_and_load(emulator, api):
    # What `data_file` persistence does at stop and start, through a JSON round trip.
    order = create_order(api, discount_amount="1", external_order_id="p-1")
    api.put(
        f"/v2/orders/{order['id']}",
        json={"status_id": 11, "subtotal_ex_tax": "40", "subtotal_inc_tax": "44"},
    )
    metafield = {"namespace": "sync", "key": "pk", "value": "7", "permission_set": "read"}
    api.post(f"/v3/orders/{order['id']}/metafields", json=metafield)
    before = emulator.dump()["orders"]
    tables = emulator.emulator.tables
    saved = {
        name: json.loads(json.dumps(tables[name].export())) for name in ("orders", "metafields")
    }

    emulator.reset()
    assert api.get("/v2/orders").status_code == 204
    for name, data in saved.items():
        tables[name].load(data)

    assert emulator.dump()["orders"] == before
    assert api.get("/v2/orders", params={"external_order_id": "p-1"}).json()[0]["id"] == order["id"]
    assert create_order(api)["id"] == order["id"] + 1
    duplicate = api.post(f"/v3/orders/{order['id']}/metafields", json=metafield)
    assert duplicate.status_code == 409
