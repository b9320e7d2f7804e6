"""Schedules in bcsync.yml: validation that points at the line, next fire times, plain words."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bcsync.config.project import load_config
from bcsync.config.schedule import (
    ScheduleConfig,
    describe,
    next_fire_times,
    parse_duration,
)
from bcsync.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")

HEAD = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: abc123
    access_token: tok
syncs:
"""


def sync_block(name: str, extra: str = "") -> str:
    body = f"""\
  {name}:
    destination: store
    object: customers
    model: {{table: customers, primary_key: id}}
    mode: insert
    mappings: [{{column: email, field: email}}]
"""
    return body + textwrap.indent(textwrap.dedent(extra), "    ")


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *blocks: str) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bcsync.yml"
    path.write_text(HEAD + "".join(blocks), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


def cron(expression: str, timezone: str | None = None) -> ScheduleConfig:
    return ScheduleConfig(cron=expression, timezone=timezone)


def every(text: str, **options: Any) -> ScheduleConfig:
    return ScheduleConfig.model_validate({"every": text, **options})


# --- loading -------------------------------------------------------------------------------


def test_every_cron_after_and_manual_load_with_their_sync_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project(
        tmp_path,
        monkeypatch,
        sync_block("a", "schedule: {every: 15m, start_at: '2026-01-01T01:00:00+01:00'}\n"),
        sync_block("b", 'schedule: {cron: "*/30 8-18 * * 1-5", timezone: Europe/Berlin}\n'),
        sync_block(
            "c",
            """\
            schedule: {after: [a, b], when: always, stop_on_rejected_share: 0.2}
            on_overlap: queue_one
            misfire_grace: 5m
            """,
        ),
        sync_block("d"),
    )
    syncs = load_config(path).syncs
    a, b, c, d = (syncs[name].schedule for name in "abcd")
    assert a is not None and a.kind == "every" and a.every == timedelta(minutes=15)
    assert a.start_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (
        b is not None and b.kind == "cron" and b.zone == BERLIN and b.zone_name == "Europe/Berlin"
    )
    assert c is not None and c.after == ["a", "b"] and c.when == "always"
    assert c.stop_on_rejected_share == 0.2
    assert d is None
    assert (syncs["c"].on_overlap, syncs["c"].misfire_grace) == ("queue_one", timedelta(minutes=5))
    assert (syncs["d"].on_overlap, syncs["d"].misfire_grace) == ("skip", timedelta(minutes=1))


def test_a_naive_start_at_is_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(
        tmp_path,
        monkeypatch,
        sync_block("a", "schedule: {every: 1h, start_at: 2026-01-01 08:00}\n"),
    )
    schedule = load_config(path).syncs["a"].schedule
    assert schedule is not None and schedule.start_at == datetime(2026, 1, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "key", "words"),
    [
        ("{every: 15x}", "schedule.every", "must be a duration such as 90s"),
        ("{every: 0m}", "schedule.every", "must be longer than 0 seconds"),
        ("{every: 15}", "schedule.every", "must be a duration"),
        ('{cron: "61 * * * *"}', "schedule.cron", "not a valid cron expression: bad minute"),
        ('{cron: "0 8 * *"}', "schedule.cron", "a cron expression has 5 fields"),
        ('{cron: "0 8 * * *", timezone: Mars/Olympus}', "schedule.timezone", "unknown time zone"),
        (
            "{every: 1h, start_at: 2026-02-01T00:00:00Z, end_at: 2026-01-01T00:00:00Z}",
            "schedule.end_at",
            "must be later than start_at",
        ),
        ("{every: 1h, start_at: next tuesday}", "schedule.start_at", "ISO 8601"),
        ("{every: 1h, start_at: 1767225600}", "schedule.start_at", "ISO 8601"),
        ('{cron: "0 8 * * *", timezone: ""}', "schedule.timezone", "unknown time zone"),
        ('{cron: "0 8 * * *", timezone: ../etc/passwd}', "schedule.timezone", "unknown time zone"),
        (
            '{every: 15m, cron: "0 8 * * *"}',
            "schedule",
            "give exactly one of every, cron or after (found: every, cron)",
        ),
        ("{timezone: UTC}", "schedule", "give exactly one of every, cron or after (found: none)"),
        (
            "{every: 1h, timezone: UTC}",
            "schedule.timezone",
            "applies only to a schedule with 'cron'",
        ),
        ("{after: [b], when: sometimes}", "schedule.when", "'sometimes' is not valid"),
        ("{after: [b], stop_on_rejected_share: 20}", "schedule.stop_on_rejected_share", "1"),
        ("{after: []}", "schedule.after", "at least 1"),
        ("{evry: 15m}", "schedule.evry", "did you mean 'every'"),
    ],
)
def test_bad_schedules_name_the_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schedule: str, key: str, words: str
) -> None:
    path = project(
        tmp_path, monkeypatch, sync_block("a", f"schedule: {schedule}\n"), sync_block("b")
    )
    message = error_of(path)
    assert message.startswith(f"bcsync.yml:{line_of(path, 'schedule:')}: syncs.a.{key}: ")
    assert words in message


def test_a_bad_key_on_its_own_line_is_reported_at_that_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project(
        tmp_path,
        monkeypatch,
        sync_block(
            "a",
            """\
            schedule:
              cron: "*/30 8-18 * * 1-5"
              timezone: Europe/Berlln
            """,
        ),
    )
    message = error_of(path)
    assert message.startswith(f"bcsync.yml:{line_of(path, 'Berlln')}: syncs.a.schedule.timezone: ")


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("on_overlap: wait", "on_overlap", "must be 'skip' or 'queue_one'"),
        ("misfire_grace: soon", "misfire_grace", "must be a duration"),
    ],
)
def test_bad_sync_level_schedule_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, key: str, words: str
) -> None:
    path = project(tmp_path, monkeypatch, sync_block("a", extra + "\n"))
    message = error_of(path)
    assert message.startswith(f"bcsync.yml:{line_of(path, key + ':')}: syncs.a.{key}: ")
    assert words in message


def test_after_names_a_sync_that_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(tmp_path, monkeypatch, sync_block("a", "schedule: {after: [nope]}\n"))
    message = error_of(path)
    assert message == (
        f"bcsync.yml:{line_of(path, 'schedule:')}: syncs.a.schedule.after[0]: "
        "unknown sync 'nope' (defined: a)"
    )


def test_a_sync_cannot_run_after_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(tmp_path, monkeypatch, sync_block("a", "schedule: {after: [a]}\n"))
    assert "syncs.a.schedule.after[0]: a sync cannot run after itself" in error_of(path)


def test_after_schedules_may_not_form_a_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project(
        tmp_path,
        monkeypatch,
        sync_block("a", "schedule:\n  after:\n    - c\n"),
        sync_block("b", "schedule: {after: [a]}\n"),
        sync_block("c", "schedule: {after: [b]}\n"),
    )
    message = error_of(path)
    line = line_of(path, "- c")
    assert message == (
        f"bcsync.yml:{line}: syncs.a.schedule.after[0]: "
        "the after: schedules form a cycle: a after c after b after a"
    )


def test_a_chain_without_a_cycle_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project(
        tmp_path,
        monkeypatch,
        sync_block("a", "schedule: {every: 1h}\n"),
        sync_block("b", "schedule: {after: [a]}\n"),
        sync_block("c", "schedule: {after: [a, b]}\n"),
    )
    assert load_config(path).syncs["c"].schedule is not None


# --- durations and intervals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("1d", 86400), ("2d3h4m5s", 183845)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "15x", "m", "1m1h", "-5m", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


def test_interval_ticks_without_start_at_are_anchored_at_the_epoch() -> None:
    after = datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)
    assert next_fire_times(every("15m"), after, 3) == [
        datetime(2026, 3, 1, 10, 15, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 45, tzinfo=UTC),
    ]
    # A tick is strictly after `after`: asking at a tick gives the next one.
    assert next_fire_times(every("15m"), datetime(2026, 3, 1, 10, 15, tzinfo=UTC), 1) == [
        datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    ]


def test_interval_ticks_start_at_start_at_and_stop_at_end_at() -> None:
    schedule = every("7m", start_at="2026-01-01T00:03:00+00:00", end_at="2026-01-01T00:20:00Z")
    before = datetime(2025, 6, 1, tzinfo=UTC)
    assert next_fire_times(schedule, before, 10) == [
        datetime(2026, 1, 1, 0, 3, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 17, tzinfo=UTC),
    ]
    assert next_fire_times(schedule, datetime(2026, 2, 1, tzinfo=UTC), 5) == []


def test_durations_too_long_for_a_timedelta_are_refused_and_far_ticks_end() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("9999999999d")
    assert next_fire_times(every("999999999d"), datetime(2026, 1, 1, tzinfo=UTC), 3) == []


def test_a_naive_after_is_utc() -> None:
    assert next_fire_times(every("1h"), datetime(2026, 1, 1, 0, 30), 1) == [
        datetime(2026, 1, 1, 1, tzinfo=UTC)
    ]


def test_interval_ticks_ignore_dst() -> None:
    # Intervals are absolute time: across Berlin's spring-forward an hourly tick stays hourly.
    ticks = next_fire_times(every("1h"), datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 3)
    assert [b - a for a, b in itertools.pairwise(ticks)] == [timedelta(hours=1)] * 2


_STEP = st.integers(min_value=1, max_value=3 * 86_400).map(lambda s: timedelta(seconds=s))
_TIME = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    step=_STEP,
    start=st.one_of(st.none(), _TIME),
    length=st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
    after=_TIME,
    n=st.integers(min_value=0, max_value=20),
)
def test_interval_ticks_model(
    step: timedelta, start: datetime | None, length: int | None, after: datetime, n: int
) -> None:
    end = start + timedelta(seconds=length) if start is not None and length else None
    schedule = ScheduleConfig(every=step, start_at=start, end_at=end)
    ticks = next_fire_times(schedule, after, n)
    anchor = start or datetime(1970, 1, 1, tzinfo=UTC)
    assert all(tick.tzinfo is UTC for tick in ticks)
    assert all(tick > after for tick in ticks)
    assert all((tick - anchor) % step == timedelta(0) for tick in ticks)
    assert all(b - a == step for a, b in itertools.pairwise(ticks))
    if start is not None:
        assert all(tick >= start for tick in ticks)
    if end is not None:
        assert all(tick <= end for tick in ticks)
        assert len(ticks) == n or not ticks or ticks[-1] + step > end
    else:
        assert len(ticks) == n
    if ticks:  # none is missed: the tick before the first is not after `after` (or not allowed)
        previous = ticks[0] - step
        assert previous <= after or (start is not None and previous < start)


# --- cron and DST ----------------------------------------------------------------------------


def _berlin(ticks: list[datetime]) -> list[str]:
    return [tick.astimezone(BERLIN).strftime("%m-%d %H:%M%z") for tick in ticks]


def test_cron_in_a_time_zone() -> None:
    schedule = cron("*/30 8-18 * * 1-5", "Europe/Berlin")
    friday_evening = datetime(2026, 3, 27, 16, 45, tzinfo=UTC)  # 17:45 in Berlin
    assert _berlin(next_fire_times(schedule, friday_evening, 4)) == [
        "03-27 18:00+0100",
        "03-27 18:30+0100",
        "03-30 08:00+0200",  # Monday, after the spring-forward weekend
        "03-30 08:30+0200",
    ]


def test_spring_forward_skips_the_local_times_that_do_not_exist() -> None:
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 in Berlin on 29 March
    assert _berlin(next_fire_times(cron("30 * * * *", "Europe/Berlin"), start, 3)) == [
        "03-29 00:30+0100",
        "03-29 01:30+0100",
        "03-29 03:30+0200",  # 02:30 never happened that night
    ]
    daily = next_fire_times(cron("30 2 * * *", "Europe/Berlin"), start, 2)
    assert _berlin(daily) == ["03-30 02:30+0200", "03-31 02:30+0200"]


def test_fall_back_fires_a_repeated_local_time_once() -> None:
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST on 25 October
    ticks = next_fire_times(cron("*/30 * * * *", "Europe/Berlin"), start, 6)
    assert _berlin(ticks) == [
        "10-25 00:30+0200",
        "10-25 01:00+0200",
        "10-25 01:30+0200",
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 03:00+0100",  # 02:00 and 02:30 CET (the repeat) do not fire again
    ]
    daily = next_fire_times(cron("30 2 * * *", "Europe/Berlin"), start, 2)
    assert _berlin(daily) == ["10-25 02:30+0200", "10-26 02:30+0100"]


def test_asking_during_the_repeated_hour_gives_later_ticks_only() -> None:
    during_repeat = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET, the second time
    ticks = next_fire_times(cron("*/30 * * * *", "Europe/Berlin"), during_repeat, 2)
    assert _berlin(ticks) == ["10-25 03:00+0100", "10-25 03:30+0100"]


def test_dst_in_a_second_zone_new_york() -> None:
    zone = ZoneInfo("America/New_York")
    spring = next_fire_times(
        cron("30 2 * * *", "America/New_York"), datetime(2026, 3, 8, 5, tzinfo=UTC), 1
    )
    assert spring[0].astimezone(zone).strftime("%m-%d %H:%M") == "03-09 02:30"
    fall = next_fire_times(
        cron("30 1 * * *", "America/New_York"), datetime(2026, 11, 1, 4, tzinfo=UTC), 2
    )
    assert [t.astimezone(zone).strftime("%m-%d %H:%M%z") for t in fall] == [
        "11-01 01:30-0400",
        "11-02 01:30-0500",
    ]


@settings(max_examples=100, deadline=None)
@given(
    after=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    expression=st.sampled_from(["*/30 * * * *", "30 2 * * *", "0 8-18 * * 1-5", "15 1,2,3 * * 0"]),
)
def test_cron_ticks_model(after: datetime, expression: str) -> None:
    ticks = next_fire_times(cron(expression, "Europe/Berlin"), after, 5)
    assert len(ticks) == 5
    assert all(tick > after for tick in ticks)
    assert all(a < b for a, b in itertools.pairwise(ticks))
    walls = [tick.astimezone(BERLIN).replace(tzinfo=None) for tick in ticks]
    assert len(set(walls)) == len(walls)  # a wall-clock time fires at most once


# Brute-force model: walk every minute in UTC; a minute fires when its wall-clock time in the
# zone matches and it is the first time that wall-clock time is shown (fold 0).
_SIMPLE_CRONS = {
    "*/30 * * * *": lambda wall: wall.minute in (0, 30),
    "30 2 * * *": lambda wall: (wall.hour, wall.minute) == (2, 30),
    "15 1,2,3 * * *": lambda wall: wall.minute == 15 and wall.hour in (1, 2, 3),
    "0 * * * *": lambda wall: wall.minute == 0,
}
_TRANSITIONS = [
    ("Europe/Berlin", datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),  # a half-hour shift
]


@settings(max_examples=60, deadline=None)
@given(
    transition=st.sampled_from(_TRANSITIONS),
    offset_minutes=st.integers(min_value=-300, max_value=300),
    seconds=st.integers(min_value=0, max_value=59),
    expression=st.sampled_from(sorted(_SIMPLE_CRONS)),
)
def test_cron_ticks_match_a_brute_force_model_around_dst(
    transition: tuple[str, datetime], offset_minutes: int, seconds: int, expression: str
) -> None:
    zone_name, moment = transition
    zone = ZoneInfo(zone_name)
    after = moment + timedelta(minutes=offset_minutes, seconds=seconds)
    matches = _SIMPLE_CRONS[expression]
    expected: list[datetime] = []
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while len(expected) < 4:
        local = minute.astimezone(zone)
        if local.fold == 0 and matches(local):
            expected.append(minute)
        minute += timedelta(minutes=1)
    assert next_fire_times(cron(expression, zone_name), after, 4) == expected


def test_after_schedules_have_no_clock_ticks() -> None:
    assert next_fire_times(ScheduleConfig(after=["a"]), datetime(2026, 1, 1, tzinfo=UTC), 5) == []


# --- plain words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (None, "manual only"),
        (
            every("15m", start_at="2026-01-01T00:00:00Z"),
            "every 15 minutes from 2026-01-01 00:00 UTC",
        ),
        (every("1h"), "every hour"),
        (every("1h30m"), "every 1 hour 30 minutes"),
        (
            every("1d", start_at="2026-01-01T06:00:00+01:00", end_at="2026-02-01T00:00:00Z"),
            "every day from 2026-01-01 05:00 UTC until 2026-02-01 00:00 UTC",
        ),
        (
            cron("*/30 8-18 * * 1-5", "Europe/Berlin"),
            "at minute 0 and 30 past hours 8 through 18 on Monday to Friday, Europe/Berlin",
        ),
        (cron("0 2 * * *"), "at 02:00 every day, UTC"),
        (cron("15 6 * * 0,6"), "at 06:15 on Saturday and Sunday, UTC"),
        (cron("0 9 * * 1,3"), "at 09:00 on Monday and Wednesday, UTC"),
        (cron("* 9-11 * * *"), "every minute during hours 9 through 11, UTC"),
        (cron("0 */6 * * *"), "at minute 0 past hours 0, 6, 12 and 18, UTC"),
        (cron("0 8 * * 7"), "at 08:00 on Sunday, UTC"),
        (cron("0 9 1 * *", "Europe/Berlin"), 'cron "0 9 1 * *" in Europe/Berlin'),
        (cron("0 9 * * MON"), 'cron "0 9 * * MON" in UTC'),
        (ScheduleConfig(after=["sync_a", "sync_b"]), "after sync_a and sync_b succeed"),
        (ScheduleConfig(after=["a"], when="always"), "after a finishes"),
        (
            ScheduleConfig(after=["a", "b", "c"], stop_on_rejected_share=0.2),
            "after a, b and c succeed; stops when over 20% of rows are rejected",
        ),
    ],
)
def test_describe(schedule: ScheduleConfig | None, words: str) -> None:
    assert describe(schedule) == words
