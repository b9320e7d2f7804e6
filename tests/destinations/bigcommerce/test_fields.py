"""Field conversion and validation (``bcsync.destinations.bigcommerce.fields``): what a model's
value becomes in a BigCommerce request, and the reason a value that cannot be sent is refused.

Values are checked before anything is sent, so each refusal here is an invalid row with a reason
a user reads, not a batch BigCommerce rejects.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from types import SimpleNamespace
from typing import Any

import pytest

from bcsync.destinations.bigcommerce.catalog import CUSTOMER_FIELDS, ORDER_FIELDS
from bcsync.destinations.bigcommerce.fields import (
    FieldRef,
    FieldSpec,
    ValueProblem,
    column_fits,
    convert,
    map_fields,
    parse_field,
    set_path,
    type_problems,
)

D = decimal.Decimal
MONEY = FieldSpec("total_inc_tax", "money")
NUMBER = FieldSpec("store_credit_amount", "number")
INTEGER = FieldSpec("customer_group_id", "integer")
TEXT = FieldSpec("notes", "string")
BOOLEAN = FieldSpec("order_is_digital", "boolean")
DATE = FieldSpec("birthday", "date")
RFC2822 = FieldSpec("date_created", "rfc2822")
JSON = FieldSpec("products", "json")
INT_LIST = FieldSpec("channel_ids", "int_list")


def refusal(spec: FieldSpec, value: Any) -> str:
    with pytest.raises(ValueProblem) as error:
        convert(spec, value)
    return str(error.value)


# -- money: the v2 API's 4-place decimal strings ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (12.5, "12.5000"),
        (3, "3.0000"),
        ("7", "7.0000"),
        (" 19.99 ", "19.9900"),
        (D("12.3456"), "12.3456"),
        (D("12.340000"), "12.3400"),  # trailing zeros beyond 4 places are not digits lost
        (D("1E+3"), "1000.0000"),
        (0, "0.0000"),
        (0.1 + 0.2, "0.3000"),  # a float within its own error of a 4-place amount
        (D("123456789012345678901234567890.12"), "123456789012345678901234567890.1200"),
    ],
)
def test_money_is_sent_as_a_four_place_decimal_string(value: Any, sent: str) -> None:
    assert convert(MONEY, value) == sent


@pytest.mark.parametrize("value", [D("1.23456"), "0.00001", 0.12345, 1 / 3])
def test_money_with_more_than_four_places_is_refused_not_rounded(value: Any) -> None:
    assert "has more than 4 decimal places, which money cannot hold" in refusal(MONEY, value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "expected a non-negative amount, got -1"),
        (D("-0.01"), "expected a non-negative amount"),
        ("twelve", "expected an amount, got 'twelve'"),
        (True, "expected an amount, got a boolean"),
    ],
)
def test_money_that_is_not_an_amount_is_refused(value: Any, reason: str) -> None:
    assert reason in refusal(MONEY, value)


@pytest.mark.parametrize("value", [-0.0, D("-0"), "-0.00"])
def test_a_negative_zero_amount_is_sent_as_zero(value: Any) -> None:
    assert convert(MONEY, value) == "0.0000"


def test_a_long_money_value_is_shortened_in_the_reason() -> None:
    reason = refusal(MONEY, "1." + "1" * 40)
    assert "1.1111111111… (42 characters)" in reason
    assert "1" * 40 not in reason


# -- number: what a double holds, and nothing it does not ------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (D("1.5"), 1.5),
        ("2.25", 2.25),
        (" 7 ", 7.0),
        (42, 42.0),
        (0.1, 0.1),  # a float is already what a double holds
        (D("1E+2"), 100.0),
        (2**53, float(2**53)),
    ],
)
def test_numbers_that_a_double_holds_exactly_convert(value: Any, sent: float) -> None:
    converted = convert(NUMBER, value)
    assert isinstance(converted, float)
    assert converted == sent


@pytest.mark.parametrize(
    "value",
    [
        D("1.123456789012345679901"),
        "1.123456789012345679901",
        2**53 + 1,
        D("0.1000000000000000000001"),
    ],
)
def test_a_number_whose_digits_a_double_cannot_keep_is_refused(value: Any) -> None:
    assert "has more digits than a number field keeps (about 16)" in refusal(NUMBER, value)


@pytest.mark.parametrize("value", [10**400, D("1E+400"), "-1e400"])
def test_a_number_past_a_doubles_range_is_too_large(value: Any) -> None:
    assert "is too large for a number" in refusal(NUMBER, value)


@pytest.mark.parametrize(
    ("value", "named"),
    [("nan", "NaN"), ("NaN", "NaN"), ("inf", "Infinity"), (" -Infinity ", "-Infinity")],
)
def test_the_text_nan_or_infinity_in_a_number_field_is_named(value: str, named: str) -> None:
    assert refusal(NUMBER, value) == f"{named} is not a number BigCommerce accepts"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "expected a number, got a boolean"),
        ("12 apples", "expected a number, got '12 apples'"),
        ([1], "expected a number, got [1]"),
    ],
)
def test_what_is_not_a_number_is_refused(value: Any, reason: str) -> None:
    assert refusal(NUMBER, value) == reason


# -- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "sent"), [(3, 3), (3.0, 3), (D("4"), 4), (" 12 ", 12)])
def test_integral_values_become_integers(value: Any, sent: int) -> None:
    converted = convert(INTEGER, value)
    assert type(converted) is int
    assert converted == sent


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (3.5, "expected an integer, got 3.5"),
        (D("2.01"), "expected an integer, got Decimal('2.01')"),
        ("1e3", "expected an integer, got '1e3'"),
        (True, "expected an integer, got a boolean"),
        (math.nan, "NaN is not a number BigCommerce accepts"),
    ],
)
def test_non_integral_values_are_refused(value: Any, reason: str) -> None:
    assert refusal(INTEGER, value) == reason


def test_an_int_list_reads_json_text_and_checks_every_item() -> None:
    assert convert(INT_LIST, '[1, 2.0, "3"]') == [1, 2, 3]
    assert convert(INT_LIST, (4, 5)) == [4, 5]
    assert refusal(INT_LIST, "[1, 2.5]") == "expected an integer, got 2.5"
    assert refusal(INT_LIST, "1,2") == "expected a list of integers, got '1,2'"
    assert refusal(INT_LIST, 7) == "expected a list of integers, got 7"


# -- text: exact decimals keep their digits, never an exponent ---------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (D("1E+3"), "1000"),
        (D("1.50"), "1.5"),
        (D("0.00000001"), "0.00000001"),
        (D("-0.00"), "0"),
        (D("12345678901234567890.125"), "12345678901234567890.125"),
        (3.0, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (False, "false"),
        (dt.date(2024, 5, 6), "2024-05-06"),
        (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09"),
        ("nan", "nan"),  # a word in a text field, not a number
    ],
)
def test_text_fields_get_plain_text(value: Any, sent: str) -> None:
    assert convert(TEXT, value) == sent


def test_text_length_bounds_are_checked() -> None:
    spec = FieldSpec("company", "string", 2, 5)
    assert convert(spec, "ACME") == "ACME"
    assert refusal(spec, "A") == "must be at least 2 characters"
    assert refusal(spec, "ACME Corp") == "is 9 characters long; the maximum is 5"


def test_an_email_is_stripped_and_must_look_like_one() -> None:
    email = CUSTOMER_FIELDS["email"]
    assert convert(email, "  ann@example.com ") == "ann@example.com"
    assert (
        refusal(email, "ann at example.com") == "'ann at example.com' is not a valid email address"
    )


def test_text_refuses_values_that_have_no_text() -> None:
    assert refusal(TEXT, b"bytes") == "expected text, got bytes"


# -- dates and timestamps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (dt.date(2024, 5, 6), "2024-05-06"),
        (dt.datetime(2024, 5, 6, 23, 59), "2024-05-06"),
        ("2024-05-06", "2024-05-06"),
        (" 2024-05-06T10:00:00Z", "2024-05-06"),
    ],
)
def test_dates_are_iso_dates(value: Any, sent: str) -> None:
    assert convert(DATE, value) == sent


@pytest.mark.parametrize("value", ["06/05/2024", 20240506])
def test_what_is_not_a_date_is_refused(value: Any) -> None:
    assert refusal(DATE, value) == f"expected a date, got {value!r}"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        # An aware time is sent in UTC; a naive one is taken as UTC; a date is its midnight.
        (
            dt.datetime(2024, 5, 6, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "Mon, 06 May 2024 08:00:00 +0000",
        ),
        (dt.datetime(2024, 5, 6, 10, 0), "Mon, 06 May 2024 10:00:00 +0000"),
        (dt.date(2024, 5, 6), "Mon, 06 May 2024 00:00:00 +0000"),
        ("2024-05-06T10:00:00Z", "Mon, 06 May 2024 10:00:00 +0000"),
        ("2024-05-06 12:30:00-04:00", "Mon, 06 May 2024 16:30:00 +0000"),
        ("Mon, 06 May 2024 10:00:00 +0200", "Mon, 06 May 2024 08:00:00 +0000"),
    ],
)
def test_timestamps_are_rfc2822_in_utc(value: Any, sent: str) -> None:
    assert convert(RFC2822, value) == sent


@pytest.mark.parametrize("value", ["yesterday", 1714989600])
def test_what_is_not_a_timestamp_is_refused(value: Any) -> None:
    assert refusal(RFC2822, value) == f"expected a date and time, got {value!r}"


# -- booleans ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        (" Yes ", True),
        ("1", True),
        ("FALSE", False),
        ("no", False),
        ("0", False),
    ],
)
def test_booleans_accept_the_usual_spellings(value: Any, sent: bool) -> None:
    assert convert(BOOLEAN, value) is sent


@pytest.mark.parametrize("value", [2, "maybe", "", 1.0])
def test_other_values_are_not_booleans(value: Any) -> None:
    assert refusal(BOOLEAN, value) == f"expected true or false, got {value!r}"


# -- JSON, NaN and None -----------------------------------------------------------------------


def test_json_text_is_parsed_and_other_values_pass_as_they_are() -> None:
    assert convert(JSON, '[{"product_id": 7, "quantity": 2}]') == [{"product_id": 7, "quantity": 2}]
    assert convert(JSON, {"a": 1}) == {"a": 1}
    assert refusal(JSON, "{oops").startswith("expected JSON, got invalid JSON")


def test_json_text_spelling_nan_is_refused_with_where_it_sits() -> None:
    # json.loads reads the bare word NaN: it must not reach the request body.
    assert (
        refusal(JSON, '[{"price": NaN}]') == "NaN at [0].price is not a number BigCommerce accepts"
    )


@pytest.mark.parametrize("spec", [MONEY, NUMBER, INTEGER, TEXT, BOOLEAN, DATE, RFC2822, JSON])
def test_every_kind_refuses_infinity(spec: FieldSpec) -> None:
    assert refusal(spec, math.inf) == "Infinity is not a number BigCommerce accepts"
    assert refusal(spec, D("-Infinity")) == "-Infinity is not a number BigCommerce accepts"


@pytest.mark.parametrize("spec", [MONEY, NUMBER, INTEGER, TEXT, BOOLEAN, DATE, RFC2822, JSON])
def test_none_stays_none_for_the_caller_to_decide(spec: FieldSpec) -> None:
    assert convert(spec, None) is None


# -- mapping targets and column types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "ref"),
    [
        ("email", FieldRef("native", "email")),
        ("billing_address.city", FieldRef("native", "billing_address.city")),
        ("attributes.Loyalty Tier", FieldRef("attribute", "Loyalty Tier")),
        ("form_fields.Segment", FieldRef("form_field", "Segment")),
        ("metafields.warehouse.ltv", FieldRef("metafield", "ltv", "warehouse")),
        ("metafields.wh.a.b", FieldRef("metafield", "a.b", "wh")),
    ],
)
def test_parse_field_sorts_a_mapping_target_by_kind(field: str, ref: FieldRef) -> None:
    assert parse_field(field) == ref


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("metafields.ltv", "must be metafields.<namespace>.<key>"),
        ("metafields." + "n" * 65 + ".k", "namespace and key are at most 64 characters"),
    ],
)
def test_parse_field_refuses_a_malformed_metafield(field: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_field(field)


def mapping(column: str, field: str) -> Any:
    return SimpleNamespace(column=column, field=field)


def test_map_fields_locates_unknown_and_malformed_fields() -> None:
    mapped = map_fields(
        [
            mapping("mail", "email"),
            mapping("tier", "attributes.Tier"),
            mapping("x", "shoe_size"),
            mapping("y", "metafields.only"),
            mapping("z", "form_fields.Segment"),
        ],
        CUSTOMER_FIELDS,
        what="customer",
        custom={"attribute", "metafield"},
    )
    assert mapped.native == [("mail", CUSTOMER_FIELDS["email"])]
    assert mapped.custom == [("tier", FieldRef("attribute", "Tier"))]
    assert [p.where for p in mapped.problems] == [
        ("mappings", 2, "field"),
        ("mappings", 3, "field"),
        ("mappings", 4, "field"),
    ]
    unknown = mapped.problems[0].message
    assert unknown.startswith("unknown or read-only customer field 'shoe_size' (known: ")
    assert "attributes.<name>" in unknown and "metafields.<namespace>.<key>" in unknown
    assert "form_fields.<name>" not in unknown  # not a kind this object was given
    assert "must be metafields.<namespace>.<key>" in mapped.problems[1].message
    assert "unknown or read-only customer field 'form_fields.Segment'" in mapped.problems[2].message


@pytest.mark.parametrize(
    ("kind", "arrow_type", "fits"),
    [
        ("money", "decimal128(12, 2)", True),
        ("money", "int64", True),
        ("money", "timestamp[us, tz=UTC]", False),
        ("money", "bool", False),
        ("integer", "double", True),
        ("boolean", "int8", True),
        ("boolean", "date32[day]", False),
        ("rfc2822", "timestamp[us]", True),
        ("rfc2822", "double", False),
        ("date", "string", True),
        ("json", "list<item: int64>", True),
        ("int_list", "large_list<item: int64>", True),
        ("int_list", "int64", False),
        ("string", "struct<a: int64>", False),
        ("number", "extension<type_name=decimal, vendor_name=bcsync>", True),
    ],
)
def test_column_fits_by_arrow_type(kind: Any, arrow_type: str, fits: bool) -> None:
    assert column_fits(kind, arrow_type) is fits


def test_type_problems_name_the_column_and_locate_the_mapping() -> None:
    problems = type_problems(
        [
            mapping("total", "total_inc_tax"),
            mapping("placed", "date_created"),
            mapping("paid", "total_ex_tax"),
            mapping("tier", "metafields.wh.tier"),  # not native: checked elsewhere
            mapping("gone", "status_id"),  # not in the model: missing_columns says so
        ],
        ORDER_FIELDS,
        {"total": "timestamp[us]", "placed": "timestamp[us]", "paid": "decimal128(10, 2)",
         "tier": "bool"},
        what="order",
    )  # fmt: skip
    assert [(p.message, p.where) for p in problems] == [
        (
            "column 'total' (timestamp[us]) cannot become order field 'total_inc_tax' (money)",
            ("mappings", 0, "column"),
        )
    ]


def test_type_problems_skip_the_fields_asked() -> None:
    mappings = [mapping("total", "total_inc_tax")]
    types = {"total": "bool"}
    assert type_problems(mappings, ORDER_FIELDS, types, what="order") != []
    skip = frozenset({"total_inc_tax"})
    assert type_problems(mappings, ORDER_FIELDS, types, what="order", skip=skip) == []


def test_set_path_builds_nested_objects() -> None:
    body: dict[str, Any] = {"billing_address": {"city": "Oslo"}}
    set_path(body, "billing_address.zip", "0150")
    set_path(body, "authentication.force_password_reset", True)
    set_path(body, "email", "a@x.io")
    assert body == {
        "billing_address": {"city": "Oslo", "zip": "0150"},
        "authentication": {"force_password_reset": True},
        "email": "a@x.io",
    }
