"""The BigCommerce client over real HTTP against the emulator.

Every exchange goes through a transport that shows it to the strict contract checker, so the
client never sends a call BigCommerce's OpenAPI files would refuse.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from bcsync.destinations.bigcommerce.calls import ApiCall
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.ratelimit import RateGovernor
from bcsync.errors import (
    AmbiguousWriteError,
    AuthError,
    GuardError,
    RequestRejectedError,
    ServerError,
    TransportError,
)

T = TypeVar("T")


class CheckedTransport(httpx.AsyncBaseTransport):
    """Real HTTP; every exchange is shown to the contract checker and in-flight ones counted."""

    def __init__(self, checker: Any) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.checker = checker
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak: dict[str, int] = {}
        self._now: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path.split('/', 3)[-1]}"
        with self._lock:
            self._now[key] = self._now.get(key, 0) + 1
            self.peak[key] = max(self.peak.get(key, 0), self._now[key])
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
        finally:
            with self._lock:
                self._now[key] -= 1
        self.checker.check(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Harness:
    """A client on the test emulator, its recorded calls, and a way to run coroutines."""

    def __init__(self, emulator: Any, checker: Any) -> None:
        self.emulator = emulator
        self.checker = checker
        self.calls: list[ApiCall] = []
        self.transport: CheckedTransport | None = None

    def client(self, **kw: Any) -> BigCommerceClient:
        self.transport = CheckedTransport(self.checker)
        kw.setdefault("governor", RateGovernor(backoff_base=0.05))
        kw.setdefault("backoff_base", 0.01)
        kw.setdefault("timeout", 5.0)
        return BigCommerceClient(
            api_url=kw.pop("api_url", self.emulator.api_url),
            store_hash=kw.pop("store_hash", self.emulator.store_hash),
            access_token=kw.pop("access_token", self.emulator.token),
            on_call=self.calls.append,
            transport=self.transport,
            **kw,
        )

    def run(self, work: Callable[[BigCommerceClient], Awaitable[T]], **kw: Any) -> T:
        async def main() -> T:
            async with self.client(**kw) as client:
                return await work(client)

        return asyncio.run(main())


@pytest.fixture
def bc(emulator: Any, strict_contract: Any) -> Harness:
    # No quota unless a test sets one, so pacing does not stretch the other tests.
    emulator.config(quota=0)
    return Harness(emulator, strict_contract)


def customer(n: int) -> dict[str, str]:
    return {"email": f"person{n}@example.com", "first_name": f"First{n}", "last_name": "Person"}


def order(n: int) -> dict[str, Any]:
    return {
        "billing_address": {
            "first_name": "Ada",
            "last_name": f"Buyer{n}",
            "street_1": "1 Main St",
            "city": "Austin",
            "state": "Texas",
            "zip": "78701",
            "country": "United States",
            "country_iso2": "US",
            "email": f"buyer{n}@example.com",
        },
        "products": [{"name": "Gift card", "quantity": 1, "price_inc_tax": 10, "price_ex_tax": 10}],
        "external_source": "bcsync",
    }


async def create_customers(client: BigCommerceClient, count: int) -> list[int]:
    ids: list[int] = []
    for start in range(0, count, 10):
        batch = [customer(n) for n in range(start, min(count, start + 10))]
        response = await client.request("POST", "/v3/customers", json=batch)
        ids += [c["id"] for c in response.body["data"]]
    return ids


# -- auth -------------------------------------------------------------------------------------


def test_a_bad_token_is_fatal_and_never_shown(bc: Harness) -> None:
    bad = "not-the-token-51f0"
    with pytest.raises(AuthError) as caught:
        bc.run(lambda c: c.request("GET", "/v3/customers"), access_token=bad)
    assert "BigCommerce rejected the access token (401)" in str(caught.value)
    assert bad not in str(caught.value)
    assert bc.emulator.stats()["requests_total"] == 1  # not retried
    assert [call.status for call in bc.calls] == [401]
    assert bad not in repr(bc.calls)


def test_a_missing_scope_is_fatal_with_bigcommerces_reason(bc: Harness) -> None:
    bc.emulator.config(extra_tokens={"read-only-tok": ["store_v2_customers_read_only"]})
    with pytest.raises(AuthError) as caught:
        bc.run(
            lambda c: c.request("POST", "/v3/customers", json=[customer(1)]),
            access_token="read-only-tok",
        )
    message = str(caught.value)
    assert message == (
        "POST /v3/customers: BigCommerce refused the request (403): the access token lacks the "
        f"scope for this endpoint, or store hash '{bc.emulator.store_hash}' does not belong to "
        "this token: You don't have a required scope to access the endpoint"
    )
    assert "read-only-tok" not in message
    assert bc.emulator.stats()["requests_total"] == 1
    assert bc.emulator.dump()["customers"] == []


def test_a_wrong_store_hash_is_fatal_and_named_not_the_token(bc: Harness) -> None:
    with pytest.raises(AuthError) as caught:
        bc.run(lambda c: c.request("GET", "/v3/customers"), store_hash="abc123")
    message = str(caught.value)
    assert caught.value.status == 403
    assert message.startswith(
        "GET /v3/customers: BigCommerce refused the request (403): the access token lacks the "
        "scope for this endpoint, or store hash 'abc123' does not belong to this token: "
    )
    assert bc.emulator.token not in message
    assert bc.emulator.stats()["requests_total"] == 1  # not retried


# -- rate limits --------------------------------------------------------------------------------


def test_an_injected_429_is_waited_out_and_retried(bc: Harness) -> None:
    bc.emulator.config(window_ms=400)
    bc.emulator.faults([{"method": "GET", "path": "/v3/customers", "status": 429, "times": 1}])
    response = bc.run(lambda c: c.request("GET", "/v3/customers"))
    assert response.status == 200
    assert [call.status for call in bc.calls] == [429, 200]
    waited = (bc.calls[1].started_at - bc.calls[0].started_at).total_seconds()
    assert waited >= 1.0  # the emulator's X-Retry-After (1 s) beats the 400 ms reset


def test_real_quota_exhaustion_pauses_the_whole_store_then_succeeds(bc: Harness) -> None:
    bc.emulator.config(quota=5, window_ms=1000)

    async def work(client: BigCommerceClient) -> list[Any]:
        paths = ["/v3/customers", "/v2/orders", "/v3/customers/attributes"] * 4
        return await asyncio.gather(*(client.request("GET", p) for p in paths))

    responses = bc.run(work, governor=RateGovernor(reserve=0))
    assert len(responses) == 12
    statuses = bc.emulator.stats()["by_status"]
    assert statuses.get("200", 0) + statuses.get("204", 0) == 12
    # Only the opening burst (sent before any header was seen) may meet the limit: after the
    # first 429 every request of the store waits for the window to reset.
    assert 1 <= statuses.get("429", 0) <= 5
    first_429 = min(c.started_at for c in bc.calls if c.status == 429)
    later = [c for c in bc.calls if c.started_at > first_429 and c.attempt > 1]
    assert later and all((c.started_at - first_429).total_seconds() >= 0.9 for c in later)


def test_a_429_without_headers_backs_off_exponentially(bc: Harness) -> None:
    bc.emulator.faults(
        [{"path": "/v3/customers", "status": 429, "rate_limit_headers": False, "times": 2}]
    )
    bc.run(lambda c: c.request("GET", "/v3/customers"), governor=RateGovernor(backoff_base=0.2))
    assert [call.status for call in bc.calls] == [429, 429, 200]
    first = (bc.calls[1].started_at - bc.calls[0].started_at).total_seconds()
    second = (bc.calls[2].started_at - bc.calls[1].started_at).total_seconds()
    assert first >= 0.1
    assert second >= 0.2


# -- server errors, timeouts, bounds --------------------------------------------------------------


def test_server_errors_on_an_update_are_retried_until_it_lands(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> Any:
        (cid,) = await create_customers(client, 1)
        bc.emulator.faults(
            [
                {"method": "PUT", "path": "/v3/customers", "status": 500, "times": 1},
                {"method": "PUT", "path": "/v3/customers", "status": 503, "times": 1},
                {"method": "PUT", "path": "/v3/customers", "status": 504, "times": 1},
            ]
        )
        update = [{"id": cid, "last_name": "Seventh"}]
        return await client.request("PUT", "/v3/customers", json=update, pks=["pk-7"])

    response = bc.run(work)
    assert response.body["data"][0]["last_name"] == "Seventh"
    puts = [call for call in bc.calls if call.method == "PUT"]
    assert [call.status for call in puts] == [500, 503, 504, 200]
    assert [call.attempt for call in puts] == [1, 2, 3, 4]
    assert all(call.pks == ("pk-7",) for call in puts)
    assert [c["last_name"] for c in bc.emulator.dump()["customers"]] == ["Seventh"]


def test_retries_are_bounded_and_the_last_error_is_raised(bc: Harness) -> None:
    bc.emulator.faults([{"method": "GET", "path": "/v3/customers", "status": 503}])
    with pytest.raises(ServerError) as caught:
        bc.run(lambda c: c.request("GET", "/v3/customers"), max_attempts=3)
    assert caught.value.status == 503
    assert bc.emulator.stats()["requests_total"] == 3


@pytest.mark.parametrize("status", [501, 505])
def test_a_5xx_that_will_never_work_is_raised_at_once(bc: Harness, status: int) -> None:
    bc.emulator.faults([{"method": "GET", "path": "/v3/customers", "status": status}])
    with pytest.raises(ServerError) as caught:
        bc.run(lambda c: c.request("GET", "/v3/customers"))
    assert caught.value.status == status
    assert f"BigCommerce server error ({status})" in str(caught.value)
    assert bc.emulator.stats()["requests_total"] == 1


def test_read_timeouts_are_retried(bc: Harness) -> None:
    bc.emulator.faults([{"method": "GET", "path": "/v3/customers", "latency_ms": 600, "times": 2}])
    response = bc.run(lambda c: c.request("GET", "/v3/customers"), timeout=0.25)
    assert response.status == 200
    assert [call.status for call in bc.calls] == [None, None, 200]
    assert all("ReadTimeout" in (call.error or "") for call in bc.calls[:2])
    # The abandoned requests still finish on the server; wait so they do not leak into the
    # next test's statistics.
    deadline = time.monotonic() + 5
    while bc.emulator.stats()["requests_total"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bc.emulator.stats()["by_endpoint"] == {"GET /v3/customers": 3}


def test_a_create_whose_answer_is_lost_is_never_sent_twice(bc: Harness) -> None:
    bc.emulator.faults(
        [{"method": "POST", "path": "/v2/orders", "drop_after_apply": True, "times": 1}]
    )
    with pytest.raises(AmbiguousWriteError):
        bc.run(lambda c: c.request("POST", "/v2/orders", json=order(1), write_kind="create"))
    assert bc.emulator.stats()["by_endpoint"] == {"POST /v2/orders": 1}
    assert len(bc.emulator.dump()["orders"]) == 1  # it did happen; the caller must look it up
    assert len(bc.calls) == 1 and bc.calls[0].status is None


def test_an_update_whose_answer_is_lost_is_retried(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> Any:
        (cid,) = await create_customers(client, 1)
        bc.emulator.faults(
            [{"method": "PUT", "path": "/v3/customers", "drop_after_apply": True, "times": 1}]
        )
        return await client.request("PUT", "/v3/customers", json=[{"id": cid, "last_name": "New"}])

    response = bc.run(work)
    assert response.body["data"][0]["last_name"] == "New"
    assert [c.status for c in bc.calls if c.method == "PUT"] == [None, 200]


def test_a_create_that_could_not_connect_is_retried(bc: Harness) -> None:
    with pytest.raises(TransportError) as caught:
        bc.run(
            lambda c: c.request("POST", "/v3/customers", json=[customer(1)]),
            api_url="http://127.0.0.1:9",  # nothing listens: the request never left
            max_attempts=3,
        )
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert [call.attempt for call in bc.calls] == [1, 2, 3]


# -- rejections -----------------------------------------------------------------------------------


def test_other_4xx_are_rejections_with_bigcommerces_message_and_no_retry(bc: Harness) -> None:
    with pytest.raises(RequestRejectedError) as v2:
        bc.run(lambda c: c.request("GET", "/v2/orders/999999"))
    assert v2.value.status == 404
    assert "The requested resource was not found." in str(v2.value)

    async def duplicate(client: BigCommerceClient) -> Any:
        await client.request("POST", "/v3/customers", json=[customer(1)])
        return await client.request("POST", "/v3/customers", json=[customer(1)])

    with pytest.raises(RequestRejectedError) as v3:
        bc.run(duplicate)
    assert v3.value.status in (409, 422)
    assert v3.value.body["title"] in str(v3.value)
    assert bc.emulator.stats()["requests_total"] == 3


# -- the orders collection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v2/orders",
        "/v2/orders/",
        "/v2/orders?status_id=1",
        "/v2/orders.json",
        "/v2/ORDERS",
        "/v2//orders",
        "/v2/orders%2F",
        "/v2/./orders",
        "/v3/../v2/orders",
    ],
)
def test_delete_of_the_orders_collection_cannot_be_sent(bc: Harness, path: str) -> None:
    async def work(client: BigCommerceClient) -> None:
        await client.request("POST", "/v2/orders", json=order(1))
        with pytest.raises(GuardError, match="archive every order"):
            await client.request("DELETE", path)
        with pytest.raises(GuardError):
            await client.request("DELETE", "/v2/orders", params={"customer_id": "0"})

    bc.run(work)
    assert bc.emulator.stats()["by_endpoint"] == {"POST /v2/orders": 1}
    assert [o.get("is_deleted") for o in bc.emulator.dump()["orders"]] == [False]


def test_delete_of_one_order_archives_just_that_order(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> None:
        first = await client.request("POST", "/v2/orders", json=order(1))
        await client.request("POST", "/v2/orders", json=order(2))
        await client.request("DELETE", f"/v2/orders/{first.body['id']}")

    bc.run(work)
    assert sorted(o["is_deleted"] for o in bc.emulator.dump()["orders"]) == [False, True]


# -- concurrency caps -----------------------------------------------------------------------------


def test_concurrent_customer_updates_respect_the_cap_of_three(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> None:
        ids = await create_customers(client, 12)
        bc.emulator.faults([{"method": "PUT", "path": "/v3/customers", "latency_ms": 100}])
        await asyncio.gather(
            *(
                client.request("PUT", "/v3/customers", json=[{"id": cid, "last_name": "Capped"}])
                for cid in ids
            )
        )

    bc.run(work)
    stats = bc.emulator.stats()
    assert stats["by_endpoint"]["PUT /v3/customers"] == 12
    assert "429" not in stats["by_status"]  # the emulator refuses a 4th concurrent PUT with 429
    assert bc.transport is not None
    assert bc.transport.peak["PUT v3/customers"] == 3
    assert {c["last_name"] for c in bc.emulator.dump()["customers"]} == {"Capped"}


# -- paging ---------------------------------------------------------------------------------------


def test_v3_lists_are_paged_through_meta_pagination(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> list[list[dict[str, Any]]]:
        await create_customers(client, 7)
        return [page async for page in client.get_all("/v3/customers", params={"limit": "3"}, v=3)]

    pages = bc.run(work)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert len({c["email"] for p in pages for c in p}) == 7


def test_v2_lists_stop_at_a_short_page_or_a_204(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> tuple[list[int], list[int], list[int]]:
        for n in range(4):
            await client.request("POST", "/v2/orders", json=order(n))

        async def sizes(limit: str) -> list[int]:
            pages = client.get_all("/v2/orders", params={"limit": limit}, v=2)
            return [len(p) async for p in pages]

        return await sizes("2"), await sizes("3"), await sizes("250")

    assert bc.run(work) == ([2, 2], [3, 1], [4])
    gets = [c for c in bc.calls if c.method == "GET"]
    # limit 2: pages 1, 2, then page 3 answers 204; limit 3 and 250 stop at the short page.
    assert [c.status for c in gets] == [200, 200, 204, 200, 200, 200]


def test_an_empty_v2_list_yields_nothing(bc: Harness) -> None:
    async def work(client: BigCommerceClient) -> list[Any]:
        return [page async for page in client.get_all("/v2/orders", v=2)]

    assert bc.run(work) == []


# -- the debugger's record ------------------------------------------------------------------------


def test_every_attempt_is_recorded_with_the_token_redacted(bc: Harness) -> None:
    token = bc.emulator.token
    bc.emulator.faults([{"method": "POST", "path": "/v3/customers", "status": 502, "times": 1}])

    async def work(client: BigCommerceClient) -> str:
        await client.request(
            "POST", "/v3/customers", json=[customer(3)], pks=["c3"], write_kind="write"
        )
        await client.request("GET", "/v3/customers", params={"email:in": "person3@example.com"})
        return repr(client)

    client_repr = bc.run(work)
    assert [(c.method, c.status, c.attempt) for c in bc.calls] == [
        ("POST", 502, 1),
        ("POST", 200, 2),
        ("GET", 200, 1),
    ]
    post = bc.calls[1]
    assert post.path == "/v3/customers"
    assert post.request_headers["x-auth-token"] == "***"
    assert post.request_headers["content-type"] == "application/json"
    assert '"person3@example.com"' in (post.request_body or "")
    assert post.pks == ("c3",)
    assert post.response_body and "person3@example.com" in post.response_body
    assert any(k.lower() == "x-rate-limit-requests-left" for k in post.response_headers)
    assert (
        post.started_at.utcoffset() is not None and post.started_at.utcoffset().total_seconds() == 0
    )
    assert post.duration_ms > 0
    assert bc.calls[2].query == {"email:in": "person3@example.com"}
    for call in bc.calls:
        for value in dataclasses.astuple(call):
            assert token not in repr(value)
    assert token not in client_repr


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_create_is_ambiguous_and_sent_once(bc: Harness, status: int) -> None:
    bc.emulator.faults([{"method": "POST", "path": "/v3/customers", "status": status, "times": 1}])
    with pytest.raises(AmbiguousWriteError) as caught:
        bc.run(lambda c: c.request("POST", "/v3/customers", json=[customer(4)]))
    assert caught.value.status == status
    assert f"BigCommerce answered {status}; the create may have happened" in str(caught.value)
    assert bc.emulator.stats()["by_endpoint"] == {"POST /v3/customers": 1}
    assert [(call.status, call.attempt) for call in bc.calls] == [(status, 1)]


def test_a_500_after_an_applied_customer_create_is_ambiguous(bc: Harness) -> None:
    """BigCommerce made the customer and still answered 500: re-sending would make a 422 at
    best; the caller must find it by reading."""
    bc.emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "status": 500, "apply": True, "times": 1}]
    )
    with pytest.raises(AmbiguousWriteError):
        bc.run(lambda c: c.request("POST", "/v3/customers", json=[customer(5)]))
    assert bc.emulator.stats()["by_endpoint"] == {"POST /v3/customers": 1}
    assert [c["email"] for c in bc.emulator.dump()["customers"]] == ["person5@example.com"]


def test_a_503_after_an_applied_order_create_is_never_resent(bc: Harness) -> None:
    bc.emulator.faults(
        [{"method": "POST", "path": "/v2/orders", "status": 503, "apply": True, "times": 1}]
    )
    with pytest.raises(AmbiguousWriteError) as caught:
        bc.run(lambda c: c.request("POST", "/v2/orders", json=order(1), write_kind="create"))
    assert caught.value.status == 503
    assert bc.emulator.stats()["by_endpoint"] == {"POST /v2/orders": 1}
    assert len(bc.emulator.dump()["orders"]) == 1  # one order, not a duplicate from a re-send


def test_an_echoed_token_is_scrubbed_from_the_records(bc: Harness) -> None:
    token = bc.emulator.token
    bc.run(lambda c: c.request("GET", "/v3/customers", params={"email:in": token}))
    (call,) = bc.calls
    assert call.query == {"email:in": "***"}
    assert all(token not in repr(value) for value in dataclasses.astuple(call))
