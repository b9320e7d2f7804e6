"""When a sync runs by itself: the ``schedule`` of a sync in ``bcsync.yml`` and its next ticks.

Three forms, exactly one per schedule (no ``schedule`` means manual only):

- ``{every: 15m}``, optionally with ``start_at`` / ``end_at``: ticks are ``start_at + k·every``
  (k ≥ 0), never approximated by cron. Without ``start_at`` they are anchored at the Unix epoch,
  so every process computes the same ticks.
- ``{cron: "*/30 8-18 * * 1-5", timezone: Europe/Berlin}``: five-field cron read in the zone's
  wall-clock time (default UTC).
- ``{after: [a, b], when: success | always}``: runs when those syncs finish (the scheduler fires
  these; they have no ticks of their own).

Cron matching is cronsim's (the library healthchecks.io uses). Its DST policy is Debian cron's: a
tick in a spring-forward gap fires at the first instant after the gap, and a wildcard-hour tick
in a fall-back hour fires twice. bcsync promises the opposite (a local time that does not exist is
skipped; a repeated local time fires once, at its first occurrence), so ``next_fire_times`` runs
cronsim over naive wall-clock times and maps each to an instant itself with ``zoneinfo``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BeforeValidator, Field, field_validator, model_validator

from bcsync.config.issues import ConfigIssue, Frozen

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bcsync.config.project import SyncConfig

__all__ = [
    "Duration",
    "ScheduleConfig",
    "describe",
    "format_duration",
    "next_fire_times",
    "parse_duration",
    "schedule_report",
]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Wall-clock ticks looked at before giving up on finding n fire times (a cron that matches only
# on 29 February in a zone with a gap at that minute would otherwise loop for long).
_MAX_CANDIDATES = 100_000
SHOWN_FIRE_TIMES = 5


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``1d`` → timedelta; units are s, m, h and d, largest first."""
    if isinstance(value, timedelta):
        return value
    text = value.strip() if isinstance(value, str) else None
    match = _DURATION.fullmatch(text) if text else None
    if match is None or not any(match.groups()):
        raise ValueError("must be a duration such as 90s, 15m, 1h30m or 1d (units: s, m, h, d)")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError("is too long (at most 999999999 days)") from None


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def format_duration(value: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``1 hour 30 minutes``; exactly one unit reads ``minute``."""
    left = int(value.total_seconds())
    parts = []
    for name, size in _UNITS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def _as_utc(value: Any) -> Any:
    """A date or datetime from YAML or text, in UTC; a naive one is taken as UTC already."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be an ISO 8601 time such as 2026-01-01T08:00:00+01:00") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value is None:
        return None
    raise ValueError("must be an ISO 8601 time such as 2026-01-01T08:00:00+01:00")


class ScheduleConfig(Frozen):
    """A sync's ``schedule``: exactly one of ``every``, ``cron`` or ``after``, with its options."""

    every: Duration | None = None
    start_at: Annotated[datetime | None, BeforeValidator(_as_utc)] = None
    end_at: Annotated[datetime | None, BeforeValidator(_as_utc)] = None
    cron: str | None = None
    timezone: str | None = None
    after: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    when: Literal["success", "always"] | None = None
    stop_on_rejected_share: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("every")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than 0 seconds")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = " ".join(value.split())
        if len(text.split(" ")) != 5:
            raise ValueError(
                "a cron expression has 5 fields: minute hour day-of-month month day-of-week"
            )
        try:
            CronSim(text, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"not a valid cron expression: {str(exc).lower()}") from None
        return text

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    "unknown time zone: use an IANA name such as Europe/Berlin or UTC"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        given = [key for key in ("every", "cron", "after") if getattr(self, key) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"give exactly one of every, cron or after (found: {found})")
        options = {
            "every": ("start_at", "end_at"),
            "cron": ("timezone",),
            "after": ("when", "stop_on_rejected_share"),
        }
        for kind, keys in options.items():
            for key in keys:
                if kind != given[0] and getattr(self, key) is not None:
                    raise ConfigIssue((key,), f"applies only to a schedule with '{kind}'")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ConfigIssue(("end_at",), "must be later than start_at")
        if self.after is not None:
            for index, name in enumerate(self.after):
                if name in self.after[:index]:
                    raise ConfigIssue(("after", index), f"'{name}' is listed twice")
        return self

    @property
    def kind(self) -> Literal["every", "cron", "after"]:
        if self.every is not None:
            return "every"
        return "cron" if self.cron is not None else "after"

    @property
    def zone_name(self) -> str:
        return self.timezone or "UTC"

    @property
    def zone(self) -> tzinfo:
        """The cron schedule's time zone; UTC by default (no tz database needed for it)."""
        return ZoneInfo(self.timezone) if self.timezone else UTC

    def to_json(self) -> dict[str, Any]:
        if self.every is not None:
            return {
                "kind": "every",
                "every_seconds": self.every.total_seconds(),
                "start_at": self.start_at.isoformat() if self.start_at else None,
                "end_at": self.end_at.isoformat() if self.end_at else None,
            }
        if self.cron is not None:
            return {"kind": "cron", "cron": self.cron, "timezone": self.zone_name}
        return {
            "kind": "after",
            "after": list(self.after or []),
            "when": self.when or "success",
            "stop_on_rejected_share": self.stop_on_rejected_share,
        }


def next_fire_times(schedule: ScheduleConfig, after: datetime, n: int) -> list[datetime]:
    """The first ``n`` ticks strictly later than ``after``, as UTC-aware datetimes.

    Fewer than ``n`` when the schedule ends (``end_at``); none for an ``after:`` schedule, which
    fires on other syncs' runs, not on the clock. A naive ``after`` is taken as UTC."""
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    after = after.astimezone(UTC)
    if n <= 0 or schedule.kind == "after":
        return []
    if schedule.kind == "every":
        return _interval_ticks(schedule, after, n)
    return _cron_ticks(schedule, after, n)


def _interval_ticks(schedule: ScheduleConfig, after: datetime, n: int) -> list[datetime]:
    assert schedule.every is not None
    every = schedule.every
    anchor = schedule.start_at or datetime(1970, 1, 1, tzinfo=UTC)
    # timedelta // timedelta is exact integer arithmetic on microseconds, floor division.
    first = (after - anchor) // every + 1
    if schedule.start_at is not None:
        first = max(first, 0)
    ticks = []
    for k in range(n):
        try:
            tick = anchor + (first + k) * every
        except OverflowError:  # past the year 9999
            break
        if schedule.end_at is not None and tick > schedule.end_at:
            break
        ticks.append(tick)
    return ticks


def _cron_ticks(schedule: ScheduleConfig, after: datetime, n: int) -> list[datetime]:
    assert schedule.cron is not None
    zone = schedule.zone
    # Wall time → first-occurrence instant is increasing over the times that exist, so no wall
    # time before `after`'s own can give an instant later than `after`. During a repeated hour
    # the candidates just after it map to their first (earlier) occurrence and are filtered out.
    wall_start = after.astimezone(zone).replace(tzinfo=None, fold=0)
    ticks: list[datetime] = []
    for wall in _limited(CronSim(schedule.cron, wall_start)):
        instant = _instant(wall, zone)
        if instant is not None and instant > after:
            ticks.append(instant)
            if len(ticks) == n:
                break
    return ticks


def _limited(ticks: Iterator[datetime]) -> Iterator[datetime]:
    for count, tick in enumerate(ticks):
        if count >= _MAX_CANDIDATES:
            return
        yield tick


def _instant(wall: datetime, zone: tzinfo) -> datetime | None:
    """The UTC instant of a wall-clock time in ``zone``: its first occurrence when the clock
    repeats it (fall back), None when the clock skips it (spring forward)."""
    local = wall.replace(tzinfo=zone, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # in the gap: the wall clock never shows this time
    return instant


def describe(schedule: ScheduleConfig | None) -> str:
    """The schedule in plain words: ``every 15 minutes from 2026-01-01 00:00 UTC``."""
    if schedule is None:
        return "manual only"
    if schedule.every is not None:
        words = format_duration(schedule.every)
        text = "every " + (words[2:] if words.startswith("1 ") and " " not in words[2:] else words)
        if schedule.start_at:
            text += f" from {_utc_text(schedule.start_at)}"
        if schedule.end_at:
            text += f" until {_utc_text(schedule.end_at)}"
        return text
    if schedule.cron is not None:
        zone = schedule.zone_name
        plain = _cron_words(schedule.cron)
        return f"{plain}, {zone}" if plain else f'cron "{schedule.cron}" in {zone}'
    names = _join(list(schedule.after or []))
    single = len(schedule.after or []) == 1
    if schedule.when == "always":
        text = f"after {names} {'finishes' if single else 'finish'}"
    else:
        text = f"after {names} {'succeeds' if single else 'succeed'}"
    if schedule.stop_on_rejected_share is not None:
        text += f"; stops when over {schedule.stop_on_rejected_share:.0%} of rows are rejected"
    return text


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _expand(field: str, low: int, high: int) -> list[int] | None:
    """The values of a numeric cron field (``*/30``, ``8-18``, ``1,3``), or None if not plain."""
    values: set[int] = set()
    for part in field.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if match is None:
            return None
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            start, end = low, high
        else:
            start_text, _, end_text = span.partition("-")
            start = int(start_text)
            end = int(end_text) if end_text else (high if match.group(2) else start)
        if step < 1 or start > end:
            return None
        values.update(range(start, end + 1, step))
    return sorted(values)


def _span(values: list[int], names: Sequence[str] | None = None) -> str:
    shown = [names[v] if names else str(v) for v in values]
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{shown[0]} {'to' if names else 'through'} {shown[-1]}"
    return _join(shown)


def _cron_words(expression: str) -> str | None:
    """Plain words for the common cron shapes; None for the rest (shown as the expression)."""
    minute, hour, day, month, weekday = expression.split(" ")
    if day != "*" or month != "*":
        return None
    minutes = _expand(minute, 0, 59)
    hours = _expand(hour, 0, 23)
    days = _expand(weekday, 0, 7)
    if minutes is None or hours is None or days is None:
        return None
    days = sorted({d % 7 for d in days})
    once_a_day = len(minutes) == 1 and len(hours) == 1
    if once_a_day:
        text = f"at {hours[0]:02d}:{minutes[0]:02d}"
    else:
        every_minute = minute == "*"
        text = "every minute" if every_minute else f"at minute {_join([str(m) for m in minutes])}"
        if hour != "*":
            plural = "s" if len(hours) > 1 else ""
            text += f" {'during' if every_minute else 'past'} hour{plural} {_span(hours)}"
    if weekday == "*" or len(days) == 7:
        return text + (" every day" if once_a_day else "")
    if days == [0, 6]:
        return text + " on Saturday and Sunday"
    return text + f" on {_span(days, _DAYS)}"


def schedule_report(
    syncs: Iterable[SyncConfig], now: datetime, n: int = SHOWN_FIRE_TIMES
) -> list[dict[str, Any]]:
    """Per sync: its schedule in words and as data, overlap and misfire rules, next ``n`` ticks.

    Each tick is given in UTC and, for a cron schedule, in the schedule's time zone."""
    report = []
    for sync in syncs:
        plan = sync.schedule
        ticks = next_fire_times(plan, now, n) if plan is not None else []
        zone = plan.zone if plan is not None and plan.kind == "cron" else None
        report.append(
            {
                "sync": sync.name,
                "description": describe(plan),
                "schedule": plan.to_json() if plan is not None else None,
                "on_overlap": sync.on_overlap,
                "misfire_grace_seconds": sync.misfire_grace.total_seconds(),
                "next_fire_times": [
                    {
                        "utc": tick.isoformat(),
                        "local": tick.astimezone(zone).isoformat() if zone else None,
                    }
                    for tick in ticks
                ],
            }
        )
    return report
