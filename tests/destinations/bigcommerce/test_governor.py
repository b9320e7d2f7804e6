"""The rate governor's concurrency caps, store-wide pauses and sharing across event loops."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bcsync.destinations.bigcommerce.ratelimit import Governors, RateGovernor


class InFlight:
    """Counts requests running at once (thread-safe: callers may sit on different loops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    async def hold(self, seconds: float) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        await asyncio.sleep(seconds)
        with self._lock:
            self.now -= 1


async def _send(governor: RateGovernor, method: str, path: str, meter: InFlight) -> None:
    async with governor.slot(method, path) as permit:
        await meter.hold(0.02)
        permit.observe(200, {})


def test_per_endpoint_cap_holds_and_other_endpoints_are_not_blocked() -> None:
    governor = RateGovernor(max_in_flight=20, default_endpoint_cap=8)
    puts, gets = InFlight(), InFlight()

    async def main() -> None:
        await asyncio.gather(
            *(_send(governor, "PUT", "/v3/customers", puts) for _ in range(15)),
            *(_send(governor, "GET", "/v3/customers", gets) for _ in range(15)),
        )

    asyncio.run(main())
    assert puts.peak == 3  # BigCommerce allows 3 concurrent PUT /v3/customers
    assert gets.peak == 8  # the configurable default for other endpoints


def test_global_cap_spans_endpoints() -> None:
    governor = RateGovernor(max_in_flight=4, default_endpoint_cap=8)
    meter = InFlight()

    async def main() -> None:
        paths = [f"/v2/orders/{i}" for i in range(12)] + ["/v3/customers"] * 12
        await asyncio.gather(*(_send(governor, "GET", p, meter) for p in paths))

    asyncio.run(main())
    assert meter.peak == 4


def test_one_governor_serves_several_event_loops_at_once() -> None:
    governor = RateGovernor(max_in_flight=10, endpoint_caps={"PUT /v3/customers": 2})
    meter = InFlight()
    errors: list[BaseException] = []

    def worker() -> None:
        async def main() -> None:
            await asyncio.gather(
                *(_send(governor, "PUT", "/v3/customers", meter) for _ in range(6))
            )

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert meter.peak == 2


def test_a_cancelled_waiter_gives_its_place_back() -> None:
    governor = RateGovernor(endpoint_caps={"PUT /v3/customers": 1})
    meter = InFlight()

    async def main() -> None:
        holder = asyncio.create_task(_send(governor, "PUT", "/v3/customers", meter))
        await asyncio.sleep(0)
        waiters = [
            asyncio.create_task(_send(governor, "PUT", "/v3/customers", meter)) for _ in range(3)
        ]
        await asyncio.sleep(0.005)
        for task in waiters[:2]:
            task.cancel()
        await holder
        await asyncio.wait_for(waiters[2], timeout=2)  # would hang if a slot leaked
        await asyncio.wait_for(_send(governor, "PUT", "/v3/customers", meter), timeout=2)

    asyncio.run(main())
    assert meter.peak == 1


def test_a_429_holds_every_request_of_the_store() -> None:
    governor = RateGovernor()
    started: list[float] = []

    async def main() -> None:
        t0 = time.monotonic()
        async with governor.slot("POST", "/v3/customers") as permit:
            permit.observe(429, {"X-Retry-After": "0", "X-Rate-Limit-Time-Reset-Ms": "400"})

        async def other(path: str) -> None:
            async with governor.slot("GET", path) as permit:
                started.append(time.monotonic() - t0)
                permit.observe(200, {})

        await asyncio.gather(other("/v2/orders"), other("/v3/customers/attributes"))

    asyncio.run(main())
    assert len(started) == 2
    assert min(started) >= 0.4  # other endpoints waited for the reset too


def test_governors_hold_one_governor_per_store() -> None:
    governors = Governors()
    a = governors.for_store("https://api.example.test/", "abc123")
    assert governors.for_store("https://API.example.test", "abc123") is a
    assert governors.for_store("https://api.example.test", "other") is not a
    assert Governors().for_store("https://api.example.test", "abc123") is not a  # another project


@pytest.mark.parametrize("status", [None, 200])
def test_a_slot_is_freed_whatever_the_outcome(status: int | None) -> None:
    governor = RateGovernor(max_in_flight=1)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with governor.slot("GET", "/v3/customers") as permit:
                if status is not None:
                    permit.observe(status, {})
                raise RuntimeError("boom")
        async with governor.slot("GET", "/v3/customers"):
            pass

    asyncio.run(asyncio.wait_for(main(), timeout=2))
