"""Where runs execute: in this process (``inprocess``) or on a queue that workers take them
from (``queue``, Procrastinate on the PostgreSQL run store). Both take queued runs
(``RunStore.queue_run``) through the one small ``Executor`` interface, so the engine knows
nothing of either."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bcsync.config.project import ProjectConfig
    from bcsync.executors.base import Executor

__all__ = ["for_project"]


def for_project(config: ProjectConfig) -> Executor:
    """The executor ``config`` chooses (``executor:`` in bcsync.yml). Imported lazily: the queue
    brings Procrastinate and psycopg, which a local project never needs."""
    if config.executor == "queue":
        from bcsync.executors.queue import QueueExecutor

        return QueueExecutor(config)
    from bcsync.executors.inprocess import InProcessExecutor

    return InProcessExecutor(config)
