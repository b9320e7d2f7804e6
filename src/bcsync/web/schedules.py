"""What the pages and the JSON API show of a sync's schedule: plain words, the next fire times
(UTC, and the schedule's own time zone for cron), and the overlap and misfire rules.

Computed from ``bcsync.yml`` at each request (``config.schedule.next_fire_times``), the same
ticks every scheduler computes; none for a manual sync or an ``after:`` schedule, which fires on
other syncs' runs rather than on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bcsync.config.project import SyncConfig
from bcsync.config.schedule import describe, format_duration, next_fire_times

SHOWN = 5  # fire times on the Sync page and in the API
OVERLAP_WORDS = {
    "skip": "a tick while a run is going or waiting is skipped (recorded as a skipped run)",
    "queue_one": "a tick while a run is going waits for it (one at most); more are skipped",
}


@dataclass(frozen=True)
class FireTime:
    utc: datetime
    local: datetime | None  # in the cron schedule's zone; None for other schedules

    @property
    def utc_text(self) -> str:
        return f"{self.utc:%Y-%m-%d %H:%M:%S} UTC"

    @property
    def local_text(self) -> str | None:
        return f"{self.local:%Y-%m-%d %H:%M:%S %Z}" if self.local is not None else None


@dataclass(frozen=True)
class ScheduleView:
    """One sync's schedule as the UI shows it."""

    description: str
    kind: str | None  # every | cron | after; None: manual only
    zone: str | None  # the cron schedule's time zone
    next_runs: list[FireTime]
    on_overlap: str
    overlap_words: str
    misfire_grace: str
    misfire_grace_seconds: float

    def to_json(self, sync: SyncConfig) -> dict[str, Any] | None:
        """The API's ``schedule``: the schedule's own JSON plus its description (None: manual)."""
        if sync.schedule is None:
            return None
        return {**sync.schedule.to_json(), "description": self.description}


def schedule_view(sync: SyncConfig, now: datetime | None = None, n: int = SHOWN) -> ScheduleView:
    now = now or datetime.now(UTC)
    plan = sync.schedule
    zone = plan.zone if plan is not None and plan.kind == "cron" else None
    ticks = next_fire_times(plan, now, n) if plan is not None else []
    return ScheduleView(
        description=describe(plan),
        kind=plan.kind if plan is not None else None,
        zone=plan.zone_name if zone is not None and plan is not None else None,
        next_runs=[FireTime(t, t.astimezone(zone) if zone is not None else None) for t in ticks],
        on_overlap=sync.on_overlap,
        overlap_words=OVERLAP_WORDS.get(sync.on_overlap, sync.on_overlap),
        misfire_grace=format_duration(sync.misfire_grace),
        misfire_grace_seconds=sync.misfire_grace.total_seconds(),
    )
