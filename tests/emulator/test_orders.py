"""Orders v2 in the emulator: create, get, statuses, products, shipping addresses (reference §5).

Every exchange goes over real HTTP and is checked against orders.v2.oas2.yml by the contract
fixture.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

READ_ONLY_MESSAGE = (
    "The field '{}' cannot be written to. Please remove it from your request before trying again."
)
NOT_FOUND = [{"status": 404, "message": "The requested resource was not found."}]


def order_body(**overrides: Any) -> dict[str, Any]:
    """The docs' minimal order (reference §5.2), with ``overrides`` applied."""
    body: dict[str, Any] = {
        "billing_address": {
            "first_name": "Jane",
            "last_name": "Doe",
            "street_1": "123 Main Street",
            "city": "Austin",
            "state": "Texas",
            "zip": "78751",
            "country": "United States",
            "country_iso2": "US",
            "email": "janedoe@email.com",
        },
        "products": [
            {
                "name": "BigCommerce Coffee Mug",
                "quantity": 1,
                "price_inc_tax": 50,
                "price_ex_tax": 45,
            }
        ],
    }
    body.update(overrides)
    return body


def create_order(api: Any, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v2/orders", json=order_body(**overrides))
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def test_minimal_order_gets_the_documented_defaults(emulator):
    api = emulator.client()
    before = time.time()
    order = create_order(api)

    assert order["status_id"] == 1
    assert order["status"] == order["custom_status"] == "Pending"
    assert order["customer_id"] == 0
    assert order["channel_id"] == 1
    assert order["order_source"] == "external"
    assert order["external_source"] is None
    assert order["external_id"] is None
    assert order["external_merchant_id"] is None
    assert order["is_deleted"] is False
    assert order["date_shipped"] == ""
    assert order["date_created"].endswith(" +0000")
    created = email.utils.parsedate_to_datetime(order["date_created"]).timestamp()
    assert before - 1 <= created <= time.time() + 1
    assert (order["subtotal_ex_tax"], order["subtotal_inc_tax"]) == ("45.0000", "50.0000")
    assert (order["total_ex_tax"], order["total_inc_tax"], order["total_tax"]) == (
        "45.0000",
        "50.0000",
        "5.0000",
    )
    assert order["items_total"] == 1
    assert order["shipping_address_count"] == 1
    order_id = order["id"]
    assert order["products"]["resource"] == f"/orders/{order_id}/products"
    assert order["products"]["url"].endswith(
        f"/stores/{emulator.store_hash}/v2/orders/{order_id}/products"
    )
    assert order["shipping_addresses"]["resource"] == f"/orders/{order_id}/shippingaddresses"
    assert order["coupons"]["resource"] == f"/orders/{order_id}/coupons"

    assert api.get(f"/v2/orders/{order_id}").json() == order


def test_shipping_address_defaults_to_the_billing_address(emulator):
    api = emulator.client()
    order = create_order(api)
    addresses = api.get(f"/v2/orders/{order['id']}/shipping_addresses").json()
    assert len(addresses) == 1
    for field in ("first_name", "last_name", "street_1", "city", "state", "zip", "email"):
        assert addresses[0][field] == order["billing_address"][field]
    one = api.get(f"/v2/orders/{order['id']}/shipping_addresses/{addresses[0]['id']}")
    assert one.json() == addresses[0]


def test_given_shipping_address_is_kept(emulator):
    api = emulator.client()
    shipping = {"first_name": "Trish", "last_name": "Smith", "zip": "78751", "city": "Austin"}
    order = create_order(api, shipping_addresses=[{**shipping, "shipping_method": "Free Shipping"}])
    (address,) = api.get(f"/v2/orders/{order['id']}/shipping_addresses").json()
    assert (address["first_name"], address["shipping_method"]) == ("Trish", "Free Shipping")
    assert order["billing_address"]["first_name"] == "Jane"


def test_products_come_back_as_line_items_with_4_decimal_money(emulator):
    api = emulator.client()
    order = create_order(
        api,
        products=[
            {"name": "Mug", "quantity": 2, "price_inc_tax": 12.5, "price_ex_tax": 10, "sku": "M-1"},
            {"product_id": 77, "quantity": 1},
        ],
    )
    lines = api.get(f"/v2/orders/{order['id']}/products").json()
    assert [line["quantity"] for line in lines] == [2, 1]
    mug, catalog = lines
    assert (mug["name"], mug["name_merchant"], mug["sku"], mug["product_id"]) == (
        "Mug",
        "Mug",
        "M-1",
        0,
    )
    assert (mug["price_ex_tax"], mug["price_inc_tax"], mug["total_inc_tax"]) == (
        "10.0000",
        "12.5000",
        "25.0000",
    )
    # The emulator has no catalog: a catalog product is accepted with price 0 unless given.
    assert catalog["product_id"] == 77
    assert catalog["price_inc_tax"] == "0.0000"
    assert order["subtotal_inc_tax"] == "25.0000"
    one = api.get(f"/v2/orders/{order['id']}/products/{mug['id']}")
    assert one.json() == mug
    assert api.get(f"/v2/orders/{order['id']}/products/999999").json() == NOT_FOUND


def test_totals_add_costs_and_subtract_the_discount(emulator):
    api = emulator.client()
    order = create_order(
        api,
        products=[{"name": "A", "quantity": 3, "price_inc_tax": 11, "price_ex_tax": 10}],
        shipping_cost_ex_tax="5",
        shipping_cost_inc_tax="5.5",
        base_handling_cost="2",
        discount_amount="3.25",
    )
    assert order["subtotal_ex_tax"] == "30.0000"
    assert order["shipping_cost_tax"] == "0.5000"
    assert order["handling_cost_inc_tax"] == "2.0000"
    assert order["total_ex_tax"] == "33.7500"  # 30 + 5 + 2 - 3.25
    assert order["total_inc_tax"] == "37.2500"  # 33 + 5.5 + 2 - 3.25
    (line,) = api.get(f"/v2/orders/{order['id']}/products").json()
    assert line["applied_discounts"][0]["amount"] == "3.2500"


def test_total_override_is_stored_as_given(emulator):
    api = emulator.client()
    order = create_order(api, total_ex_tax="99", total_inc_tax="109.9")
    assert (order["total_ex_tax"], order["total_inc_tax"]) == ("99.0000", "109.9000")
    assert order["subtotal_inc_tax"] == "50.0000"


@pytest.mark.parametrize("status_id", range(15))
def test_every_status_id_is_honoured(emulator, status_id):
    api = emulator.client()
    order = create_order(api, status_id=status_id)
    status = api.get(f"/v2/order_statuses/{status_id}").json()
    assert order["status_id"] == status_id
    assert order["status"] == order["custom_status"] == status["name"]


def test_create_status_code_is_configurable(emulator):
    emulator.config(create_status=201)
    # 201 is the UNCONFIRMED alternative (reference §3.1); the spec documents only 200.
    response = emulator.client(check_contract=False).post("/v2/orders", json=order_body())
    assert response.status_code == 201


def test_optional_fields_are_stored(emulator):
    api = emulator.client()
    order = create_order(
        api,
        customer_id=12,
        external_source="bcsync",
        external_order_id="vip:42",
        external_merchant_id="m-1",
        staff_notes="n" * 65535,
        customer_message="hi",
        date_created="Tue, 20 Nov 2012 00:00:00 +0000",
        payment_method="Cash",
    )
    assert order["customer_id"] == 12
    assert (order["external_source"], order["external_order_id"]) == ("bcsync", "vip:42")
    assert order["external_merchant_id"] == "m-1"
    assert order["date_created"] == "Tue, 20 Nov 2012 00:00:00 +0000"
    assert len(order["staff_notes"]) == 65535
    assert order["payment_method"] == "Cash"


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "status",
        "date_modified",
        "total_tax",
        "is_deleted",
        "external_id",
        "order_source",
        "payment_status",
        "currency_code",
        "coupon_discount",
        "shipping_address_count",
    ],
)
def test_read_only_field_on_create_is_400_and_creates_nothing(emulator, field):
    api = emulator.client()
    response = api.post("/v2/orders", json=order_body(**{field: "1"}))
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": READ_ONLY_MESSAGE.format(field)}]
    assert api.get("/v2/orders").status_code == 204


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"billing_address": None}, "billing_address"),
        ({"products": None}, "products"),
        ({"products": []}, "products"),
        ({"billing_address": {"first_name": "J", "zip": "7"}}, "billing_address.zip"),
        ({"products": [{"name": "x", "quantity": 1, "price_ex_tax": 1}]}, "price_inc_tax"),
        ({"products": [{"name": "x", "quantity": 1}]}, "price_ex_tax"),
        ({"products": [{"quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1}]}, "name"),
        (
            {
                "products": [
                    {"name": "x" * 251, "quantity": 1, "price_ex_tax": 1, "price_inc_tax": 1}
                ]
            },
            "products[0].name",
        ),
        (
            {"products": [{"name": "x", "quantity": 0, "price_ex_tax": 1, "price_inc_tax": 1}]},
            "products[0].quantity",
        ),
        ({"shipping_cost_ex_tax": "5"}, "shipping_cost_inc_tax"),
        ({"total_inc_tax": "5"}, "total_ex_tax"),
        (
            {"products": [{"name": "x", "quantity": 1, "price_ex_tax": "1", "price_inc_tax": 1}]},
            "products[0].price_ex_tax",
        ),
        ({"status_id": 15}, "status_id"),
        ({"discount_amount": "-1"}, "discount_amount"),
        ({"date_created": "yesterday"}, "date_created"),
        ({"ip_address": "1" * 31}, "ip_address"),
        ({"channel_id": 2}, "channel_id"),
    ],
)
def test_invalid_create_is_400_naming_the_field(emulator, change, named):
    api = emulator.client()
    body = order_body()
    for key, value in change.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    response = api.post("/v2/orders", json=body)
    assert response.status_code == 400, response.text
    (error,) = response.json()
    assert error["status"] == 400
    assert f"'{named}" in error["message"] or f".{named}'" in error["message"], error
    assert api.get("/v2/orders").status_code == 204


def test_unknown_order_is_404_v2_array(emulator):
    api = emulator.client()
    for path in (
        "/v2/orders/12345",
        "/v2/orders/12345/products",
        "/v2/orders/12345/shipping_addresses",
    ):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_order_statuses_list_the_reference_table(emulator):
    statuses = emulator.client().get("/v2/order_statuses").json()
    assert [s["id"] for s in statuses] == list(range(15))
    by_id = {s["id"]: s for s in statuses}
    assert (by_id[0]["name"], by_id[0]["order"]) == ("Incomplete", 0)
    assert (by_id[2]["name"], by_id[2]["order"]) == ("Shipped", 8)
    assert (by_id[11]["name"], by_id[11]["order"]) == ("Awaiting Fulfillment", 3)
    assert (by_id[14]["name"], by_id[14]["order"]) == ("Partially Refunded", 14)
    assert all(s["custom_label"] == s["system_label"] == s["name"] for s in statuses)


def test_unknown_order_status_is_404(emulator):
    response = emulator.client().get("/v2/order_statuses/15")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_coupons_of_an_api_order_are_empty(emulator):
    api = emulator.client()
    order = create_order(api)
    response = api.get(f"/v2/orders/{order['id']}/coupons")
    assert response.status_code == 204
    assert response.content == b""
