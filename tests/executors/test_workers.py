"""``bcsync worker`` processes on the tests' real PostgreSQL, against two emulated stores with
small quotas: syncs never run twice at once, every row lands once, each store's quota holds, and
a worker killed mid-run has its run interrupted and run again by another."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcsync.emulator.server import RunningEmulator
from tests.executors.cluster import Cluster, admin, emails, overlaps, start_store

SYNCS, ROWS = 10, 200
BIG = 600


@pytest.fixture
def stores() -> Iterator[list[RunningEmulator]]:
    running = [
        start_store("queuestore1", quota=40, window_ms=1000),
        start_store("queuestore2", quota=40, window_ms=1000),
    ]
    yield running
    for store in running:
        store.stop()


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, stores: list[RunningEmulator]) -> Iterator[Cluster]:
    made = Cluster.create(tmp_path, postgres_url, stores, syncs=SYNCS, rows=ROWS)
    yield made
    made.stop_workers()


@pytest.fixture
def big_sync(tmp_path: Path, postgres_url: str, stores: list[RunningEmulator]) -> Iterator[Cluster]:
    """One sync, ``s0``, of ``BIG`` customers."""
    made = Cluster.create(tmp_path, postgres_url, stores[:1], syncs=1, rows=BIG)
    yield made
    made.stop_workers()


def _too_many_429s(store: RunningEmulator) -> str | None:
    stats = admin(store, "GET", "stats")
    limited = stats["by_status"].get("429", 0)
    if limited >= 0.01 * stats["requests_total"]:
        return f"{store.store_hash}: {limited} of {stats['requests_total']} requests got 429"
    return None


def test_three_workers_run_ten_syncs_once_at_a_time(
    cluster: Cluster, stores: list[RunningEmulator]
) -> None:
    cluster.start_workers(3, concurrency=2)
    cluster.wait_ready()
    # Every sync queued three times over a few seconds, as overlapping schedule ticks would be:
    # one runs, at most one waits, the rest are skipped.
    for _ in range(3):
        cluster.queue(cluster.syncs)
        time.sleep(1.0)
    spans = cluster.wait_idle(timeout=90)

    assert overlaps(spans) == [], cluster.worker_logs()
    ran = [s for s in spans if s.status not in ("skipped", "queued")]
    assert {s.status for s in ran} == {"success"}, [s.error for s in ran]
    assert set(Counter(s.sync for s in ran)) == set(cluster.syncs)
    assert len({s.pid for s in ran}) == 3  # the syncs were shared out between the workers
    assert len(ran) > SYNCS  # some ran again, after their previous run (queued meanwhile)
    # A second run plans from the shared snapshot, whichever worker runs it: nothing to send.
    first_runs = {s.sync: s.run_id for s in reversed(ran)}
    assert all(s.api_calls == 0 for s in ran if s.run_id not in first_runs.values())
    for skipped in (s for s in spans if s.status == "skipped"):
        assert "already waiting in the queue" in (skipped.error or ""), skipped
    for index, store in enumerate(stores):
        landed = cluster.customers(store)
        expected = [e for s, i in cluster.syncs.items() if i == index for e in emails(s, ROWS)]
        assert len(landed) == len(set(landed)), "duplicate customers"
        assert sorted(landed) == sorted(expected)
    cluster.stop_workers()
    assert [worker.returncode for worker in cluster.workers] == [0, 0, 0]  # SIGTERM: clean stop
    problems = [p for p in map(_too_many_429s, stores) if p]
    assert problems == [], problems  # needs the governor shared through PostgreSQL


def test_a_killed_worker_s_run_is_interrupted_and_run_again_elsewhere(
    big_sync: Cluster, stores: list[RunningEmulator]
) -> None:
    cluster, store = big_sync, stores[0]
    slow = {"path": "*", "latency_ms": 150, "times": 10**6}
    admin(store, "POST", "faults", json={"rules": [slow]})
    cluster.start_workers(3, concurrency=1)
    cluster.wait_ready()
    [first] = cluster.queue(["s0"])
    deadline = time.monotonic() + 60
    while len(cluster.customers(store)) < 100:
        assert time.monotonic() < deadline, cluster.worker_logs()
        time.sleep(0.05)
    [running] = [s for s in cluster.spans() if s.run_id == first]
    victim = next(p for p in cluster.workers if p.pid == running.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.monotonic()
    assert len(cluster.customers(store)) < BIG

    spans = cluster.wait_idle(timeout=60)
    recovered_in = time.monotonic() - killed_at
    by_id = {s.run_id: s for s in spans}
    assert by_id[first].status == "interrupted"
    assert f"pid {running.pid}" in (by_id[first].error or "")
    [again] = [s for s in spans if s.run_id != first]
    assert again.status == "success", (again.error, cluster.worker_logs())
    assert again.pid not in (None, running.pid)
    landed = cluster.customers(store)
    assert len(landed) == len(set(landed)) == BIG, "duplicate or missing customers"
    assert recovered_in < 30
