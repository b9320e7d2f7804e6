"""Canonical text of exact numbers and JSON (``bcsync.run.rowhash``): equal values, equal text."""

from __future__ import annotations

import decimal
import json

import duckdb
import pytest

from bcsync.run.rowhash import canonical_decimal, canonical_json


@pytest.mark.parametrize(
    ("forms", "canonical"),
    [
        (['{"b": 1, "a": [1.0, "x"]}', '{"a":[1,"x"],"b":1}', '{"a": [1e0, "x"], "b": 1.00}'],
         '{"a":[1,"x"],"b":1}'),
        (["2.5", "2.50", "25e-1", "0.25E1"], "2.5"),
        (["100", "1e2", "100.000", "1E+2"], "100"),
        (["-0.0", "0", "0e10"], "0"),
        # Past a float's digits: every digit kept, trailing zeros not.
        (["12345678901234567890.125", "12345678901234567890.12500", "1.2345678901234567890125e19"],
         "12345678901234567890.125"),
        (["12345678901234567890.0", "12345678901234567890"], "12345678901234567890"),
        (['{"k": "tab\\t é 🎉"}', '{"k":"tab\\u0009 \\u00e9 🎉"}'], '{"k":"tab\\t é 🎉"}'),
    ],
)  # fmt: skip
def test_equal_json_values_have_one_canonical_text(forms: list[str], canonical: str) -> None:
    assert {canonical_json(form) for form in forms} == {canonical}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("12345678901234567890.125", "12345678901234567890.126"),
        ("0.1000000000000000055511151231257827", "0.1"),  # the double nearest 0.1, exactly
        ('{"a": 1}', '{"a": "1"}'),
        ("[1, 2]", "[2, 1]"),
    ],
)
def test_different_json_values_keep_different_texts(one: str, other: str) -> None:
    assert canonical_json(one) != canonical_json(other)


def test_text_that_is_not_json_is_kept_and_null_stays_null() -> None:
    assert canonical_json("{not json") == "{not json"
    assert canonical_json(None) is None
    huge = "1e100000"  # no float holds it, and it must not become 100,001 digits
    assert canonical_json(huge) == "1E+100000"
    assert json.loads(canonical_json(f'{{"a": {huge}}}') or "") == {"a": float("inf")}


@pytest.mark.parametrize(
    ("value", "ddl"),
    [
        ("1.50", "DECIMAL(10, 2)"),
        ("-0.00", "DECIMAL(10, 2)"),
        ("0.0000001", "DECIMAL(18, 7)"),
        ("1000", "DECIMAL(10, 0)"),
        ("-12345678901234567890123456789.123456789", "DECIMAL(38, 9)"),
    ],
)
def test_a_decimals_text_is_the_one_duckdb_hashes_a_decimal_as(value: str, ddl: str) -> None:
    # The planner hashes a DECIMAL with rowhash.canonical_sql: the same text for the same value,
    # so a column read as text (PostgreSQL's unbounded numeric) hashes like one read as DECIMAL.
    from bcsync.run.rowhash import canonical_sql

    conn = duckdb.connect()
    relation = conn.sql(f"SELECT CAST('{value}' AS {ddl}) AS d")
    [(expected,)] = conn.sql(
        f"SELECT {canonical_sql('d', relation.types[0])} FROM relation"
    ).fetchall()
    assert canonical_decimal(decimal.Decimal(value)) == expected


def test_decimals_wider_than_any_context_keep_every_digit() -> None:
    value = decimal.Decimal("1." + "0" * 60 + "1")
    assert canonical_decimal(value) == "1." + "0" * 60 + "1"
    assert canonical_decimal(decimal.Decimal("1E+40")) == "1" + "0" * 40
    assert canonical_decimal(decimal.Decimal("NaN")) == "nan"
    assert canonical_decimal(decimal.Decimal("-Infinity")) == "-inf"
