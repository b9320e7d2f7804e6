"""The batched claim: many ticks in one transaction, each won by exactly one of the schedulers
racing for it, with a run created only for the keys won."""

from __future__ import annotations

import threading
from collections import Counter

import sqlalchemy as sa

from bcsync.state import RunStore
from bcsync.state.run_queue import TickClaim
from bcsync.state.schema import runs, schedule_ticks
from tests.scheduling.conftest import Harness

SYNCS = [f"s{n:03d}" for n in range(200)]
TICKS = ["2026-12-02T12:00:00Z", "2026-12-02T12:01:00Z", "2026-12-02T12:02:00Z"]


def test_racing_batched_claims_win_each_tick_once(both_stores: Harness) -> None:
    harness = both_stores
    stores = [RunStore.open(harness.state_url) for _ in range(4)]
    harness.stores.extend(stores)
    won: Counter[tuple[str, str]] = Counter()
    guard = threading.Lock()
    barrier = threading.Barrier(len(stores))

    def claim(store: RunStore, skip: bool) -> None:
        barrier.wait()
        for tick in TICKS:
            batch = [TickClaim(sync, tick, "schedule", "busy" if skip else None) for sync in SYNCS]
            got = store.claim_ticks(batch)
            with guard:
                won.update(got.keys())

    threads = [
        threading.Thread(target=claim, args=(store, index % 2 == 1))
        for index, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(won.values()) == {1} and len(won) == len(SYNCS) * len(TICKS)
    with harness.store.engine.connect() as conn:
        tick_runs = conn.execute(sa.select(schedule_ticks.c.run_id)).scalars().all()
        statuses = Counter(conn.execute(sa.select(runs.c.status)).scalars())
    assert len(set(tick_runs)) == len(tick_runs) == len(won)
    assert sum(statuses.values()) == len(won)  # no run without its tick
    assert set(statuses) <= {"queued", "skipped"}


def test_a_claim_already_held_creates_nothing_and_the_rest_of_the_batch_fires(
    harness: Harness,
) -> None:
    store = harness.store
    first = store.claim_ticks([TickClaim("a", TICKS[0], "schedule")])
    again = store.claim_ticks(
        [TickClaim("a", TICKS[0], "schedule"), TickClaim("b", TICKS[0], "schedule", "why")]
    )
    assert list(first) == [("a", TICKS[0])] and list(again) == [("b", TICKS[0])]
    assert store.get_run(again[("b", TICKS[0])]).error == "why"
    assert len(store.list_runs(limit=10)) == 2
