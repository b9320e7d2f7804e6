"""Order and customer metafields: single and batch endpoints (reference §4.10, §6.2–6.3, §9.9).

Responses are checked against orders.v3.yml and customers.v3.yml by the contract fixture.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.emulator.test_orders import create_order

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def metafield(key: str = "ltv", **overrides: Any) -> dict[str, Any]:
    body = {"namespace": "warehouse", "key": key, "value": "812.50", "permission_set": "app_only"}
    body.update(overrides)
    return body


def create_customer(api: Any, email: str = "jane@example.com") -> int:
    response = api.post(
        "/v3/customers", json=[{"email": email, "first_name": "Jane", "last_name": "Doe"}]
    )
    assert response.status_code == 200, response.text
    customer_id: int = response.json()["data"][0]["id"]
    return customer_id


@pytest.fixture
def api(emulator):
    return emulator.client()


@pytest.fixture
def order_id(api) -> int:
    order_id: int = create_order(api)["id"]
    return order_id


def test_order_metafield_lifecycle(api, order_id):
    base = f"/v3/orders/{order_id}/metafields"
    created = api.post(base, json=metafield(description="lifetime value"))
    assert created.status_code == 200
    body = created.json()
    assert body["meta"] == {}
    data = body["data"]
    assert (data["namespace"], data["key"], data["value"]) == ("warehouse", "ltv", "812.50")
    assert (data["resource_type"], data["resource_id"]) == ("order", order_id)
    assert data["description"] == "lifetime value"
    assert data["permission_set"] == "app_only"
    assert data["owner_client_id"]
    assert STAMP.match(data["date_created"]) and STAMP.match(data["date_modified"])

    assert api.get(f"{base}/{data['id']}").json()["data"] == data
    # orders.v3.yml: a PUT carries the whole metafield
    partial = api.put(f"{base}/{data['id']}", json={"value": "900"})
    assert partial.status_code == 422
    updated = api.put(f"{base}/{data['id']}", json=metafield(value="900")).json()["data"]
    assert (updated["value"], updated["key"], updated["id"]) == ("900", "ltv", data["id"])
    assert updated["description"] == "lifetime value"

    assert api.delete(f"{base}/{data['id']}").status_code == 204
    gone = api.get(f"{base}/{data['id']}")
    assert gone.status_code == 404
    assert gone.json()["title"] == "The resource at that URL is not found."


def test_duplicate_namespace_and_key_is_409(api, order_id):
    base = f"/v3/orders/{order_id}/metafields"
    assert api.post(base, json=metafield()).status_code == 200
    duplicate = api.post(base, json=metafield(value="other"))
    assert duplicate.status_code == 409
    body = duplicate.json()
    assert body["status"] == 409 and "ltv" in body["title"]
    # the same key under another namespace, or on another order, is fine
    assert api.post(base, json=metafield(namespace="other")).status_code == 200
    other_order = create_order(api)["id"]
    assert api.post(f"/v3/orders/{other_order}/metafields", json=metafield()).status_code == 200


def test_renaming_onto_an_existing_key_is_409(api, order_id):
    base = f"/v3/orders/{order_id}/metafields"
    api.post(base, json=metafield("a"))
    b = api.post(base, json=metafield("b")).json()["data"]
    assert api.put(f"{base}/{b['id']}", json=metafield("a")).status_code == 409
    assert api.get(f"{base}/{b['id']}").json()["data"]["key"] == "b"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": ""}, "value"),
        ({"value": "v" * 65536}, "value"),
        ({"namespace": ""}, "namespace"),
        ({"key": "k" * 65}, "key"),
        ({"permission_set": "everyone"}, "permission_set"),
        ({"description": "d" * 256}, "description"),
        ({"value": None}, "value"),
    ],
)
def test_invalid_metafield_is_422_naming_the_field(api, order_id, change, field):
    body = {k: v for k, v in metafield(**change).items() if v is not None}
    response = api.post(f"/v3/orders/{order_id}/metafields", json=body)
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert api.get(f"/v3/orders/{order_id}/metafields").json()["data"] == []


def test_longest_allowed_values_are_accepted(api, order_id):
    body = metafield(namespace="n" * 64, key="k" * 64, value="v" * 65535, description="d" * 255)
    assert api.post(f"/v3/orders/{order_id}/metafields", json=body).status_code == 200


def test_unknown_order_or_metafield_is_404(api, order_id):
    assert api.get("/v3/orders/9999/metafields").status_code == 404
    assert api.post("/v3/orders/9999/metafields", json=metafield()).status_code == 404
    assert api.get(f"/v3/orders/{order_id}/metafields/12345").status_code == 404
    assert (
        api.put(f"/v3/orders/{order_id}/metafields/12345", json={"value": "x"}).status_code == 404
    )
    assert api.delete(f"/v3/orders/{order_id}/metafields/12345").status_code == 404


def test_metafield_of_another_order_is_404(api, order_id):
    mine = api.post(f"/v3/orders/{order_id}/metafields", json=metafield()).json()["data"]
    other = create_order(api)["id"]
    assert api.get(f"/v3/orders/{other}/metafields/{mine['id']}").status_code == 404


def test_at_most_250_metafields_per_order(api, order_id):
    batch = [{**metafield(f"k{n}"), "resource_id": order_id} for n in range(250)]
    assert api.post("/v3/orders/metafields", json=batch).status_code == 200
    over = api.post(f"/v3/orders/{order_id}/metafields", json=metafield("k250"))
    assert over.status_code == 422
    assert "250" in over.json()["title"]
    listed = api.get(f"/v3/orders/{order_id}/metafields", params={"limit": 250}).json()
    assert listed["meta"]["pagination"]["total"] == 250


def test_list_filters_and_pagination(api, order_id):
    base = f"/v3/orders/{order_id}/metafields"
    for key, namespace in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "z")]:
        api.post(base, json=metafield(key, namespace=namespace))

    def keys(**params):
        return [m["key"] for m in api.get(base, params=params).json()["data"]]

    assert keys() == ["a", "b", "c", "d"]
    assert keys(key="c") == ["c"]
    assert keys(**{"key:in": "a,d"}) == ["a", "d"]
    assert keys(namespace="x") == ["a", "b"]
    assert keys(**{"namespace:in": "y,z"}) == ["c", "d"]
    assert keys(direction="desc") == ["d", "c", "b", "a"]

    page = api.get(base, params={"limit": 2, "page": 2}).json()
    assert [m["key"] for m in page["data"]] == ["c", "d"]
    pagination = page["meta"]["pagination"]
    assert (pagination["total"], pagination["count"], pagination["total_pages"]) == (4, 2, 2)
    assert pagination["links"] == {"current": "?page=2&limit=2", "previous": "?page=1&limit=2"}
    first = api.get(base, params={"limit": 2}).json()["meta"]
    assert first["pagination"]["links"] == {"current": "?page=1&limit=2", "next": "?page=2&limit=2"}
    # page 1 also carries cursor paging (reference §3.3); following it gives the next page
    after = first["cursor_pagination"]["end_cursor"]
    assert [m["key"] for m in api.get(base, params={"after": after}).json()["data"]] == ["c", "d"]
    assert api.get(base, params={"limit": 251}).status_code == 413
    assert api.get(base, params={"direction": "up"}).status_code == 422
    since = {"date_created:min": "2000-01-01", "date_modified:max": "2999-01-01T00:00:00"}
    assert keys(**since) == ["a", "b", "c", "d"]
    assert keys(**{"date_created:max": "2000-01-01"}) == []


def test_batch_create_partial_failure_is_422_with_the_good_items_applied(api, order_id):
    api.post(f"/v3/orders/{order_id}/metafields", json=metafield("taken"))
    items = [
        {**metafield("good"), "resource_id": order_id},
        {**metafield("taken"), "resource_id": order_id},
        {**metafield("bad", value=""), "resource_id": order_id},
        {**metafield("lost"), "resource_id": 999999},
    ]
    response = api.post("/v3/orders/metafields", json=items)
    assert response.status_code == 422
    body = response.json()
    assert [m["key"] for m in body["data"]] == ["good"]
    assert body["meta"] == {"total": 4, "success": 1, "failed": 3}
    (error,) = body["errors"]
    assert set(error["errors"]) == {"1", "2", "3"}
    stored = api.get(f"/v3/orders/{order_id}/metafields").json()["data"]
    assert sorted(m["key"] for m in stored) == ["good", "taken"]


def test_batch_create_update_delete_all_good_is_200(api, order_id):
    other = create_order(api)["id"]
    created = api.post(
        "/v3/orders/metafields",
        json=[{**metafield(), "resource_id": order_id}, {**metafield(), "resource_id": other}],
    )
    assert created.status_code == 200
    body = created.json()
    assert body["errors"] == [] and body["meta"] == {"total": 2, "success": 2, "failed": 0}
    ids = [m["id"] for m in body["data"]]

    updates = [{**metafield(value=f"v{i}"), "id": i} for i in ids]
    updated = api.put("/v3/orders/metafields", json=updates).json()
    assert [m["value"] for m in updated["data"]] == [f"v{i}" for i in ids]

    everything = api.get("/v3/orders/metafields").json()["data"]
    assert {m["resource_id"] for m in everything} == {order_id, other}

    deleted = api.request("DELETE", "/v3/orders/metafields", json=ids)
    assert deleted.status_code == 200
    assert deleted.json()["data"] == ids
    assert api.get("/v3/orders/metafields").json()["data"] == []


def test_batch_update_and_delete_partial_failure(api, order_id):
    mine = api.post(f"/v3/orders/{order_id}/metafields", json=metafield()).json()["data"]
    updated = api.put(
        "/v3/orders/metafields",
        json=[{**metafield(value="new"), "id": mine["id"]}, {**metafield(), "id": 424242}],
    )
    assert updated.status_code == 422
    assert updated.json()["meta"] == {"total": 2, "success": 1, "failed": 1}
    assert (
        api.get(f"/v3/orders/{order_id}/metafields/{mine['id']}").json()["data"]["value"] == "new"
    )

    deleted = api.request("DELETE", "/v3/orders/metafields", json=[mine["id"], 424242])
    assert deleted.status_code == 422
    body = deleted.json()
    assert body["data"] == [mine["id"]]
    assert list(body["errors"][0]["errors"]) == ["1"]


def test_customer_metafields_single_and_batch(api):
    customer = create_customer(api)
    base = f"/v3/customers/{customer}/metafields"
    created = api.post(base, json=metafield())
    assert created.status_code == 200
    # customers.v3.yml answers a single create or update with a one-item list
    (data,) = created.json()["data"]
    assert (data["resource_type"], data["resource_id"]) == ("customer", customer)
    assert api.post(base, json=metafield()).status_code == 409
    # ... takes a partial PUT, and requires the metafield id in its body
    assert api.put(f"{base}/{data['id']}", json={"value": "1"}).status_code == 422
    updated = api.put(f"{base}/{data['id']}", json={"id": data["id"], "value": "1"})
    (row,) = updated.json()["data"]
    assert (row["value"], row["key"]) == ("1", "ltv")
    assert api.get(f"{base}/{data['id']}").json()["data"] == row

    batch = api.post(
        "/v3/customers/metafields",
        json=[{**metafield("tier"), "resource_id": customer}, {**metafield(), "resource_id": 999}],
    )
    assert batch.status_code == 422
    assert batch.json()["meta"] == {"total": 2, "success": 1, "failed": 1}
    listed = api.get("/v3/customers/metafields").json()["data"]
    assert sorted(m["key"] for m in listed) == ["ltv", "tier"]
    assert api.get("/v3/customers/999/metafields").status_code == 404


def test_customer_and_order_metafields_do_not_mix(api, order_id):
    customer = create_customer(api)
    (mine,) = api.post(f"/v3/customers/{customer}/metafields", json=metafield()).json()["data"]
    assert api.get("/v3/orders/metafields").json()["data"] == []
    # an order-batch delete cannot reach a customer's metafield
    response = api.request("DELETE", "/v3/orders/metafields", json=[mine["id"]])
    assert response.status_code == 422
    assert len(api.get(f"/v3/customers/{customer}/metafields").json()["data"]) == 1


def test_deleting_a_customer_deletes_its_metafields(emulator, api):
    customer = create_customer(api)
    api.post(f"/v3/customers/{customer}/metafields", json=metafield())
    assert api.delete("/v3/customers", params={"id:in": str(customer)}).status_code == 204
    assert api.get("/v3/customers/metafields").json()["data"] == []
    assert emulator.emulator.table("metafields").rows == {}
