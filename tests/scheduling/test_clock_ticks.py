"""Clock schedules on a fake clock: intervals, cron across DST in two zones, misfires after
downtime, a sync never seen before, and two schedulers sharing one run store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bcsync.config.schedule import ScheduleConfig
from bcsync.scheduling.ticks import due_ticks, parse_tick, tick_key
from bcsync.vocabulary import RunStatus
from tests.scheduling.conftest import Finisher, Harness, Recorder, sync_yaml

MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def keys(harness: Harness, sync: str) -> list[str]:
    return [tick for tick, _, _ in harness.ticks(sync)]


def test_tick_keys_are_utc_seconds_and_read_back() -> None:
    key = tick_key(at("2026-03-29T03:30:00+02:00"))
    assert key == "2026-03-29T01:30:00Z"
    assert parse_tick(key) == at("2026-03-29T01:30:00Z")
    assert parse_tick("after:0123abcd") is None


def test_a_sync_never_seen_before_does_not_backfill(harness: Harness) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\n"))
    recorder = Recorder()
    scheduler = harness.scheduler(recorder)
    assert scheduler.tick_once(harness.clock.at("2026-01-01T12:00:30Z")) == []
    fired = scheduler.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    assert [(f.tick, f.skipped_because) for f in fired] == [("2026-01-01T12:01:00Z", None)]
    assert recorder.submitted == [("vip", fired[0].run_id, "schedule")]
    assert harness.store.get_run(fired[0].run_id).status == RunStatus.QUEUED
    assert scheduler.seconds_to_next(harness.clock.at("2026-01-01T12:01:00.250Z")) == 1.0
    assert scheduler.seconds_to_next(harness.clock.at("2026-01-01T12:01:59.500Z")) == 0.5


def test_an_interval_fires_from_start_at_to_end_at_only(harness: Harness) -> None:
    harness.configure(
        sync_yaml(
            "vip",
            "schedule: {every: 10m, start_at: '2026-01-01T12:05:00Z', "
            "end_at: '2026-01-01T12:35:00Z'}\n",
        )
    )
    scheduler = harness.scheduler(Finisher(harness.store))
    harness.clock.at("2026-01-01T11:50:00Z")
    harness.step([scheduler], "2026-01-01T13:00:00Z", MINUTE)
    assert keys(harness, "vip") == [
        "2026-01-01T12:05:00Z",
        "2026-01-01T12:15:00Z",
        "2026-01-01T12:25:00Z",
        "2026-01-01T12:35:00Z",
    ]
    assert {status for _, status, _ in harness.ticks("vip")} == {"success"}
    assert scheduler.seconds_to_next(harness.clock.now) == 1.0  # ended: nothing due, ever


DST_CASES = {
    # Berlin, spring forward 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist that day.
    "berlin-gap": (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-03-28T00:00:00Z",
        "2026-03-30T04:00:00Z",
        ["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"],
    ),
    "berlin-gap-half-hours": (
        "*/30 1-3 * * *",
        "Europe/Berlin",
        "2026-03-28T23:50:00Z",
        "2026-03-29T03:00:00Z",
        # 01:00, 01:30 CET, then 03:00, 03:30 CEST: no 02:00 or 02:30.
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
        ],
    ),
    # Berlin, fall back 2026-10-25 03:00 CEST → 02:00 CET: 02:00-02:59 happen twice.
    "berlin-repeat": (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-10-24T22:00:00Z",
        "2026-10-26T03:00:00Z",
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],  # not 02:30 CET (01:30Z) on the 25th
    ),
    "berlin-repeat-half-hours": (
        "*/30 1-3 * * *",
        "Europe/Berlin",
        "2026-10-24T22:50:00Z",
        "2026-10-25T03:00:00Z",
        # 01:00, 01:30, 02:00, 02:30 CEST, (02:00, 02:30 CET once more: skipped), 03:00, 03:30 CET.
        [
            "2026-10-24T23:00:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T02:30:00Z",
        ],
    ),
    # New York, spring forward 2026-03-08 02:00 EST → 03:00 EDT.
    "new-york-gap": (
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T05:00:00Z",
        "2026-03-09T08:00:00Z",
        ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"],
    ),
    # New York, fall back 2026-11-01 02:00 EDT → 01:00 EST: 01:30 happens twice, fires once.
    "new-york-repeat": (
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T04:00:00Z",
        "2026-11-02T08:00:00Z",
        ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    ),
    "new-york-repeat-hourly": (
        "0 * * * *",
        "America/New_York",
        "2026-11-01T04:30:00Z",
        "2026-11-01T08:00:00Z",
        # 01:00 EDT (05Z), 01:00 EST (06Z) skipped, 02:00 EST (07Z), 03:00 EST (08Z).
        ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"],
    ),
}


@pytest.mark.parametrize("case", list(DST_CASES))
def test_cron_across_dst_skips_a_missing_time_and_fires_a_repeated_one_once(
    harness: Harness, case: str
) -> None:
    expression, zone, start, end, expected = DST_CASES[case]
    harness.configure(
        sync_yaml(
            "nightly",
            f"schedule: {{cron: '{expression}', timezone: {zone}}}\nmisfire_grace: 10m\n",
        )
    )
    scheduler = harness.scheduler(Finisher(harness.store))
    harness.clock.at(start)
    harness.step([scheduler], end, 5 * MINUTE)
    assert keys(harness, "nightly") == expected
    assert {status for _, status, _ in harness.ticks("nightly")} == {"success"}


def test_ticks_missed_while_down_are_one_skipped_run_and_the_next_tick_fires(
    harness: Harness,
) -> None:
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\n"))
    first = harness.scheduler(Finisher(harness.store))
    first.tick_once(harness.clock.at("2026-01-01T12:00:30Z"))
    first.tick_once(harness.clock.at("2026-01-01T12:01:00Z"))
    assert keys(harness, "vip") == ["2026-01-01T12:01:00Z"]
    # Down from 12:01 to 12:10:30; a new scheduler starts from the store's last tick.
    restarted = harness.scheduler(Finisher(harness.store))
    fired = restarted.tick_once(harness.clock.at("2026-01-01T12:10:30Z"))
    assert [(f.tick, f.skipped_because is None) for f in fired] == [
        ("2026-01-01T12:09:00Z", False),  # 12:02 … 12:09: more than a minute late
        ("2026-01-01T12:10:00Z", True),  # 30 s late: within misfire_grace, fires
    ]
    assert fired[0].skipped_because == (
        "missed 8 ticks (2026-01-01T12:02:00Z to 2026-01-01T12:09:00Z): more than "
        "misfire_grace (1 minute) late, the scheduler was not running"
    )
    assert harness.store.get_run(fired[0].run_id).status == RunStatus.SKIPPED
    assert harness.store.get_run(fired[1].run_id).status == RunStatus.SUCCESS
    assert restarted.tick_once(harness.clock.at("2026-01-01T12:10:45Z")) == []


def test_a_long_downtime_of_a_fast_schedule_is_counted_up_to_a_bound() -> None:
    plan = ScheduleConfig.model_validate({"every": "1s"})
    due = due_ticks(
        plan, at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"), timedelta(seconds=5)
    )
    assert due.missed is not None and not due.missed.counted_all
    assert due.missed.first == at("2026-01-01T00:00:01Z")
    assert due.missed.last == at("2026-01-01T23:59:54Z")  # the last tick over 5 s late
    assert "more than 10000 ticks" in due.missed.reason()
    assert [tick_key(t) for t in due.fire][:2] == ["2026-01-01T23:59:55Z", "2026-01-01T23:59:56Z"]
    assert len(due.fire) == 6


def test_two_schedulers_on_one_store_fire_each_tick_once(both_stores: Harness) -> None:
    harness = both_stores
    harness.configure(
        sync_yaml("a", "schedule: {every: 1m}\n"),
        sync_yaml("b", "schedule: {cron: '*/2 * * * *'}\n"),
    )
    one, two = Recorder(), Recorder()
    schedulers = [harness.scheduler(one), harness.scheduler(two)]
    harness.clock.at("2026-01-01T12:00:00Z")
    harness.step(schedulers, "2026-01-01T12:10:00Z", timedelta(seconds=30))
    assert keys(harness, "a") == [f"2026-01-01T12:{m:02d}:00Z" for m in range(1, 11)]
    assert keys(harness, "b") == [f"2026-01-01T12:{m:02d}:00Z" for m in range(2, 11, 2)]
    fired = [(f.sync, f.tick) for f in harness.fired]
    assert len(fired) == len(set(fired)) == 15  # each recorded by exactly one of the two


def test_a_misfire_grace_under_a_second_is_refused_since_it_would_skip_every_tick(
    harness: Harness,
) -> None:
    """A scheduler's pass always comes a moment after the tick it fires (it wakes at the tick,
    then reads the store). With ``misfire_grace: 0s`` every tick was a few milliseconds "too
    late" and recorded as missed ("the scheduler was not running"): the sync never ran."""
    from bcsync.errors import ConfigError

    plan = ScheduleConfig.model_validate({"every": "1m"})
    late = due_ticks(plan, at("2026-01-01T12:00:00Z"), at("2026-01-01T12:01:00.003Z"), timedelta(0))
    assert late.fire == () and late.missed is not None  # what 0s would do to every tick
    with pytest.raises(ConfigError) as refused:
        harness.configure(sync_yaml("vip", "schedule: {every: 1m}\nmisfire_grace: 0s\n"))
    message = str(refused.value)
    assert "syncs.vip.misfire_grace" in message and "at least 1 second" in message
    harness.configure(sync_yaml("vip", "schedule: {every: 1m}\nmisfire_grace: 1s\n"))
    assert harness.config.syncs["vip"].misfire_grace == timedelta(seconds=1)
