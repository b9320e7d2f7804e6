"""The JSON API (`/api/v1`) over plain HTTP against a real `bcsync serve`: every route and its
error codes, used as an orchestrator does: trigger a run, poll it, page its rows and calls."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.fixtures.web import VIP_CUSTOMERS

CUSTOMERS = VIP_CUSTOMERS
ROWS = [
    {"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    {"id": 2, "email": "alan@example.com", "first_name": "Alan", "last_name": "Turing"},
    {"id": 3, "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
]
JSON = {"Content-Type": "application/json"}


def project_with_customers(sync_project: Any) -> Any:
    sync_project.load("customers", ROWS)
    sync_project.configure(CUSTOMERS)
    return sync_project


def trigger(server: Any, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(
        server.url("/api/v1/syncs/vip_customers/runs"), json=body, headers=JSON, timeout=60
    )


def poll(server: Any, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(server.url(f"/api/v1/runs/{run_id}"))
        assert answer.status_code == 200, answer.text
        run: dict[str, Any] = answer.json()
        if run["finished"]:  # not "running": a queued run is neither
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.2)


def slow_store(sync_project: Any) -> None:
    """Every request to the emulator takes 400 ms, so a run lasts a few seconds."""
    sync_project.emulator.faults([{"path": "*", "latency_ms": 400, "times": 100_000}])


def test_an_orchestrator_triggers_a_run_polls_it_and_pages_its_rows_and_calls(
    sync_project: Any, ui_server: Any
):
    project = project_with_customers(sync_project)
    server = ui_server(project.dir)

    before = httpx.get(server.url("/api/v1/syncs")).json()
    assert before == {
        "syncs": [
            {
                "name": "vip_customers",
                "object": "customers",
                "mode": "upsert",
                "destination": "store",
                "last_run": None,
                "running_run_id": None,
                "open_alerts": [],
                "schedule": None,
                "next_runs": [],
                "on_overlap": "skip",
                "misfire_grace_seconds": 60.0,
            }
        ]
    }

    accepted = trigger(server)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    assert accepted.json()["url"] == f"/api/v1/runs/{run_id}"
    run = poll(server, run_id)

    assert run["status"] == "success"
    assert run["trigger"] == "api"
    assert run["counts"]["succeeded"] == 3
    assert run["counts"]["rejected"] == 0
    assert run["rejected_rows"] == [] and run["invalid_rows"] == []
    held = {c["email"] for c in project.emulator.dump()["customers"]}
    assert held == {row["email"] for row in ROWS}
    # The same document as `bcsync show --json` (the CLI's JSON of a run), plus three keys.
    shown = project.cli("show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    cli_run = json.loads(shown.stdout)
    assert run["finished"] is True
    assert {
        k: v for k, v in run.items() if k not in ("trigger", "running", "finished", "sent")
    } == {k: v for k, v in cli_run.items() if k != "trigger"}

    listed = httpx.get(server.url("/api/v1/syncs")).json()["syncs"][0]
    assert listed["last_run"]["run_id"] == run_id
    assert listed["last_run"]["counts"]["succeeded"] == 3
    assert listed["running_run_id"] is None

    first = httpx.get(server.url(f"/api/v1/runs/{run_id}/rows"), params={"limit": 2}).json()
    assert len(first["rows"]) == 2 and first["next_cursor"] is not None
    rest = httpx.get(
        server.url(f"/api/v1/runs/{run_id}/rows"),
        params={"limit": 2, "cursor": first["next_cursor"]},
    ).json()
    assert len(rest["rows"]) == 1 and rest["next_cursor"] is None
    rows = first["rows"] + rest["rows"]
    assert sorted(r["pk"] for r in rows) == ["1", "2", "3"]
    assert {r["outcome"] for r in rows} == {"succeeded"}
    assert all(r["dest_id"] for r in rows)
    rejected = httpx.get(server.url(f"/api/v1/runs/{run_id}/rows"), params={"outcome": "rejected"})
    assert rejected.json()["rows"] == []
    blank = httpx.get(server.url(f"/api/v1/runs/{run_id}/rows?outcome=&cursor=&limit=3"))
    assert [r["pk"] for r in blank.json()["rows"]] == [r["pk"] for r in rows]

    calls: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(server.url(f"/api/v1/runs/{run_id}/calls"), params=params)
        assert page.status_code == 200
        calls += page.json()["calls"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(calls) == run["api_calls"] > 1
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    assert any(c["method"] == "POST" and c["path"].endswith("/v3/customers") for c in calls)
    everything = httpx.get(server.url(f"/api/v1/runs/{run_id}/calls"), params={"limit": 1000})
    assert project.emulator.token not in everything.text
    assert "***" in everything.text  # the token header, redacted as the debugger stored it


def test_a_second_trigger_while_a_run_is_going_answers_409_naming_it(
    sync_project: Any, ui_server: Any
):
    project = project_with_customers(sync_project)
    server = ui_server(project.dir)
    slow_store(project)

    first = trigger(server)
    assert first.status_code == 202, first.text
    run_id = first.json()["run_id"]
    second = trigger(server, {"full_resync": True})

    assert second.status_code == 409, second.text
    assert second.json()["run_id"] == run_id
    assert "already running" in second.json()["detail"]
    listed = httpx.get(server.url("/api/v1/syncs")).json()["syncs"][0]
    assert listed["running_run_id"] == run_id
    going = httpx.get(server.url(f"/api/v1/runs/{run_id}")).json()
    assert going["running"] is True
    assert going["status"] in ("querying", "planning", "syncing")
    project.emulator.faults([])
    assert poll(server, run_id)["status"] == "success"
    assert trigger(server).status_code == 202  # free again once it ended


def test_a_run_going_in_another_process_also_answers_409(sync_project: Any, ui_server: Any):
    project = project_with_customers(sync_project)
    server = ui_server(project.dir)
    slow_store(project)
    cli = project.popen("run", "vip_customers")
    try:
        deadline = time.monotonic() + 30
        while True:
            listed = httpx.get(server.url("/api/v1/syncs")).json()["syncs"][0]
            if listed["running_run_id"] is not None:
                break
            assert time.monotonic() < deadline, "the CLI run never showed as running"
            time.sleep(0.1)

        refused = trigger(server)

        assert refused.status_code == 409, refused.text
        assert refused.json()["run_id"] == listed["running_run_id"]
    finally:
        project.emulator.faults([])
        cli.wait(timeout=60)


def test_errors_unknown_sync_and_runs_404_bad_input_422(sync_project: Any, ui_server: Any):
    project = project_with_customers(sync_project)
    server = ui_server(project.dir)
    missing = "0" * 32

    unknown_sync = httpx.post(server.url("/api/v1/syncs/nope/runs"), json={}, headers=JSON)
    assert unknown_sync.status_code == 404
    assert "nope" in unknown_sync.json()["detail"]
    for path in (f"/api/v1/runs/{missing}", f"/api/v1/runs/{missing}/rows"):
        assert httpx.get(server.url(path)).status_code == 404
    assert httpx.get(server.url(f"/api/v1/runs/{missing}/calls")).status_code == 404

    assert trigger(server, {"full_resync": "perhaps"}).status_code == 422
    assert trigger(server, {"override_everything": True}).status_code == 422
    run_id = trigger(server).json()["run_id"]
    poll(server, run_id)
    rows = server.url(f"/api/v1/runs/{run_id}/rows")
    assert httpx.get(rows, params={"outcome": "exploded"}).status_code == 422
    assert httpx.get(rows, params={"limit": 0}).status_code == 422
    assert httpx.get(rows, params={"limit": 5000}).status_code == 422
    assert httpx.get(rows, params={"cursor": "yesterday"}).status_code == 422
    calls = server.url(f"/api/v1/runs/{run_id}/calls")
    assert httpx.get(calls, params={"cursor": "-1"}).status_code == 422


def test_a_read_only_server_refuses_to_start_runs(sync_project: Any, ui_server: Any):
    project = project_with_customers(sync_project)
    server = ui_server(project.dir, "--read-only")

    refused = trigger(server)

    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert httpx.get(server.url("/api/v1/syncs")).json()["syncs"][0]["last_run"] is None
    assert project.emulator.dump()["customers"] == []


def test_the_openapi_document_describes_every_route(sync_project: Any, ui_server: Any):
    server = ui_server(project_with_customers(sync_project).dir)

    document = httpx.get(server.url("/api/v1/openapi.json")).json()

    paths = document["paths"]
    assert set(paths) >= {
        "/api/v1/syncs",
        "/api/v1/syncs/{name}/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/rows",
        "/api/v1/runs/{run_id}/calls",
    }
    trigger_doc = paths["/api/v1/syncs/{name}/runs"]["post"]
    assert {"202", "404", "409", "422"} <= set(trigger_doc["responses"])
    assert "RunOut" in document["components"]["schemas"]
    assert "/" not in paths and "/syncs/{name}" not in paths  # pages are not the API
