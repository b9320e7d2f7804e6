"""Run a bcsync sync from Airflow (2.x TaskFlow API): start it through a running ``bcsync serve``'s
HTTP API and poll it until it ends. The task fails when the run fails, and, with
``fail_on_warning=True``, also when rows were rejected or invalid.

Install ``bcsync`` in Airflow's environment (nothing else: no provider package). Give the task
``BCSYNC_SERVER`` (default ``http://127.0.0.1:8600``) and, when the server has one,
``BCSYNC_TOKEN`` (its UI token) as environment variables or through an Airflow Variable/secret.
See docs/orchestrators.md.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.decorators import dag, task

from bcsync.client import run_and_wait


@dag(
    schedule="0 6 * * *",  # after the warehouse's nightly build; or trigger from its DAG
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["bcsync"],
)
def bcsync_vip_customers() -> None:
    @task(retries=0, execution_timeout=timedelta(hours=2))
    def sync_vip_customers() -> dict[str, Any]:
        # Raises (so the task fails) on failed/cancelled/interrupted, and on warning as asked;
        # returns the run's JSON (an XCom): run_id, status, counts, api_calls…
        run = run_and_wait(
            "vip_customers",
            server=os.environ.get("BCSYNC_SERVER", "http://127.0.0.1:8600"),
            token=os.environ.get("BCSYNC_TOKEN"),
            timeout=2 * 3600,
            poll=10,
            fail_on_warning=True,
        )
        return {"run_id": run["run_id"], "status": run["status"], "counts": run["counts"]}

    sync_vip_customers()


bcsync_vip_customers()
