"""What a worker does with one job of the run queue: begin its queued run and run it to the end,
or, when the job comes back after its worker died, run the sync again.

A job runs again only when Procrastinate gave it back (its worker stopped heartbeating, see
``executors.worker``). Its run was then already begun by the dead worker, so beginning it fails
with ``NotQueuedError``; if that run still shows as running, a fresh run of the sync starts, and
taking over the sync's lock marks the dead one ``interrupted`` (``state/locks.py``). It then
settles the dead run's in-flight creates as every run after a crash does.

Before either run begins, the job waits until the sync's lock is free or its holder provably
gone: a holder on this host is checked by pid at once, one on another host only once its lease
has expired. Starting earlier would only end the run as ``skipped``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from bcsync.alerts.redaction import Redactor, project_secrets
from bcsync.api import Project
from bcsync.config.project import ProjectConfig
from bcsync.errors import BcsyncError, NotQueuedError
from bcsync.executors.queue import WorkerStopping
from bcsync.state import RunStore, locks
from bcsync.state.schema import RUNNING_STATUSES
from bcsync.vocabulary import RunStatus

LOCK_POLL_SECONDS = 0.5
# A fresh run that still found the lock held (taken in between) tries again, a few times.
_FRESH_ATTEMPTS = 3
logger = logging.getLogger("bcsync.worker")


def run_queued(
    config: ProjectConfig,
    sync: str,
    run_id: str,
    trigger: str,
    *,
    override_guards: bool = False,
    stopping: threading.Event | None = None,
) -> str:
    """Run the queued run ``run_id`` of ``sync``; returns a line saying how it ended.

    Raises ``WorkerStopping`` when ``stopping`` is set while the run still waits to begin."""
    stopping = stopping or threading.Event()
    store = RunStore.open(config.state_url)
    project = Project(config)
    try:
        record = store.get_run(run_id)
        if record is None:
            return f"run {run_id} of {sync} is not in the run store: nothing to do"
        full_resync = record.full_resync
        if record.status == RunStatus.QUEUED:
            wait_for_lock(store, sync, stopping)
        try:
            result = project.run(
                sync,
                trigger=trigger,
                queued_run=run_id,
                full_resync=full_resync,
                override_guards=override_guards,
            )
        except NotQueuedError:
            return _rerun_if_dead(project, store, sync, run_id, trigger, override_guards, stopping)
        except Exception as exc:  # stopped before the run began (e.g. the sync was removed)
            reason = str(exc) if isinstance(exc, BcsyncError) else _internal(exc)
            reason = Redactor.of(project_secrets(config))(reason)  # it may quote a secret
            store.close_queued_run(run_id, RunStatus.FAILED, reason)
            return f"run {run_id} of {sync} did not start: {reason}"
        return f"run {result.run_id} of {sync}: {result.status}"
    finally:
        project.close()
        store.close()


def _rerun_if_dead(
    project: Project,
    store: RunStore,
    sync: str,
    run_id: str,
    trigger: str,
    override_guards: bool,
    stopping: threading.Event,
) -> str:
    record = store.get_run(run_id)
    if record is None or record.status not in RUNNING_STATUSES:
        status = record.status if record is not None else "gone"
        return f"run {run_id} of {sync} is already {status}: nothing to do"
    logger.warning(
        "run %s of %s was begun by a worker that stopped (pid %s on %s): running %s again",
        run_id,
        sync,
        record.pid,
        record.hostname,
        sync,
    )
    held = store.get_lock(sync)
    if held is None or held.run_id != run_id:
        # It died between beginning and taking the lock: no take-over will ever close it.
        store.finish_run(
            run_id,
            RunStatus.INTERRUPTED,
            counts=record.counts,
            api_calls=record.api_calls,
            error=f"its worker stopped (pid {record.pid} on {record.hostname}) as it began",
        )
    for _ in range(_FRESH_ATTEMPTS):
        wait_for_lock(store, sync, stopping)
        result = project.run(
            sync, trigger=trigger, full_resync=record.full_resync, override_guards=override_guards
        )
        if result.status != RunStatus.SKIPPED:
            break
    return f"run {result.run_id} of {sync} (again after {run_id}): {result.status}"


def _internal(exc: Exception) -> str:
    return f"internal error: {type(exc).__name__}: {exc}"


def wait_for_lock(store: RunStore, sync: str, stopping: threading.Event) -> None:
    """Return once ``sync``'s lock is free or its holder is gone (``locks.stale_reason``).
    Raises ``WorkerStopping`` if ``stopping`` is set first."""
    announced = False
    while True:
        held = store.get_lock(sync)
        if held is None:
            return
        holder = store.get_run(held.run_id)
        holder_status = holder.status if holder is not None else None
        if locks.stale_reason(held, holder_status, datetime.now(UTC)) is not None:
            return
        if not announced:
            logger.info("%s: waiting for run %s to end (it holds the lock)", sync, held.run_id)
            announced = True
        if stopping.wait(LOCK_POLL_SECONDS):
            raise WorkerStopping(f"the worker is stopping before the run of {sync} began")
