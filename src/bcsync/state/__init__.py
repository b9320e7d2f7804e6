"""The run store: run history, row outcomes, API calls for the debugger, alert states, run locks.

Open it with ``RunStore.open(url)`` (``state.url`` of ``bcsync.yml``; SQLite by default).
"""

from __future__ import annotations

from bcsync.state.database import DEFAULT_URL
from bcsync.state.records import (
    AlertStateRecord,
    ApiCallRecord,
    RowOutcomeRecord,
    RunRecord,
    SyncLockRecord,
)
from bcsync.state.schema import (
    ALERT_STATES,
    COUNT_KEYS,
    FINISHED_STATUSES,
    OUTCOMES,
    RUNNING_STATUSES,
)
from bcsync.state.store import RunStore

__all__ = [
    "ALERT_STATES",
    "COUNT_KEYS",
    "DEFAULT_URL",
    "FINISHED_STATUSES",
    "OUTCOMES",
    "RUNNING_STATUSES",
    "AlertStateRecord",
    "ApiCallRecord",
    "RowOutcomeRecord",
    "RunRecord",
    "RunStore",
    "SyncLockRecord",
]
