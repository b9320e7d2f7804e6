"""The request quota window, 429 with X-Retry-After, and the per-endpoint concurrency caps."""

from __future__ import annotations

import asyncio
import time

import pytest

NEW = [{"email": "a@example.com", "first_name": "A", "last_name": "B"}]


def _left(response):
    return int(response.headers["X-Rate-Limit-Requests-Left"])


def test_headers_count_down_the_quota(emulator):
    emulator.config(quota=5, window_ms=30_000)
    client = emulator.client()
    responses = [client.get("/v2/time") for _ in range(3)]
    assert [_left(r) for r in responses] == [4, 3, 2]
    assert responses[0].headers["X-Rate-Limit-Requests-Quota"] == "5"
    assert responses[0].headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    assert 0 < int(responses[-1].headers["X-Rate-Limit-Time-Reset-Ms"]) <= 30_000


def test_spent_quota_is_429_with_retry_after_and_body(emulator):
    emulator.config(quota=2, window_ms=5_000)
    client = emulator.client()
    assert client.get("/v2/time").status_code == 200
    assert client.get("/v2/time").status_code == 200
    response = client.get("/v2/time")
    assert response.status_code == 429
    assert response.json() == {
        "status": 429,
        "title": "Too many requests",
        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
        "errors": {},
    }
    assert _left(response) == 0
    reset_ms = int(response.headers["X-Rate-Limit-Time-Reset-Ms"])
    assert 0 < reset_ms <= 5_000
    assert int(response.headers["X-Retry-After"]) == -(-reset_ms // 1000)


def test_a_refused_write_writes_nothing(emulator):
    emulator.config(quota=1, window_ms=5_000)
    client = emulator.client()
    client.get("/v2/time")
    assert client.post("/v3/customers", json=NEW).status_code == 429
    assert emulator.dump()["customers"] == []


def test_window_refreshes(emulator):
    emulator.config(quota=2, window_ms=400)
    client = emulator.client()
    client.get("/v2/time")
    client.get("/v2/time")
    assert client.get("/v2/time").status_code == 429
    time.sleep(0.45)
    response = client.get("/v2/time")
    assert response.status_code == 200
    assert _left(response) == 1


def test_quota_zero_is_unlimited_and_still_sends_headers(emulator):
    emulator.config(quota=0)
    client = emulator.client()
    for _ in range(200):
        response = client.get("/v2/time")
        assert response.status_code == 200
    assert _left(response) > 1_000_000
    assert "X-Rate-Limit-Time-Reset-Ms" in response.headers


def test_stats_count_429s(emulator):
    emulator.config(quota=1, window_ms=5_000)
    client = emulator.client()
    client.get("/v2/time")
    client.get("/v2/time")
    assert emulator.stats()["by_status"] == {"200": 1, "429": 1}


async def _concurrent_puts(emulator, n):
    async with emulator.async_client() as client:
        created = await client.post("/v3/customers", json=NEW)
        customer_id = created.json()["data"][0]["id"]
        body = [{"id": customer_id, "company": "X"}]
        return await asyncio.gather(*(client.put("/v3/customers", json=body) for _ in range(n)))


def test_concurrency_cap_refuses_the_fourth_concurrent_put(emulator):
    emulator.config(quota=0)
    # Latency inside the handler keeps the requests in flight together.
    emulator.faults([{"method": "PUT", "path": "/v3/customers", "latency_ms": 300}])
    responses = asyncio.run(_concurrent_puts(emulator, 5))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 429, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["X-Retry-After"]


@pytest.mark.parametrize("settings", [{"enforce_concurrency": False}, {"concurrency_caps": {}}])
def test_concurrency_cap_can_be_switched_off(emulator, settings):
    emulator.config(quota=0, **settings)
    emulator.faults([{"method": "PUT", "path": "/v3/customers", "latency_ms": 200}])
    responses = asyncio.run(_concurrent_puts(emulator, 5))
    assert [r.status_code for r in responses] == [200] * 5
