"""Runs on a queue that ``bcsync worker`` processes take them from: Procrastinate, in the
PostgreSQL run store (``executor: queue``).

An existing engine rather than a queue of our own: Procrastinate brings what a distributed queue
needs and is hard to get right (job locks, queueing locks, worker heartbeats, stalled-job
recovery), in the database the run store already is. A queued run (``RunStore.queue_run``)
becomes one job of the task ``bcsync.run_sync`` whose ``lock`` and ``queueing_lock`` are both the
sync's name:

- ``lock``: Procrastinate starts no job while another job with the same lock is in progress, so
  a sync never runs twice at once, however many workers there are;
- ``queueing_lock``: at most one job of a sync waits. A second submit raises ``AlreadyEnqueued``,
  and its queued run is closed as ``skipped``, saying why.

Connections use the libpq parameters SQLAlchemy derives from ``state.url`` (any of its forms,
``postgresql+psycopg://`` included), with the password handed to psycopg apart from the conninfo
text, and every message scrubbed of it. Procrastinate's tables are created the first time a
worker or a submitter needs them, under an advisory lock, so processes starting together create
them once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.conninfo
from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate import exceptions as queue_errors
from procrastinate.schema import SchemaManager

from bcsync.config import database_url
from bcsync.config.project import ProjectConfig
from bcsync.errors import ConfigError, StateError
from bcsync.state import RunStore
from bcsync.vocabulary import RunStatus

__all__ = [
    "QUEUE",
    "TASK_NAME",
    "QueueDatabase",
    "QueueExecutor",
    "WorkerStopping",
    "build_app",
    "ensure_schema",
    "queue_database",
    "sync_lock",
]

TASK_NAME = "bcsync.run_sync"
QUEUE = "bcsync"
# Key of the advisory lock held while Procrastinate's schema is created ("bcsq" in ASCII).
_SCHEMA_LOCK = 0x62637371
logger = logging.getLogger("bcsync.queue")


class WorkerStopping(Exception):
    """The worker is stopping while a job still waits for its sync's lock: the job goes back to
    the queue for another worker, its run still queued."""


# Only a job that gave way is retried; any other exception the task lets out fails its job.
_RETRIES = RetryStrategy(max_attempts=1_000_000, retry_exceptions={WorkerStopping})


def sync_lock(sync: str) -> str:
    """The Procrastinate lock and queueing lock of ``sync``'s jobs."""
    return f"bcsync:sync:{sync}"


@dataclass(frozen=True)
class QueueDatabase:
    """How to reach the run store's PostgreSQL with psycopg, the password kept apart."""

    conninfo: str  # libpq keywords, no password
    password: str | None = field(repr=False)
    where: str  # the URL for messages, password masked
    hidden: tuple[str, ...] = field(repr=False)

    def connect_kwargs(self) -> dict[str, Any]:
        return {"password": self.password} if self.password else {}

    def scrub(self, message: str) -> str:
        return database_url.scrub(message, self.hidden)


def queue_database(config: ProjectConfig) -> QueueDatabase:
    """The queue's database: the run store's. Raises ConfigError unless it is PostgreSQL."""
    if not config.state_is_postgres:
        raise ConfigError(
            f"{config.locate('state', 'url')}: state.url: the run queue needs a PostgreSQL run "
            "store (postgresql://USER@HOST/DATABASE)"
        )
    url = database_url.parse_store_url(config.state_url)
    _, params = url.get_dialect()().create_connect_args(url)
    params.pop("context", None)  # psycopg adapters SQLAlchemy configures, not a libpq keyword
    password = params.pop("password", None)
    keywords = {key: value for key, value in params.items() if value not in (None, "")}
    return QueueDatabase(
        conninfo=psycopg.conninfo.make_conninfo("", **keywords),
        password=str(password) if password else None,
        where=database_url.masked(url),
        hidden=database_url.secrets(url),
    )


def ensure_schema(database: QueueDatabase) -> bool:
    """Create Procrastinate's tables unless they exist; True if this call created them.

    Under a transaction-scoped advisory lock: a second process starting at the same moment waits,
    then finds the tables there. Raises ``StateError`` (password scrubbed) if it cannot."""
    try:
        with (
            psycopg.connect(
                database.conninfo, autocommit=True, **database.connect_kwargs()
            ) as conn,
            conn.transaction(),
        ):
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if found is not None and found[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())  # no parameters: run as a script
            logger.info("created the run queue's tables (Procrastinate) in %s", database.where)
            return True
    except psycopg.Error as exc:
        raise StateError(
            f"cannot set up the run queue in {database.where}: {database.scrub(str(exc))}"
        ) from None


def build_app(
    database: QueueDatabase,
    *,
    pool_size: int = 4,
    run_job: Callable[..., str] | None = None,
) -> App:
    """A Procrastinate app on the queue's database. Workers pass ``run_job`` (what the task
    does); submitters need only its name."""
    connector = PsycopgConnector(
        conninfo=database.conninfo,
        kwargs=database.connect_kwargs(),
        min_size=1,
        max_size=pool_size,
        name="bcsync-queue",
    )
    app = App(connector=connector)
    if run_job is not None:
        app.task(name=TASK_NAME, queue=QUEUE, retry=_RETRIES, pass_context=False)(run_job)
    return app


class QueueExecutor:
    """Hands queued runs to the workers through Procrastinate (``executor: queue``)."""

    def __init__(self, config: ProjectConfig) -> None:
        self.config = config
        self.database = queue_database(config)
        self._app = build_app(self.database, pool_size=2)
        self._store: RunStore | None = None
        self._opening = threading.Lock()
        self._open = False

    def _opened(self) -> tuple[App, RunStore]:
        with self._opening:
            if not self._open:
                ensure_schema(self.database)
                self._app.open()
                self._open = True
            if self._store is None:
                self._store = RunStore.open(self.config.state_url)
            return self._app, self._store

    def submit(
        self, sync: str, run_id: str, *, trigger: str, override_guards: bool = False
    ) -> None:
        """Put the queued run ``run_id`` on the queue. If a run of ``sync`` already waits
        there, close this one as ``skipped`` instead (at most one waits)."""
        app, store = self._opened()
        lock = sync_lock(sync)
        deferrer = app.configure_task(TASK_NAME, queue=QUEUE, lock=lock, queueing_lock=lock)
        try:
            deferrer.defer(
                sync=sync, run_id=run_id, trigger=trigger, override_guards=override_guards
            )
        except queue_errors.AlreadyEnqueued:
            store.close_queued_run(
                run_id,
                RunStatus.SKIPPED,
                f"a run of {sync!r} is already waiting in the queue: this one would repeat it",
            )
        except queue_errors.ProcrastinateException as exc:
            detail = self.database.scrub(str(exc.__cause__ or exc))
            store.close_queued_run(run_id, RunStatus.FAILED, f"could not be queued: {detail}")
            raise StateError(f"cannot queue run {run_id} of {sync!r}: {detail}") from None
        logger.info("queued run %s of %s (%s)", run_id, sync, trigger)

    def close(self) -> None:
        with self._opening:
            if self._open:
                self._app.close()
                self._open = False
            if self._store is not None:
                self._store.close()
                self._store = None
