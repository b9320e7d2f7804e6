"""Customers v3: batch create/update/delete, validation, uniqueness and atomicity."""

from __future__ import annotations

import pytest


def person(n, **extra):
    return {
        "email": f"user{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        **extra,
    }


def create(client, *items):
    response = client.post("/v3/customers", json=list(items))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_create_returns_the_customer_with_defaults(emulator):
    (customer,) = create(emulator.client(), person(1))
    assert customer["id"] == 1
    assert customer["email"] == "user1@example.com"
    # unset strings come back as "", channel_ids as null, store credit 0
    assert customer["company"] == customer["phone"] == customer["notes"] == ""
    assert customer["registration_ip_address"] == "" and customer["tax_exempt_category"] == ""
    assert customer["channel_ids"] is None
    assert customer["store_credit_amounts"] == [{"amount": 0}]
    assert customer["customer_group_id"] == 0
    assert customer["authentication"] == {"force_password_reset": False}
    assert customer["date_created"].endswith("Z")


def test_create_status_is_switchable_to_201(emulator):
    emulator.config(create_status=201)
    response = emulator.client().post("/v3/customers", json=[person(1)])
    assert response.status_code == 201


def test_new_password_is_never_echoed_or_stored(emulator):
    client = emulator.client()
    secret = "S3cret-pass!"
    item = person(1, authentication={"force_password_reset": True, "new_password": secret})
    response = client.post("/v3/customers", json=[item])
    assert secret not in response.text
    assert response.json()["data"][0]["authentication"] == {"force_password_reset": True}
    assert secret not in str(emulator.dump())


def test_ids_are_sequential(emulator):
    created = create(emulator.client(), person(1), person(2), person(3))
    assert [c["id"] for c in created] == [1, 2, 3]


@pytest.mark.parametrize("count", [0, 11])
def test_batch_size_limits(emulator, count):
    response = emulator.client().post("/v3/customers", json=[person(i) for i in range(count)])
    assert response.status_code == (422 if count == 0 else 413)
    assert emulator.dump()["customers"] == []


def test_ten_is_allowed(emulator):
    assert len(create(emulator.client(), *[person(i) for i in range(10)])) == 10


def test_body_must_be_an_array(emulator):
    response = emulator.client().post("/v3/customers", json=person(1))
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"email": None}, "0.email"),
        ({"first_name": ""}, "0.first_name"),
        ({"last_name": "x" * 101}, "0.last_name"),
        ({"first_name": "x" * 101}, "0.first_name"),
        ({"email": "no-at-sign"}, "0.email"),
        ({"email": "a" * 240 + "@example.com"}, "0.email"),  # 252 > 250 on POST
        ({"company": "x" * 256}, "0.company"),
        ({"phone": "1" * 51}, "0.phone"),
        ({"tax_exempt_category": "x" * 256}, "0.tax_exempt_category"),
        ({"channel_ids": []}, "0.channel_ids"),
        ({"customer_group_id": "gold"}, "0.customer_group_id"),
        ({"phone": None}, "0.phone"),
    ],
)
def test_invalid_fields_are_422_keyed_by_index(emulator, change, key):
    item = {**person(1), **change}
    if change.get("email", "") is None:
        del item["email"]
    response = emulator.client().post("/v3/customers", json=[item])
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert key in body["errors"], body
    assert emulator.dump()["customers"] == []


def test_limits_at_their_edges_are_accepted(emulator):
    item = {
        "email": "a" * 238 + "@example.com",  # 250
        "first_name": "x" * 100,
        "last_name": "y" * 100,
        "company": "c" * 255,
        "phone": "1" * 50,
        "tax_exempt_category": "t" * 255,
        "notes": "n" * 5000,
    }
    (customer,) = create(emulator.client(), item)
    assert len(customer["email"]) == 250


def test_channel_ids_null_or_list(emulator):
    client = emulator.client()
    a, b = create(client, person(1, channel_ids=None), person(2, channel_ids=[1, 2]))
    assert a["channel_ids"] is None
    assert b["channel_ids"] == [1, 2]


def test_missing_required_fields_are_named(emulator):
    response = emulator.client().post("/v3/customers", json=[{"email": "a@example.com"}])
    assert response.status_code == 422
    assert {"0.first_name", "0.last_name"} <= set(response.json()["errors"])


def test_email_is_unique_case_insensitively(emulator):
    client = emulator.client()
    create(client, person(1))
    response = client.post("/v3/customers", json=[person(2, email="USER1@Example.com")])
    assert response.status_code == 422
    assert "0.email" in response.json()["errors"]


def test_email_uniqueness_can_be_case_sensitive(emulator):
    emulator.config(email_case_insensitive=False)
    client = emulator.client()
    create(client, person(1))
    create(client, person(2, email="USER1@example.com"))
    assert (
        client.post("/v3/customers", json=[person(3, email="user1@example.com")]).status_code == 422
    )


def test_duplicate_email_within_a_batch(emulator):
    response = emulator.client().post("/v3/customers", json=[person(1), person(1)])
    assert response.status_code == 422
    assert "1.email" in response.json()["errors"]
    assert "0.email" not in response.json()["errors"]


def test_atomic_batch_writes_nothing_when_one_item_is_bad(emulator):
    response = emulator.client().post(
        "/v3/customers", json=[person(1), person(2, first_name=""), person(3)]
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"1.first_name"}
    assert emulator.dump()["customers"] == []


def test_non_atomic_batch_writes_the_good_items(emulator):
    emulator.config(batch_atomic=False)
    response = emulator.client().post(
        "/v3/customers", json=[person(1), person(2, first_name=""), person(3)]
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body["errors"]) == {"1.first_name"}
    assert [c["email"] for c in body["data"]] == ["user1@example.com", "user3@example.com"]
    assert sorted(c["email"] for c in emulator.dump()["customers"]) == [
        "user1@example.com",
        "user3@example.com",
    ]


def test_non_atomic_batch_without_failures_is_200(emulator):
    emulator.config(batch_atomic=False)
    assert len(create(emulator.client(), person(1), person(2))) == 2


def test_update_is_partial_and_ignores_read_only_fields(emulator):
    client = emulator.client()
    (customer,) = create(client, person(1, company="Acme", phone="555"))
    response = client.put(
        "/v3/customers",
        json=[
            {
                "id": customer["id"],
                "phone": "",
                "registration_ip_address": "10.0.0.1",
                "date_created": "2001-01-01T00:00:00Z",
                "origin_channel_id": 9,
            }
        ],
    )
    assert response.status_code == 200
    (updated,) = response.json()["data"]
    assert updated["phone"] == ""
    assert updated["company"] == "Acme"
    assert updated["first_name"] == "First1"
    assert updated["registration_ip_address"] == ""
    assert updated["date_created"] == customer["date_created"]
    assert updated["origin_channel_id"] == 1


def test_update_can_change_email_and_frees_the_old_one(emulator):
    client = emulator.client()
    (customer,) = create(client, person(1))
    response = client.put(
        "/v3/customers", json=[{"id": customer["id"], "email": "new@example.com"}]
    )
    assert response.status_code == 200
    found = client.get("/v3/customers", params={"email:in": "new@example.com"}).json()["data"]
    assert [c["id"] for c in found] == [customer["id"]]
    create(client, person(1))  # the old address is free again


def test_update_to_a_taken_email_is_422(emulator):
    client = emulator.client()
    first, second = create(client, person(1), person(2))
    response = client.put(
        "/v3/customers", json=[{"id": second["id"], "email": "User1@example.com"}]
    )
    assert response.status_code == 422
    assert "0.email" in response.json()["errors"]
    # keeping one's own email is fine
    ok = client.put("/v3/customers", json=[{"id": first["id"], "email": "USER1@example.com"}])
    assert ok.status_code == 200


def test_update_unknown_id_or_missing_id_is_422(emulator):
    client = emulator.client()
    response = client.put("/v3/customers", json=[{"id": 999, "company": "X"}])
    assert response.status_code == 422
    assert "0.id" in response.json()["errors"]
    response = client.put("/v3/customers", json=[{"company": "X"}])
    assert response.status_code == 422
    assert "0.id" in response.json()["errors"]


def test_update_email_limit_is_255(emulator):
    client = emulator.client()
    (customer,) = create(client, person(1))
    email = "a" * 243 + "@example.com"  # 255
    assert (
        client.put("/v3/customers", json=[{"id": customer["id"], "email": email}]).status_code
        == 200
    )


def test_update_changes_date_modified(emulator):
    import time

    client = emulator.client()
    (customer,) = create(client, person(1))
    time.sleep(1.05)
    (updated,) = client.put("/v3/customers", json=[{"id": customer["id"], "notes": "x"}]).json()[
        "data"
    ]
    assert updated["date_modified"] > customer["date_modified"]


def test_update_batch_atomicity(emulator):
    client = emulator.client()
    a, b = create(client, person(1), person(2))
    response = client.put(
        "/v3/customers", json=[{"id": a["id"], "company": "A"}, {"id": b["id"], "last_name": ""}]
    )
    assert response.status_code == 422
    assert {c["company"] for c in emulator.dump()["customers"]} == {""}
    emulator.config(batch_atomic=False)
    response = client.put(
        "/v3/customers", json=[{"id": a["id"], "company": "A"}, {"id": b["id"], "last_name": ""}]
    )
    assert response.status_code == 422
    assert [c["id"] for c in response.json()["data"]] == [a["id"]]
    assert {c["id"]: c["company"] for c in emulator.dump()["customers"]} == {
        a["id"]: "A",
        b["id"]: "",
    }


def test_update_over_ten_is_413(emulator):
    response = emulator.client().put("/v3/customers", json=[{"id": i} for i in range(11)])
    assert response.status_code == 413


def test_delete_by_id_in(emulator):
    client = emulator.client()
    create(client, person(1), person(2), person(3))
    response = client.delete("/v3/customers", params={"id:in": "1,3,999"})
    assert response.status_code == 204
    assert response.content == b""
    assert [c["id"] for c in emulator.dump()["customers"]] == [2]


def test_delete_without_id_in_deletes_nothing(emulator):
    client = emulator.client()
    create(client, person(1))
    response = client.delete("/v3/customers")
    assert response.status_code == 204
    assert len(emulator.dump()["customers"]) == 1


def test_delete_with_invalid_id_in_is_422(emulator):
    assert emulator.client().delete("/v3/customers", params={"id:in": "abc"}).status_code == 422


def test_delete_cascades_to_attribute_values_and_form_fields(emulator):
    client = emulator.client()
    client.post("/v3/customers/attributes", json=[{"name": "Tier", "type": "string"}])
    create(
        client,
        person(1, attributes=[{"attribute_id": 1, "attribute_value": "gold"}],
               form_fields=[{"name": "Segment", "value": "vip"}]),
    )  # fmt: skip
    client.delete("/v3/customers", params={"id:in": "1"})
    assert client.get("/v3/customers/attribute-values").json()["data"] == []
    assert client.get("/v3/customers/form-field-values").json()["data"] == []
    # the email is free again
    create(client, person(1))


def test_nested_addresses_on_create(emulator):
    address = {
        "first_name": "A",
        "last_name": "B",
        "address1": "1 Main St",
        "city": "Austin",
        "country_code": "US",
        "state_or_province": "Texas",
        "postal_code": "78751",
    }
    client = emulator.client()
    (customer,) = create(client, person(1, addresses=[address, {**address, "address1": "2 Main"}]))
    assert [a["address1"] for a in customer["addresses"]] == ["1 Main St", "2 Main"]
    assert customer["addresses"][0]["customer_id"] == customer["id"]
    assert customer["address_count"] == 2
    response = client.post("/v3/customers", json=[person(2, addresses=[{"first_name": "A"}])])
    assert response.status_code == 422
    assert {"0.addresses.0.last_name", "0.addresses.0.address1", "0.addresses.0.city",
            "0.addresses.0.country_code"} <= set(response.json()["errors"])  # fmt: skip
    too_many = client.post("/v3/customers", json=[person(3, addresses=[address] * 11)])
    assert too_many.status_code == 422


def test_attributes_on_create_must_exist(emulator):
    client = emulator.client()
    response = client.post(
        "/v3/customers", json=[person(1, attributes=[{"attribute_id": 7, "attribute_value": "x"}])]
    )
    assert response.status_code == 422
    assert "0.attributes.0.attribute_id" in response.json()["errors"]


def test_store_credit_amounts(emulator):
    client = emulator.client()
    (customer,) = create(client, person(1, store_credit_amounts=[{"amount": 43.15}]))
    assert customer["store_credit_amounts"] == [{"amount": 43.15}]
    client.put(
        "/v3/customers", json=[{"id": customer["id"], "store_credit_amounts": [{"amount": 5}]}]
    )
    got = client.get("/v3/customers", params={"include": "storecredit"}).json()["data"][0]
    assert got["store_credit_amounts"] == [{"amount": 5}]


def test_delete_cascades_to_customer_metafields(emulator):
    client = emulator.client()
    create(client, person(1), person(2))
    field = {"namespace": "warehouse", "key": "ltv", "value": "500", "permission_set": "app_only"}
    for customer_id in (1, 2):
        response = client.post(f"/v3/customers/{customer_id}/metafields", json=field)
        assert response.status_code == 200, response.text
    assert [len(c["metafields"]) for c in emulator.dump()["customers"]] == [1, 1]
    client.delete("/v3/customers", params={"id:in": "1"})
    remaining = client.get("/v3/customers/metafields").json()["data"]
    assert [m["resource_id"] for m in remaining] == [2]
