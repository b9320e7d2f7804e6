"""``bcsync trigger`` and ``bcsync.client`` against a real ``bcsync serve`` and the emulator: the
run id, ``--wait`` and its exit codes, the errors a user meets (no server, token, unknown sync, a
run in progress), and ``run_and_wait`` as the Airflow and Dagster recipes call it."""

from __future__ import annotations

import ast
import json
import py_compile
from pathlib import Path
from typing import Any

import pytest

from bcsync.client import AlreadyRunning, BcsyncClient, RunFailed, run_and_wait
from tests.fixtures.web import VIP_CUSTOMERS, free_port

TOKEN = "trigger-test-token-5f1c0a9e"
ROWS = [
    {"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    {"id": 2, "email": "alan@example.com", "first_name": "Alan", "last_name": "Turing"},
]
TAKEN = {"id": 3, "email": "taken@example.com", "first_name": "Tak", "last_name": "En"}
INSERT = VIP_CUSTOMERS.replace("mode: upsert", "mode: insert").replace(
    "  match: {column: email, field: email}\n", ""
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def served(sync_project: Any, ui_server: Any, syncs: str = VIP_CUSTOMERS) -> Any:
    sync_project.load("customers", ROWS)
    sync_project.configure(syncs)
    return ui_server(sync_project.dir, env={"BCSYNC_UI_TOKEN": TOKEN})


def trigger(sync_project: Any, server: Any, *args: str, token: str | None = TOKEN) -> Any:
    env = {"BCSYNC_TOKEN": token or "", "BCSYNC_UI_TOKEN": ""}
    return sync_project.cli("trigger", *args, "--server", server.base_url, env=env)


def with_a_taken_email(sync_project: Any) -> None:
    """The store already holds TAKEN's email: inserting it is rejected (the run: ``warning``)."""
    with sync_project.emulator.client() as http:
        http.post(
            "/v3/customers", json=[{k: TAKEN[k] for k in ("email", "first_name", "last_name")}]
        )
    sync_project.load("customers", [*ROWS, TAKEN])


def test_trigger_prints_the_run_id_and_the_run_happens(sync_project: Any, ui_server: Any):
    server = served(sync_project, ui_server)

    done = trigger(sync_project, server, "vip_customers")

    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert len(run_id) >= 8 and "\n" not in run_id
    with BcsyncClient(server.base_url, TOKEN) as client:
        run = client.wait(run_id, timeout=60, poll=0.2)
    assert run["status"] == "success"
    assert run["trigger"] == "api"
    assert {c["email"] for c in sync_project.emulator.dump()["customers"]} == {
        "ada@example.com",
        "alan@example.com",
    }


def test_trigger_wait_prints_a_summary_and_exits_as_bcsync_run_does(
    sync_project: Any, ui_server: Any
):
    server = served(sync_project, ui_server, INSERT)

    done = trigger(sync_project, server, "vip_customers", "--wait")
    assert done.returncode == 0, done.stderr
    run_id, line = done.stdout.strip().splitlines()
    assert line.startswith("vip_customers: success in ")
    assert "2 succeeded, 0 rejected, 0 invalid" in line

    with_a_taken_email(sync_project)
    warned = trigger(sync_project, server, "vip_customers", "--wait")
    assert warned.returncode == 0, warned.stderr  # rows rejected: still exit 0, as `bcsync run`
    assert "vip_customers: warning in " in warned.stdout
    assert "1 rejected" in warned.stdout

    sync_project.emulator.faults([{"path": "*", "status": 401}])
    failed = trigger(sync_project, server, "vip_customers", "--wait", "--json")
    sync_project.emulator.faults([])
    assert failed.returncode == 1, failed.stderr
    document = json.loads(failed.stdout)
    assert document["status"] == "failed"
    assert document["trigger"] == "api"
    assert document["error"]
    for output in (done, warned, failed):
        assert TOKEN not in output.stdout + output.stderr
    assert run_id != document["run_id"]


def test_trigger_errors_say_what_is_wrong_and_never_show_the_token(
    sync_project: Any, ui_server: Any
):
    server = served(sync_project, ui_server)

    nobody = sync_project.cli(
        "trigger", "vip_customers", "--server", f"http://127.0.0.1:{free_port()}"
    )
    assert nobody.returncode == 1
    assert "cannot reach bcsync serve at http://127.0.0.1:" in nobody.stderr
    assert "is it running" in nobody.stderr

    no_token = trigger(sync_project, server, "vip_customers", token=None)
    assert no_token.returncode == 2
    assert "wants a token: set BCSYNC_TOKEN or pass --token-file" in no_token.stderr

    wrong = trigger(sync_project, server, "vip_customers", token="not-the-token-" + TOKEN[:4])
    assert wrong.returncode == 2
    assert "refused the token" in wrong.stderr
    assert "not-the-token" not in wrong.stdout + wrong.stderr

    token_file = sync_project.dir / "token.txt"
    token_file.write_text(TOKEN + "\n")
    unknown = trigger(
        sync_project, server, "nope", "--token-file", str(token_file), token="wrong-one"
    )
    assert unknown.returncode == 2
    assert "has no sync named 'nope'" in unknown.stderr
    assert TOKEN not in unknown.stdout + unknown.stderr


def test_trigger_of_a_running_sync_names_the_run_in_progress(sync_project: Any, ui_server: Any):
    server = served(sync_project, ui_server)
    sync_project.emulator.faults([{"path": "*", "latency_ms": 1500, "times": 100_000}])
    try:
        first = trigger(sync_project, server, "vip_customers")
        assert first.returncode == 0, first.stderr
        running_id = first.stdout.strip()

        second = trigger(sync_project, server, "vip_customers", "--wait")

        assert second.returncode == 1
        assert f"sync 'vip_customers' is already running (run {running_id})" in second.stderr
        assert second.stdout == ""
        with (
            BcsyncClient(server.base_url, TOKEN) as client,
            pytest.raises(AlreadyRunning) as caught,
        ):
            client.trigger("vip_customers")
        assert caught.value.run_id == running_id
    finally:
        sync_project.emulator.faults([])


def test_run_and_wait_fails_on_warning_only_when_told(
    sync_project: Any, ui_server: Any, monkeypatch: pytest.MonkeyPatch
):
    server = served(sync_project, ui_server, INSERT)
    monkeypatch.setenv("BCSYNC_TOKEN", TOKEN)  # what the recipes read when given no token

    first = run_and_wait("vip_customers", server=server.base_url, poll=0.2, fail_on_warning=True)
    assert first["status"] == "success"
    assert first["counts"]["succeeded"] == 2

    with_a_taken_email(sync_project)
    warned = run_and_wait("vip_customers", server=server.base_url, poll=0.2)
    assert warned["status"] == "warning"

    with pytest.raises(RunFailed) as caught:
        run_and_wait("vip_customers", server=server.base_url, poll=0.2, fail_on_warning=True)
    assert caught.value.run["status"] == "warning"
    assert "warning" in str(caught.value)

    sync_project.emulator.faults([{"path": "*", "status": 401}])
    with pytest.raises(RunFailed) as failed:
        run_and_wait("vip_customers", server=server.base_url, poll=0.2)
    assert failed.value.run["status"] == "failed"
    assert TOKEN not in str(failed.value)


@pytest.mark.parametrize("example", ["airflow_dag.py", "dagster_job.py"])
def test_the_orchestrator_recipes_compile_and_call_only_run_and_wait(example: str):
    path = EXAMPLES / example
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    orchestrator = "airflow" if example.startswith("airflow") else "dagster"
    assert imported <= {"__future__", "bcsync", orchestrator, "os", "datetime", "typing"}
    from_bcsync = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bcsync")
        for alias in node.names
    }
    assert from_bcsync == {"run_and_wait"}
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert "run_and_wait" in calls


def test_the_client_refuses_a_server_that_is_not_a_url():
    from bcsync.client import BadOptions

    with pytest.raises(BadOptions, match="http:// or https://"):
        BcsyncClient("127.0.0.1:8600")


def test_with_workers_a_triggered_run_waits_queued_until_a_worker_runs_it(
    sync_project: Any, ui_server: Any, postgres_url: str
):
    sync_project.state_url = postgres_url  # executor: queue needs a PostgreSQL run store
    sync_project.load("customers", ROWS)
    sync_project.configure(VIP_CUSTOMERS, extra="executor: queue\n")
    server = ui_server(sync_project.dir, env={"BCSYNC_UI_TOKEN": TOKEN})

    with BcsyncClient(server.base_url, TOKEN) as client:
        run_id = client.trigger("vip_customers")
        queued = client.run(run_id)
        assert (queued["status"], queued["finished"]) == ("queued", False)
        with pytest.raises(AlreadyRunning) as waiting:
            client.trigger("vip_customers")  # one run of a sync waits at most
        assert waiting.value.run_id == run_id

        worker = sync_project.popen("worker")
        try:
            run = client.wait(run_id, timeout=90, poll=0.2)
            assert (run["status"], run["trigger"]) == ("success", "api")

            done = trigger(sync_project, server, "vip_customers", "--wait", "--timeout", "90")
            assert done.returncode == 0, done.stderr + (sync_project.dir / "popen.log").read_text()
            assert "vip_customers: success in " in done.stdout
        finally:
            worker.terminate()
            worker.wait(30)
    assert {c["email"] for c in sync_project.emulator.dump()["customers"]} == {
        "ada@example.com",
        "alan@example.com",
    }
