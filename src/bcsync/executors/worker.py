"""A worker process (``bcsync worker``): a Procrastinate worker running queued syncs, and the
recovery of jobs whose worker died.

Procrastinate records a heartbeat per worker; a job still ``doing`` on a worker that missed
``STALLED_HEARTBEATS`` of them is stalled. Procrastinate finds such jobs
(``JobManager.get_stalled_jobs``) and can hand them back to the queue (``retry_job``) but leaves
when to do so to the application: every worker looks every heartbeat, under an advisory lock so
that two workers never hand back the same job twice (the second hand-back could take the job
from the worker that picked it up in between). A stalled job whose sync already has a job
waiting cannot go back (at most one waits): it is failed, since the waiting job runs the sync.
The same look also queues again a run left ``queued`` with no job (its scheduler or server died
between recording it and deferring its job): ``ORPHAN_SECONDS`` after it was queued.

Stopping: the first SIGINT or SIGTERM stops taking jobs and lets the running syncs finish (a job
still waiting for its sync's lock goes back to the queue); a second one exits at once, and the
runs cut short are recovered elsewhere like those of a killed worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App
from procrastinate import exceptions as queue_errors
from procrastinate.jobs import Status

from bcsync.config.project import ProjectConfig
from bcsync.executors.queue import (
    QUEUE,
    TASK_NAME,
    build_app,
    ensure_schema,
    queue_database,
    sync_lock,
)
from bcsync.executors.queued_run import run_queued
from bcsync.state import RunStore
from bcsync.state.schema import RUNNING_STATUSES
from bcsync.vocabulary import RunStatus

HEARTBEAT_SECONDS = 10.0
STALLED_HEARTBEATS = 3  # heartbeats missed before a worker's jobs are handed back
# A run queued this long ago with no job on the queue lost its job (its scheduler or server died
# between recording the run and deferring its job, or the job failed before beginning it).
ORPHAN_SECONDS = 30.0
# Key of the advisory lock held while handing stalled jobs back ("bcsr" in ASCII).
_RECOVERY_LOCK = 0x62637372
logger = logging.getLogger("bcsync.worker")


def run_worker(
    config: ProjectConfig,
    *,
    concurrency: int = 1,
    heartbeat: float = HEARTBEAT_SECONDS,
    on_ready: Any = None,
) -> None:
    """Run queued syncs, ``concurrency`` at a time, until SIGINT or SIGTERM."""
    database = queue_database(config)
    ensure_schema(database)
    stopping = threading.Event()

    def run_sync(sync: str, run_id: str, trigger: str, override_guards: bool = False) -> str:
        logger.info("run %s of %s (%s): starting", run_id, sync, trigger)
        outcome = run_queued(
            config, sync, run_id, trigger, override_guards=override_guards, stopping=stopping
        )
        logger.info("%s", outcome)
        return outcome

    # One connection per running job's bookkeeping, the recovery's, and some to spare.
    app = build_app(database, pool_size=concurrency + 4, run_job=run_sync)
    asyncio.run(_work(app, config, concurrency, heartbeat, stopping, on_ready))


async def _work(
    app: App,
    config: ProjectConfig,
    concurrency: int,
    heartbeat: float,
    stopping: threading.Event,
    on_ready: Any,
) -> None:
    stalled_after = heartbeat * STALLED_HEARTBEATS
    async with app.open_async():
        working = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE],
                name=f"bcsync-{socket.gethostname()}-{os.getpid()}",
                concurrency=concurrency,
                install_signal_handlers=False,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
                fetch_job_polling_interval=min(heartbeat, 5.0),
                delete_jobs="successful",
            )
        )
        _on_signals(working, stopping)
        recovering = asyncio.create_task(_recover_forever(app, config, heartbeat, stalled_after))
        if on_ready is not None:
            on_ready()
        try:
            await working
        except asyncio.CancelledError:
            pass
        finally:
            recovering.cancel()


def _on_signals(working: asyncio.Task[None], stopping: threading.Event) -> None:
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stopping.is_set():
            logger.warning("stopping now: runs in progress are cut short, and run again elsewhere")
            os._exit(130)
        logger.warning("stopping: running syncs finish first (signal again to stop at once)")
        stopping.set()
        working.cancel()  # Procrastinate's worker then stops taking jobs and waits for its own

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal)


async def _recover_forever(
    app: App, config: ProjectConfig, every: float, stalled_after: float
) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await recover_stalled(app, config, stalled_after)
        except Exception as exc:  # a database hiccup: try again at the next heartbeat
            logger.warning("could not look for stalled jobs: %s", type(exc).__name__)


async def recover_stalled(app: App, config: ProjectConfig, stalled_after: float) -> int:
    """Hand the jobs of workers silent for ``stalled_after`` seconds back to the queue; returns
    how many. Does nothing while another worker is at it."""
    connector: Any = app.connector
    async with connector.pool.connection() as conn, conn.transaction():
        cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_RECOVERY_LOCK,))
        row = await cursor.fetchone()
        if row is None or not row[0]:
            return 0
        stalled = await app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=stalled_after
        )
        handed_back = 0
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                handed_back += 1
                logger.warning("job %s (%s) lost its worker: back in the queue", job.id, job.lock)
            except queue_errors.UniqueViolation:
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
                await asyncio.to_thread(_close_superseded, config, job.task_kwargs)
        await _requeue_orphans(app, config, conn)
        return handed_back


async def _requeue_orphans(app: App, config: ProjectConfig, conn: Any) -> None:
    """Queue again the runs left ``queued`` with no job waiting or running for them. Without
    this nobody would ever start them, and a sync's waiting run skips all its later ticks."""
    orphans = await asyncio.to_thread(_old_queued_runs, config)
    if not orphans:
        return
    cursor = await conn.execute(
        "SELECT args->>'run_id' FROM procrastinate_jobs"
        " WHERE status IN ('todo', 'doing') AND args->>'run_id' = ANY(%s)",
        ([run_id for run_id, _, _ in orphans],),
    )
    have_jobs = {row[0] for row in await cursor.fetchall()}
    for run_id, sync, trigger in orphans:
        if run_id in have_jobs:
            continue
        lock = sync_lock(sync)
        deferrer = app.configure_task(TASK_NAME, queue=QUEUE, lock=lock, queueing_lock=lock)
        try:
            await deferrer.defer_async(
                sync=sync, run_id=run_id, trigger=trigger, override_guards=False
            )
            logger.warning("run %s of %s was queued without a job: queued again", run_id, sync)
        except queue_errors.AlreadyEnqueued:
            await asyncio.to_thread(
                _close_queued,
                config,
                run_id,
                RunStatus.SKIPPED,
                f"a run of {sync!r} is already waiting in the queue: this one would repeat it",
            )


def _old_queued_runs(config: ProjectConfig) -> list[tuple[str, str, str]]:
    """(run id, sync, trigger) of the runs queued more than ``ORPHAN_SECONDS`` ago."""
    limit = datetime.now(UTC) - timedelta(seconds=ORPHAN_SECONDS)
    with RunStore.open(config.state_url) as store:
        waiting = [r for r in store.waiting_runs() if r.status == RunStatus.QUEUED]
        found = []
        for run in waiting:
            record = store.get_run(run.run_id)
            queued_at = record.queued_at if record is not None else None
            if queued_at is not None and queued_at < limit:
                found.append((run.run_id, run.sync, run.trigger or "schedule"))
    return found


def _close_queued(config: ProjectConfig, run_id: str, status: RunStatus, error: str) -> None:
    with RunStore.open(config.state_url) as store:
        store.close_queued_run(run_id, status, error)


def _close_superseded(config: ProjectConfig, task_kwargs: dict[str, Any]) -> None:
    """A stalled job whose sync has a job waiting: its run, if never begun, is closed; begun
    but not holding the sync's lock (its worker died in between), it is closed as interrupted,
    since no take-over of the lock will ever close it. One holding the lock is marked
    ``interrupted`` by the waiting run when that takes the lock over."""
    run_id, sync = task_kwargs.get("run_id"), task_kwargs.get("sync")
    if not isinstance(run_id, str):
        return
    with RunStore.open(config.state_url) as store:
        if store.close_queued_run(
            run_id,
            RunStatus.INTERRUPTED,
            "its worker stopped before it began, and another run of the sync is queued",
        ):
            return
        record = store.get_run(run_id)
        if record is None or record.status not in RUNNING_STATUSES:
            return
        held = store.get_lock(sync) if isinstance(sync, str) else None
        if held is None or held.run_id != run_id:
            store.finish_run(
                run_id,
                RunStatus.INTERRUPTED,
                counts=record.counts,
                api_calls=record.api_calls,
                error=f"its worker stopped (pid {record.pid} on {record.hostname}) as it began",
            )
