"""Form fields: the store's definitions (configurable) and customer form-field values."""

from __future__ import annotations

import httpx


def person(n, **extra):
    return {"email": f"u{n}@example.com", "first_name": "F", "last_name": "L", **extra}


def test_values_set_on_create_and_merged_on_update(emulator):
    client = emulator.client()
    created = client.post(
        "/v3/customers",
        json=[
            person(
                1,
                form_fields=[
                    {"name": "Segment", "value": "vip"},
                    {"name": "Employees", "value": 12},
                ],
            )
        ],
    )
    assert created.status_code == 200
    assert created.json()["data"][0]["form_fields"] == [
        {"name": "Segment", "value": "vip", "customer_id": 1},
        {"name": "Employees", "value": 12, "customer_id": 1},
    ]
    updated = client.put(
        "/v3/customers",
        json=[
            {
                "id": 1,
                "form_fields": [
                    {"name": "Interests", "value": ["a", "b"]},
                    {"name": "Segment", "value": "std"},
                ],
            }
        ],
    )
    assert updated.status_code == 200
    values = client.get("/v3/customers/form-field-values", params={"customer_id": 1}).json()["data"]
    assert {v["name"]: v["value"] for v in values} == {
        "Segment": "std",
        "Employees": 12,
        "Interests": ["a", "b"],
    }


def test_unknown_form_field_is_422_behind_a_switch(emulator):
    client = emulator.client()
    bad = [person(1, form_fields=[{"name": "Shoe size", "value": "42"}])]
    response = client.post("/v3/customers", json=bad)
    assert response.status_code == 422
    assert "0.form_fields.0" in response.json()["errors"]
    emulator.config(reject_unknown_form_fields=False)
    assert client.post("/v3/customers", json=bad).status_code == 200


def test_definitions_are_configurable(emulator):
    emulator.config(form_fields=[{"name": "Shoe size", "type": "numbers"}])
    client = emulator.client()
    assert (
        client.post(
            "/v3/customers", json=[person(1, form_fields=[{"name": "Shoe size", "value": 42}])]
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/v3/customers", json=[person(2, form_fields=[{"name": "Segment", "value": "x"}])]
        ).status_code
        == 422
    )
    bad = httpx.put(
        f"{emulator.url}/_emulator/config", json={"form_fields": [{"name": "X", "type": "emoji"}]}
    )
    assert bad.status_code == 400


def test_bad_value_types_are_422(emulator):
    response = emulator.client().post(
        "/v3/customers", json=[person(1, form_fields=[{"name": "Segment", "value": {"a": 1}}])]
    )
    assert response.status_code == 422


def test_form_field_value_filters_and_paging(emulator):
    client = emulator.client()
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
            person(1, form_fields=[{"name": "Segment", "value": "vip"}], addresses=[address]),
            person(
                2,
                form_fields=[
                    {"name": "Segment", "value": "std"},
                    {"name": "Employees", "value": 3},
                ],
            ),
        ],
    )
    get = lambda **p: client.get("/v3/customers/form-field-values", params=p).json()  # noqa: E731
    everything = get()
    assert everything["meta"]["pagination"]["total"] == 4
    assert {"address_id": 1, "name": "Gate code", "value": "42"} in everything["data"]
    assert [v["value"] for v in get(field_name="Segment")["data"]] == ["vip", "std"]
    assert [v["value"] for v in get(field_type="numbers")["data"]] == [3]
    assert get(address_id=1)["data"] == [{"address_id": 1, "name": "Gate code", "value": "42"}]
    assert len(get(customer_id=2)["data"]) == 2
    page = get(limit=3)
    assert len(page["data"]) == 3
    rest = get(limit=3, after=page["meta"]["cursor_pagination"]["end_cursor"])
    assert len(rest["data"]) == 1
