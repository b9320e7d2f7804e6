"""Which clock ticks of a schedule are due: fired now, or missed and recorded as skipped.

Pure functions over (schedule, since, now, misfire_grace), so the rules are tested with a fake
clock. A tick at ``t`` is due once ``now >= t``; it still fires while it is at most
``misfire_grace`` late (``now - t <= grace``). Older due ticks (the scheduler was down) are
*missed*: they are reported as one series (how many, first, last), which the scheduler records
as a single skipped run keyed by the last of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bcsync.config.schedule import ScheduleConfig, format_duration, next_fire_times

TICK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Ticks looked at for one sync in one pass before giving up on counting a series exactly (a
# schedule of every second, down for a week, would otherwise be counted tick by tick).
MAX_COUNTED = 10_000
_BATCH = 64
# How far back from the misfire deadline to look for the last missed tick, once counting gave up.
_LOOKBACK = tuple(
    timedelta(seconds=s) for s in (1, 60, 3_600, 86_400, 32 * 86_400, 367 * 86_400, 3_700 * 86_400)
)


def tick_key(instant: datetime) -> str:
    """A clock tick's key: its fire time in UTC to the second (text order is time order)."""
    return instant.astimezone(UTC).strftime(TICK_FORMAT)


def parse_tick(key: str) -> datetime | None:
    """The fire time of a clock tick key; None for another key (``after:<run id>``)."""
    try:
        return datetime.strptime(key, TICK_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Missed:
    """A series of ticks too late to fire; ``count`` is a lower bound when ``counted_all`` is
    False."""

    count: int
    first: datetime
    last: datetime
    counted_all: bool
    grace: timedelta

    def reason(self) -> str:
        many = f"{self.count}" if self.counted_all else f"more than {self.count}"
        ticks = "tick" if self.count == 1 and self.counted_all else "ticks"
        span = (
            tick_key(self.first)
            if self.first == self.last
            else f"{tick_key(self.first)} to {tick_key(self.last)}"
        )
        return (
            f"missed {many} {ticks} ({span}): more than misfire_grace "
            f"({format_duration(self.grace)}) late, the scheduler was not running"
        )


@dataclass(frozen=True)
class DueTicks:
    """What one pass does for one sync: a missed series to record, then ticks to fire (oldest
    first), and the last tick it handled (the next pass starts after it)."""

    missed: Missed | None
    fire: tuple[datetime, ...]

    @property
    def handled(self) -> datetime | None:
        if self.fire:
            return self.fire[-1]
        return self.missed.last if self.missed is not None else None


def ticks_between(
    schedule: ScheduleConfig, since: datetime, until: datetime, limit: int
) -> list[datetime]:
    """The ticks in (since, until], oldest first, at most ``limit`` of them."""
    found: list[datetime] = []
    cursor = since
    size = 2  # usually one or two ticks are due: ask for few, then for more (a cron tick
    # costs a walk over wall-clock candidates, 1,000 syncs × 64 of them took a second)
    while len(found) < limit:
        wanted = min(size, limit - len(found))
        batch = next_fire_times(schedule, cursor, wanted)
        for tick in batch:
            if tick > until:
                return found
            found.append(tick)
        if len(batch) < wanted:  # the schedule ended (end_at)
            return found
        cursor = batch[-1]
        size = min(size * 2, _BATCH)
    return found


def _last_tick_at_or_before(schedule: ScheduleConfig, since: datetime, until: datetime) -> datetime:
    """The latest tick in (since, until] (one is known to exist): looks back from ``until`` over
    growing windows, each counted only when the smaller one before it held no tick."""
    for window in _LOOKBACK:
        start = max(since, until - window)
        ticks = ticks_between(schedule, start, until, MAX_COUNTED)
        if ticks:
            return ticks[-1]
        if start == since:
            break
    raise AssertionError("a tick was counted in this span, yet none was found again")


def due_ticks(
    schedule: ScheduleConfig, since: datetime, now: datetime, grace: timedelta
) -> DueTicks:
    """The ticks in (since, now]: those more than ``grace`` late are missed, the rest fire."""
    deadline = now - grace
    missed: Missed | None = None
    if since < deadline:
        late = ticks_between(schedule, since, deadline - timedelta(microseconds=1), MAX_COUNTED)
        if late:
            counted_all = len(late) < MAX_COUNTED
            last = (
                late[-1]
                if counted_all
                else _last_tick_at_or_before(
                    schedule, late[-1], deadline - timedelta(microseconds=1)
                )
            )
            missed = Missed(len(late), late[0], last, counted_all, grace)
            since = last
        else:
            since = max(since, deadline - timedelta(microseconds=1))
    fire = ticks_between(schedule, since, now, MAX_COUNTED)
    return DueTicks(missed, tuple(fire))


def next_tick(schedule: ScheduleConfig, since: datetime) -> datetime | None:
    """The first tick after ``since`` (None: the schedule has ended or has no clock ticks)."""
    found = next_fire_times(schedule, since, 1)
    return found[0] if found else None
