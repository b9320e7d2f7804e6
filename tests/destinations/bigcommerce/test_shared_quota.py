"""One store's quota shared through the PostgreSQL run store by governors that know nothing of
each other (as separate worker processes would be), against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.ratelimit import LocalPacing, QuotaPacer
from bcsync.destinations.bigcommerce.shared_quota import (
    SharedPacing,
    governors_for,
    store_key,
    uses_shared_quota,
)
from bcsync.state import RunStore
from bcsync.state.migrations import LATEST_VERSION


def test_the_governor_is_shared_only_with_a_postgresql_run_store(tmp_path: Any) -> None:
    assert uses_shared_quota("postgresql://bcsync:secret@db.example.test/bcsync")
    assert uses_shared_quota("postgresql+psycopg://db.example.test/bcsync")
    assert not uses_shared_quota(f"sqlite:///{tmp_path}/state.db")
    assert not uses_shared_quota("not a url")  # opening the run store reports it, not this
    local = governors_for(f"sqlite:///{tmp_path}/state.db")
    assert not local.shared
    assert isinstance(local.for_store("https://api.example.test", "abc").pacing, LocalPacing)
    shared = governors_for("postgresql://bcsync:secret@db.example.test/bcsync")  # no connection
    assert shared.shared
    assert isinstance(shared.for_store("https://api.example.test", "abc").pacing, SharedPacing)


def test_the_store_key_names_the_store_and_nothing_secret() -> None:
    key = store_key("https://API.example.test/", "abc123")
    assert key == store_key("https://api.example.test", "abc123")
    assert key != store_key("https://api.example.test", "abc124")
    assert "abc123" in key and "api.example.test" in key


def test_a_pacer_state_survives_the_round_trip_through_json() -> None:
    import json

    pacer = QuotaPacer()
    tickets = [pacer.reserve_slot(0.0)[1] for _ in range(3)]
    headers = {
        "X-Rate-Limit-Time-Window-Ms": "1000",
        "X-Rate-Limit-Time-Reset-Ms": "900",
        "X-Rate-Limit-Requests-Quota": "10",
        "X-Rate-Limit-Requests-Left": "7",
    }
    assert tickets[0] is not None
    pacer.observe(tickets[0], headers, 0.1)
    other = QuotaPacer()
    other.load_state(json.loads(json.dumps(pacer.to_state())))
    assert other.to_state() == pacer.to_state()
    # Both now agree: 7 left when the first arrived, minus the two sent after it.
    assert [other.reserve_slot(0.2)[1] is not None for _ in range(6)] == [True] * 5 + [False]


def _hammer(url: str, emulator: Any, requests: int, results: list[float]) -> None:
    """One 'process': its own governors, event loop and client, ``requests`` GETs, 4 at once."""
    governors = governors_for(url)
    governor = governors.for_store(emulator.api_url, emulator.store_hash)

    async def main() -> None:
        async with BigCommerceClient(
            api_url=emulator.api_url,
            store_hash=emulator.store_hash,
            access_token=emulator.token,
            governor=governor,
            backoff_base=0.01,
        ) as client:
            queue = list(range(requests))

            async def worker() -> None:
                while queue:
                    queue.pop()
                    await client.request("GET", "/v3/customers", params={"limit": "1"})

            await asyncio.gather(*(worker() for _ in range(4)))

    started = time.monotonic()
    asyncio.run(main())
    results.append(time.monotonic() - started)


@pytest.mark.parametrize("processes", [3])
def test_governors_sharing_the_run_store_stay_under_the_store_quota_together(
    postgres_url: str, emulator: Any, processes: int
) -> None:
    RunStore.open(postgres_url).close()  # migrated, as a worker's run store is
    quota, window_ms, each = 30, 1000, 150
    emulator.config(quota=quota, window_ms=window_ms)
    results: list[float] = []
    threads = [
        threading.Thread(target=_hammer, args=(postgres_url, emulator, each, results))
        for _ in range(processes)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    assert len(results) == processes  # every one finished
    stats = emulator.stats()
    limited = stats["by_status"].get("429", 0)
    total = stats["requests_total"]
    answered = total - limited
    assert answered == processes * each
    assert limited < 0.01 * total, stats["by_status"]
    # Together at the store's pace: not each at it (3× faster), and not much slower than it.
    windows = answered / quota
    assert windows - 1 <= elapsed, elapsed
    assert elapsed <= windows * 1.25 + 1, elapsed
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT store_key, state FROM store_quotas")).all()
    engine.dispose()
    assert [row.store_key for row in rows] == [store_key(emulator.api_url, emulator.store_hash)]
    assert emulator.token not in str(rows)


def test_a_governor_on_a_run_store_never_opened_brings_its_schema_up_to_date(
    postgres_url: str, emulator: Any
) -> None:
    """A process whose first use of a new run store is a request (``bcsync check``): the
    request goes through the shared state, not around it, and the store ends up migrated."""
    results: list[float] = []
    _hammer(postgres_url, emulator, 3, results)
    assert len(results) == 1
    assert emulator.stats()["requests_total"] == 3
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT store_key FROM store_quotas")).scalars().all()
        version = conn.execute(sa.text("SELECT max(version) FROM bcsync_schema_version")).scalar()
    engine.dispose()
    assert keys == [store_key(emulator.api_url, emulator.store_hash)]
    assert version == LATEST_VERSION


def test_without_the_shared_state_each_governor_would_use_the_whole_quota(
    tmp_path: Any, emulator: Any
) -> None:
    """The control for the test above: three in-process governors overrun the store."""
    quota, window_ms, each = 30, 1000, 60
    emulator.config(quota=quota, window_ms=window_ms)
    results: list[float] = []
    url = f"sqlite:///{tmp_path}/state.db"
    threads = [
        threading.Thread(target=_hammer, args=(url, emulator, each, results)) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert emulator.stats()["by_status"].get("429", 0) > 0.05 * 3 * each


def test_processes_taking_turns_on_one_state_keep_to_one_quota_on_a_fake_clock() -> None:
    """What the ``store_quotas`` row does, without the database: three pacers (three processes)
    each load the shared state before every step and write it back after, against a simulated
    store; together they get the quota, not three times it, and meet no 429s. (The pacer counts
    answers that overtook each other cautiously, so with latencies varying from 2 to 20 ms a
    window of 30 is used to about 90 %, as one process alone uses it.)"""
    import heapq
    import json
    import random

    from tests.destinations.bigcommerce.test_pacing import SimulatedStore

    store = SimulatedStore(30, 1.0)
    row: dict[str, Any] = {}
    pacers = [QuotaPacer(rng=random.Random(n)) for n in range(3)]

    def step(n: int, change: Any) -> Any:
        pacers[n].load_state(json.loads(json.dumps(row)))
        result = change(pacers[n])
        row.clear()
        row.update(pacers[n].to_state())
        return result

    rng = random.Random(7)
    events: list[tuple[float, int, str, int, int, int, dict[str, str]]] = []
    seq = 0

    def push(at: float, kind: str, n: int, ticket: int = 0, status: int = 0, h: Any = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, n, ticket, status, h or {}))

    for n in range(3):
        for _ in range(4):
            push(0.0, "ask", n)
    duration = 30.0
    while events:
        now, _, kind, n, ticket, status, headers = heapq.heappop(events)
        if now > duration:
            break
        if kind == "ask":
            when, got = step(n, lambda p, now=now: p.reserve_slot(now))
            if got is None:
                push(max(when, now + 1e-6), "ask", n)
            else:
                push(when + rng.uniform(0.002, 0.02), "arrive", n, got)
        elif kind == "arrive":
            status, headers = store.take(now)
            push(now + rng.uniform(0.002, 0.02), "answer", n, ticket, status, headers)
        else:
            if status == 429:
                step(n, lambda p, t=ticket, h=headers, now=now: p.on_rate_limited(t, h, now))
            else:
                step(n, lambda p, t=ticket, h=headers, now=now: p.observe(t, h, now))
            push(now, "ask", n)
    assert store.limited == 0
    assert store.ok >= 0.9 * 30 * duration, store.ok
