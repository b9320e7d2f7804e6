"""Run-store queries of the web UI: a sync's history by key, live runs, open alerts, pages of rows
and calls.

Every list here is paged by key, never by OFFSET, so the thousandth page costs what the first
does: runs by ``(started_at, run_id)`` (the ``ix_runs_sync_started`` index), row outcomes by their
id, API calls by ``(run_id, seq)``. Each function takes the store's ``sa.Engine`` and answers
with the frozen records of ``records.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from bcsync.state import locks
from bcsync.state.database import read_transaction
from bcsync.state.records import AlertStateRecord, ApiCallRecord, RowOutcomeRecord, RunRecord
from bcsync.state.schema import RUNNING_STATUSES, alert_states, api_calls, row_outcomes, runs
from bcsync.state.store import _api_call_record, _run_record

RUNNING = "running"  # a status filter that stands for every running status


@dataclass(frozen=True)
class RunCursor:
    """Where a page of runs ends: the next page holds the runs started before this one."""

    started_at: datetime
    run_id: str

    def text(self) -> str:
        return f"{self.started_at.isoformat()},{self.run_id}"

    @classmethod
    def parse(cls, text: str) -> RunCursor:
        """The cursor ``text()`` wrote; ValueError for anything else."""
        stamp, separator, run_id = text.rpartition(",")
        if not separator or not run_id:
            raise ValueError(f"not a run cursor: {text!r}")
        started_at = datetime.fromisoformat(stamp)
        if started_at.tzinfo is None:
            started_at = started_at.replace(tzinfo=UTC)
        try:  # a time zone can carry a time near year 1 or 9999 out of range
            started_at = started_at.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"not a run cursor: {text!r}") from None
        return cls(started_at, run_id)


@dataclass(frozen=True)
class RunFilter:
    """Which runs of a sync to list. ``status`` is a stored status or ``"running"``; the dates
    are UTC days, both included."""

    status: str | None = None
    has_rejections: bool = False
    zero_operations: bool = False  # nothing planned: no row to write, clear or delete
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class RunPage:
    runs: Sequence[RunRecord]
    next: RunCursor | None  # None: this is the last page


def history(
    engine: sa.Engine,
    sync: str,
    *,
    where: RunFilter = RunFilter(),
    before: RunCursor | None = None,
    limit: int = 25,
) -> RunPage:
    """``sync``'s runs that match ``where``, newest first, ``limit`` at a time."""
    c = runs.c
    query = (
        sa.select(runs)
        .where(c.sync == sync)
        .order_by(c.started_at.desc(), c.run_id.desc())
        .limit(limit + 1)
    )
    if where.status == RUNNING:
        query = query.where(c.status.in_(RUNNING_STATUSES))
    elif where.status:
        query = query.where(c.status == where.status)
    if where.has_rejections:
        query = query.where(c.rejected > 0)
    if where.zero_operations:
        query = query.where(c.planned == 0)
    if where.since is not None:
        query = query.where(c.started_at >= datetime.combine(where.since, time(), UTC))
    if where.until is not None and where.until < date.max:  # the last day has no end
        end = datetime.combine(where.until + timedelta(days=1), time(), UTC)
        query = query.where(c.started_at < end)
    if before is not None:
        query = query.where(
            sa.or_(
                c.started_at < before.started_at,
                sa.and_(c.started_at == before.started_at, c.run_id < before.run_id),
            )
        )
    with read_transaction(engine) as conn:
        found = [_run_record(row) for row in conn.execute(query)]
    if len(found) <= limit:
        return RunPage(found, None)
    last = found[limit - 1]
    return RunPage(found[:limit], RunCursor(last.started_at, last.run_id))


def last_run(engine: sa.Engine, sync: str) -> RunRecord | None:
    """``sync``'s latest run, whatever its status."""
    page = history(engine, sync, limit=1)
    return page.runs[0] if page.runs else None


def live_run(engine: sa.Engine, sync: str) -> RunRecord | None:
    """The run of ``sync`` in progress: the holder of its lock, unless that holder is provably
    gone (finished, dead process, expired lease; see ``locks.stale_reason``)."""
    with read_transaction(engine) as conn:
        held = locks.get_lock(conn, sync)
        if held is None:
            return None
        row = conn.execute(sa.select(runs).where(runs.c.run_id == held.run_id)).first()
    record = _run_record(row) if row is not None else None
    status = record.status if record is not None else None
    if locks.stale_reason(held, status, datetime.now(UTC)) is not None:
        return None
    return record


def open_alerts(engine: sa.Engine) -> list[AlertStateRecord]:
    """Every alert trigger whose state is not ``ok``, by sync and trigger."""
    query = (
        sa.select(alert_states)
        .where(alert_states.c.state != "ok")
        .order_by(alert_states.c.sync, alert_states.c.trigger)
    )
    with read_transaction(engine) as conn:
        return [AlertStateRecord(**row._asdict()) for row in conn.execute(query)]


@dataclass(frozen=True)
class OutcomePage:
    rows: Sequence[RowOutcomeRecord]
    next: int | None  # the id to pass as ``after`` for the next page; None: last page


def outcomes_page(
    engine: sa.Engine,
    run_id: str,
    *,
    outcome: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> OutcomePage:
    """The run's row outcomes in the order they were recorded (optionally of one kind)."""
    c = row_outcomes.c
    query = (
        sa.select(c.id, c.pk, c.outcome, c.op, c.error, c.dest_id)
        .where(c.run_id == run_id)
        .order_by(c.id)
        .limit(limit + 1)
    )
    if outcome is not None:
        query = query.where(c.outcome == outcome)
    if after is not None:
        query = query.where(c.id > after)
    with read_transaction(engine) as conn:
        found = conn.execute(query).all()
    rows = [
        RowOutcomeRecord(pk=r.pk, outcome=r.outcome, op=r.op, error=r.error, dest_id=r.dest_id)
        for r in found[:limit]
    ]
    return OutcomePage(rows, int(found[limit - 1].id) if len(found) > limit else None)


@dataclass(frozen=True)
class CallPage:
    calls: Sequence[ApiCallRecord]
    next: int | None  # the seq to pass as ``after`` for the next page; None: last page


def calls_page(
    engine: sa.Engine, run_id: str, *, after: int | None = None, limit: int = 100
) -> CallPage:
    """The run's recorded API calls (redacted when recorded) in sequence order."""
    query = (
        sa.select(api_calls)
        .where(api_calls.c.run_id == run_id)
        .order_by(api_calls.c.seq)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(api_calls.c.seq > after)
    with read_transaction(engine) as conn:
        found = [_api_call_record(row) for row in conn.execute(query)]
    if len(found) <= limit:
        return CallPage(found, None)
    return CallPage(found[:limit], found[limit - 1].seq)


@dataclass(frozen=True)
class SyncActivity:
    """What the Syncs page shows of one sync's runs: the last, the one going, open alerts."""

    sync: str
    last: RunRecord | None
    live: RunRecord | None
    alerts: Sequence[AlertStateRecord]


def activity(engine: sa.Engine, syncs: Sequence[str]) -> list[SyncActivity]:
    """``SyncActivity`` of each of ``syncs``, in their order."""
    alerts = open_alerts(engine)
    return [
        SyncActivity(
            sync,
            last_run(engine, sync),
            live_run(engine, sync),
            [alert for alert in alerts if alert.sync == sync],
        )
        for sync in syncs
    ]
