"""What a tick does when its sync is busy (``on_overlap``), and which busy runs really are.

``skip`` (the default): a queued or live running run makes the tick a ``skipped`` run naming it.
``queue_one``: the tick is queued behind a running run (it starts when that one ends), unless a
run already waits, in which case it is skipped. A run whose process died (its lock is stale, or
it never took the lock and its pid is gone on this host) is not busy: the next run takes over its
lock and marks it ``interrupted``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from bcsync.state import locks
from bcsync.state.run_queue import WaitingRun
from bcsync.vocabulary import RunStatus

Policy = Literal["skip", "queue_one"]


def is_live(run: WaitingRun) -> bool:
    """Whether a queued or running run still counts (its process may be alive)."""
    if run.status == RunStatus.QUEUED:
        return True  # any scheduler picks up a queued run its creator left behind
    if run.lock is not None:
        # The lease is compared with the real time, whatever clock drives the scheduler.
        return locks.stale_reason(run.lock, str(run.status), datetime.now(UTC)) is None
    # Begun but not holding the lock yet: starting, or its process died before taking it.
    if run.hostname == locks.hostname() and run.pid is not None:
        return locks.pid_exists(run.pid)
    return True


def live(runs: Iterable[WaitingRun]) -> list[tuple[str, RunStatus]]:
    return [(run.run_id, run.status) for run in runs if is_live(run)]


def skip_reason(policy: Policy, busy: Sequence[tuple[str, RunStatus]]) -> str | None:
    """Why a tick must be recorded as skipped given the sync's live runs; None: queue it."""
    waiting = [run_id for run_id, status in busy if status == RunStatus.QUEUED]
    running = [run_id for run_id, status in busy if status.running]
    if policy == "queue_one":
        if waiting:
            return f"run {waiting[0]} is already waiting to start (on_overlap: queue_one)"
        return None
    if running:
        return f"run {running[0]} is still running (on_overlap: skip)"
    if waiting:
        return f"run {waiting[0]} is still waiting to start (on_overlap: skip)"
    return None
