"""RunResults as the engine returns them, for feeding the triggers and ``notify_run``."""

from __future__ import annotations

import itertools
from typing import Any

from bcsync.run.results import RunResult
from bcsync.vocabulary import COUNT_KEYS

_ids = itertools.count(1)


def run_result(
    status: str = "success",
    *,
    sync: str = "vip_customers",
    planned: int = 100,
    rejected: int = 0,
    invalid: int = 0,
    error: str | None = None,
    rejected_rows: list[dict[str, Any]] | None = None,
    invalid_rows: list[dict[str, Any]] | None = None,
) -> RunResult:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts.update(
        queried=planned + invalid,
        invalid=invalid,
        changed=planned,
        planned=planned,
        succeeded=planned - rejected,
        rejected=rejected,
    )
    if rejected_rows is None:
        rejected_rows = [
            {"pk": str(n), "op": "update", "error": f"email of row {n} is already in use"}
            for n in range(rejected)
        ]
    if invalid_rows is None:
        invalid_rows = [{"pk": f"i{n}", "reason": "email: not an e-mail"} for n in range(invalid)]
    return RunResult(
        run_id=f"run-{next(_ids):04d}-{status}",
        sync=sync,
        status=status,
        started_at="2024-05-01T10:00:00+00:00",
        finished_at="2024-05-01T10:01:00+00:00",
        error=error
        if error is not None
        else ("warehouse unreachable" if status == "failed" else None),
        counts=counts,
        api_calls=3,
        rejected_rows=rejected_rows,
        invalid_rows=invalid_rows,
    )
