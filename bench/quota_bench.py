"""How much of a store's request quota the rate governor uses, and what it costs when there is none.

Starts the emulator in-process and drives the BigCommerce client through the store's governor:

1. Quota use: ``--quota`` requests per ``--window-ms`` window (default 150 per 3 000 ms), many
   concurrent callers sending customer look-ups (``GET /v3/customers?limit=1``) and batch updates
   (``PUT /v3/customers``, 10 customers each, capped at 3 concurrent) for ``--seconds``. Reports
   the sustained rate as a share of the quota and the share of 429 answers.
   Target: ≥ 90 % of the quota with < 1 % 429s.
2. Overhead with no quota: the same number of ``GET /v2/time`` through the client and governor,
   and through bare httpx with the same concurrency, side by side (medians of 6 rounds).

Run: ``.venv/bin/python bench/quota_bench.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx

from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.ratelimit import RateGovernor
from bcsync.emulator.server import RunningEmulator, start_in_thread
from bcsync.emulator.settings import EmulatorSettings


def admin(running: RunningEmulator, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{running.url}/_emulator/{path}", timeout=30, **kw)
    response.raise_for_status()
    return response.json()


def client_for(running: RunningEmulator, governor: RateGovernor) -> BigCommerceClient:
    return BigCommerceClient(
        api_url=running.api_url,
        store_hash=running.store_hash,
        access_token=running.token,
        governor=governor,
    )


async def seed_customers(running: RunningEmulator, governor: RateGovernor, count: int) -> list[int]:
    async with client_for(running, governor) as client:
        ids: list[int] = []
        for start in range(0, count, 10):
            batch = [
                {"email": f"bench{n}@example.com", "first_name": "Bench", "last_name": f"N{n}"}
                for n in range(start, start + 10)
            ]
            response = await client.request("POST", "/v3/customers", json=batch)
            ids += [c["id"] for c in response.body["data"]]
        return ids


async def quota_run(running: RunningEmulator, seconds: float, workers: int) -> dict[str, float]:
    governor = RateGovernor()  # one per store, as in a real process
    ids = await seed_customers(running, governor, 100)
    before = admin(running, "GET", "stats")
    done = 0
    async with client_for(running, governor) as client:
        start = time.monotonic()
        deadline = start + seconds

        async def worker(n: int) -> None:
            nonlocal done
            i = n
            while time.monotonic() < deadline:
                if n % 3 == 0:  # a third of the callers send batch updates
                    chunk = ids[(i * 10) % len(ids) :][:10]
                    body = [{"id": cid, "last_name": f"Run{i}"} for cid in chunk]
                    await client.request("PUT", "/v3/customers", json=body)
                else:
                    await client.request("GET", "/v3/customers", params={"limit": "1"})
                done += 1
                i += workers

        await asyncio.gather(*(worker(n) for n in range(workers)))
        elapsed = time.monotonic() - start
    after = admin(running, "GET", "stats")
    statuses = {
        k: after["by_status"].get(k, 0) - before["by_status"].get(k, 0) for k in after["by_status"]
    }
    total = sum(statuses.values())
    quota, window_s = running.emulator.settings.quota, running.emulator.settings.window_ms / 1000
    return {
        "elapsed_s": elapsed,
        "succeeded": done,
        "answers": total,
        "429": statuses.get("429", 0),
        "rate_per_s": done / elapsed,
        "quota_per_s": quota / window_s,
        "quota_share": done / (quota * elapsed / window_s),
        "share_429": statuses.get("429", 0) / total if total else 0.0,
    }


async def overhead_run(
    running: RunningEmulator, requests: int, concurrency: int
) -> dict[str, float]:
    async def through_client() -> float:
        governor = RateGovernor(max_in_flight=concurrency, default_endpoint_cap=concurrency)
        async with client_for(running, governor) as client:
            start = time.monotonic()
            await asyncio.gather(*(client.request("GET", "/v2/time") for _ in range(requests)))
            return requests / (time.monotonic() - start)

    async def bare() -> float:
        gate = asyncio.Semaphore(concurrency)
        headers = {"X-Auth-Token": running.token, "Accept": "application/json"}
        async with httpx.AsyncClient(base_url=running.store_url, headers=headers) as http:

            async def one() -> None:
                async with gate:
                    response = await http.get("/v2/time")
                    response.raise_for_status()
                    response.json()  # the client parses every body too

            start = time.monotonic()
            await asyncio.gather(*(one() for _ in range(requests)))
            return requests / (time.monotonic() - start)

    await bare()  # warm up both paths once
    await through_client()
    bare_rates, client_rates = [], []
    for round_ in range(6):  # alternate the order so neither side always runs first
        if round_ % 2:
            client_rates.append(await through_client())
            bare_rates.append(await bare())
        else:
            bare_rates.append(await bare())
            client_rates.append(await through_client())
    return {
        "bare_per_s": statistics.median(bare_rates),
        "client_per_s": statistics.median(client_rates),
    }


async def governor_alone(requests: int) -> float:
    """Microseconds one pass through the governor costs with an unlimited quota (no HTTP)."""
    governor = RateGovernor()
    unlimited = {
        "X-Rate-Limit-Time-Window-Ms": "30000",
        "X-Rate-Limit-Time-Reset-Ms": "30000",
        "X-Rate-Limit-Requests-Quota": "2147483647",
        "X-Rate-Limit-Requests-Left": "2147483646",
    }
    start = time.perf_counter()
    for _ in range(requests):
        async with governor.slot("GET", "/v3/customers") as permit:
            permit.observe(200, unlimited)
    return (time.perf_counter() - start) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=3000)
    parser.add_argument("--overhead-requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    running = start_in_thread(EmulatorSettings(quota=args.quota, window_ms=args.window_ms))
    try:
        q = asyncio.run(quota_run(running, args.seconds, args.workers))
        print(
            f"quota {args.quota}/{args.window_ms} ms, {args.workers} callers, "
            f"{q['elapsed_s']:.1f} s: "
            f"{q['succeeded']:.0f} requests, {q['rate_per_s']:.1f}/s of {q['quota_per_s']:.1f}/s "
            f"= {q['quota_share']:.1%} of the quota; 429s: {q['429']:.0f} of {q['answers']:.0f} "
            f"answers = {q['share_429']:.2%}"
        )
        admin(running, "PUT", "config", json={"quota": 0})
        o = asyncio.run(overhead_run(running, args.overhead_requests, args.concurrency))
        print(
            f"no quota, {args.overhead_requests} GET /v2/time at concurrency {args.concurrency}: "
            f"bare httpx {o['bare_per_s']:.0f}/s, client + governor {o['client_per_s']:.0f}/s "
            f"({o['client_per_s'] / o['bare_per_s']:.0%})"
        )
        cost = asyncio.run(governor_alone(20_000))
        print(f"the governor alone, no quota: {cost:.1f} µs per request")
    finally:
        running.stop()


if __name__ == "__main__":
    main()
