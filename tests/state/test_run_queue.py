"""Queued runs and schedule ticks: a tick creates exactly one run, however many claim it."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from bcsync.state import RunStore
from bcsync.state.schema import runs, schedule_ticks
from bcsync.vocabulary import RunStatus

TICK = "2026-12-02T11:15:00Z"


def test_a_tick_queues_one_run_and_a_second_claim_creates_nothing(store: RunStore) -> None:
    run_id = store.queue_run("vip", trigger="schedule", tick=TICK)
    assert run_id is not None
    record = store.get_run(run_id)
    assert (record.status, record.trigger) == (RunStatus.QUEUED, "schedule")
    assert record.queued_at is not None and not record.running

    assert store.queue_run("vip", trigger="schedule", tick=TICK) is None
    assert store.queue_run("vip", trigger="schedule", tick=TICK, skipped_because="busy") is None
    assert [r.run_id for r in store.list_runs("vip")] == [run_id]
    # The same instant is another tick for another sync.
    assert store.queue_run("daily", trigger="schedule", tick=TICK) is not None
    assert store.last_clock_ticks(["vip"]) == {"vip": TICK}


def test_claims_racing_from_many_threads_fire_each_tick_once(store: RunStore) -> None:
    ticks = [f"2026-12-02T11:{minute:02d}:00Z" for minute in range(10)]
    won: Counter[str] = Counter()
    barrier = threading.Barrier(6)
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        for tick in ticks:
            if store.queue_run("vip", trigger="schedule", tick=tick) is not None:
                with lock:
                    won[tick] += 1

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won == Counter(dict.fromkeys(ticks, 1))
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(runs)) == len(ticks)
        tick_runs = conn.execute(sa.select(schedule_ticks.c.run_id)).scalars().all()
    assert sorted(tick_runs) == sorted(r.run_id for r in store.list_runs("vip", limit=100))


def test_a_tick_that_must_not_run_is_recorded_as_a_skipped_run_with_its_reason(
    store: RunStore,
) -> None:
    reason = "the previous run abc is still running"
    run_id = store.queue_run("vip", trigger="schedule", tick=TICK, skipped_because=reason)
    assert run_id is not None
    record = store.get_run(run_id)
    assert (record.status, record.error) == (RunStatus.SKIPPED, reason)
    assert record.finished_at is not None
    assert store.waiting_or_running("vip") == []


def test_a_queued_run_is_begun_once(store: RunStore) -> None:
    run_id = store.queue_run("vip", trigger="api")
    assert run_id is not None
    assert store.waiting_or_running("vip") == [(run_id, RunStatus.QUEUED)]
    assert store.begin_queued_run(run_id)
    assert not store.begin_queued_run(run_id)  # a second worker gets nothing
    assert store.get_run(run_id).status == RunStatus.QUERYING
    assert store.waiting_or_running("vip") == [(run_id, RunStatus.QUERYING)]
    assert not store.close_queued_run(run_id, "skipped", "too late")


def test_a_queued_run_closed_before_it_began_cannot_begin(store: RunStore) -> None:
    run_id = store.queue_run("vip", trigger="api")
    assert run_id is not None
    assert store.close_queued_run(run_id, "skipped", "a run of 'vip' already waits")
    assert not store.begin_queued_run(run_id)
    record = store.get_run(run_id)
    assert (record.status, record.error) == (RunStatus.SKIPPED, "a run of 'vip' already waits")


def test_a_run_without_a_tick_is_never_refused(store: RunStore) -> None:
    first = store.queue_run("vip", trigger="api")
    second = store.queue_run("vip", trigger="api")
    assert first and second and first != second
    with pytest.raises(ValueError):
        store.close_queued_run(first, "bogus", "x")
