"""Two ``bcsync scheduler`` processes on one run store (SQLite file, then PostgreSQL) for ~20 s
of two- and three-second ticks against the emulator: every tick is recorded once, with exactly
one run, no tick is lost, and no sync ever runs twice at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bcsync.scheduling.ticks import parse_tick
from bcsync.state import RunStore
from bcsync.state.schema import runs, schedule_ticks
from bcsync.vocabulary import RunStatus

SECONDS = 20
EVERY = {"sync_a": 2, "sync_b": 2, "sync_c": 3}


def model(table: str) -> str:
    # A last name that changes on every run, so every run sends its rows (and takes a while).
    return (
        "{sql: \"select id, email, first_name, 'n' || cast(epoch_ms(now()) as varchar) "
        f'as last_name from {table}", primary_key: id}}'
    )


def sync(name: str, table: str, schedule: str, extra: str = "") -> str:
    return f"""\
{name}:
  destination: store
  object: customers
  model: {model(table)}
  mode: upsert
  match: {{column: email, field: email}}
  mappings:
    - {{column: email, field: email}}
    - {{column: first_name, field: first_name}}
    - {{column: last_name, field: last_name}}
  schedule: {schedule}
{extra}"""


def start(project: Any, name: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    with open(project.dir / f"{name}.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "bcsync", "--project", str(project.dir), "scheduler"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_scheduler_processes_fire_each_tick_once(
    sync_project: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        sync_project.state_url = request.getfixturevalue("postgres_url")
    for index, table in enumerate(("a", "b", "c", "d")):
        sync_project.load(
            f"{table}_customers",
            [
                {"id": n, "email": f"{table}{n}@example.com", "first_name": f"{table.upper()}{n}"}
                for n in range(index * 10, index * 10 + 3)
            ],
        )
    sync_project.configure(
        sync("sync_a", "a_customers", "{every: 2s}")
        + sync("sync_b", "b_customers", "{every: 2s}", "  on_overlap: queue_one\n")
        + sync("sync_c", "c_customers", "{every: 3s}")
        + sync("chained", "d_customers", "{after: [sync_a], when: always}")
    )
    # Slow answers: a run takes about as long as the interval, so ticks meet busy syncs.
    sync_project.emulator.faults([{"path": "*", "latency_ms": 400, "times": 1_000_000}])
    began = datetime.now(UTC)
    processes = [start(sync_project, "one"), start(sync_project, "two")]
    try:
        time.sleep(SECONDS)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in processes]
        sync_project.emulator.faults([])
    logs = [(sync_project.dir / f"{n}.log").read_text() for n in ("one", "two")]
    assert codes == [0, 0], logs

    with RunStore.open(sync_project.state_url) as store, store.engine.connect() as conn:
        ticks = conn.execute(sa.select(schedule_ticks)).all()
        all_runs = conn.execute(sa.select(runs)).all()
    by_id = {run.run_id: run for run in all_runs}

    # Exactly one run per tick, and every scheduled run belongs to one tick.
    assert len({t.run_id for t in ticks}) == len(ticks)
    scheduled = [r for r in all_runs if r.trigger == "schedule" or r.trigger.startswith("after:")]
    assert sorted(r.run_id for r in scheduled) == sorted(t.run_id for t in ticks)
    # Each tick fired in exactly one process (as each one's output lines say).
    printed = [
        line.split(" ")[2:4] for log in logs for line in log.splitlines() if " tick " in line
    ]
    assert sorted(tuple(p) for p in printed) == sorted((t.sync, t.tick) for t in ticks), logs
    assert all(" tick " in log for log in logs)  # both took part

    # No tick lost: each clock schedule's ticks follow each other at its interval.
    for name, every in EVERY.items():
        times = sorted(at for t in ticks if t.sync == name and (at := parse_tick(t.tick)))
        assert len(times) >= SECONDS // every - 3, (name, times)
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
        assert gaps == {every}, (name, gaps)
        assert times[0] >= began - timedelta(seconds=every)  # nothing backfilled
    # The chain fired after sync_a's runs, each firing once.
    chained = [t for t in ticks if t.sync == "chained"]
    assert chained and all(t.tick.startswith("after:") for t in chained)
    assert all(by_id[t.tick.removeprefix("after:")].sync == "sync_a" for t in chained)

    # No sync ever ran twice at once.
    for name in [*EVERY, "chained"]:
        ran = sorted(
            (r for r in all_runs if r.sync == name and r.status not in ("queued", "skipped")),
            key=lambda r: r.started_at,
        )
        assert ran, name
        for earlier, later in itertools.pairwise(ran):
            assert earlier.finished_at is not None and earlier.finished_at <= later.started_at, (
                name,
                earlier.run_id,
                later.run_id,
            )
    statuses = {RunStatus(r.status) for r in all_runs}
    assert RunStatus.SUCCESS in statuses
    assert not statuses & {RunStatus.FAILED, RunStatus.INTERRUPTED}, [
        (r.sync, r.status, r.error) for r in all_runs if r.status in ("failed", "interrupted")
    ]
