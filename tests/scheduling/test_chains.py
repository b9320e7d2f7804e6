"""``after:`` schedules: a sync fires once every upstream sync has finished a run since its last
firing; ``when: success`` stops the chain on a failed run or too many rejected rows."""

from __future__ import annotations

from bcsync.vocabulary import RunStatus
from tests.scheduling.conftest import Harness, Recorder, sync_yaml


def chain(harness: Harness, schedule: str) -> None:
    harness.configure(sync_yaml("a"), sync_yaml("b"), sync_yaml("c", f"schedule: {schedule}\n"))


def test_after_fires_once_every_upstream_sync_has_finished_since_the_last_firing(
    harness: Harness,
) -> None:
    chain(harness, "{after: [a, b]}")
    harness.finish("a")
    harness.finish("b")  # before the scheduler ever looked: not a reason to fire
    recorder = Recorder()
    scheduler = harness.scheduler(recorder)
    assert scheduler.tick_once() == []
    harness.finish("a")
    assert scheduler.tick_once() == []  # b has not run since
    b_run = harness.finish("b")
    (fired,) = scheduler.tick_once()
    assert (fired.sync, fired.tick, fired.trigger) == ("c", f"after:{b_run}", "after:b")
    assert fired.skipped_because is None
    assert recorder.submitted == [("c", fired.run_id, "after:b")]
    assert harness.store.get_run(fired.run_id).trigger == "after:b"
    assert scheduler.tick_once() == []
    harness.finish("b", RunStatus.SKIPPED)  # a skipped run did not run: it does not count
    harness.finish("b")
    assert scheduler.tick_once() == []
    a_run = harness.finish("a")
    (again,) = scheduler.tick_once()
    assert again.tick == f"after:{a_run}"


def test_a_failed_upstream_run_stops_the_chain_with_a_skipped_run_naming_it(
    harness: Harness,
) -> None:
    chain(harness, "{after: [a, b], when: success}")
    scheduler = harness.scheduler(Recorder())
    scheduler.tick_once()
    failed = harness.finish("a", RunStatus.FAILED)
    harness.finish("b", RunStatus.WARNING, planned=10, rejected=5)
    (stopped,) = scheduler.tick_once()
    assert stopped.skipped_because == (
        f"run {failed} of a ended failed: the after: chain stops (when: success)"
    )
    assert harness.store.get_run(stopped.run_id).status == RunStatus.SKIPPED
    harness.finish("a")
    harness.finish("b", RunStatus.WARNING, planned=10, rejected=5)
    (fired,) = scheduler.tick_once()
    assert fired.skipped_because is None  # a warning counts as success without a threshold


def test_stop_on_rejected_share_stops_the_chain_when_an_upstream_run_rejected_too_many(
    harness: Harness,
) -> None:
    chain(harness, "{after: [a, b], stop_on_rejected_share: 0.1}")
    scheduler = harness.scheduler(Recorder())
    scheduler.tick_once()
    harness.finish("a", RunStatus.WARNING, planned=10, rejected=1)  # 10%: not over
    over = harness.finish("b", RunStatus.WARNING, planned=20, rejected=2, invalid=1)  # 15%
    (stopped,) = scheduler.tick_once()
    assert stopped.skipped_because == (
        f"run {over} of b rejected 15.0% of its planned rows, over stop_on_rejected_share "
        "(10.0%): the after: chain stops"
    )
    harness.finish("b", RunStatus.WARNING, planned=20, rejected=2)
    harness.finish("a")
    (fired,) = scheduler.tick_once()
    assert fired.skipped_because is None


def test_when_always_fires_after_any_run_that_ran(harness: Harness) -> None:
    chain(harness, "{after: [a], when: always}")
    scheduler = harness.scheduler(Recorder())
    scheduler.tick_once()
    failed = harness.finish("a", RunStatus.FAILED)
    (fired,) = scheduler.tick_once()
    assert (fired.tick, fired.skipped_because) == (f"after:{failed}", None)


def test_an_after_firing_happens_once_across_schedulers_and_survives_a_restart(
    both_stores: Harness,
) -> None:
    harness = both_stores
    chain(harness, "{after: [a]}")
    schedulers = [harness.scheduler(Recorder()), harness.scheduler(Recorder())]
    for scheduler in schedulers:
        scheduler.tick_once()
    harness.finish("a")
    fired = [event for scheduler in schedulers for event in scheduler.tick_once()]
    assert len(fired) == 1
    # A scheduler started later reads the last firing from the store: nothing fires twice.
    assert harness.scheduler(Recorder()).tick_once() == []
    assert [f for s in schedulers for f in s.tick_once()] == []
    harness.finish("a")
    fired = [event for scheduler in schedulers for event in scheduler.tick_once()]
    assert len(fired) == 1
