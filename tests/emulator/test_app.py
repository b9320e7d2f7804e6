"""Routing and request checks common to every endpoint, and the stats they leave behind."""

from __future__ import annotations

import httpx
import pytest

RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)


def test_unknown_path_is_404_in_the_v3_shape(emulator):
    response = emulator.client().get("/v3/no-such-thing")
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert response.json()["title"]


def test_unknown_v2_path_is_404_in_the_v2_shape(emulator):
    response = emulator.client().get("/v2/no-such-thing")
    assert response.status_code == 404
    assert response.json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_unsupported_method_is_405(emulator):
    response = emulator.client().post("/v2/time", json={})
    assert response.status_code == 405


def test_patch_is_501(emulator):
    response = emulator.client().patch("/v3/customers", json=[])
    assert response.status_code == 501


def test_body_without_json_content_type_is_415(emulator):
    response = emulator.client().post(
        "/v3/customers", content=b"[]", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert emulator.dump()["customers"] == []


def test_unparseable_json_is_400(emulator):
    response = emulator.client().post(
        "/v3/customers", content=b"[{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_wrong_store_hash_is_403_with_the_missing_scope_body(emulator):
    url = f"{emulator.url}/stores/otherstore/v3/customers"
    response = httpx.get(url, headers=emulator.headers())
    assert response.status_code == 403
    assert response.json() == {
        "status": 403,
        "title": "You don't have a required scope to access the endpoint",
        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
        "errors": {},
    }


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        ("GET", "/v2/time", None),  # success
        ("GET", "/v3/nothing", None),  # 404
        ("GET", "/v2/time", "unknown-token"),  # 401
        ("PATCH", "/v2/time", None),  # 501
        ("POST", "/v2/time", None),  # 405
    ],
)
def test_rate_limit_headers_are_on_every_response(emulator, method, path, token):
    response = emulator.client(token=token).request(method, path)
    for header in RATE_HEADERS:
        assert int(response.headers[header]) >= 0, header


def test_stats_count_by_route_template_and_status(emulator):
    client = emulator.client()
    client.get("/v2/time")
    client.get("/v2/time")
    client.post(
        "/v3/customers", json=[{"email": "a@example.com", "first_name": "A", "last_name": "B"}]
    )
    client.get("/v3/nothing")
    stats = emulator.stats()
    assert stats["requests_total"] == 4
    assert stats["by_endpoint"]["GET /v2/time"] == 2
    assert stats["by_endpoint"]["POST /v3/customers"] == 1
    assert stats["by_status"] == {"200": 3, "404": 1}
