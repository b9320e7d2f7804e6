"""The in-process executor: each queued run in a daemon thread of this process.

Runs of one sync never overlap here: a run submitted while this executor runs its sync waits
(in submission order) until that run ends. Across processes the run store's sync lock keeps them
apart, and the scheduler submits a queued run only once its sync is free. A run another process
began first (its ``begin`` won the compare-and-swap) raises ``NotQueuedError`` here, which only
means there is nothing to do. The threads are daemons, as the web UI's runs are: stopping the
process stops its runs as a crash would, and the next run of the sync takes over its lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bcsync.alerts.redaction import Redactor, project_secrets
from bcsync.api import Project
from bcsync.config.project import ProjectConfig
from bcsync.errors import NotQueuedError
from bcsync.run.results import RunResult
from bcsync.state import RunStore

Done = Callable[[str, str, RunResult | None, BaseException | None], None]


@dataclass(frozen=True)
class _Job:
    sync: str
    run_id: str
    trigger: str


class InProcessExecutor:
    """Runs queued runs in threads; ``on_done(sync, run_id, result, error)`` hears each end
    (``result`` None and ``error`` None: another process had begun it)."""

    def __init__(self, config: ProjectConfig, on_done: Done | None = None) -> None:
        self.config = config
        self.on_done = on_done
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._waiting: dict[str, deque[_Job]] = {}
        self._held: set[str] = set()  # the run ids running or waiting here
        self._closed = False

    def submit(self, sync: str, run_id: str, *, trigger: str) -> None:
        job = _Job(sync, run_id, trigger)
        with self._lock:
            if self._closed:
                return  # the run stays queued for the next scheduler to pick up
            self._held.add(run_id)
            if sync in self._running:
                self._waiting.setdefault(sync, deque()).append(job)
                return
            self._start(job)

    def busy(self, sync: str) -> bool:
        """Whether this executor runs (or holds a run waiting for) ``sync``."""
        with self._lock:
            return sync in self._running or bool(self._waiting.get(sync))

    def holds(self, run_id: str) -> bool:
        """Whether ``run_id`` runs or waits here. A run handed over that is no longer held and
        still ``queued`` could not be started (the run store failed): hand it over again."""
        with self._lock:
            return run_id in self._held

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def close(self) -> None:
        """Take no more runs; runs in progress go on (daemon threads: they end with the
        process), and runs waiting here stay queued in the run store for another scheduler."""
        with self._lock:
            self._closed = True
            for waiting in self._waiting.values():
                self._held.difference_update(job.run_id for job in waiting)
            self._waiting.clear()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs in progress to end (tests and benchmarks)."""
        while True:
            with self._lock:
                threads = list(self._running.values())
            if not threads:
                return
            for thread in threads:
                thread.join(timeout)
            if timeout is not None:
                return

    def _start(self, job: _Job) -> None:
        # Called with self._lock held.
        thread = threading.Thread(
            target=self._work, args=(job,), name=f"bcsync-run-{job.sync}", daemon=True
        )
        self._running[job.sync] = thread
        thread.start()

    def _work(self, job: _Job) -> None:
        result: RunResult | None = None
        error: BaseException | None = None
        try:
            result = Project(self.config).run(job.sync, trigger=job.trigger, queued_run=job.run_id)
        except NotQueuedError:
            pass  # another scheduler's executor began it: nothing to do
        except Exception as exc:  # reported, never raised in a daemon thread
            error = exc
            self._give_up(job, exc)
        finally:
            with self._lock:
                del self._running[job.sync]
                self._held.discard(job.run_id)
                waiting = self._waiting.get(job.sync)
                if waiting and not self._closed:
                    self._start(waiting.popleft())
        if self.on_done is not None:
            self.on_done(job.sync, job.run_id, result, error)

    def _give_up(self, job: _Job, exc: Exception) -> None:
        """A run the engine could not even begin (its sync left bcsync.yml, the run store is
        unreachable) is closed as failed, so no scheduler hands it over again and again."""
        with contextlib.suppress(Exception), RunStore.open(self.config.state_url) as store:
            redact = Redactor.of(project_secrets(self.config))  # the error may quote a secret
            store.close_queued_run(job.run_id, "failed", redact(f"could not start: {exc}"))
