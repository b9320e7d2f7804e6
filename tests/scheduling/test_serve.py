"""``bcsync serve`` runs the schedules beside the UI, unless ``--no-scheduler``."""

from __future__ import annotations

import time
from typing import Any

from bcsync.state import RunStore
from tests.fixtures.web import VIP_CUSTOMERS


def scheduled_runs(project: Any) -> list[Any]:
    with RunStore.open(project.state_url) as store:
        return [r for r in store.list_runs("vip_customers", limit=50) if r.trigger == "schedule"]


def test_serve_runs_the_schedules_unless_told_not_to(sync_project: Any, ui_server: Any) -> None:
    sync_project.load(
        "customers", [{"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "L"}]
    )
    sync_project.configure(VIP_CUSTOMERS + "  schedule: {every: 1s}\n")

    quiet = ui_server(sync_project.dir, "--no-scheduler")
    time.sleep(3)
    quiet.stop()
    assert scheduled_runs(sync_project) == []

    ui_server(sync_project.dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(r.status == "success" for r in scheduled_runs(sync_project)):
            break
        time.sleep(0.2)
    assert any(r.status == "success" for r in scheduled_runs(sync_project))
