"""Runs created before they start: queued runs and the schedule ticks that fire them.

A scheduler (or the API, on a queue) creates a run in status ``queued``; an executor later starts
it (``begin``), which turns it into an ordinary run in status ``querying`` that then takes the
sync's lock. A schedule tick is recorded under its unique key ``(sync, tick)`` **in the same
transaction** that creates its run, so however many schedulers share the run store, each tick
creates exactly one run: the loser's insert conflicts and its transaction creates nothing.
A tick that must not run (the sync is busy, or the tick is too late) is recorded the same way,
with a run in status ``skipped`` that says why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bcsync.state import locks
from bcsync.state.database import dialect_insert, read_transaction, write_transaction
from bcsync.state.records import SyncLockRecord
from bcsync.state.schema import COUNT_KEYS, runs, schedule_ticks, sync_locks
from bcsync.vocabulary import FINISHED, RUNNING, RunStatus

WAITING_OR_RUNNING = (RunStatus.QUEUED, *RUNNING)
AFTER_PREFIX = "after:"  # the key of a tick an upstream run set off: ``after:<its run id>``


def _now() -> datetime:
    return datetime.now(UTC)


def _run_row(
    sync: str, status: RunStatus, trigger: str, now: datetime, **extra: object
) -> dict[str, object]:
    return {
        "run_id": uuid.uuid4().hex,
        "sync": sync,
        "status": str(status),
        "started_at": now,
        "queued_at": now,
        "full_resync": False,
        "pid": os.getpid(),
        "hostname": locks.hostname(),
        "trigger": trigger,
        "api_calls": 0,
        **dict.fromkeys(COUNT_KEYS, 0),
        **extra,
    }


def _claimed_run(
    sync: str, trigger: str, now: datetime, skipped_because: str | None, full_resync: bool
) -> dict[str, object]:
    """A ``queued`` run, or with ``skipped_because`` a finished ``skipped`` one saying why.
    Every row has the same keys, so many go in one executemany."""
    if skipped_because is None:
        return _run_row(
            sync,
            RunStatus.QUEUED,
            trigger,
            now,
            full_resync=full_resync,
            finished_at=None,
            error=None,
        )
    return _run_row(sync, RunStatus.SKIPPED, trigger, now, finished_at=now, error=skipped_because)


def create(
    engine: sa.Engine,
    sync: str,
    *,
    trigger: str,
    tick: str | None = None,
    skipped_because: str | None = None,
    full_resync: bool = False,
) -> str | None:
    """Create a ``queued`` run of ``sync`` (or, with ``skipped_because``, a finished ``skipped``
    one saying why) and record ``tick`` with it in one transaction (``claim_ticks``).

    Returns the run id, or None when ``tick`` was already recorded (another scheduler fired it).
    """
    if tick is not None:
        claim = TickClaim(sync, tick, trigger, skipped_because, full_resync)
        return claim_ticks(engine, [claim]).get((sync, tick))
    row = _claimed_run(sync, trigger, _now(), skipped_because, full_resync)
    with write_transaction(engine) as conn:
        conn.execute(runs.insert().values(**row))
    return str(row["run_id"])


def begin(engine: sa.Engine, run_id: str) -> bool:
    """Start a queued run: ``queued`` → ``querying``, now, in this process. False when the run is
    no longer queued (another worker began it, or it was closed meanwhile)."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id, runs.c.status == str(RunStatus.QUEUED))
            .values(
                status=str(RunStatus.QUERYING),
                started_at=_now(),
                pid=os.getpid(),
                hostname=locks.hostname(),
            )
        )
        return result.rowcount == 1


def close_queued(engine: sa.Engine, run_id: str, status: RunStatus, error: str) -> bool:
    """End a run that never started (``skipped`` or ``interrupted``, with the reason); False when
    it is no longer queued."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id, runs.c.status == str(RunStatus.QUEUED))
            .values(status=str(status), finished_at=_now(), error=error)
        )
        return result.rowcount == 1


def waiting_or_running(engine: sa.Engine, sync: str) -> list[tuple[str, RunStatus]]:
    """The runs of ``sync`` queued or in progress, oldest first, as (run id, status)."""
    with read_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(runs.c.run_id, runs.c.status)
            .where(runs.c.sync == sync, runs.c.status.in_([str(s) for s in WAITING_OR_RUNNING]))
            .order_by(runs.c.started_at)
        ).all()
    return [(row.run_id, RunStatus(row.status)) for row in rows]


# -- what a scheduler reads and writes in one pass over many syncs ----------------------------


@dataclass(frozen=True)
class TickClaim:
    """One tick a scheduler fires: a ``queued`` run, or with ``skipped_because`` a ``skipped``
    one saying why."""

    sync: str
    tick: str
    trigger: str
    skipped_because: str | None = None
    full_resync: bool = False


@dataclass(frozen=True)
class WaitingRun:
    """A run queued or in progress, with the sync's lock row when this run holds it (to tell a
    live run from one whose process died)."""

    run_id: str
    sync: str
    status: RunStatus
    trigger: str | None
    pid: int | None
    hostname: str | None
    lock: SyncLockRecord | None


def claim_ticks(engine: sa.Engine, claims: Sequence[TickClaim]) -> dict[tuple[str, str], str]:
    """Record many ticks and their runs in one transaction, each at most once across processes.

    The tick rows go in with INSERT … ON CONFLICT DO NOTHING RETURNING, and runs are created
    only for the (sync, tick) keys that statement inserted: a key another scheduler holds
    creates nothing, and the rest of the batch still fires. Returns the run id of each key won.
    One transaction for a thousand ticks, where one each would take seconds on SQLite."""
    now = _now()
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for claim in claims:
        row = _claimed_run(claim.sync, claim.trigger, now, claim.skipped_because, claim.full_resync)
        rows.setdefault((claim.sync, claim.tick), row)
    if not rows:
        return {}
    keys = list(rows)
    won: set[tuple[str, str]] = set()
    with write_transaction(engine) as conn:
        # One statement, many parameter sets: SQLAlchemy's "insertmanyvalues" sends them as
        # multi-row INSERTs (RETURNING included) and caches the compiled form.
        stmt = (
            dialect_insert(conn, schedule_ticks)
            .on_conflict_do_nothing()
            .returning(schedule_ticks.c.sync, schedule_ticks.c.tick)
        )
        values = [
            {"sync": s, "tick": t, "run_id": rows[(s, t)]["run_id"], "fired_at": now}
            for s, t in keys
        ]
        won.update((row.sync, row.tick) for row in conn.execute(stmt, values))
        if won:
            conn.execute(runs.insert(), [rows[key] for key in keys if key in won])
    return {key: str(rows[key]["run_id"]) for key in keys if key in won}


def waiting_runs(engine: sa.Engine, syncs: Collection[str] | None = None) -> list[WaitingRun]:
    """The runs queued or in progress (of ``syncs``, or of all), oldest first, in one read."""
    query = (
        sa.select(
            runs.c.run_id, runs.c.sync, runs.c.status, runs.c.trigger, runs.c.pid, runs.c.hostname
        )
        .where(runs.c.status.in_([str(s) for s in WAITING_OR_RUNNING]))
        .order_by(sa.func.coalesce(runs.c.queued_at, runs.c.started_at), runs.c.run_id)
    )
    lock_query = sa.select(sync_locks)
    if syncs is not None:
        names = sorted(set(syncs))
        if not names:
            return []
        query = query.where(runs.c.sync.in_(names))
        lock_query = lock_query.where(sync_locks.c.sync.in_(names))
    with read_transaction(engine) as conn:
        found = conn.execute(query).all()
        held = {row.run_id: SyncLockRecord(**row._asdict()) for row in conn.execute(lock_query)}
    return [
        WaitingRun(
            run_id=row.run_id,
            sync=row.sync,
            status=RunStatus(row.status),
            trigger=row.trigger,
            pid=row.pid,
            hostname=row.hostname,
            lock=held.get(row.run_id),
        )
        for row in found
    ]


def last_clock_ticks(engine: sa.Engine, syncs: Collection[str]) -> dict[str, str]:
    """The latest clock tick recorded for each of ``syncs`` (those with none are left out)."""
    names = sorted(set(syncs))
    if not names:
        return {}
    with read_transaction(engine) as conn:
        found = conn.execute(
            sa.select(schedule_ticks.c.sync, sa.func.max(schedule_ticks.c.tick))
            .where(
                schedule_ticks.c.sync.in_(names),
                sa.not_(schedule_ticks.c.tick.startswith(AFTER_PREFIX)),
            )
            .group_by(schedule_ticks.c.sync)
        ).all()
    return {sync: str(tick) for sync, tick in found if tick is not None}


def last_after_firing(engine: sa.Engine, sync: str) -> str | None:
    """The run id that set off ``sync``'s latest ``after:`` firing (by the time it fired: these
    keys hold run ids, whose text order means nothing)."""
    with read_transaction(engine) as conn:
        tick = conn.scalar(
            sa.select(schedule_ticks.c.tick)
            .where(schedule_ticks.c.sync == sync, schedule_ticks.c.tick.startswith(AFTER_PREFIX))
            .order_by(schedule_ticks.c.fired_at.desc(), schedule_ticks.c.tick.desc())
            .limit(1)
        )
    return str(tick)[len(AFTER_PREFIX) :] if tick is not None else None


def latest_finished_run(
    engine: sa.Engine, sync: str, *, after: datetime | None
) -> sa.Row[Any] | None:
    """``sync``'s latest run that ran and finished (not ``skipped``), later than ``after``."""
    ran = [str(s) for s in FINISHED if s != RunStatus.SKIPPED]
    query = (
        sa.select(runs)
        .where(runs.c.sync == sync, runs.c.status.in_(ran), runs.c.finished_at.is_not(None))
        .order_by(runs.c.finished_at.desc(), runs.c.run_id.desc())
        .limit(1)
    )
    if after is not None:
        query = query.where(runs.c.finished_at > after)
    with read_transaction(engine) as conn:
        return conn.execute(query).first()
