"""The scheduler as a service: its executor chosen from the project, run in a thread until
stopped. Shared by ``bcsync scheduler`` (in the foreground) and ``bcsync serve`` (beside the UI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bcsync.config.project import ProjectConfig
from bcsync.executors.base import Executor
from bcsync.executors.inprocess import Done, InProcessExecutor
from bcsync.scheduling.scheduler import Fired, Scheduler
from bcsync.state import RunStore


def has_schedules(config: ProjectConfig) -> bool:
    return any(sync.schedule is not None for sync in config.syncs.values())


@dataclass
class RunningScheduler:
    """A scheduler thread and what to stop: ``stop()`` returns once its pass has ended."""

    scheduler: Scheduler
    thread: threading.Thread
    stop_event: threading.Event
    executor: Executor
    store: RunStore

    def stop(self, timeout: float = 10.0) -> None:
        """Stop firing ticks and taking runs (runs in progress go on)."""
        self.stop_event.set()
        self.thread.join(timeout)
        self.executor.close()
        self.store.close()

    def busy_syncs(self) -> list[str]:
        """The syncs this process is running now (in-process executor only)."""
        if isinstance(self.executor, InProcessExecutor):
            return self.executor.running()
        return []

    def join_runs(self, timeout: float) -> None:
        if isinstance(self.executor, InProcessExecutor):
            self.executor.join(timeout)


def start(
    config: ProjectConfig,
    *,
    on_fire: Callable[[Fired], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_done: Done | None = None,
) -> RunningScheduler:
    """Open the run store and run a scheduler over ``config`` in a daemon thread. With
    ``executor: queue`` runs go to the workers' queue; otherwise they run in this process and a
    queued run waits until its sync is free."""
    executor: Executor
    if config.executor == "queue":
        from bcsync.executors import for_project

        executor, hold = for_project(config), False
    else:
        executor, hold = InProcessExecutor(config, on_done=on_done), True
    store = RunStore.open(config.state_url)
    scheduler = Scheduler(
        config, store, executor, on_fire=on_fire, on_error=on_error, hold_until_free=hold
    )
    stop_event = threading.Event()
    thread = threading.Thread(
        target=scheduler.run, args=(stop_event,), name="bcsync-scheduler", daemon=True
    )
    thread.start()
    return RunningScheduler(scheduler, thread, stop_event, executor, store)
