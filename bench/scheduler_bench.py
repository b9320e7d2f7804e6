"""Scheduler overhead (issue 13): 1,000 syncs on a 1-minute schedule, ticks fired how late?

Run: .venv/bin/python bench/scheduler_bench.py [--syncs 1000] [--minutes 3] [--cron] [--dir DIR]

A project of ``--syncs`` syncs, each ``schedule: {every: 1m}`` (``--cron``: ``cron: "* * * * *"``
in Europe/Berlin), a SQLite run store (a file, as ``bcsync serve`` uses by default), and one
``Scheduler`` on the real clock in a thread, as ``bcsync scheduler`` runs it. The executor only
records each run it is handed (and when), and a thread beside it ends those runs as ``success``
in one transaction per batch, so the next tick finds the syncs free: the scheduler's own work is
all that is measured. The syncs have never run, so the first tick is the next whole minute.

For every tick of every sync: how late its claim committed (``schedule_ticks.fired_at`` minus
the tick) and how late its run reached the executor (``submit`` minus the tick), max / p99 /
median per minute. Target: every tick at most 1 s late. Also checked: each sync has exactly one
tick per minute, each with one run, none skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bcsync.config.project import load_config
from bcsync.scheduling import Scheduler
from bcsync.scheduling.ticks import parse_tick
from bcsync.state import RunStore
from bcsync.state.schema import runs, schedule_ticks

HEAD = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
state:
  url: sqlite:///{state}
destinations:
  store:
    type: bigcommerce
    store_hash: abc123
    access_token: tok
syncs:
"""


def project_yaml(state: Path, syncs: int, cron: bool) -> str:
    schedule = "{cron: '* * * * *', timezone: Europe/Berlin}" if cron else "{every: 1m}"
    body = "".join(
        f"""\
  s{n:04d}:
    destination: store
    object: customers
    model: {{table: customers, primary_key: id}}
    mode: insert
    mappings: [{{column: email, field: email}}]
    schedule: {schedule}
"""
        for n in range(syncs)
    )
    return HEAD.format(state=state) + body


class RecordingExecutor:
    """Records when each run was handed over; a closer thread ends the runs as ``success``."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.submitted: dict[str, float] = {}
        self._done: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._closer = threading.Thread(target=self._close_runs, daemon=True)
        self._closer.start()

    def submit(self, sync: str, run_id: str, *, trigger: str) -> None:
        self.submitted[run_id] = time.time()
        self._done.put(run_id)

    def close(self) -> None:
        self._stop.set()
        self._closer.join()

    def _close_runs(self) -> None:
        while not self._stop.is_set():
            time.sleep(0.2)
            batch = []
            while not self._done.empty():
                batch.append(self._done.get())
            if batch:
                now = datetime.now(UTC)
                with self.store.engine.begin() as conn:
                    conn.execute(
                        runs.update()
                        .where(runs.c.run_id.in_(batch), runs.c.status == "queued")
                        .values(status="success", started_at=now, finished_at=now)
                    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--syncs", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=3, help="ticks (whole minutes) to measure")
    parser.add_argument("--cron", action="store_true", help="cron '* * * * *' instead of every")
    parser.add_argument("--dir", type=Path, help="keep the project here (default: a temp dir)")
    args = parser.parse_args()

    base = args.dir or Path(tempfile.mkdtemp(prefix="bcsync-sched-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    state = base / ".bcsync" / "state.db"
    if state.exists():
        state.unlink()
    (base / "bcsync.yml").write_text(project_yaml(state, args.syncs, args.cron))
    started = time.perf_counter()
    config = load_config(base / "bcsync.yml")
    print(f"{args.syncs} syncs loaded in {time.perf_counter() - started:.1f} s; store {state}")

    store = RunStore.open(config.state_url)
    executor = RecordingExecutor(store)
    scheduler = Scheduler(config, RunStore.open(config.state_url), executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    cpu_before = time.process_time()
    thread.start()
    now = time.time()
    first = (int(now) // 60 + 1) * 60
    end = first + (args.minutes - 1) * 60 + 5  # a few seconds past the last measured tick
    print(
        f"first tick at {datetime.fromtimestamp(first, UTC):%H:%M:%S}Z; "
        f"measuring {args.minutes} minute(s), until {datetime.fromtimestamp(end, UTC):%H:%M:%S}Z"
    )
    while time.time() < end:
        time.sleep(1)
    stop.set()
    thread.join()
    cpu = time.process_time() - cpu_before
    time.sleep(0.5)
    executor.close()

    with store.engine.connect() as conn:
        ticks = conn.execute(
            sa.select(
                schedule_ticks.c.sync,
                schedule_ticks.c.tick,
                schedule_ticks.c.run_id,
                schedule_ticks.c.fired_at,
                runs.c.status,
            ).join(runs, runs.c.run_id == schedule_ticks.c.run_id)
        ).all()
        run_count = conn.scalar(sa.select(sa.func.count()).select_from(runs))
    claim: dict[str, list[float]] = defaultdict(list)
    handed: dict[str, list[float]] = defaultdict(list)
    per_sync: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    for row in ticks:
        at = parse_tick(row.tick)
        assert at is not None
        claim[row.tick].append((row.fired_at - at).total_seconds())
        if row.run_id in executor.submitted:
            handed[row.tick].append(executor.submitted[row.run_id] - at.timestamp())
        per_sync[row.sync] += 1
        statuses[row.status] += 1
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; scheduler CPU "
        f"{cpu:.1f} s over {args.minutes} min"
    )
    print(
        "tick (UTC)            ticks  claimed: max / p99 / p50 (s)  "
        "handed over: max / p99 / p50 (s)"
    )
    every_claim: list[float] = []
    every_hand: list[float] = []
    for tick in sorted(claim):
        c, h = claim[tick], handed.get(tick, [])
        every_claim += c
        every_hand += h
        print(
            f"{tick}  {len(c):5d}  {max(c):6.3f} / {percentile(c, 0.99):6.3f} / "
            f"{statistics.median(c):6.3f}    "
            + (
                f"{max(h):6.3f} / {percentile(h, 0.99):6.3f} / {statistics.median(h):6.3f}"
                if h
                else "-"
            )
        )
    print(
        f"all {len(every_claim)} ticks: claim max {max(every_claim):.3f} s, "
        f"p99 {percentile(every_claim, 0.99):.3f} s; handed over max {max(every_hand):.3f} s, "
        f"p99 {percentile(every_hand, 0.99):.3f} s (target ≤ 1 s)"
    )
    expected = args.syncs * args.minutes
    print(
        f"ticks recorded {len(ticks)} (expected {expected}), runs {run_count}, "
        f"statuses {dict(statuses)}, syncs with one tick a minute: "
        f"{sum(1 for n in per_sync.values() if n == args.minutes)}/{args.syncs}"
    )
    ok = (
        len(ticks) == expected == run_count
        and max(every_hand) <= 1.0
        and set(statuses) == {"success"}
    )
    print("target met" if ok else "TARGET NOT MET")
    store.close()
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
