"""Listing and counting orders: filters, sort, paging, 204 on empty (reference §3.4, §5.5, §5.6)."""

from __future__ import annotations

import time

import pytest

from bcsync.emulator.orders import record as order_record
from tests.emulator.test_orders import create_order, order_body


def ids(response) -> list[int]:
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()]


@pytest.fixture
def api(emulator):
    emulator.config(quota=0)  # these tests make more calls than one window allows
    return emulator.client()


def test_empty_store_lists_204_with_no_body(api):
    response = api.get("/v2/orders")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_filters_narrow_the_list(api):
    a = create_order(api, customer_id=5, external_order_id="ext-a")
    b = create_order(api, customer_id=6, status_id=11, external_order_id="ext-b")
    c = create_order(
        api,
        customer_id=5,
        billing_address={**order_body()["billing_address"], "email": "Other@Example.com"},
    )
    assert ids(api.get("/v2/orders")) == [a["id"], b["id"], c["id"]]
    assert ids(api.get("/v2/orders", params={"customer_id": 5})) == [a["id"], c["id"]]
    assert ids(api.get("/v2/orders", params={"status_id": 11})) == [b["id"]]
    assert ids(api.get("/v2/orders", params={"external_order_id": "ext-b"})) == [b["id"]]
    assert ids(api.get("/v2/orders", params={"external_order_id": "nope"})) == []
    assert ids(api.get("/v2/orders", params={"email": "other@example.com"})) == [c["id"]]
    assert ids(api.get("/v2/orders", params={"min_id": b["id"]})) == [b["id"], c["id"]]
    assert ids(api.get("/v2/orders", params={"max_id": b["id"]})) == [a["id"], b["id"]]
    both = {"customer_id": 5, "email": "janedoe@email.com"}
    assert ids(api.get("/v2/orders", params=both)) == [a["id"]]


def test_date_filters_take_rfc2822_and_iso8601(api):
    old = create_order(api, date_created="Thu, 20 Apr 2017 11:32:00 -0400")
    new = create_order(api)
    rfc = {"min_date_created": "Fri, 21 Apr 2017 00:00:00 +0000"}
    assert ids(api.get("/v2/orders", params=rfc)) == [new["id"]]
    iso = {"max_date_created": "2017-04-20T11:32:00.000-04:00"}
    assert ids(api.get("/v2/orders", params=iso)) == [old["id"]]
    modified = {"min_date_modified": "2000-01-01T00:00:00Z"}
    assert ids(api.get("/v2/orders", params=modified)) == [old["id"], new["id"]]
    bad = api.get("/v2/orders", params={"min_date_created": "last week"})
    assert bad.status_code == 400
    assert "min_date_created" in bad.json()[0]["message"]


def test_sort_and_paging(emulator, api):
    created = [create_order(api, customer_id=n % 3)["id"] for n in range(7)]
    # The spec's `sort` enum lacks the ":asc"/":desc" suffix its own description documents
    # (reference §5.5), so these two calls go without the contract check.
    unchecked = emulator.client(check_contract=False)
    assert ids(unchecked.get("/v2/orders", params={"sort": "id:desc"})) == created[::-1]
    by_customer = ids(unchecked.get("/v2/orders", params={"sort": "customer_id:asc"}))
    assert by_customer == [created[i] for i in (0, 3, 6, 1, 4, 2, 5)]
    assert ids(api.get("/v2/orders", params={"limit": 3, "page": 1})) == created[:3]
    assert ids(api.get("/v2/orders", params={"limit": 3, "page": 3})) == created[6:]
    past_the_end = api.get("/v2/orders", params={"limit": 3, "page": 4})
    assert past_the_end.status_code == 204
    assert api.get("/v2/orders", params={"sort": "email"}).status_code == 400


def test_limit_over_250_is_refused_or_clamped(emulator, api):
    create_order(api)
    too_big = api.get("/v2/orders", params={"limit": 251})
    assert too_big.status_code == 413
    assert api.get("/v2/orders", params={"limit": 250}).status_code == 200
    emulator.config(over_limit="clamp")
    assert api.get("/v2/orders", params={"limit": 251}).status_code == 200


def test_archived_orders_are_listed_only_with_is_deleted(api):
    kept = create_order(api)
    archived = create_order(api)
    assert api.delete(f"/v2/orders/{archived['id']}").status_code == 204
    assert ids(api.get("/v2/orders")) == [kept["id"]]
    # is_deleted is no longer in the spec (§5.5); the emulator still honours it
    response = api.get("/v2/orders", params={"is_deleted": "true"})
    assert ids(response) == [archived["id"]]
    assert response.json()[0]["is_deleted"] is True


def test_count_by_status_with_the_list_filters(api):
    create_order(api, status_id=11)
    create_order(api, status_id=11, customer_id=9)
    create_order(api, status_id=2)
    archived = create_order(api, status_id=2)
    api.delete(f"/v2/orders/{archived['id']}")
    body = api.get("/v2/orders/count").json()
    assert body["count"] == 3
    counts = {s["id"]: s["count"] for s in body["statuses"]}
    assert counts[11] == 2 and counts[2] == 1 and counts[1] == 0
    assert len(body["statuses"]) == 15
    shipped = next(s for s in body["statuses"] if s["id"] == 2)
    assert (shipped["name"], shipped["sort_order"]) == ("Shipped", 8)
    assert api.get("/v2/orders/count", params={"customer_id": 9}).json()["count"] == 1


def test_lookups_stay_fast_with_20000_orders(emulator, api):
    # Filling the table in-process: 20 000 POSTs would take the test budget, and the point is
    # how the emulator answers with that many orders, not how fast it accepts them.
    table = emulator.emulator.table("orders")
    with emulator.emulator.lock:
        for n in range(20_000):
            body = order_body(external_order_id=f"ext-{n}", customer_id=n % 500)
            table.add(order_record.create(body, table.new_id(), table.next_child_id, False))
    started = time.perf_counter()
    assert len(ids(api.get("/v2/orders", params={"external_order_id": "ext-19999"}))) == 1
    assert len(ids(api.get("/v2/orders", params={"limit": 250, "page": 3}))) == 250
    assert len(ids(api.get("/v2/orders", params={"customer_id": 7}))) == 40
    assert api.get("/v2/orders/count").json()["count"] == 20_000
    elapsed = time.perf_counter() - started
    assert elapsed < 3, f"four lookups over 20 000 orders took {elapsed:.2f}s"
