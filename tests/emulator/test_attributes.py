"""Customer attribute definitions and attribute values."""

from __future__ import annotations

import pytest


def define(client, *defs):
    response = client.post("/v3/customers/attributes", json=list(defs))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def customer(client, n=1):
    response = client.post(
        "/v3/customers", json=[{"email": f"c{n}@example.com", "first_name": "C", "last_name": "D"}]
    )
    return response.json()["data"][0]["id"]


def test_create_list_and_filter_definitions(emulator):
    client = emulator.client()
    created = define(
        client, {"name": "Loyalty Tier", "type": "string"}, {"name": "Age", "type": "number"}
    )
    assert [(a["id"], a["name"], a["type"]) for a in created] == [
        (1, "Loyalty Tier", "string"),
        (2, "Age", "number"),
    ]
    listed = client.get("/v3/customers/attributes").json()
    assert [a["name"] for a in listed["data"]] == ["Loyalty Tier", "Age"]
    assert listed["meta"]["pagination"]["total"] == 2
    assert [
        a["id"]
        for a in client.get("/v3/customers/attributes", params={"type": "number"}).json()["data"]
    ] == [2]
    assert [
        a["id"]
        for a in client.get("/v3/customers/attributes", params={"name:like": "tier"}).json()["data"]
    ] == [1]
    assert [
        a["id"]
        for a in client.get("/v3/customers/attributes", params={"name": "Age"}).json()["data"]
    ] == [2]


@pytest.mark.parametrize(
    "item",
    [
        {"name": "X", "type": "boolean"},
        {"name": "", "type": "string"},
        {"type": "string"},
        {"name": "X"},
        {"name": "x" * 256, "type": "string"},
    ],
)
def test_invalid_definitions_are_422(emulator, item):
    response = emulator.client().post("/v3/customers/attributes", json=[item])
    assert response.status_code == 422
    assert emulator.dump()["attributes"] == []


def test_duplicate_names_are_refused(emulator):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"})
    assert (
        client.post(
            "/v3/customers/attributes", json=[{"name": "tier", "type": "number"}]
        ).status_code
        == 422
    )


def test_at_most_50_per_store(emulator):
    client = emulator.client()
    emulator.config(quota=0)
    for start in range(0, 50, 10):
        define(client, *[{"name": f"A{i}", "type": "string"} for i in range(start, start + 10)])
    response = client.post("/v3/customers/attributes", json=[{"name": "A50", "type": "string"}])
    assert response.status_code == 422
    assert "50" in str(response.json()["errors"])
    assert len(emulator.dump()["attributes"]) == 50


def test_put_renames_but_type_is_immutable(emulator):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"})
    renamed = client.put("/v3/customers/attributes", json=[{"id": 1, "name": "Loyalty Tier"}])
    assert renamed.status_code == 200
    assert renamed.json()["data"][0]["name"] == "Loyalty Tier"
    retyped = client.put(
        "/v3/customers/attributes", json=[{"id": 1, "name": "Tier", "type": "number"}]
    )
    assert retyped.status_code == 422
    assert emulator.dump()["attributes"][0] | {"date_modified": None} == {
        **emulator.dump()["attributes"][0],
        "name": "Loyalty Tier",
        "type": "string",
        "date_modified": None,
    }
    unknown = client.put("/v3/customers/attributes", json=[{"id": 9, "name": "Nope"}])
    assert unknown.status_code == 422


def test_values_upsert_on_customer_and_attribute(emulator):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"})
    cid = customer(client)
    first = client.put(
        "/v3/customers/attribute-values",
        json=[{"attribute_id": 1, "customer_id": cid, "value": "gold"}],
    )
    assert first.status_code == 200
    (created,) = first.json()["data"]
    # responses say attribute_value; requests said value
    assert created["attribute_value"] == "gold" and "value" not in created
    second = client.put(
        "/v3/customers/attribute-values",
        json=[{"attribute_id": 1, "customer_id": cid, "value": "platinum"}],
    )
    (updated,) = second.json()["data"]
    assert updated["id"] == created["id"]
    listed = client.get("/v3/customers/attribute-values").json()["data"]
    assert [(v["id"], v["attribute_value"]) for v in listed] == [(created["id"], "platinum")]
    cleared = client.put(
        "/v3/customers/attribute-values",
        json=[{"attribute_id": 1, "customer_id": cid, "value": ""}],
    )
    assert cleared.status_code == 200
    assert cleared.json()["data"][0]["attribute_value"] == ""


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ({"attribute_id": 9, "customer_id": 1, "value": "x"}, "0.attribute_id"),
        ({"attribute_id": 1, "customer_id": 99, "value": "x"}, "0.customer_id"),
        ({"attribute_id": 1, "customer_id": 1, "value": "x" * 256}, "0.value"),
        ({"attribute_id": 1, "customer_id": 1}, "0.value"),
        ({"attribute_id": 1, "customer_id": 1, "attribute_value": "x"}, "0.value"),
        ({"customer_id": 1, "value": "x"}, "0.attribute_id"),
    ],
)
def test_invalid_values_are_422(emulator, item, key):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"})
    customer(client)
    response = client.put("/v3/customers/attribute-values", json=[item])
    assert response.status_code == 422
    assert key in response.json()["errors"]
    assert client.get("/v3/customers/attribute-values").json()["data"] == []


def test_typed_values_are_checked_behind_a_switch(emulator):
    client = emulator.client()
    define(client, {"name": "Age", "type": "number"}, {"name": "Joined", "type": "date"})
    cid = customer(client)
    put = lambda attr, value: client.put(  # noqa: E731
        "/v3/customers/attribute-values",
        json=[{"attribute_id": attr, "customer_id": cid, "value": value}],
    )
    assert put(1, "forty").status_code == 422
    assert put(1, "41.5").status_code == 200
    assert put(2, "not a date").status_code == 422
    assert put(2, "2024-05-14").status_code == 200
    emulator.config(validate_attribute_values=False)
    assert put(1, "forty").status_code == 200


def test_values_batch_limit_and_atomicity(emulator):
    client = emulator.client()
    define(client, *[{"name": f"A{i}", "type": "string"} for i in range(10)])
    define(client, {"name": "A10", "type": "string"})
    cid = customer(client)
    eleven = [{"attribute_id": i, "customer_id": cid, "value": "v"} for i in range(1, 12)]
    assert client.put("/v3/customers/attribute-values", json=eleven).status_code == 413
    mixed = [
        {"attribute_id": 1, "customer_id": cid, "value": "v"},
        {"attribute_id": 99, "customer_id": cid, "value": "v"},
    ]
    assert client.put("/v3/customers/attribute-values", json=mixed).status_code == 422
    assert client.get("/v3/customers/attribute-values").json()["data"] == []


def test_value_filters(emulator):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"}, {"name": "Region", "type": "string"})
    a, b = customer(client, 1), customer(client, 2)
    client.put(
        "/v3/customers/attribute-values",
        json=[
            {"attribute_id": 1, "customer_id": a, "value": "gold"},
            {"attribute_id": 2, "customer_id": a, "value": "EU"},
            {"attribute_id": 1, "customer_id": b, "value": "silver"},
        ],
    )

    def get(**params):
        response = client.get("/v3/customers/attribute-values", params=params)
        return [v["attribute_value"] for v in response.json()["data"]]

    assert get(**{"customer_id:in": str(b)}) == ["silver"]
    assert get(**{"attribute_id:in": "2"}) == ["EU"]
    assert get(name="Tier") == ["gold", "silver"]
    assert get(**{"customer_id:in": str(a), "attribute_id:in": "1"}) == ["gold"]


def test_delete_value_and_definition_cascade(emulator):
    client = emulator.client()
    define(client, {"name": "Tier", "type": "string"}, {"name": "Region", "type": "string"})
    cid = customer(client)
    values = client.put(
        "/v3/customers/attribute-values",
        json=[
            {"attribute_id": 1, "customer_id": cid, "value": "gold"},
            {"attribute_id": 2, "customer_id": cid, "value": "EU"},
        ],
    ).json()["data"]
    assert (
        client.delete(
            "/v3/customers/attribute-values", params={"id:in": str(values[1]["id"])}
        ).status_code
        == 204
    )
    assert [
        v["attribute_id"] for v in client.get("/v3/customers/attribute-values").json()["data"]
    ] == [1]
    assert client.delete("/v3/customers/attributes", params={"id:in": "1"}).status_code == 204
    assert client.get("/v3/customers/attribute-values").json()["data"] == []
    assert [a["name"] for a in emulator.dump()["attributes"]] == ["Region"]
    (dumped,) = emulator.dump()["customers"]
    assert dumped["attributes"] == [] and dumped["attribute_count"] == 0
