"""X-Auth-Token and OAuth scopes: 401 without a known token, 403 without the scope."""

from __future__ import annotations

import pytest

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
MISSING_SCOPE = {
    "status": 403,
    "title": "You don't have a required scope to access the endpoint",
    "type": ERROR_TYPE,
    "errors": {},
}


def test_missing_token_is_401(emulator):
    client = emulator.client()
    del client.headers["X-Auth-Token"]
    response = client.get("/v3/customers")
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "title": "Unauthorized",
        "type": ERROR_TYPE,
        "errors": {},
    }


def test_unknown_token_is_401_and_writes_nothing(emulator):
    response = emulator.client(token="nope").post(
        "/v3/customers", json=[{"email": "a@example.com", "first_name": "A", "last_name": "B"}]
    )
    assert response.status_code == 401
    assert emulator.dump()["customers"] == []


def test_x_auth_client_is_ignored(emulator):
    response = emulator.client().get("/v2/time", headers={"X-Auth-Client": "whatever"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (["store_v2_orders"], "GET", "/v3/customers", 403),
        (["store_v2_customers"], "GET", "/v3/customers", 200),
        (["store_v2_customers"], "GET", "/v2/time", 403),
        (["store_v2_customers", "store_v2_orders"], "GET", "/v2/store", 403),
        (["store_v2_information_read_only"], "GET", "/v2/store", 200),
        (["store_v2_customers"], "GET", "/v2/orders", 403),
        (["store_v2_customers"], "GET", "/v2/order_statuses", 403),
        (["store_v2_orders"], "GET", "/v3/customers/attributes", 403),
    ],
)
def test_scope_decides(emulator, scopes, method, path, status):
    emulator.config(extra_tokens={"scoped": scopes})
    response = emulator.client(token="scoped").request(method, path)
    assert response.status_code == status
    if status == 403:
        assert response.json() == MISSING_SCOPE


def test_read_only_scope_allows_reads_but_not_writes(emulator):
    emulator.config(extra_tokens={"ro": ["store_v2_customers_read_only"]})
    client = emulator.client(token="ro")
    assert client.get("/v3/customers").status_code == 200
    response = client.post(
        "/v3/customers", json=[{"email": "a@example.com", "first_name": "A", "last_name": "B"}]
    )
    assert response.status_code == 403
    assert response.json() == MISSING_SCOPE
    assert client.delete("/v3/customers", params={"id:in": "1"}).status_code == 403
    assert emulator.dump()["customers"] == []
