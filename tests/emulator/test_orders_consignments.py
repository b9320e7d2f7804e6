"""Pickup consignments and ``/consignments`` in the emulator (reference §5.2, §5.5;
orderConsignment_Post/Put/Get and pickupConsignment_* in orders.v2.oas2.yml).

Every exchange goes over real HTTP and is checked against orders.v2.oas2.yml by the contract
fixture (whose DEVIATIONS read the spec's ambiguous consignment ``oneOf``s as ``anyOf``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.emulator.test_orders import NOT_FOUND, READ_ONLY_MESSAGE, create_order, order_body

LOCATION = {
    "name": "Austin store",
    "code": "AUS-1",
    "address_line_1": "123 Main Street",
    "address_line_2": "Suite 101",
    "city": "Austin",
    "state": "Texas",
    "postal_code": "78726",
    "country_alpha2": "US",
    "email": "austin@example.com",
    "phone": "+1 111-111-1111",
}
MUG = {"name": "Mug", "quantity": 2, "price_inc_tax": 11, "price_ex_tax": 10, "sku": "MUG"}
POSTER = {"name": "Poster", "quantity": 1, "price_inc_tax": 5.5, "price_ex_tax": 5}
INVALID = "The field '{}' is invalid."
EXCLUSIVE = (
    "The field '{}' can't be sent with 'consignments': an order is either shipped "
    "(products, shipping_addresses) or picked up (consignments)."
)


def pickup(**overrides: Any) -> dict[str, Any]:
    """One pickup consignment of the spec's example shape, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "pickup_method_id": 1,
        "pickup_method_display_name": "Pick Up",
        "collection_instructions": "Bring your ID",
        "collection_time_description": "9am - 6pm",
        "location": LOCATION,
        "line_items": [MUG, POSTER],
    }
    body.update(overrides)
    return body


def pickup_body(**overrides: Any) -> dict[str, Any]:
    """A pickup order: the docs' minimal order with ``consignments`` in place of products."""
    body = order_body(consignments={"pickups": [pickup()]})
    del body["products"]
    body.update(overrides)
    return body


def create_pickup_order(api: Any, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v2/orders", json=pickup_body(**overrides))
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def get_json(emulator: Any, path: str, params: dict[str, str]) -> Any:
    """GET ``path`` (contract-checked like every other exchange) and return its JSON."""
    raw = emulator.client().get(path, params=params)
    assert raw.status_code == 200, raw.text
    return raw.json()


@pytest.fixture
def api(emulator):
    return emulator.client()


def test_a_pickup_order_takes_its_products_from_the_line_items(api):
    order = create_pickup_order(api)
    consignments = api.get(f"/v2/orders/{order['id']}/consignments").json()
    (found,) = consignments["pickups"]
    assert consignments["shipping"] == consignments["downloads"] == []
    assert consignments["email"] == {"gift_certificates": []}

    lines = api.get(f"/v2/orders/{order['id']}/products").json()
    assert [(ln["name"], ln["quantity"], ln["sku"]) for ln in lines] == [
        ("Mug", 2, "MUG"),
        ("Poster", 1, ""),
    ]
    assert [ln["order_pickup_method_id"] for ln in lines] == [found["id"]] * 2
    assert [ln["order_address_id"] for ln in lines] == [0, 0]
    # Picked up, not shipped: no shipping address, not even the billing one.
    assert order["shipping_address_count"] == 0
    assert api.get(f"/v2/orders/{order['id']}/shipping_addresses").status_code == 204
    assert (order["subtotal_ex_tax"], order["subtotal_inc_tax"]) == ("25.0000", "27.5000")
    assert (order["total_ex_tax"], order["total_inc_tax"]) == ("25.0000", "27.5000")
    assert order["items_total"] == 3


def test_consignments_show_the_pickup_with_links_or_full_lines(emulator, api):
    order = create_pickup_order(api)
    order_id = order["id"]
    consignments = api.get(f"/v2/orders/{order_id}/consignments").json()
    (found,) = consignments["pickups"]
    lines = api.get(f"/v2/orders/{order_id}/products").json()

    assert {k: v for k, v in found.items() if k not in ("id", "line_items")} == {
        "pickup_method_id": 1,
        "pickup_method_display_name": "Pick Up",
        "collection_instructions": "Bring your ID",
        "collection_time_description": "9am - 6pm",
        "location": {"id": 1, **LOCATION},
    }
    assert [item["resource"] for item in found["line_items"]] == [
        f"/orders/{order_id}/products/{ln['id']}" for ln in lines
    ]
    assert found["line_items"][0]["url"].endswith(
        f"/stores/{emulator.store_hash}/v2/orders/{order_id}/products/{lines[0]['id']}"
    )

    full = get_json(
        emulator, f"/v2/orders/{order_id}/consignments", {"include": "consignments.line_items"}
    )
    assert full["pickups"][0]["line_items"] == lines
    assert {**full["pickups"][0], "line_items": found["line_items"]} == found


def test_include_consignments_side_loads_the_object_structure(emulator, api):
    order = create_pickup_order(
        api, fees=[{"display_name_customer": "Bag", "cost_ex_tax": 1, "cost_tax": 0}]
    )
    path = f"/v2/orders/{order['id']}"
    consignments = api.get(f"{path}/consignments").json()
    lines = api.get(f"{path}/products").json()

    for params in (
        {"include": "consignments", "consignment_structure": "object"},
        {"include": "consignments"},  # the object structure is the only one since August 2025
    ):
        got = get_json(emulator, path, params)
        assert got["consignments"] == consignments
        assert "fees" not in got
        assert {k: v for k, v in got.items() if k != "consignments"} == order

    both = get_json(
        emulator,
        path,
        {"include": "consignments.line_items,fees", "consignment_structure": "object"},
    )
    assert both["consignments"]["pickups"][0]["line_items"] == lines
    assert both["fees"] == api.get(f"{path}/fees").json()["fees"]
    listed = get_json(emulator, "/v2/orders", {"include": "consignments"})
    assert [o["consignments"] for o in listed] == [consignments]

    response = api.get(path, params={"include": "consignments", "consignment_structure": "array"})
    assert response.status_code == 400
    message = INVALID.format("consignment_structure") + " The only structure is 'object'."
    assert response.json() == [{"status": 400, "message": message}]


def test_a_shipped_order_has_shipping_consignments(emulator, api):
    second = {"first_name": "Trish", "zip": "78751", "city": "Austin"}
    order = create_order(
        api,
        shipping_cost_ex_tax="5",
        shipping_cost_inc_tax="5.5",
        shipping_addresses=[{"first_name": "Jane", "zip": "78751"}, second],
    )
    path = f"/v2/orders/{order['id']}"
    consignments = api.get(f"{path}/consignments").json()
    assert consignments["pickups"] == []
    # Every line ships to the first address; the second, without items, is no consignment.
    (shipping,) = consignments["shipping"]
    address, _ = api.get(f"{path}/shipping_addresses").json()
    (line,) = api.get(f"{path}/products").json()
    assert shipping["id"] == address["id"]
    assert (shipping["first_name"], shipping["zip"]) == ("Jane", "78751")
    assert (shipping["cost_ex_tax"], shipping["cost_inc_tax"]) == (5.0, 5.5)
    assert shipping["items_total"] == 1
    assert [item["resource"] for item in shipping["line_items"]] == [
        f"/orders/{order['id']}/products/{line['id']}"
    ]
    quotes = shipping["shipping_quotes"]["resource"]
    assert quotes == f"/orders/{order['id']}/consignments/shipping/{address['id']}/shipping_quotes"
    assert api.get(f"/v2{quotes}").status_code == 204  # API orders have no quotes (§5.1)
    unknown = api.get(f"{path}/consignments/shipping/999999/shipping_quotes")
    assert unknown.json() == NOT_FOUND
    assert api.get("/v2/orders/999999/consignments").json() == NOT_FOUND


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"products": [MUG]}, EXCLUSIVE.format("products")),
        ({"shipping_addresses": [{"zip": "78751"}]}, EXCLUSIVE.format("shipping_addresses")),
        (
            {"consignments": {"pickups": [pickup(), pickup()]}},
            INVALID.format("consignments.pickups")
            + " An order can have only one pickup consignment.",
        ),
        (
            {"consignments": {"pickups": []}},
            INVALID.format("consignments.pickups") + " Send one pickup consignment.",
        ),
        (
            {"consignments": {}},
            "The required field 'consignments.pickups' was not supplied.",
        ),
        (
            {"consignments": {"pickups": [pickup()], "shipping": []}},
            INVALID.format("consignments.shipping") + " Only pickup consignments can be written.",
        ),
        (
            {"consignments": {"pickups": [pickup(pickup_method_id=None)]}},
            INVALID.format("consignments.pickups[0].pickup_method_id") + " Expected an integer.",
        ),
        (
            {"consignments": {"pickups": [pickup(id=5)]}},
            READ_ONLY_MESSAGE.format("consignments.pickups[0].id"),
        ),
        (
            {"consignments": {"pickups": [pickup(line_items=[])]}},
            INVALID.format("consignments.pickups[0].line_items")
            + " Expected a non-empty list of products.",
        ),
        (
            {"consignments": {"pickups": [pickup(line_items=[{"name": "Mug", "quantity": 1}])]}},
            "The required field 'consignments.pickups[0].line_items[0].price_ex_tax' was not "
            "supplied.",
        ),
        (
            {"consignments": {"pickups": [pickup(location={**LOCATION, "country_alpha2": "USA"})]}},
            INVALID.format("consignments.pickups[0].location.country_alpha2")
            + " It must be at most 2 characters long.",
        ),
        (
            {"consignments": {"pickups": [pickup(location={"country_alpha2": "1A"})]}},
            INVALID.format("consignments.pickups[0].location.country_alpha2")
            + " Use a 2-letter ISO country code.",
        ),
        (
            {"consignments": {"pickups": [pickup(location={"postal_code": 78726})]}},
            INVALID.format("consignments.pickups[0].location.postal_code") + " Expected a string.",
        ),
        (
            {"consignments": {"pickups": [pickup(location={"zip": "78726"})]}},
            READ_ONLY_MESSAGE.format("consignments.pickups[0].location.zip"),
        ),
        (
            {"consignments": {"pickups": [pickup(collection_time_description="x" * 251)]}},
            INVALID.format("consignments.pickups[0].collection_time_description")
            + " It must be at most 250 characters long.",
        ),
    ],
)
def test_invalid_pickups_are_refused(api, change, message):
    body = pickup_body()
    body.update(change)
    response = api.post("/v2/orders", json=body)
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": message}]
    assert api.get("/v2/orders").status_code == 204  # nothing was created


def test_without_products_or_consignments_the_products_are_required(api):
    body = order_body()
    del body["products"]
    response = api.post("/v2/orders", json=body)
    message = "The required field 'products' was not supplied."
    assert response.json() == [{"status": 400, "message": message}]


def test_the_pickup_is_updated_in_place(api):
    order = create_pickup_order(api)
    path = f"/v2/orders/{order['id']}"
    (found,) = api.get(f"{path}/consignments").json()["pickups"]
    mug, poster = api.get(f"{path}/products").json()
    change = {
        "id": found["id"],
        "collection_instructions": "Ask at the desk",
        "location": {"city": "Round Rock", "postal_code": "78664"},
        "line_items": [
            {"id": mug["id"], "quantity": 3},
            {"id": poster["id"], "quantity": 0},
            {"name": "Cap", "quantity": 1, "price_inc_tax": 8.8, "price_ex_tax": 8},
        ],
    }
    response = api.put(path, json={"consignments": {"pickups": [change]}})
    assert response.status_code == 200, response.text
    updated = response.json()

    (after,) = api.get(f"{path}/consignments").json()["pickups"]
    assert after["id"] == found["id"]
    assert after["collection_instructions"] == "Ask at the desk"
    assert after["pickup_method_display_name"] == "Pick Up"  # left out: kept
    assert after["location"] == {
        **found["location"],
        "city": "Round Rock",
        "postal_code": "78664",
    }
    lines = api.get(f"{path}/products").json()
    assert [(ln["name"], ln["quantity"]) for ln in lines] == [("Mug", 3), ("Cap", 1)]
    assert lines[0]["id"] == mug["id"]
    assert {ln["order_pickup_method_id"] for ln in lines} == {found["id"]}
    assert [item["resource"] for item in after["line_items"]] == [
        f"/orders/{order['id']}/products/{ln['id']}" for ln in lines
    ]
    assert (updated["subtotal_ex_tax"], updated["total_inc_tax"]) == ("38.0000", "41.8000")
    assert updated["items_total"] == 4
    assert updated["shipping_address_count"] == 0


def test_an_empty_pickups_list_on_update_changes_nothing(api):
    order = create_pickup_order(api)
    path = f"/v2/orders/{order['id']}"
    before = api.get(f"{path}/consignments").json()
    assert api.put(path, json={"consignments": {"pickups": []}}).status_code == 200
    assert api.get(f"{path}/consignments").json() == before


def test_invalid_pickup_updates_are_refused_and_change_nothing(api):
    shipped = create_order(api)
    order = create_pickup_order(api)
    path = f"/v2/orders/{order['id']}"
    (found,) = api.get(f"{path}/consignments").json()["pickups"]
    mug, poster = api.get(f"{path}/products").json()
    before = api.get(path).json(), api.get(f"{path}/consignments").json()
    where = "consignments.pickups[0]"
    cases = [
        (
            path,
            {"consignments": {"pickups": [{"collection_instructions": "x"}]}},
            f"The required field '{where}.id' was not supplied.",
        ),
        (
            path,
            {"consignments": {"pickups": [{"id": found["id"] + 1000}]}},
            INVALID.format(f"{where}.id") + f" The order's pickup consignment is {found['id']}.",
        ),
        (
            path,
            {"consignments": {"pickups": [{"id": found["id"]}]}, "products": [MUG]},
            EXCLUSIVE.format("products"),
        ),
        (
            path,
            {"products": [MUG]},
            INVALID.format("products")
            + " The order is a pickup: change its 'consignments' instead.",
        ),
        (
            path,
            {"shipping_addresses": [{"city": "Dallas"}]},
            INVALID.format("shipping_addresses")
            + " The order is a pickup: change its 'consignments' instead.",
        ),
        (
            path,
            {
                "consignments": {
                    "pickups": [
                        {
                            "id": found["id"],
                            "line_items": [
                                {"id": mug["id"], "quantity": 0},
                                {"id": poster["id"], "quantity": 0},
                            ],
                        }
                    ]
                }
            },
            INVALID.format(f"{where}.line_items")
            + " A pickup consignment needs at least one item.",
        ),
        (
            f"/v2/orders/{shipped['id']}",
            {"consignments": {"pickups": [{"id": 1, "collection_instructions": "x"}]}},
            INVALID.format("consignments")
            + " The order is shipped; a shipped order can't become a pickup.",
        ),
    ]
    for target, body, message in cases:
        response = api.put(target, json=body)
        assert response.status_code == 400, body
        assert response.json() == [{"status": 400, "message": message}]
    assert (api.get(path).json(), api.get(f"{path}/consignments").json()) == before


def test_pickups_and_fees_survive_export_and_load(emulator, api):
    fee = {"display_name_customer": "Bag", "cost_ex_tax": "0.5", "cost_inc_tax": "0.55"}
    order = create_pickup_order(api, fees=[fee])
    path = f"/v2/orders/{order['id']}"
    before = [
        api.get(path).json(),
        api.get(f"{path}/consignments").json(),
        api.get(f"{path}/fees").json(),
        api.get(f"{path}/products").json(),
    ]
    dumped = emulator.dump()["orders"]
    assert dumped[0]["fees"] == before[2]["fees"]
    assert dumped[0]["consignments"]["pickups"][0]["line_items"] == before[3]
    table = emulator.emulator.tables["orders"]
    saved = json.loads(json.dumps(table.export()))

    emulator.reset()
    table.load(saved)
    after = [
        api.get(path).json(),
        api.get(f"{path}/consignments").json(),
        api.get(f"{path}/fees").json(),
        api.get(f"{path}/products").json(),
    ]
    assert after == before
