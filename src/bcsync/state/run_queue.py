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
from datetime import UTC, datetime

import sqlalchemy as sa

from bcsync.state import locks
from bcsync.state.database import read_transaction, write_transaction
from bcsync.state.schema import COUNT_KEYS, runs, schedule_ticks
from bcsync.vocabulary import RUNNING, RunStatus

WAITING_OR_RUNNING = (RunStatus.QUEUED, *RUNNING)


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
    one saying why) and record ``tick`` with it in one transaction.

    Returns the run id, or None when ``tick`` was already recorded (another scheduler fired it).
    """
    now = _now()
    if skipped_because is None:
        row = _run_row(sync, RunStatus.QUEUED, trigger, now, full_resync=full_resync)
    else:
        row = _run_row(
            sync, RunStatus.SKIPPED, trigger, now, finished_at=now, error=skipped_because
        )
    try:
        with write_transaction(engine) as conn:
            if tick is not None:
                conn.execute(
                    schedule_ticks.insert().values(
                        sync=sync, tick=tick, run_id=row["run_id"], fired_at=now
                    )
                )
            conn.execute(runs.insert().values(**row))
    except sa.exc.IntegrityError:
        if tick is None:
            raise
        return None  # the tick's key is taken: it fired elsewhere, and this transaction did nothing
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


def last_tick(engine: sa.Engine, sync: str, *, prefix: str = "") -> str | None:
    """The greatest tick key recorded for ``sync`` that starts with ``prefix`` (fire times are ISO
    8601 UTC text, so the greatest is the latest)."""
    with read_transaction(engine) as conn:
        tick = conn.scalar(
            sa.select(sa.func.max(schedule_ticks.c.tick)).where(
                schedule_ticks.c.sync == sync, schedule_ticks.c.tick.startswith(prefix)
            )
        )
    return str(tick) if tick is not None else None
