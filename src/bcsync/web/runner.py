"""Runs started from the UI or the JSON API: each in a thread of its own, answered with its id.

``Runner.start`` returns as soon as the engine has recorded the run and taken the sync's lock
(the run page can then follow it), not when it ends. A sync already running is refused with
``AlreadyRunning``: when this server started it and it has not finished, when the run store holds
a live lock for it (a run from the CLI, a scheduler, another server), and when the engine itself
ends the new run as ``skipped`` because the lock was taken in between.

Each run gets a ``Project`` of its own made from the served project's config, so runs of
different syncs share no engine state. The threads are daemons: stopping the server stops its
runs as a crash would, and the next run of the sync takes over its lock (``state/locks.py``).

With ``executor: queue`` no thread starts: ``start`` records a queued run, puts it on the queue
(``executors.queue``) and answers with its id at once; a ``bcsync worker`` runs it. A sync with a
run queued or in progress is refused with ``AlreadyRunning`` as above.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bcsync.api import Project
from bcsync.run.events import Event, RunFinished, RunStarted, StatusChanged
from bcsync.run.results import RunResult
from bcsync.state import RunStore
from bcsync.vocabulary import RunStatus

if TYPE_CHECKING:
    from bcsync.config.project import ProjectConfig
    from bcsync.executors.queue import QueueExecutor

STARTUP_SECONDS = 120.0  # how long ``start`` waits for the engine to record the run


class AlreadyRunning(Exception):
    """The sync has a run in progress; ``run_id`` names it when known."""

    def __init__(self, sync: str, run_id: str | None, message: str | None = None) -> None:
        self.sync = sync
        self.run_id = run_id
        super().__init__(
            message
            or f"sync {sync!r} is already running"
            + (f" (run {run_id})" if run_id is not None else "")
            + ": wait for that run to end"
        )


class RunNotStarted(Exception):
    """The engine ended before recording a run (for example, the run store cannot be opened)."""


@dataclass
class _Launch:
    """What one run's thread reports back to ``start``."""

    run_id: str | None = None
    result: RunResult | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.ready = threading.Event()


class Runner:
    """The runs this server started, one per sync at most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[threading.Thread, _Launch]] = {}
        self._queue: tuple[QueueExecutor, RunStore] | None = None  # executor: queue only

    def start(
        self,
        project: Project,
        sync: str,
        *,
        full_resync: bool = False,
        override_guards: bool = False,
        trigger: str = "manual",
    ) -> str:
        """Start a run of ``sync`` and return its id once recorded. Raises ``ConfigError`` for
        an unknown sync, ``AlreadyRunning``, or ``RunNotStarted``."""
        project.config.sync(sync)
        if project.config.executor == "queue":
            return self._enqueue(project, sync, full_resync, override_guards, trigger)
        launch = _Launch()
        with self._lock:
            current = self._threads.get(sync)
            if current is not None and current[0].is_alive():
                raise AlreadyRunning(sync, current[1].run_id)
            live = project.live_run(sync)
            if live is not None:
                raise AlreadyRunning(sync, live.run_id)

            def observe(event: Event) -> None:
                if isinstance(event, RunStarted):
                    launch.run_id = event.run_id
                elif isinstance(event, StatusChanged):
                    launch.ready.set()  # the engine moves on only once it holds the lock
                elif isinstance(event, RunFinished):
                    launch.result = event.result
                    launch.ready.set()

            def work() -> None:
                try:
                    Project(project.config, observers=[observe]).run(
                        sync,
                        full_resync=full_resync,
                        override_guards=override_guards,
                        trigger=trigger,
                    )
                except BaseException as exc:  # reported to ``start`` (and ends the thread)
                    launch.error = exc
                finally:
                    launch.ready.set()

            thread = threading.Thread(target=work, name=f"bcsync-run-{sync}", daemon=True)
            self._threads[sync] = (thread, launch)
            thread.start()
        launch.ready.wait(STARTUP_SECONDS)
        if launch.result is not None and launch.result.status == RunStatus.SKIPPED:
            raise AlreadyRunning(sync, None, launch.result.error)
        if launch.run_id is None:
            reason = launch.error or "the engine did not record it in time"
            raise RunNotStarted(f"the run of {sync!r} did not start: {reason}")
        return launch.run_id

    def _queue_for(self, config: ProjectConfig) -> tuple[QueueExecutor, RunStore]:
        # Called with self._lock held. Opened on first use, kept for the server's life.
        if self._queue is None:
            from bcsync.executors.queue import QueueExecutor

            self._queue = (QueueExecutor(config), RunStore.open(config.state_url))
        return self._queue

    def _enqueue(
        self, project: Project, sync: str, full_resync: bool, override_guards: bool, trigger: str
    ) -> str:
        """Queue a run of ``sync`` for the workers and return its id at once."""
        with self._lock:
            executor, store = self._queue_for(project.config)
            # Queued runs count as they are; a running one only while its holder lives (a run
            # whose process died shows as running until a next run takes its lock over).
            waiting = [r for r, status in store.waiting_or_running(sync) if status == "queued"]
            if waiting:
                raise AlreadyRunning(sync, waiting[0])
            live = project.live_run(sync)
            if live is not None:
                raise AlreadyRunning(sync, live.run_id)
            run_id = store.queue_run(sync, trigger=trigger, full_resync=full_resync)
            if run_id is None:  # only a tick can be taken already; none was given
                raise RunNotStarted(f"the run of {sync!r} was not queued")
            executor.submit(sync, run_id, trigger=trigger, override_guards=override_guards)
        record = store.get_run(run_id)
        if record is not None and record.status == RunStatus.SKIPPED:
            raise AlreadyRunning(sync, None, record.error)
        return run_id

    def close(self) -> None:
        """Let the queue's connections go (``executor: queue``); runs in threads are left."""
        with self._lock:
            if self._queue is not None:
                executor, store = self._queue
                executor.close()
                store.close()
                self._queue = None

    def running(self, sync: str) -> str | None:
        """The id of the run of ``sync`` this server started and is still going, if any."""
        with self._lock:
            current = self._threads.get(sync)
        if current is None or not current[0].is_alive():
            return None
        return current[1].run_id
