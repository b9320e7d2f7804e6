"""Customer consent (``/v3/customers/{id}/consent``), checked against the OpenAPI file by the
``contract`` fixture."""

from __future__ import annotations

from typing import Any


def customer(client: Any) -> int:
    response = client.post(
        "/v3/customers", json=[{"email": "c@example.com", "first_name": "C", "last_name": "D"}]
    )
    assert response.status_code == 200, response.text
    return int(response.json()["data"][0]["id"])


def test_consent_is_declared_read_back_and_replaced(emulator: Any) -> None:
    client = emulator.client()
    ada = customer(client)
    fresh = client.get(f"/v3/customers/{ada}/consent").json()
    assert (fresh["allow"], fresh["deny"]) == ([], [])
    declared = client.put(
        f"/v3/customers/{ada}/consent",
        json={"allow": ["essential", "analytics"], "deny": ["targeting"]},
    )
    assert declared.status_code == 200, declared.text
    assert declared.json()["allow"] == ["essential", "analytics"]
    assert "updated_at" in declared.json()
    read = client.get(f"/v3/customers/{ada}/consent").json()
    assert (read["allow"], read["deny"]) == (["essential", "analytics"], ["targeting"])
    replaced = client.put(f"/v3/customers/{ada}/consent", json={"allow": ["functional"]}).json()
    assert (replaced["allow"], replaced["deny"]) == (["functional"], [])
    assert emulator.dump()["customers"][0]["consent"] == {"allow": ["functional"], "deny": []}


def test_bad_consent_is_refused_and_names_the_list(emulator: Any) -> None:
    client = emulator.client()
    ada = customer(client)
    for body, errors in [
        ({"allow": ["cookies"]}, {"allow": "unknown consent categories ['cookies']; known: "
                                  "essential, functional, analytics, targeting"}),
        ({"allow": ["analytics"], "deny": ["analytics"]},
         {"deny": "analytics cannot be both allowed and denied"}),
        ({"deny": ["essential"]}, {"deny": "essential cookies cannot be denied"}),
        ({"allow": "analytics"}, {"allow": "allow must be a list of categories"}),
    ]:  # fmt: skip
        answer = client.put(f"/v3/customers/{ada}/consent", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["errors"] == errors
    assert client.get(f"/v3/customers/{ada}/consent").json()["allow"] == []
    assert client.get("/v3/customers/4242/consent").status_code == 404
    assert client.put("/v3/customers/4242/consent", json={"allow": []}).status_code == 404
