"""GET /v3/customers: filters, sorting, includes, offset and cursor pagination."""

from __future__ import annotations

import time

import pytest


def person(n, **extra):
    return {
        "email": f"user{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        **extra,
    }


def seed(client, count, **extra):
    ids = []
    for start in range(0, count, 10):
        batch = [person(n, **extra) for n in range(start + 1, min(count, start + 10) + 1)]
        response = client.post("/v3/customers", json=batch)
        assert response.status_code == 200, response.text
        ids += [c["id"] for c in response.json()["data"]]
    return ids


def ids_of(response):
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


def test_empty_list_is_200_with_zero_totals(emulator):
    response = emulator.client().get("/v3/customers")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    assert body["meta"]["pagination"]["total"] == 0
    assert body["meta"]["pagination"]["count"] == 0
    assert body["meta"]["pagination"]["links"] == {"current": "?page=1&limit=50"}


def test_id_in_and_email_in(emulator):
    client = emulator.client()
    seed(client, 5)
    assert ids_of(client.get("/v3/customers", params={"id:in": "4,2,99"})) == [2, 4]
    response = client.get(
        "/v3/customers", params={"email:in": "user3@example.com,USER5@example.com"}
    )
    assert ids_of(response) == [3, 5]
    both = client.get("/v3/customers", params={"id:in": "3,4", "email:in": "user3@example.com"})
    assert ids_of(both) == [3]


def test_email_in_can_be_case_sensitive(emulator):
    emulator.config(email_case_insensitive=False)
    client = emulator.client()
    seed(client, 2)
    assert ids_of(client.get("/v3/customers", params={"email:in": "USER1@example.com"})) == []
    assert ids_of(client.get("/v3/customers", params={"email:in": "user1@example.com"})) == [1]


def test_invalid_id_in_is_422(emulator):
    response = emulator.client().get("/v3/customers", params={"id:in": "1,x"})
    assert response.status_code == 422
    assert "id:in" in response.json()["errors"]


def test_name_like_and_name_in(emulator):
    client = emulator.client()
    client.post(
        "/v3/customers",
        json=[
            {"email": "s@example.com", "first_name": "Sherlock", "last_name": "Holmes"},
            {"email": "j@example.com", "first_name": "James", "last_name": "Moriarty"},
            {"email": "w@example.com", "first_name": "John", "last_name": "Watson"},
        ],
    )
    assert ids_of(client.get("/v3/customers", params={"name:like": "moriarty,sherlock"})) == [1, 2]
    assert ids_of(client.get("/v3/customers", params={"name:like": "k hol"})) == [1]
    assert ids_of(client.get("/v3/customers", params={"name:in": "John Watson"})) == [3]


def test_company_and_group_filters(emulator):
    client = emulator.client()
    client.post(
        "/v3/customers",
        json=[
            person(1, company="Acme", customer_group_id=2),
            person(2, company="Other"),
            person(3),
        ],
    )
    assert ids_of(client.get("/v3/customers", params={"company:in": "Acme,Other"})) == [1, 2]
    assert ids_of(client.get("/v3/customers", params={"customer_group_id:in": "2"})) == [1]


def test_date_filters(emulator):
    client = emulator.client()
    seed(client, 2)
    time.sleep(1.05)  # dates have one-second resolution
    third = client.post("/v3/customers", json=[person(3)]).json()["data"][0]
    second = client.get("/v3/customers", params={"id:in": "2"}).json()["data"][0]
    assert second["date_created"] < third["date_created"]

    def ids(**params):
        return ids_of(client.get("/v3/customers", params=params))

    assert ids(**{"date_created:min": third["date_created"].removesuffix("Z")}) == [3]
    assert ids(**{"date_created:max": second["date_created"].removesuffix("Z")}) == [1, 2]
    assert ids(**{"date_created:min": third["date_created"][:10]}) == [1, 2, 3]
    assert ids(**{"date_created": second["date_created"]}) == [1, 2]
    time.sleep(1.05)
    client.put("/v3/customers", json=[{"id": 1, "notes": "touched"}])
    first = client.get("/v3/customers", params={"id:in": "1"}).json()["data"][0]
    assert ids(**{"date_modified:min": first["date_modified"]}) == [1]
    assert ids(**{"date_modified:max": third["date_modified"]}) == [2, 3]
    assert client.get("/v3/customers", params={"date_created:min": "yesterday"}).status_code == 422


def test_sort(emulator):
    client = emulator.client()
    client.post(
        "/v3/customers",
        json=[
            {"email": "b@example.com", "first_name": "B", "last_name": "Beta"},
            {"email": "a@example.com", "first_name": "A", "last_name": "alpha"},
            {"email": "c@example.com", "first_name": "C", "last_name": "Gamma"},
        ],
    )
    assert ids_of(client.get("/v3/customers", params={"sort": "last_name:asc"})) == [2, 1, 3]
    assert ids_of(client.get("/v3/customers", params={"sort": "last_name:desc"})) == [3, 1, 2]
    assert ids_of(client.get("/v3/customers", params={"sort": "date_created:desc"})) == [3, 2, 1]
    assert client.get("/v3/customers", params={"sort": "email:asc"}).status_code == 422


def test_offset_pagination_links(emulator):
    client = emulator.client()
    seed(client, 25)
    first = client.get("/v3/customers", params={"limit": 10}).json()
    meta = first["meta"]["pagination"]
    assert meta == {
        "total": 25,
        "count": 10,
        "per_page": 10,
        "current_page": 1,
        "total_pages": 3,
        "links": {"current": "?page=1&limit=10", "next": "?page=2&limit=10"},
    }
    assert "cursor_pagination" in first["meta"]
    second = client.get("/v3/customers", params={"limit": 10, "page": 2}).json()
    assert second["meta"]["pagination"]["links"] == {
        "previous": "?page=1&limit=10",
        "current": "?page=2&limit=10",
        "next": "?page=3&limit=10",
    }
    assert "cursor_pagination" not in second["meta"]
    last = client.get("/v3/customers", params={"limit": 10, "page": 3}).json()
    assert [c["id"] for c in last["data"]] == list(range(21, 26))
    assert "next" not in last["meta"]["pagination"]["links"]
    past = client.get("/v3/customers", params={"limit": 10, "page": 9}).json()
    assert past["data"] == [] and past["meta"]["pagination"]["total"] == 25


def test_default_limit_is_50(emulator):
    client = emulator.client()
    emulator.config(quota=0)
    seed(client, 60)
    body = client.get("/v3/customers").json()
    assert len(body["data"]) == 50
    assert body["meta"]["pagination"]["per_page"] == 50


def test_limit_over_max_is_413_or_clamped(emulator):
    client = emulator.client()
    response = client.get("/v3/customers", params={"limit": 251})
    assert response.status_code == 413
    assert client.get("/v3/customers", params={"limit": 250}).status_code == 200
    emulator.config(over_limit="clamp")
    clamped = client.get("/v3/customers", params={"limit": 1000})
    assert clamped.status_code == 200
    assert clamped.json()["meta"]["pagination"]["per_page"] == 250


def test_cursor_pagination_walks_everything_once(emulator):
    client = emulator.client()
    seed(client, 23)
    first = client.get("/v3/customers", params={"limit": 10}).json()
    cursor_meta = first["meta"]["cursor_pagination"]
    seen = [c["id"] for c in first["data"]]
    after = cursor_meta["end_cursor"]
    while True:
        page = client.get("/v3/customers", params={"limit": 10, "after": after}).json()
        assert "pagination" not in page["meta"]
        seen += [c["id"] for c in page["data"]]
        cursor_meta = page["meta"]["cursor_pagination"]
        if "next" not in cursor_meta["links"]:
            break
        after = cursor_meta["end_cursor"]
    assert seen == list(range(1, 24))
    back = client.get("/v3/customers", params={"limit": 5, "before": cursor_meta["start_cursor"]})
    assert ids_of(back) == [16, 17, 18, 19, 20]


def test_cursor_errors(emulator):
    client = emulator.client()
    seed(client, 3)
    assert client.get("/v3/customers", params={"after": "not-a-cursor!"}).status_code == 422
    both = client.get("/v3/customers", params={"after": "aWQ6MQ==", "before": "aWQ6Mw=="})
    assert both.status_code == 422


def test_subresources_only_when_included(emulator):
    client = emulator.client()
    client.post("/v3/customers/attributes", json=[{"name": "Tier", "type": "string"}])
    address = {
        "first_name": "A",
        "last_name": "B",
        "address1": "1 Main",
        "city": "X",
        "country_code": "US",
        "form_fields": [{"name": "Gate code", "value": "42"}],
    }
    client.post(
        "/v3/customers",
        json=[
            person(
                1,
                addresses=[address],
                attributes=[{"attribute_id": 1, "attribute_value": "gold"}],
                form_fields=[{"name": "Segment", "value": "vip"}],
            )
        ],
    )
    plain = client.get("/v3/customers").json()["data"][0]
    for key in ("addresses", "attributes", "form_fields", "store_credit_amounts"):
        assert key not in plain
    assert plain["address_count"] == 1 and plain["attribute_count"] == 1
    full = client.get(
        "/v3/customers", params={"include": "addresses,attributes,formfields,storecredit"}
    ).json()["data"][0]
    assert full["addresses"][0]["address1"] == "1 Main"
    assert full["addresses"][0]["form_fields"] == [{"name": "Gate code", "value": "42"}]
    assert full["attributes"][0]["attribute_value"] == "gold"
    assert "name" not in full["attributes"][0]  # only attribute_id, never the name
    assert full["form_fields"] == [{"name": "Segment", "value": "vip", "customer_id": 1}]
    assert full["store_credit_amounts"] == [{"amount": 0}]
    only_addresses = client.get("/v3/customers", params={"include": "addresses"}).json()["data"][0]
    assert "form_fields" not in only_addresses["addresses"][0]


@pytest.mark.parametrize("count", [20_000])
def test_id_and_email_lookups_stay_fast_in_a_big_store(emulator, count):
    # Filled in-process (the HTTP path is measured by bench/emulator_throughput.py).
    table = emulator.emulator.table("customers")
    with emulator.emulator.lock:
        for n in range(count):
            table.insert(person(n))
    client = emulator.client()
    emails = ",".join(f"user{n}@example.com" for n in range(count - 10, count))
    started = time.perf_counter()
    for _ in range(20):
        response = client.get("/v3/customers", params={"email:in": emails, "limit": 10})
    elapsed = (time.perf_counter() - started) / 20
    assert len(response.json()["data"]) == 10
    assert response.json()["meta"]["pagination"]["total"] == 10
    assert elapsed < 0.05, f"email:in took {elapsed * 1000:.1f} ms"
