"""Server-sent events: a run's progress, read from the run store about twice a second.

A run records its counters at every checkpoint (``RunStore.record_progress``), whichever process
runs it, so watching is polling the store. ``run_progress`` is one reading as the page shows it;
``progress_events`` streams a reading whenever it changes, and a last ``done`` event once the run
has finished, then ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from bcsync.state import RunRecord

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True)
class Phase:
    """One step of a run's timeline: when it began and how long it lasted (None: not reached,
    or still going for ``seconds``)."""

    name: str
    at: datetime | None
    seconds: float | None


def timeline(run: RunRecord, now: datetime | None = None) -> list[Phase]:
    """started → planning → syncing → finished, each with its duration up to the next one."""
    now = now or datetime.now(UTC)
    points: list[tuple[str, datetime | None]] = [
        ("started", run.started_at),
        ("planning", run.planning_at),
        ("syncing", run.syncing_at),
        ("finished", run.finished_at),
    ]
    phases = []
    for index, (name, at) in enumerate(points):
        seconds = None
        if at is not None and name != "finished":
            following = [t for _, t in points[index + 1 :] if t is not None]
            end = following[0] if following else (None if run.finished_at else now)
            seconds = (end - at).total_seconds() if end is not None else None
        phases.append(Phase(name, at, seconds))
    return phases


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_progress(run: RunRecord, now: datetime | None = None) -> dict[str, Any]:
    """What the Run page shows of a run that may be going: status, phases, counts, progress."""
    now = now or datetime.now(UTC)
    counts = dict(run.counts)
    done = counts["succeeded"] + counts["rejected"] + counts["skipped"]
    planned = counts["planned"]
    rate = eta = None
    if run.syncing_at is not None and done:
        elapsed = ((run.finished_at or now) - run.syncing_at).total_seconds()
        if elapsed > 0:
            rate = done / elapsed
            if run.running and planned > done:
                eta = (planned - done) / rate
    percent = round(100 * done / planned) if planned else (0 if run.running else 100)
    if planned or not run.running:
        text = f"{done} of {planned} rows ({percent}%)"
    else:  # the run store learns the plan's size at the first checkpoint
        text = "no rows checkpointed yet"
    return {
        "run_id": run.run_id,
        "status": str(run.status),
        "running": run.running,
        "counts": counts,
        "api_calls": run.api_calls,
        "done": done,
        "planned": planned,
        "percent": percent,
        "text": text,
        "rows_per_second": round(rate, 1) if rate is not None else None,
        "eta_seconds": round(eta) if eta is not None else None,
        "eta": duration_text(eta) if eta is not None else "",
        "phases": [
            {
                "name": p.name,
                "at": p.at.isoformat() if p.at else None,
                "duration": duration_text(p.seconds),
            }
            for p in timeline(run, now)
        ],
    }


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def progress_events(
    read: Callable[[], RunRecord], *, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[str]:
    """``progress`` events whenever the run's reading changes, then ``done`` when it finished.

    ``read`` is blocking (it opens the run store), so it runs in a worker thread."""
    last: str | None = None
    quiet = 0.0
    while True:
        run = await run_in_threadpool(read)
        reading = run_progress(run)
        if not run.running:
            yield _event("done", reading)
            return
        # Compare without the clock-driven fields, so an idle run sends nothing but keep-alives.
        key = json.dumps({k: v for k, v in reading.items() if k not in ("phases", "eta")})
        if key != last or quiet >= KEEPALIVE_SECONDS:
            last, quiet = key, 0.0
            yield _event("progress", reading)
        else:
            quiet += poll_seconds
        await asyncio.sleep(poll_seconds)
