"""A tick whose sync is busy: ``skip`` records it as a skipped run naming the busy run,
``queue_one`` queues one run behind it; queued runs wait for their sync to be free; a run whose
process died does not block; queued runs another scheduler left are adopted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bcsync.executors.inprocess import InProcessExecutor
from bcsync.state.schema import sync_locks
from bcsync.vocabulary import RunStatus
from tests.scheduling.conftest import Harness, Recorder, sync_yaml


def running_run(harness: Harness, sync: str) -> str:
    """A run of ``sync`` in progress in this (live) process, holding the sync's lock."""
    run_id = harness.store.queue_run(sync, trigger="cli")
    assert run_id is not None and harness.store.begin_queued_run(run_id)
    harness.store.acquire_lock(sync, run_id, lease_seconds=60)
    return run_id


def end_run(harness: Harness, sync: str, run_id: str) -> None:
    harness.store.finish_run(run_id, "success", counts={}, api_calls=0)
    harness.store.release_lock(sync, run_id)


def test_skip_records_a_tick_as_skipped_while_a_run_waits_or_runs(harness: Harness) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\n"))
    recorder = Recorder()
    scheduler = harness.scheduler(recorder)
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    (queued,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    (waiting,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:02:00Z"))
    assert waiting.skipped_because == (
        f"run {queued.run_id} is still waiting to start (on_overlap: skip)"
    )
    assert harness.store.begin_queued_run(queued.run_id)
    harness.store.acquire_lock("vip", queued.run_id, lease_seconds=60)
    (running,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:03:00Z"))
    assert running.skipped_because == f"run {queued.run_id} is still running (on_overlap: skip)"
    assert harness.store.get_run(running.run_id).status == RunStatus.SKIPPED
    end_run(harness, "vip", queued.run_id)
    (free,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:04:00Z"))
    assert free.skipped_because is None
    assert [run_id for _, run_id, _ in recorder.submitted] == [queued.run_id, free.run_id]


def test_queue_one_queues_one_run_behind_a_running_one_and_starts_it_when_free(
    harness: Harness,
) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\non_overlap: queue_one\n"))
    recorder = Recorder()
    scheduler = harness.scheduler(recorder)
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    busy = running_run(harness, "vip")
    (behind,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    assert behind.skipped_because is None
    assert recorder.submitted == []  # it waits: the sync is running
    (extra,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:02:00Z"))
    assert extra.skipped_because == (
        f"run {behind.run_id} is already waiting to start (on_overlap: queue_one)"
    )
    scheduler.tick_once(harness.clock.at("2026-01-01T12:02:30Z"))
    assert recorder.submitted == []
    end_run(harness, "vip", busy)
    scheduler.tick_once(harness.clock.at("2026-01-01T12:02:31Z"))
    assert recorder.submitted == [("vip", behind.run_id, "schedule")]


def test_a_run_whose_process_died_does_not_make_a_tick_skip(harness: Harness) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\n"))
    scheduler = harness.scheduler(Recorder())
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    dead = running_run(harness, "vip")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    with harness.store.engine.begin() as conn:
        conn.execute(sync_locks.update().values(pid=int(gone.stdout), process_token=None))
    (fired,) = scheduler.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    assert fired.skipped_because is None, f"blocked by dead run {dead}"


def test_queued_runs_left_by_another_scheduler_are_adopted_after_a_while(
    harness: Harness,
) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1h}\n"))
    recorder = Recorder()
    scheduler = harness.scheduler(recorder)
    left = harness.store.queue_run("vip", trigger="schedule", tick="2026-01-01T11:00:00Z")
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    assert recorder.submitted == []  # its creator may be about to start it
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:33Z"))
    assert recorder.submitted == [("vip", left, "schedule")]
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:34Z"))
    assert len(recorder.submitted) == 1  # handed over once


def test_the_in_process_executor_does_nothing_for_a_run_another_process_began(
    harness: Harness,
) -> None:
    config = harness.configure(sync_yaml("vip"))
    run_id = harness.store.queue_run("vip", trigger="schedule")
    assert run_id is not None and harness.store.begin_queued_run(run_id)  # someone else's
    ended: list[tuple[object, ...]] = []
    executor = InProcessExecutor(config, on_done=lambda *done: ended.append(done))
    executor.submit("vip", run_id, trigger="schedule")
    executor.join()
    assert ended == [("vip", run_id, None, None)]
    assert harness.store.get_run(run_id).status == RunStatus.QUERYING  # untouched
    assert not executor.busy("vip")


def test_a_run_the_in_process_executor_could_not_start_is_handed_over_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run store hiccups (SQLite locked, PostgreSQL restarting) just as the executor starts
    a queued run, and again as it tries to close it: the run stays ``queued``. The scheduler had
    it as handed over for good, so it never started, and as the sync's waiting run it made
    every later tick ``skipped`` until the process restarted."""
    from bcsync import api
    from bcsync.errors import StateError
    from bcsync.executors import inprocess
    from bcsync.state import RunStore

    config = harness.configure(sync_yaml("vip", "schedule: {every: 1m}\n"))
    attempts: list[str] = []

    def run(self: object, sync: str, *, trigger: str, queued_run: str, **_: object) -> None:
        attempts.append(queued_run)
        if len(attempts) == 1:
            raise StateError("cannot open the run store: database is locked")
        with RunStore.open(harness.state_url) as store:
            assert store.begin_queued_run(queued_run)
            store.finish_run(queued_run, "success", counts={}, api_calls=0)

    class Unreachable:
        @staticmethod
        def open(url: str) -> RunStore:
            raise StateError("cannot open the run store: database is locked")

    monkeypatch.setattr(api.Project, "run", run)
    monkeypatch.setattr(inprocess, "RunStore", Unreachable)
    executor = InProcessExecutor(config)
    scheduler = harness.scheduler(executor)
    scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    [fired] = scheduler.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    executor.join()
    assert harness.store.get_run(fired.run_id).status == RunStatus.QUEUED  # could not start
    scheduler.tick_once(harness.clock.at("2026-01-01T12:01:05Z"))  # tried again a bit later
    scheduler.tick_once(harness.clock.at("2026-01-01T12:01:08Z"))
    executor.join()
    assert attempts == [fired.run_id, fired.run_id]
    assert harness.store.get_run(fired.run_id).status == RunStatus.SUCCESS
    [later] = scheduler.tick_once(harness.clock.at("2026-01-01T12:02:00Z"))
    assert later.skipped_because is None
