"""BigCommerce's error bodies, v2 and v3, read in one place into the words a user sees."""

from __future__ import annotations

from bcsync.destinations.bigcommerce.error_bodies import (
    applied_items,
    bigcommerce_message,
    error_text,
    indexed_errors,
    metafield_failures,
)


def test_v2_and_v3_messages() -> None:
    assert bigcommerce_message([{"status": 400, "message": "bad zip"}]) == "bad zip"
    body = {"title": "Invalid", "errors": {"0.email": "taken", "name": "empty"}}
    assert bigcommerce_message(body) == "Invalid — email: taken; name: empty"
    assert bigcommerce_message("gateway timeout") == ""
    assert error_text(None, "422 Unprocessable") == "422 Unprocessable"


def test_batch_errors_name_their_items() -> None:
    body = {"errors": {"0.email": "taken", "0.first_name": "empty", "2": "bad"}}
    assert indexed_errors(body) == {0: "email: taken; first_name: empty", 2: "bad"}
    metafields = {"errors": [{"errors": {"1": "value too long", "x": "ignored"}}]}
    assert metafield_failures(metafields) == {1: "value too long"}


def test_a_refused_batch_may_still_return_what_it_applied() -> None:
    assert applied_items({"data": [{"id": 1}]}) == [{"id": 1}]
    assert applied_items({"data": []}) is None
    assert applied_items([{"message": "no"}]) is None
