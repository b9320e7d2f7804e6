"""Run a bcsync sync from Dagster: an op (in a job, with a schedule) that starts it through a
running ``bcsync serve``'s HTTP API and polls it until it ends. The op fails when the run fails,
and, with ``fail_on_warning=True``, also when rows were rejected or invalid.

Install ``bcsync`` in the code location's environment (no Dagster integration package needed).
``BCSYNC_SERVER`` (default ``http://127.0.0.1:8600``) and ``BCSYNC_TOKEN`` (the server's UI
token, when it has one) come from the environment. See docs/orchestrators.md.
"""

from __future__ import annotations

import os

from dagster import Definitions, OpExecutionContext, ScheduleDefinition, job, op

from bcsync.client import run_and_wait


@op
def sync_vip_customers(context: OpExecutionContext) -> str:
    # Raises (so the op fails) on failed/cancelled/interrupted, and on warning as asked.
    run = run_and_wait(
        "vip_customers",
        server=os.environ.get("BCSYNC_SERVER", "http://127.0.0.1:8600"),
        token=os.environ.get("BCSYNC_TOKEN"),
        timeout=2 * 3600,
        poll=10,
        fail_on_warning=True,
    )
    context.log.info(f"bcsync run {run['run_id']}: {run['status']}, counts {run['counts']}")
    return str(run["run_id"])


@job
def bcsync_vip_customers() -> None:
    sync_vip_customers()


defs = Definitions(
    jobs=[bcsync_vip_customers],
    schedules=[ScheduleDefinition(job=bcsync_vip_customers, cron_schedule="0 6 * * *")],
)
