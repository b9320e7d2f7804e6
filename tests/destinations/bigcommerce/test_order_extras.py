"""Order fees and pickup consignments checked before sending, and a pickup update's line items."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from bcsync.destinations.base import RowOp
from bcsync.destinations.bigcommerce.fields import ValueProblem
from bcsync.destinations.bigcommerce.order_extras import (
    fees_payload,
    line_changes,
    pickup_payload,
    pin_pickup,
)
from bcsync.destinations.bigcommerce.orders import OrderObject
from bcsync.vocabulary import Operation

MUG = {"name": "Mug", "quantity": 2, "price_inc_tax": 11, "price_ex_tax": 10}


def test_fees_are_sent_in_bigcommerce_form() -> None:
    fees = fees_payload(
        json.dumps([{"display_name_merchant": "Bag", "cost_ex_tax": 1, "cost_tax": "0.1"}])
    )
    assert fees == [
        {
            "type": "custom_fee",
            "display_name_merchant": "Bag",
            "cost_ex_tax": "1.0000",
            "cost_tax": "0.1000",
        }
    ]
    assert fees_payload(None) is None
    assert fees_payload("[]") == []
    one = {"display_name_customer": "Bag", "cost_ex_tax": 1, "cost_inc_tax": 1, "tax_class_id": 2}
    assert fees_payload(one) == fees_payload([one])


@pytest.mark.parametrize(
    ("fee", "expected"),
    [
        ({"cost_ex_tax": 1, "cost_inc_tax": 1}, "display_name_customer or display_name_merchant"),
        ({"display_name_customer": " ", "cost_ex_tax": 1, "cost_inc_tax": 1}, "display_name"),
        ({"display_name_customer": "X", "cost_tax": 1}, "at least two of"),
        ({"display_name_customer": "X", "cost_ex_tax": -1, "cost_tax": 1}, "non-negative"),
        ({"display_name_customer": "X", "cost_ex_tax": "1.23456", "cost_tax": 0}, "4 decimal"),
        ({"display_name_customer": "X", "cost_ex_tax": 2, "cost_inc_tax": 1}, "less than"),
        ({"display_name_customer": "X", "cost_inc_tax": 1, "cost_tax": 2}, "more than"),
        (
            {"display_name_customer": "X", "cost_ex_tax": 1, "cost_inc_tax": 2, "cost_tax": 3},
            "is not cost_inc_tax - cost_ex_tax",
        ),
        ({"display_name_customer": "X", "cost_ex_tax": 1, "cost_tax": 0, "type": "x"}, "type"),
        ({"display_name_customer": "X", "cost_ex_tax": 1, "cost_tax": 0, "id": 3}, "'id'"),
        ({"display_name_customer": "X", "cost_ex_tax": 1, "cost_tax": 0, "cost": 3}, "'cost'"),
        (
            {"display_name_customer": "X", "cost_ex_tax": 1, "cost_tax": 0, "tax_class_id": "a"},
            "tax",
        ),
        ({"display_name_customer": "X", "cost_ex_tax": float("nan"), "cost_tax": 0}, "NaN"),
    ],
)
def test_bad_fees_are_refused_naming_the_fee(fee: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        fees_payload([{"display_name_customer": "ok", "cost_ex_tax": 0, "cost_tax": 0}, fee])
    assert expected in str(caught.value)
    assert "fee 2" in str(caught.value) or "NaN" in str(caught.value)


def test_a_pickup_needs_its_method_and_lines_and_comes_alone() -> None:
    good = {"pickups": [{"pickup_method_id": "1", "line_items": [MUG], "location": {"city": "A"}}]}
    payload = pickup_payload(json.dumps(good))
    assert payload is not None
    (pickup,) = payload["pickups"]
    assert pickup["pickup_method_id"] == 1 and pickup["location"] == {"city": "A"}
    assert pickup["line_items"] == [{**MUG, "price_inc_tax": 11.0, "price_ex_tax": 10.0}]
    for bad, expected in [
        ([good["pickups"][0]], "expected an object"),
        ({"pickups": []}, "one pickup"),
        ({"pickups": [good["pickups"][0]] * 2}, "at most one pickup"),
        ({"pickups": [{"line_items": [MUG]}]}, "needs pickup_method_id"),
        ({"pickups": [{"pickup_method_id": 1}]}, "needs line_items"),
        ({"pickups": [{"pickup_method_id": 0, "line_items": [MUG]}]}, "positive integer"),
        ({"pickups": [{"pickup_method_id": 1, "line_items": [{"name": "x"}]}]}, "line_items"),
        ({"pickups": [{"id": 4, "pickup_method_id": 1, "line_items": [MUG]}]}, "'id'"),
        (
            {"pickups": [{"pickup_method_id": 1, "line_items": [MUG], "location": {"x": 1}}]},
            "unknown field 'x'",
        ),
        (
            {
                "pickups": [
                    {
                        "pickup_method_id": 1,
                        "line_items": [MUG],
                        "location": {"country_alpha2": "USA"},
                    }
                ]
            },
            "country_alpha2",
        ),
    ]:
        with pytest.raises(ValueProblem, match=expected):
            pickup_payload(bad)


def test_line_changes_keep_equal_lines_add_new_ones_and_remove_the_rest() -> None:
    held = [
        {"id": 7, "name": "Mug", "quantity": 2, "price_inc_tax": "11.0000", "price_ex_tax": "10.0"},
        {"id": 8, "name": "Poster", "quantity": 1, "price_inc_tax": "5.5", "price_ex_tax": "5"},
    ]
    assert line_changes([{**MUG, "price_inc_tax": 11.0}], held) == [{"id": 8, "quantity": 0}]
    assert line_changes([MUG, {**MUG, "quantity": 1}], held) == [
        {**MUG, "quantity": 1},
        {"id": 8, "quantity": 0},
    ]
    stored = {"pickups": [{"id": 3, "line_items": held}]}
    wanted = {"pickups": [{"pickup_method_id": 2, "line_items": [MUG, held[1]]}]}
    unchanged = {**held[1]}
    del unchanged["id"]
    wanted["pickups"][0]["line_items"] = [MUG, unchanged]
    assert pin_pickup(wanted, stored, "9") == {"pickups": [{"id": 3, "pickup_method_id": 2}]}
    with pytest.raises(ValueProblem, match="order 9 has no pickup consignment"):
        pin_pickup(wanted, {"pickups": []}, "9")


@dataclass
class Answer:
    body: Any


class LinkingStore:
    """Answers a pickup's line items as links, and the order's lines on /products."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        self.calls.append((method, path, kwargs.get("params", {})))
        if path.endswith("/consignments"):
            return Answer({"pickups": [{"id": 5, "line_items": [{"url": "u", "resource": "r"}]}]})
        assert path.endswith("/products")
        return Answer([{"id": 11, **MUG}])


def test_a_pickup_whose_lines_come_as_links_reads_the_order_lines() -> None:
    orders = object.__new__(OrderObject)
    store = LinkingStore()
    orders.client = store  # type: ignore[assignment]
    op = RowOp(pk="1", op=Operation.UPDATE, values={}, row_hash=None, dest_id="42")
    wanted = {"pickups": [{"pickup_method_id": 1, "line_items": [{**MUG, "quantity": 1}]}]}
    pinned = asyncio.run(orders._pinned_pickup(op, wanted))
    assert pinned == {
        "pickups": [
            {
                "id": 5,
                "pickup_method_id": 1,
                "line_items": [{**MUG, "quantity": 1}, {"id": 11, "quantity": 0}],
            }
        ]
    }
    assert [path for _, path, _ in store.calls] == [
        "/v2/orders/42/consignments",
        "/v2/orders/42/products",
    ]
