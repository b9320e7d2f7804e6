"""Customer addresses (``/v3/customers/addresses``): every answer is checked against BigCommerce's
OpenAPI file by the ``contract`` fixture."""

from __future__ import annotations

from typing import Any

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "1 Main St",
    "city": "Austin",
    "state_or_province": "Texas",
    "postal_code": "78759",
    "country_code": "us",
}


def customer(client: Any, n: int = 1, **extra: Any) -> dict[str, Any]:
    item = {"email": f"c{n}@example.com", "first_name": "C", "last_name": "D", **extra}
    response = client.post("/v3/customers", json=[item])
    assert response.status_code == 200, response.text
    return response.json()["data"][0]


def create(client: Any, *items: dict[str, Any], status: int = 200) -> Any:
    response = client.post("/v3/customers/addresses", json=list(items))
    assert response.status_code == status, response.text
    return response.json()


def test_create_list_update_and_delete(emulator: Any) -> None:
    client = emulator.client()
    ada, bob = customer(client, 1)["id"], customer(client, 2)["id"]
    made = create(
        client,
        {**ADDRESS, "customer_id": ada},
        {**ADDRESS, "customer_id": bob, "city": "Boston", "company": "Acme"},
    )["data"]
    assert [(a["customer_id"], a["city"], a["country_code"], a["country"]) for a in made] == [
        (ada, "Austin", "US", "United States"),
        (bob, "Boston", "US", "United States"),
    ]
    assert made[0]["address_type"] == "residential"

    listed = client.get("/v3/customers/addresses").json()
    assert [a["id"] for a in listed["data"]] == [a["id"] for a in made]
    assert listed["meta"]["pagination"]["total"] == 2
    for params, expected in [
        ({"customer_id:in": str(bob)}, [made[1]["id"]]),
        ({"id:in": str(made[0]["id"])}, [made[0]["id"]]),
        ({"company:in": "Acme"}, [made[1]["id"]]),
        ({"name:in": "Ada Lovelace"}, [made[0]["id"], made[1]["id"]]),
        ({"customer_id:in": "999"}, []),
    ]:
        found = client.get("/v3/customers/addresses", params=params).json()["data"]
        assert [a["id"] for a in found] == expected, params

    changed = client.put(
        "/v3/customers/addresses",
        json=[{"id": made[0]["id"], "city": "Dallas", "address_type": "commercial"}],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"][0]["city"] == "Dallas"
    held = client.get("/v3/customers", params={"id:in": str(ada), "include": "addresses"}).json()
    assert [(a["city"], a["address_type"]) for a in held["data"][0]["addresses"]] == [
        ("Dallas", "commercial")
    ]
    assert held["data"][0]["address_count"] == 1

    assert (
        client.delete("/v3/customers/addresses", params={"id:in": str(made[0]["id"])}).status_code
        == 204
    )
    assert [a["id"] for a in client.get("/v3/customers/addresses").json()["data"]] == [
        made[1]["id"]
    ]


def test_a_duplicate_address_is_skipped_silently(emulator: Any) -> None:
    client = emulator.client()
    ada = customer(client)["id"]
    first = create(client, {**ADDRESS, "customer_id": ada})["data"]
    again = create(client, {**ADDRESS, "customer_id": ada, "country_code": "US"})
    assert again["data"] == []
    assert len(client.get("/v3/customers/addresses").json()["data"]) == len(first) == 1


def test_a_bad_item_rejects_the_whole_batch_and_names_it(emulator: Any) -> None:
    client = emulator.client()
    ada = customer(client)["id"]
    body = create(
        client,
        {**ADDRESS, "customer_id": ada},
        {**ADDRESS, "customer_id": ada, "city": "x" * 101, "state_or_province": ""},
        {**{k: v for k, v in ADDRESS.items() if k != "postal_code"}, "customer_id": 999},
        status=422,
    )
    assert body["errors"] == {
        "1.city": "city must be at most 100 characters",
        "1.state_or_province": "state_or_province is required for country US",
        "2.postal_code": "postal_code is required",
        "2.customer_id": "customer 999 does not exist",
    }
    assert client.get("/v3/customers/addresses").json()["data"] == []
    # A country without states needs none.
    made = create(
        client, {**ADDRESS, "customer_id": ada, "country_code": "GB", "state_or_province": ""}
    )
    assert made["data"][0]["country"] == "United Kingdom"


def test_updates_are_validated_and_limited(emulator: Any) -> None:
    client = emulator.client()
    ada = customer(client)["id"]
    made = create(client, {**ADDRESS, "customer_id": ada})["data"][0]
    bad = client.put(
        "/v3/customers/addresses",
        json=[{"id": made["id"], "country_code": "USA"}, {"id": 4242, "city": "x"}],
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "0.country_code": "country_code must be at most 2 characters",
        "1.id": "address 4242 does not exist",
    }
    too_many = client.post(
        "/v3/customers/addresses",
        json=[{**ADDRESS, "customer_id": ada, "city": str(i)} for i in range(11)],
    )
    assert too_many.status_code == 413


def test_deleting_a_customer_deletes_its_addresses_and_form_fields_come_with_include(
    emulator: Any,
) -> None:
    client = emulator.client()
    ada = customer(client)["id"]
    made = create(
        client,
        {**ADDRESS, "customer_id": ada, "form_fields": [{"name": "Gate code", "value": "42"}]},
    )["data"][0]
    listed = client.get("/v3/customers/addresses", params={"include": "formfields"}).json()
    assert listed["data"][0]["form_fields"] == [
        {"name": "Gate code", "value": "42", "address_id": made["id"]}
    ]
    assert "form_fields" not in client.get("/v3/customers/addresses").json()["data"][0]
    assert client.delete("/v3/customers", params={"id:in": str(ada)}).status_code == 204
    assert (
        client.get("/v3/customers/addresses", params={"id:in": str(made["id"])}).json()["data"]
        == []
    )
