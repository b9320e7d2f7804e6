"""NaN and ±Infinity never go out: every kind of field names them, and the client refuses them.

JSON has no NaN or Infinity; Python's ``json.dumps`` writes them bare (``NaN``), which no JSON
parser reads. A row holding one is invalid before sending, with a reason naming its column.
"""

from __future__ import annotations

import asyncio
import decimal
import math
from typing import Any

import httpx
import pytest

from bcsync.destinations.bigcommerce.catalog import CUSTOMER_FIELDS, ORDER_FIELDS
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customer_extras import CustomerExtras
from bcsync.destinations.bigcommerce.fields import (
    FieldSpec,
    ValueProblem,
    convert,
    non_finite,
)
from bcsync.destinations.bigcommerce.metafields import MetafieldWriter
from bcsync.destinations.bigcommerce.order_lines import check_products
from bcsync.destinations.bigcommerce.ratelimit import RateGovernor
from bcsync.errors import RequestRejectedError

NAN = math.nan
INF = math.inf
ACCEPTS = "is not a number BigCommerce accepts"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NAN, "NaN"),
        (INF, "Infinity"),
        (-INF, "-Infinity"),
        (decimal.Decimal("NaN"), "NaN"),
        (decimal.Decimal("-Infinity"), "-Infinity"),
        ([1.0, NAN], "NaN at [1]"),
        ({"a": [{"b": INF}]}, "Infinity at a[0].b"),
        ((1, 2, (3, -INF)), "-Infinity at [2][1]"),
    ],
)
def test_non_finite_names_the_number_and_where_it_sits(value: Any, expected: str) -> None:
    assert non_finite(value) == f"{expected} {ACCEPTS}"


@pytest.mark.parametrize(
    "value", [None, 0, 1.5, decimal.Decimal("1e30"), "NaN", [1, "inf"], {"a": None}, True]
)
def test_finite_values_and_text_are_fine(value: Any) -> None:
    assert non_finite(value) is None


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (CUSTOMER_FIELDS["store_credit_amount"], NAN, f"NaN {ACCEPTS}"),
        (CUSTOMER_FIELDS["store_credit_amount"], -INF, f"-Infinity {ACCEPTS}"),
        (CUSTOMER_FIELDS["store_credit_amount"], "nan", f"NaN {ACCEPTS}"),  # float("nan") reads it
        (CUSTOMER_FIELDS["store_credit_amount"], " Infinity", f"Infinity {ACCEPTS}"),
        (CUSTOMER_FIELDS["store_credit_amount"], decimal.Decimal("1e400"), "too large"),
        pytest.param(CUSTOMER_FIELDS["store_credit_amount"], 10**400, "too large", id="10**400"),
        (CUSTOMER_FIELDS["customer_group_id"], NAN, f"NaN {ACCEPTS}"),  # was int(nan): ValueError
        (CUSTOMER_FIELDS["customer_group_id"], INF, f"Infinity {ACCEPTS}"),  # was OverflowError
        (CUSTOMER_FIELDS["customer_group_id"], decimal.Decimal("NaN"), f"NaN {ACCEPTS}"),
        (CUSTOMER_FIELDS["channel_ids"], [1, INF], f"Infinity at [1] {ACCEPTS}"),
        (CUSTOMER_FIELDS["channel_ids"], "[1, NaN]", f"NaN {ACCEPTS}"),
        (CUSTOMER_FIELDS["phone"], NAN, f"NaN {ACCEPTS}"),  # not the text "nan"
        (CUSTOMER_FIELDS["accepts_product_review_abandoned_cart_emails"], NAN, f"NaN {ACCEPTS}"),
        (ORDER_FIELDS["shipping_addresses"], '[{"zip": 1, "x": NaN}]', f"NaN at [0].x {ACCEPTS}"),
        (ORDER_FIELDS["fees"], [{"amount": -INF}], f"-Infinity at [0].amount {ACCEPTS}"),
        (ORDER_FIELDS["total_inc_tax"], NAN, f"NaN {ACCEPTS}"),
        (ORDER_FIELDS["date_created"], INF, f"Infinity {ACCEPTS}"),
    ],
)
def test_every_field_kind_refuses_nan_and_infinity(
    spec: FieldSpec, value: Any, expected: str
) -> None:
    with pytest.raises(ValueProblem, match=expected.replace("[", r"\[").replace("]", r"\]")):
        convert(spec, value)


def test_finite_numbers_and_the_text_nan_in_a_string_field_still_convert() -> None:
    assert convert(CUSTOMER_FIELDS["store_credit_amount"], "1.5") == 1.5
    assert convert(CUSTOMER_FIELDS["phone"], "NaN") == "NaN"
    assert convert(ORDER_FIELDS["shipping_addresses"], '[{"x": "NaN"}]') == [{"x": "NaN"}]


class _Client:
    """Stands in for the client: validation never sends anything."""


def test_attributes_form_fields_and_metafields_name_the_column() -> None:
    extras = CustomerExtras(_Client())  # type: ignore[arg-type]
    extras.attributes.extend([("ltv", "LTV"), ("tier", "Tier")])
    extras.attribute_defs.update({"LTV": (1, "number"), "Tier": (2, "string")})
    extras.form_fields.extend([("segment", "Segment"), ("scores", "Scores")])
    extras.metafields.extend([("ltv", "warehouse", "ltv"), ("extra", "warehouse", "extra")])
    reasons = extras.validate(
        {
            "ltv": NAN,
            "tier": INF,
            "segment": -INF,
            "scores": ["a", NAN],
            "extra": {"nested": [1, INF]},
        }
    )
    assert reasons == [
        f"column 'ltv' (attribute LTV, number): NaN {ACCEPTS}",
        f"column 'tier' (attribute Tier, string): Infinity {ACCEPTS}",
        f"column 'segment' (form field Segment): -Infinity {ACCEPTS}",
        f"column 'scores' (form field Scores): NaN at [1] {ACCEPTS}",
        f"column 'ltv' (metafield warehouse.ltv): NaN {ACCEPTS}",
        f"column 'extra' (metafield warehouse.extra): Infinity at nested[1] {ACCEPTS}",
    ]
    assert extras.validate({"ltv": 1.5, "tier": "gold", "segment": "x", "extra": [1]}) == []


def test_order_metafields_name_the_column() -> None:
    writer = MetafieldWriter(_Client(), "orders", [("margin", "wh", "margin")])  # type: ignore[arg-type]
    assert writer.validate({"margin": decimal.Decimal("Infinity")}) == [
        f"column 'margin' (metafield wh.margin): Infinity {ACCEPTS}"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '[{"name": "Mug", "quantity": 1, "price_inc_tax": NaN, "price_ex_tax": 1}]',
            f"product 1: NaN at price_inc_tax {ACCEPTS}",
        ),
        (
            [
                {"product_id": 1, "quantity": 1},
                {"product_id": 2, "quantity": 1, "product_options": [{"id": 3, "value": INF}]},
            ],
            f"product 2: Infinity at product_options[0].value {ACCEPTS}",
        ),
        ([{"product_id": 1, "quantity": NAN}], f"product 1: NaN at quantity {ACCEPTS}"),
        (NAN, f"NaN {ACCEPTS}"),
    ],
)
def test_order_products_refuse_nan_anywhere(value: Any, expected: str) -> None:
    assert check_products("lines", value) == [f"column 'lines' (products): {expected}"]


def test_the_client_never_sends_a_body_that_is_not_json() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": []})

    async def post(body: Any) -> None:
        async with BigCommerceClient(
            api_url="https://api.example.test",
            store_hash="abc",
            access_token="tok-1234",
            governor=RateGovernor(),
            transport=httpx.MockTransport(handler),
        ) as client:
            await client.request("POST", "/v3/customers", json=body, pks=["7"])

    with pytest.raises(RequestRejectedError) as error:
        asyncio.run(post([{"email": "a@example.com", "store_credit_amounts": [{"amount": NAN}]}]))
    assert str(error.value).startswith("POST /v3/customers: not sent: the request body is not JSON")
    assert (error.value.method, error.value.path) == ("POST", "/v3/customers")
    assert sent == []
    asyncio.run(post([{"email": "a@example.com"}]))
    assert len(sent) == 1
