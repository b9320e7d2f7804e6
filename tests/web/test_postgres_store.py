"""`bcsync serve` on a project whose run store is PostgreSQL: a run made by the CLI shows on the
Syncs page, in the JSON API and on its Run page (issue 12: "works on a PostgreSQL run store").
Plain HTTP: what differs from SQLite is the store under the pages, not the browser."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fixtures.projects import SyncProject
from tests.fixtures.web import VIP_CUSTOMERS

CUSTOMERS = VIP_CUSTOMERS


def test_serve_shows_a_run_recorded_in_a_postgres_run_store(
    sync_project: SyncProject, postgres_url: str, ui_server: Any
) -> None:
    sync_project.state_url = postgres_url
    sync_project.configure(CUSTOMERS)
    sync_project.load(
        "customers",
        [
            {"id": n, "email": f"c{n}@example.com", "first_name": f"F{n}", "last_name": "L"}
            for n in range(1, 6)
        ],
    )
    ran = sync_project.cli("run", "vip_customers", "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = json.loads(ran.stdout)["run_id"]
    assert not (sync_project.dir / ".bcsync" / "state.db").exists()  # the store is PostgreSQL

    server = ui_server(sync_project.dir)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        syncs = client.get("/")
        assert syncs.status_code == 200, syncs.text
        assert "vip_customers" in syncs.text and "success" in syncs.text

        paths = client.get("/api/v1/openapi.json").json()["paths"]
        if "/api/v1/syncs" in paths:
            listed = client.get("/api/v1/syncs")
            assert listed.status_code == 200, listed.text
            assert "vip_customers" in listed.text and run_id in listed.text

        if "/api/v1/runs/{run_id}" in paths:
            document = client.get(f"/api/v1/runs/{run_id}")
            assert document.status_code == 200, document.text
            assert (document.json()["run_id"], document.json()["status"]) == (run_id, "success")

        run = client.get(f"/runs/{run_id}")
        assert run.status_code == 200, run.text
        assert run_id[:8] in run.text and "success" in run.text
