"""A run records its progress in the run store as it goes, so another process can watch it.

The run goes through the real CLI in a background process against a slowed emulator; this test
reads the ``runs`` row meanwhile, the way ``bcsync serve`` does.
"""

from __future__ import annotations

import time
from typing import Any

from bcsync.state import RunRecord, RunStore
from tests.fixtures.projects import SyncProject
from tests.web.test_run_page import CUSTOMERS

ROWS = 2500  # three checkpoints of 1000 rows


def rows(count: int) -> list[dict[str, Any]]:
    return [
        {"id": n, "email": f"user{n}@example.com", "first_name": f"F{n}", "last_name": "L"}
        for n in range(1, count + 1)
    ]


def latest_run(url: str) -> RunRecord | None:
    with RunStore.open(url) as store:
        found = store.list_runs("customers", limit=1)
    return found[0] if found else None


def test_a_running_run_shows_its_counts_so_far_in_the_run_store(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", rows(ROWS))
    sync_project.configure(CUSTOMERS)
    emulator.faults([{"path": "*", "latency_ms": 25, "times": 100_000}])
    process = sync_project.popen("run", "customers")
    midway: list[RunRecord] = []
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        run = latest_run(sync_project.state_url)
        if run is not None and run.running and run.counts["succeeded"] > 0:
            midway.append(run)
        time.sleep(0.1)
    assert process.wait(timeout=60) == 0, (sync_project.dir / "popen.log").read_text()

    assert midway, "the run never showed a checkpoint while it was going"
    seen = midway[0]
    assert seen.status == "syncing"
    assert seen.counts["planned"] == ROWS
    assert seen.counts["added"] == ROWS
    assert 0 < seen.counts["succeeded"] < ROWS
    assert seen.counts["succeeded"] % 1000 == 0  # one update per checkpointed chunk
    assert 0 < seen.api_calls < ROWS // 10
    assert seen.planning_at is not None and seen.syncing_at is not None
    assert seen.finished_at is None

    final = latest_run(sync_project.state_url)
    assert final is not None and final.status == "success"
    assert final.counts["succeeded"] == ROWS == len(emulator.dump()["customers"])
    assert final.api_calls >= seen.api_calls


def test_a_finished_run_is_not_touched_by_a_late_progress_record(store: RunStore) -> None:
    run_id = store.start_run("customers")
    store.record_progress(run_id, {"planned": 5, "succeeded": 2}, api_calls=1)
    going = store.get_run(run_id)
    assert going is not None and (going.counts["succeeded"], going.api_calls) == (2, 1)
    store.finish_run(run_id, "success", counts={"planned": 5, "succeeded": 5}, api_calls=3)
    store.record_progress(run_id, {"planned": 5, "succeeded": 4}, api_calls=2)
    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.counts["succeeded"], run.api_calls) == ("success", 5, 3)
