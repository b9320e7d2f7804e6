"""Order fees in the emulator: create, full-replace on update, totals, ``/fees``, ``include=fees``
and validation (reference §5.2, §5.4; orderFees_Post/Put/Resp in orders.v2.oas2.yml).

Every exchange goes over real HTTP and is checked against orders.v2.oas2.yml by the contract
fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.test_orders import NOT_FOUND, READ_ONLY_MESSAGE, create_order, order_body

PACKAGING = {
    "type": "custom_fee",
    "display_name_customer": "Packaging",
    "display_name_merchant": "Packaging fee",
    "source": "bcsync",
    "cost_ex_tax": 2.5,
    "cost_inc_tax": "2.75",
    "tax_class_id": 3,
}
INSURANCE = {"display_name_merchant": "Insurance", "cost_ex_tax": "4", "cost_tax": 1}


@pytest.fixture
def api(emulator):
    return emulator.client()


def fees_of(api: Any, order_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/v2/orders/{order_id}/fees")
    assert response.status_code == 200, response.text
    fees: list[dict[str, Any]] = response.json()["fees"]
    return fees


def test_fees_are_created_with_the_order(api):
    order = create_order(api, fees=[PACKAGING, INSURANCE])
    packaging, insurance = fees_of(api, order["id"])

    assert packaging == {
        "id": packaging["id"],
        "type": "custom_fee",
        "display_name_customer": "Packaging",
        "display_name_merchant": "Packaging fee",
        "source": "bcsync",
        "base_cost": "2.5000",
        "cost_ex_tax": "2.5000",
        "cost_inc_tax": "2.7500",
        "cost_tax": "0.2500",
        "tax_class_id": 3,
    }
    # One display name is enough (it serves as both); any two costs give the third.
    assert (insurance["display_name_customer"], insurance["display_name_merchant"]) == (
        "Insurance",
        "Insurance",
    )
    assert (insurance["cost_ex_tax"], insurance["cost_inc_tax"], insurance["cost_tax"]) == (
        "4.0000",
        "5.0000",
        "1.0000",
    )
    assert (insurance["type"], insurance["source"], insurance["tax_class_id"]) == (
        "custom_fee",
        "",
        None,
    )
    assert packaging["id"] != insurance["id"]


def test_fees_count_in_the_total_not_the_subtotal(api):
    # The docs' order: one line at 45 ex / 50 inc tax.
    order = create_order(
        api,
        fees=[PACKAGING, INSURANCE],
        shipping_cost_ex_tax="10",
        shipping_cost_inc_tax="11",
        discount_amount="1",
    )
    assert (order["subtotal_ex_tax"], order["subtotal_inc_tax"]) == ("45.0000", "50.0000")
    assert order["total_ex_tax"] == "60.5000"  # 45 + 10 + 2.5 + 4 - 1
    assert order["total_inc_tax"] == "67.7500"  # 50 + 11 + 2.75 + 5 - 1
    assert order["total_tax"] == "7.2500"
    found = api.get("/v2/orders", params={"min_total": "67.75", "max_total": "67.75"}).json()
    assert [o["id"] for o in found] == [order["id"]]


def test_include_fees_side_loads_them_on_every_order_answer(api):
    plain = create_order(api, fees=[PACKAGING])
    assert "fees" not in plain and "consignments" not in plain
    response = api.post("/v2/orders", params={"include": "fees"}, json=order_body(fees=[INSURANCE]))
    assert response.status_code == 200
    created = response.json()
    assert created["fees"] == fees_of(api, created["id"])

    one = api.get(f"/v2/orders/{plain['id']}", params={"include": "fees"}).json()
    assert one["fees"] == fees_of(api, plain["id"])
    assert {k: v for k, v in one.items() if k != "fees"} == plain
    listed = api.get("/v2/orders", params={"include": "fees"}).json()
    assert [len(o["fees"]) for o in listed] == [1, 1]
    updated = api.put(
        f"/v2/orders/{plain['id']}", params={"include": "fees"}, json={"staff_notes": "x"}
    ).json()
    assert updated["fees"] == one["fees"]


def test_an_order_without_fees_has_an_empty_list(api):
    order = create_order(api)
    assert fees_of(api, order["id"]) == []
    assert api.get(f"/v2/orders/{order['id']}", params={"include": "fees"}).json()["fees"] == []
    assert api.get("/v2/orders/999999/fees").json() == NOT_FOUND


def test_put_replaces_the_fees_in_full(api):
    order = create_order(api, fees=[PACKAGING, INSURANCE])
    packaging, insurance = fees_of(api, order["id"])
    handling = {"display_name_customer": "Handling", "cost_ex_tax": 1, "cost_inc_tax": 1}
    kept = {**PACKAGING, "id": packaging["id"], "cost_ex_tax": "3", "cost_inc_tax": "3.3"}

    response = api.put(f"/v2/orders/{order['id']}", json={"fees": [handling, kept]})
    assert response.status_code == 200, response.text
    new, updated = fees_of(api, order["id"])
    # Insurance, left out, is deleted; the fee with an id is updated; the one without is new.
    assert updated["id"] == packaging["id"]
    assert (updated["cost_ex_tax"], updated["cost_inc_tax"]) == ("3.0000", "3.3000")
    assert new["display_name_customer"] == "Handling"
    assert new["id"] not in (packaging["id"], insurance["id"])
    assert response.json()["total_inc_tax"] == "54.3000"  # 50 + 1 + 3.3


def test_put_without_fees_keeps_them_and_an_empty_list_deletes_them(api):
    order = create_order(api, fees=[PACKAGING])
    before = fees_of(api, order["id"])
    api.put(f"/v2/orders/{order['id']}", json={"staff_notes": "keep the fees"})
    assert fees_of(api, order["id"]) == before

    cleared = api.put(f"/v2/orders/{order['id']}", json={"fees": []}).json()
    assert fees_of(api, order["id"]) == []
    assert cleared["total_inc_tax"] == "50.0000"


def test_changing_fees_drops_a_total_override(api):
    order = create_order(api, total_ex_tax="100", total_inc_tax="110")
    updated = api.put(f"/v2/orders/{order['id']}", json={"fees": [INSURANCE]}).json()
    assert (updated["total_ex_tax"], updated["total_inc_tax"]) == ("49.0000", "55.0000")


DROP = object()  # a field to leave out
INVALID = "The field '{}' is invalid."


def _bad(**change: Any) -> dict[str, Any]:
    """PACKAGING with ``change`` applied (``DROP``: left out)."""
    fee = {**PACKAGING, **change}
    return {k: v for k, v in fee.items() if v is not DROP}


@pytest.mark.parametrize(
    ("fees", "message"),
    [
        ({"display_name_customer": "x"}, INVALID.format("fees") + " Expected a list of fees."),
        (["x"], INVALID.format("fees[0]") + " Expected an object."),
        (
            [_bad(display_name_customer=DROP, display_name_merchant=DROP)],
            "The fee 'fees[0]' needs 'display_name_customer' or 'display_name_merchant'.",
        ),
        (
            [_bad(display_name_customer="", display_name_merchant=DROP)],
            "The fee 'fees[0]' needs 'display_name_customer' or 'display_name_merchant'.",
        ),
        (
            [_bad(cost_inc_tax=DROP)],
            "The fee 'fees[0]' needs at least two of 'cost_ex_tax', 'cost_inc_tax' and 'cost_tax'.",
        ),
        (
            [_bad(cost_ex_tax=-1)],
            INVALID.format("fees[0].cost_ex_tax") + " The value can't be negative.",
        ),
        (
            [_bad(cost_inc_tax="lots")],
            INVALID.format("fees[0].cost_inc_tax") + " Expected a number.",
        ),
        ([_bad(cost_ex_tax=True)], INVALID.format("fees[0].cost_ex_tax") + " Expected a number."),
        (
            [_bad(cost_ex_tax=5, cost_inc_tax=4)],
            INVALID.format("fees[0].cost_inc_tax") + " It can't be less than 'cost_ex_tax'.",
        ),
        (
            [_bad(cost_tax=1)],
            INVALID.format("fees[0].cost_tax") + " It must equal 'cost_inc_tax' - 'cost_ex_tax'.",
        ),
        (
            [_bad(cost_ex_tax=DROP, cost_tax=3)],
            INVALID.format("fees[0].cost_tax") + " It can't be more than 'cost_inc_tax'.",
        ),
        (
            [_bad(type="shipping_fee")],
            INVALID.format("fees[0].type") + " The only fee type is 'custom_fee'.",
        ),
        (
            [_bad(tax_class_id="3")],
            INVALID.format("fees[0].tax_class_id") + " Expected an integer or null.",
        ),
        ([_bad(source=7)], INVALID.format("fees[0].source") + " Expected a string."),
        ([PACKAGING, _bad(id=1)], READ_ONLY_MESSAGE.format("fees[1].id")),
        ([_bad(base_cost="1")], READ_ONLY_MESSAGE.format("fees[0].base_cost")),
        # Some of the spec's own examples spell it so; the schema has no such field.
        (
            [_bad(cost_ex_tax=DROP, cost_exc_tax="2.5")],
            READ_ONLY_MESSAGE.format("fees[0].cost_exc_tax"),
        ),
    ],
)
def test_invalid_fees_are_refused_on_create(api, fees, message):
    response = api.post("/v2/orders", json=order_body(fees=fees))
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": message}]
    assert api.get("/v2/orders").status_code == 204  # nothing was created


def test_invalid_fees_are_refused_on_update_and_change_nothing(api):
    order = create_order(api, fees=[PACKAGING])
    before = api.get(f"/v2/orders/{order['id']}", params={"include": "fees"}).json()
    known = before["fees"][0]["id"]
    partial = {k: v for k, v in PACKAGING.items() if k != "cost_inc_tax"}
    cases = [
        (
            [{**PACKAGING, "id": 999999}],
            INVALID.format("fees[0].id") + " The order has no fee 999999.",
        ),
        (
            [{**PACKAGING, "id": known}, {**INSURANCE, "id": known}],
            INVALID.format("fees[1].id") + f" Fee {known} is sent twice.",
        ),
        (  # an updated fee is sent whole, like a new one
            [{**partial, "id": known}],
            "The fee 'fees[0]' needs at least two of 'cost_ex_tax', 'cost_inc_tax' and 'cost_tax'.",
        ),
    ]
    for fees, message in cases:
        response = api.put(f"/v2/orders/{order['id']}", json={"fees": fees})
        assert response.status_code == 400
        assert response.json() == [{"status": 400, "message": message}]
    assert api.get(f"/v2/orders/{order['id']}", params={"include": "fees"}).json() == before
