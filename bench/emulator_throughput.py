"""How fast the BigCommerce emulator answers, so tests and demos know what it can carry.

Runs the emulator in a child process (quota 0: no rate limit) and drives it with a concurrent
async httpx client:

1. customer batch creates (10 per request) per second;
2. order creates (``POST /v2/orders``, one per request) per second, if the emulator serves them;
3. a 100 000-customer store: load time, then ``email:in`` (10 emails) and ``id:in`` latency.

Writes the figures into the "Emulator throughput" section of bench/README.md.

    .venv/bin/python bench/emulator_throughput.py [--customers 100000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
STORE, TOKEN = "benchstore", "bench-token"

SERVER = """
import sys
from bcsync.emulator.server import serve
from bcsync.emulator.settings import EmulatorSettings
serve(EmulatorSettings(store_hash=sys.argv[1], token=sys.argv[2], quota=0,
                       enforce_concurrency=False),
      port=0, on_ready=lambda url: print(url, flush=True))
"""

ORDER = {
    "billing_address": {"first_name": "Jane", "last_name": "Doe", "street_1": "1 Main St",
                        "city": "Austin", "state": "Texas", "zip": "78751",
                        "country": "United States", "country_iso2": "US",
                        "email": "jane@example.com"},
    "products": [{"name": "Mug", "quantity": 1, "price_inc_tax": 50, "price_ex_tax": 45}],
}  # fmt: skip


@contextmanager
def emulator_process() -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, STORE, TOKEN], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise RuntimeError("the emulator did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def customers(start: int, count: int) -> list[dict[str, str]]:
    return [
        {"email": f"bench{n}@example.com", "first_name": "Bench", "last_name": f"N{n}"}
        for n in range(start, start + count)
    ]


async def run_batches(
    client: httpx.AsyncClient, total: int, concurrency: int, offset: int
) -> float:
    """Create ``total`` customers in batches of 10 with ``concurrency`` workers; seconds taken."""
    batches = iter(range(offset, offset + total, 10))

    async def worker() -> None:
        for start in batches:
            response = await client.post("/v3/customers", json=customers(start, 10))
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run_orders(client: httpx.AsyncClient, total: int, concurrency: int) -> float | None:
    probe = await client.post("/v2/orders", json=ORDER)
    if probe.status_code not in (200, 201):
        return None
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            (await client.post("/v2/orders", json=ORDER)).raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def latency(client: httpx.AsyncClient, params: dict[str, str], rounds: int = 50) -> float:
    """Median milliseconds of one GET /v3/customers with ``params``."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get("/v3/customers", params=params)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(samples)


async def main(args: argparse.Namespace) -> list[tuple[str, str]]:
    results: list[tuple[str, str]] = []

    def add(what: str, figure: str) -> None:
        results.append((what, figure))
        print(f"{what:55} {figure}", flush=True)

    with emulator_process() as url:
        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(
            base_url=f"{url}/stores/{STORE}", headers={"X-Auth-Token": TOKEN},
            limits=limits, timeout=30,
        ) as client:  # fmt: skip
            n = args.customers
            seconds = await run_batches(client, args.batch_customers, args.concurrency, 0)
            per_s = args.batch_customers / seconds
            add(
                "customer batch creates (10/request)",
                f"{per_s:,.0f} customers/s ({per_s / 10:,.0f} requests/s)",
            )
            order_seconds = await run_orders(client, args.orders, args.concurrency)
            add(
                "order creates (POST /v2/orders, 1/request)",
                "not served by this build"
                if order_seconds is None
                else f"{args.orders / order_seconds:,.0f} orders/s",
            )
            rest = n - args.batch_customers
            load = await run_batches(client, rest, args.concurrency, args.batch_customers)
            add(f"load {n:,} customers over HTTP", f"{load + seconds:,.1f} s")
            emails = ",".join(f"bench{i}@example.com" for i in range(n - 10, n))
            ids = ",".join(str(i) for i in range(n - 9, n + 1))
            found = (await client.get("/v3/customers", params={"email:in": emails})).json()
            assert len(found["data"]) == 10, found["meta"]
            email_ms = await latency(client, {"email:in": emails})
            add(f"email:in (10 emails) at {n:,} customers", f"{email_ms:.1f} ms median")
            id_ms = await latency(client, {"id:in": ids})
            add(f"id:in (10 ids) at {n:,} customers", f"{id_ms:.1f} ms median")
            page_ms = await latency(client, {"limit": "50"}, 10)
            add(f"first page, no filter, at {n:,} customers", f"{page_ms:.1f} ms median")
    return results


def write_readme(results: list[tuple[str, str]], args: argparse.Namespace) -> None:
    rows = "\n".join(f"| {what} | {figure} |" for what, figure in results)
    section = f"""## Emulator throughput

What the local BigCommerce emulator (`src/bcsync/emulator/`) sustains, so tests and demos know
how much traffic it can carry. Reproduce with:

    .venv/bin/python bench/emulator_throughput.py \\
        --customers {args.customers} --concurrency {args.concurrency}

Emulator in a child process (uvicorn, h11, one event loop), quota 0, concurrency caps off;
client: one async httpx client with {args.concurrency} concurrent workers in the bench process.
Machine: 2 cores shared with other work, {platform.python_implementation()} \
{platform.python_version()} on {platform.system()}; figures are indicative.
Last run: {time.strftime("%Y-%m-%d")}.

| measure | result |
|---|---|
{rows}
"""
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Emulator throughput\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    README.write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only")
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    if not arguments.no_write:
        write_readme(figures, arguments)
