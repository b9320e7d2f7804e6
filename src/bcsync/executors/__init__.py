"""Where runs execute: in this process (``inprocess``) or on a queue that workers take them
from (``queue``, Procrastinate on the PostgreSQL run store). Both take queued runs
(``RunStore.queue_run``) through the one small ``Executor`` interface, so the engine knows
nothing of either."""
