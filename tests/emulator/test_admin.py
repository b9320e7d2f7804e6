"""The /_emulator admin API: stats, dump, reset, config and fault injection."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.emulator.test_orders import order_body

NEW = [{"email": "a@example.com", "first_name": "A", "last_name": "B"}]


def test_admin_needs_no_token(emulator):
    assert httpx.get(f"{emulator.url}/_emulator/stats").status_code == 200


def test_reset_empties_store_and_stats(emulator):
    client = emulator.client()
    client.post("/v3/customers", json=NEW)
    client.post("/v3/customers/attributes", json=[{"name": "Tier", "type": "string"}])
    emulator.reset()
    assert emulator.stats() == {"requests_total": 0, "by_endpoint": {}, "by_status": {}}
    dump = emulator.dump()
    assert dump["customers"] == [] and dump["attributes"] == [] and dump["orders"] == []
    # ids start again
    created = client.post("/v3/customers", json=NEW).json()["data"][0]
    assert created["id"] == 1


def test_reset_all_restores_config_and_drops_faults(emulator):
    emulator.config(quota=3)
    emulator.faults([{"path": "*", "status": 500}])
    emulator.reset(everything=True)
    response = emulator.client().get("/v2/time")
    assert response.status_code == 200
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"


def test_config_applies_at_once_and_rejects_unknown_keys(emulator):
    emulator.config(quota=7, window_ms=1234)
    response = emulator.client().get("/v2/time")
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "7"
    assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "1234"
    bad = httpx.put(f"{emulator.url}/_emulator/config", json={"qouta": 5})
    assert bad.status_code == 400
    assert "qouta" in bad.json()["error"]
    bad = httpx.put(f"{emulator.url}/_emulator/config", json={"quota": "many"})
    assert bad.status_code == 400


def test_config_never_shows_the_token(emulator):
    doc = httpx.get(f"{emulator.url}/_emulator/config").json()
    assert emulator.token not in str(doc)


def test_fault_status_applies_n_times_then_stops(emulator):
    emulator.faults([{"method": "POST", "path": "/v3/customers", "status": 500, "times": 2}])
    client = emulator.client()
    first, second = client.post("/v3/customers", json=NEW), client.post("/v3/customers", json=NEW)
    assert (first.status_code, second.status_code) == (500, 500)
    assert first.json()["status"] == 500
    assert "X-Rate-Limit-Requests-Left" in first.headers
    assert emulator.dump()["customers"] == []
    assert client.post("/v3/customers", json=NEW).status_code == 200
    assert emulator.stats()["by_status"] == {"500": 2, "200": 1}


def test_fault_matches_route_template_literal_path_and_method(emulator):
    client = emulator.client()
    emulator.faults([{"path": "/v2/store", "status": 503, "times": 1}])
    assert client.get("/v2/time").status_code == 200
    assert client.get("/v2/store").status_code == 503
    emulator.faults([{"method": "DELETE", "path": "*", "status": 502, "times": 1}])
    assert client.get("/v3/customers").status_code == 200
    assert client.delete("/v3/customers", params={"id:in": "1"}).status_code == 502


def test_fault_429_with_and_without_rate_limit_headers(emulator):
    emulator.faults(
        [
            {"path": "/v2/time", "status": 429, "times": 1},
            {"path": "/v2/time", "status": 429, "times": 1, "rate_limit_headers": False},
        ]
    )
    client = emulator.client()
    with_headers = client.get("/v2/time")
    assert with_headers.status_code == 429
    assert with_headers.headers["X-Retry-After"]
    assert with_headers.headers["X-Rate-Limit-Requests-Left"]
    bare = client.get("/v2/time")
    assert bare.status_code == 429
    assert not [h for h in bare.headers if h.lower().startswith("x-r")]


def test_fault_latency(emulator):
    emulator.faults([{"path": "*", "latency_ms": 300, "times": 1}])
    client = emulator.client()
    started = time.monotonic()
    assert client.get("/v2/time").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.get("/v2/time")
    assert time.monotonic() - started < 0.3


def test_invalid_fault_rules_are_refused_whole(emulator):
    response = httpx.post(
        f"{emulator.url}/_emulator/faults",
        json={"rules": [{"path": "*", "status": 500}, {"path": "*", "stauts": 500}]},
    )
    assert response.status_code == 400
    assert "rules[1]" in response.json()["error"]
    assert httpx.get(f"{emulator.url}/_emulator/faults").json() == {"rules": []}


def test_delete_faults(emulator):
    emulator.faults([{"path": "*", "status": 500}])
    emulator.clear_faults()
    assert emulator.client().get("/v2/time").status_code == 200


def test_drop_after_apply_writes_then_cuts_the_connection(emulator):
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "drop_after_apply": True, "times": 1}]
    )
    client = emulator.client()
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/v3/customers", json=NEW)
    # The write happened although the client saw no answer: the ambiguous case.
    assert [c["email"] for c in emulator.dump()["customers"]] == ["a@example.com"]
    # The next request is answered normally.
    again = client.post("/v3/customers", json=NEW)
    assert again.status_code == 422


def test_drop_after_apply_at_the_socket_level(emulator):
    """No complete HTTP response reaches the wire: the declared length is never satisfied."""
    emulator.faults([{"path": "/v2/time", "drop_after_apply": True, "times": 1}])
    host, port = emulator.url.removeprefix("http://").split(":")
    request = (
        f"GET /stores/{emulator.store_hash}/v2/time HTTP/1.1\r\nHost: {host}\r\n"
        f"X-Auth-Token: {emulator.token}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    declared = int(headers[b"content-length"])
    assert len(body) < declared


def test_apply_with_a_status_writes_then_answers_that_status(emulator):
    """BigCommerce's 500 after a write it did apply: the client sees an error, the store changed."""
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "status": 500, "apply": True, "times": 1}]
    )
    response = emulator.client().post("/v3/customers", json=NEW)
    assert response.status_code == 500
    assert response.json()["status"] == 500 and response.json()["title"]  # the v3 error shape
    assert response.headers["X-Rate-Limit-Requests-Left"]
    assert [c["email"] for c in emulator.dump()["customers"]] == ["a@example.com"]
    assert emulator.stats()["by_status"] == {"500": 1}


def test_apply_503_on_a_v2_order_create_creates_the_order(emulator):
    emulator.faults(
        [{"method": "POST", "path": "/v2/orders", "status": 503, "apply": True, "times": 1}]
    )
    client = emulator.client()
    response = client.post("/v2/orders", json=order_body())
    assert response.status_code == 503
    assert response.json() == [{"status": 503, "message": "Service Unavailable"}]
    assert "X-Rate-Limit-Requests-Left" in response.headers
    (order,) = emulator.dump()["orders"]
    assert order["billing_address"]["email"] == "janedoe@email.com"
    # The rule is spent: the next create is answered normally.
    assert client.post("/v2/orders", json=order_body()).status_code == 200


def test_a_status_without_apply_writes_nothing(emulator):
    emulator.faults(
        [
            {"method": "POST", "path": "/v3/customers", "status": 500, "times": 1},
            {"method": "POST", "path": "/v2/orders", "status": 503, "apply": False, "times": 1},
        ]
    )
    client = emulator.client()
    assert client.post("/v3/customers", json=NEW).status_code == 500
    assert client.post("/v2/orders", json=order_body()).status_code == 503
    dump = emulator.dump()
    assert dump["customers"] == [] and dump["orders"] == []


def test_apply_spends_quota_and_waits_its_latency_inside_the_slot(emulator):
    emulator.config(quota=10)
    emulator.faults(
        [
            {
                "method": "POST",
                "path": "/v3/customers",
                "status": 502,
                "apply": True,
                "latency_ms": 300,
                "times": 1,
            }
        ]
    )
    started = time.monotonic()
    response = emulator.client().post("/v3/customers", json=NEW)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 502
    assert response.headers["X-Rate-Limit-Requests-Left"] == "9"
    assert len(emulator.dump()["customers"]) == 1


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"path": "*", "apply": True}, "rules[1].apply: needs a status"),
        (
            {"path": "*", "apply": True, "drop_after_apply": True},
            "rules[1]: apply and drop_after_apply exclude each other",
        ),
        (
            {"path": "*", "status": 500, "apply": True, "drop_after_apply": True},
            "rules[1]: apply and drop_after_apply exclude each other",
        ),
    ],
)
def test_apply_needs_a_status_and_excludes_drop_after_apply(emulator, rule, named):
    response = httpx.post(
        f"{emulator.url}/_emulator/faults", json={"rules": [{"path": "*", "latency_ms": 1}, rule]}
    )
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert httpx.get(f"{emulator.url}/_emulator/faults").json() == {"rules": []}


def test_fault_rules_list_shows_apply(emulator):
    added = emulator.faults([{"path": "/v2/orders", "status": 504, "apply": True}])
    assert added["rules"][0]["apply"] is True
    assert emulator.faults([{"path": "*", "status": 500}])["rules"][1]["apply"] is False


def test_dump_lists_customers_with_subresources_and_attributes(emulator):
    client = emulator.client()
    client.post("/v3/customers/attributes", json=[{"name": "Tier", "type": "string"}])
    client.post(
        "/v3/customers",
        json=[
            {
                **NEW[0],
                "attributes": [{"attribute_id": 1, "attribute_value": "gold"}],
                "form_fields": [{"name": "Segment", "value": "vip"}],
                "addresses": [
                    {
                        "first_name": "A",
                        "last_name": "B",
                        "address1": "1 Main",
                        "city": "X",
                        "country_code": "US",
                    }
                ],
            }
        ],
    )
    dump = emulator.dump()
    (customer,) = dump["customers"]
    assert customer["attributes"][0]["attribute_value"] == "gold"
    assert customer["form_fields"] == [{"name": "Segment", "value": "vip", "customer_id": 1}]
    assert customer["addresses"][0]["city"] == "X"
    assert customer["metafields"] == []
    assert dump["attributes"][0]["name"] == "Tier"
