"""The ``bcsync`` command line as a user sees it: output, JSON documents and exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bcsync.cli.commands import app
from bcsync.config.project import load_config
from bcsync.state import RowOutcomeRecord, RunStore

TOKEN = "s3cret-token-value"

PROJECT = """\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: ${STORE_HASH}
    access_token: ${ACCESS_TOKEN}
    api_url: http://127.0.0.1:9
syncs:
  vip:
    destination: store
    object: customers
    model: {table: customers, primary_key: customer_key}
    mode: upsert
    match: {column: email, field: email}
    mappings:
      - {column: first_name, field: first_name}
  leads:
    destination: store
    object: customers
    model: {sql: select * from leads, primary_key: id}
    mode: insert
    mappings:
      - {column: email, field: email}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("STORE_HASH", raising=False)
    monkeypatch.delenv("ACCESS_TOKEN", raising=False)
    (tmp_path / "bcsync.yml").write_text(PROJECT)
    (tmp_path / ".env").write_text(f"STORE_HASH=abc123\nACCESS_TOKEN={TOKEN}\n")
    return tmp_path


def seed_runs(project: Path) -> list[str]:
    """Two finished runs: vip (warning, a rejected and an invalid row) then leads (failed)."""
    config = load_config(project)
    with RunStore.open(config.state_url) as store:
        vip = store.start_run("vip")
        store.add_outcomes(
            vip,
            [RowOutcomeRecord(pk=str(n), outcome="succeeded", op="create") for n in range(1, 9)]
            + [
                RowOutcomeRecord(pk="9", outcome="rejected", op="create", error="email is taken"),
                RowOutcomeRecord(pk="10", outcome="invalid", error="duplicate primary key"),
            ]
            + [
                RowOutcomeRecord(pk=str(n), outcome="invalid", error=f"null email in row {n}")
                for n in range(11, 18)
            ],
        )
        counts = {"queried": 17, "invalid": 8, "added": 17, "planned": 9}
        store.finish_run(
            vip, "warning", counts={**counts, "succeeded": 8, "rejected": 1}, api_calls=3
        )
        leads = store.start_run("leads")
        store.finish_run(leads, "failed", counts={}, api_calls=1, error="401 Unauthorized")
    return [vip, leads]


# -- configuration errors ---------------------------------------------------------------------


def test_missing_variable_is_exit_2_naming_file_line_and_variable(
    runner: CliRunner, project: Path
) -> None:
    (project / ".env").write_text("STORE_HASH=abc123\n")
    result = runner.invoke(app, ["--project", str(project), "plan", "vip", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert re.search(r"^error: \S*bcsync\.yml:8: .*ACCESS_TOKEN", result.stderr, re.M)


def test_unknown_sync_is_exit_2_listing_the_syncs(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["--project", str(project), "plan", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.stderr and "leads, vip" in result.stderr


def test_no_project_file_is_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--project", str(tmp_path), "runs"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no project file")
    assert "bcsync init" in result.stderr


def test_run_needs_names_or_all_but_not_both(runner: CliRunner, project: Path) -> None:
    for args in (["run"], ["run", "vip", "--all"]):
        result = runner.invoke(app, ["--project", str(project), *args])
        assert result.exit_code == 2, args
        assert "--all" in result.stderr
    assert runner.invoke(app, ["--project", str(project), "run", "--bogus"]).exit_code == 2


# -- run history -------------------------------------------------------------------------------


def test_runs_json_is_one_document_newest_first(runner: CliRunner, project: Path) -> None:
    vip, leads = seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "runs", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert [run["run_id"] for run in document["runs"]] == [leads, vip]
    assert document["runs"][1]["status"] == "warning"
    assert document["runs"][1]["counts"]["rejected"] == 1

    only_vip = runner.invoke(app, ["--project", str(project), "runs", "vip", "--json"])
    assert [run["sync"] for run in json.loads(only_vip.stdout)["runs"]] == ["vip"]
    limited = runner.invoke(app, ["--project", str(project), "runs", "--json", "--limit", "1"])
    assert [run["run_id"] for run in json.loads(limited.stdout)["runs"]] == [leads]


def test_runs_table_shows_status_and_counts(runner: CliRunner, project: Path) -> None:
    vip, leads = seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "runs"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    vip_line = next(line for line in lines if vip[:8] in line)
    assert "warning" in vip_line and "17" in vip_line
    assert "failed" in next(line for line in lines if leads[:8] in line)


def test_runs_without_history(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["--project", str(project), "runs"])
    assert result.exit_code == 0
    assert "No runs yet." in result.stdout


def test_show_says_when_a_runs_rows_are_no_longer_kept(runner: CliRunner, project: Path) -> None:
    from datetime import UTC, datetime, timedelta

    vip, _ = seed_runs(project)
    args = ["--project", str(project), "show", vip[:8]]
    assert "no longer kept" not in runner.invoke(app, args).stdout
    with RunStore.open(load_config(project).state_url) as store:
        store.prune_row_outcomes(datetime.now(UTC) + timedelta(seconds=1))
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0
    assert "rows are no longer kept (state.retention_days)" in shown.stdout
    assert re.search(r"rejected\s+1", shown.stdout)  # the counts stay


def test_show_json_by_prefix_has_the_design_shape(runner: CliRunner, project: Path) -> None:
    vip, _ = seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "show", vip[:10], "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {
        "run_id", "sync", "status", "started_at", "finished_at", "error",
        "counts", "api_calls", "rejected_rows", "invalid_rows",
    }  # fmt: skip
    assert document["run_id"] == vip
    assert document["rejected_rows"] == [{"pk": "9", "op": "create", "error": "email is taken"}]
    assert document["invalid_rows"][0] == {"pk": "10", "reason": "duplicate primary key"}
    assert len(document["invalid_rows"]) == 8


def test_show_lists_a_few_rows_and_points_at_rows(runner: CliRunner, project: Path) -> None:
    vip, _ = seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "show", vip])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "warning" in out
    assert "pk 9 create: email is taken" in out
    assert "pk 10: duplicate primary key" in out
    assert "null email in row 17" not in out  # only the first few rows in the summary
    assert "… and 3 more" in out
    assert f"bcsync show {vip} --rows" in out

    every = runner.invoke(app, ["--project", str(project), "show", vip, "--rows"])
    assert every.exit_code == 0
    assert "null email in row 17" in every.stdout
    assert "--rows" not in every.stdout


def test_show_unknown_run_is_exit_2(runner: CliRunner, project: Path) -> None:
    seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "show", "zzzz"])
    assert result.exit_code == 2
    assert "no run 'zzzz'" in result.stderr


def test_show_failed_run_prints_its_error(runner: CliRunner, project: Path) -> None:
    _, leads = seed_runs(project)
    result = runner.invoke(app, ["--project", str(project), "show", leads])
    assert result.exit_code == 0
    assert "failed" in result.stdout and "401 Unauthorized" in result.stdout


def test_no_command_prints_the_token(runner: CliRunner, project: Path) -> None:
    vip, _ = seed_runs(project)
    for args in (["runs"], ["runs", "--json"], ["show", vip], ["plan", "nope"]):
        result = runner.invoke(app, ["--project", str(project), *args])
        assert TOKEN not in result.stdout + result.stderr, args


# -- the emulator ------------------------------------------------------------------------------


def test_emulator_prints_where_it_listens_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    command = [sys.executable, "-m", "bcsync", "emulator", "--port", "0"]
    command += ["--store-hash", "shop42", "--token", "tok-9", "--quota", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        banner = ""
        deadline = time.monotonic() + 30
        while "Ctrl-C" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        url = re.search(r"listening on (http://\S+)", banner)
        assert url, banner
        assert re.search(r"store_hash\s+shop42", banner)
        assert re.search(r"access_token\s+tok-9", banner)
        assert f"BIGCOMMERCE_API_URL={url[1]}" in banner
        answer = httpx.get(f"{url[1]}/stores/shop42/v2/time", headers={"X-Auth-Token": "tok-9"})
        assert answer.status_code == 200 and "time" in answer.json()
        refused = httpx.get(f"{url[1]}/stores/shop42/v2/time", headers={"X-Auth-Token": "nope"})
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err


# -- snapshots ---------------------------------------------------------------------------------


def seed_snapshot(project: Path) -> Path:
    from bcsync.run.snapshot import Confirmed, Failed, Snapshot, snapshot_path

    path = snapshot_path(project, "vip")
    with Snapshot(path) as snapshot:
        snapshot.confirm(
            [Confirmed(pk=str(n), row_hash=f"h{n}", dest_id=str(100 + n)) for n in range(5)]
        )
        snapshot.fail([Failed(pk="7", error="email is taken")])
    return path


def test_state_show_counts_the_snapshot(runner: CliRunner, project: Path) -> None:
    seed_snapshot(project)
    result = runner.invoke(app, ["--project", str(project), "state", "show", "vip", "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["snapshot"]
    assert summary["total"] == 6 and summary["synced"] == 5 and summary["failed"] == 1
    human = runner.invoke(app, ["--project", str(project), "state", "show", "vip"])
    assert re.search(r"synced\s+5", human.stdout) and re.search(r"failed\s+1", human.stdout)


def test_state_show_lists_the_rows_that_keep_failing(runner: CliRunner, project: Path) -> None:
    from bcsync.run.snapshot import Failed, Snapshot

    path = seed_snapshot(project)
    with Snapshot(path) as snapshot:
        snapshot.fail([Failed(pk="7", error="email is taken")])  # a second attempt
        snapshot.fail([Failed(pk="3", error="phone too long", dest_id="103")])
        snapshot.mark_pending([("9", "create")])
    args = ["--project", str(project), "state", "show", "vip"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)["unsettled"]
    # in doubt first, then failed with the most attempts first
    assert [(r["pk"], r["status"], r["attempts"], r["error"], r["in_flight"]) for r in listed] == [
        ("9", "pending", 0, None, "create"),
        ("7", "failed", 2, "email is taken", None),
        ("3", "failed", 1, "phone too long", None),
    ]
    assert json.loads(result.stdout)["snapshot"]["unsettled"] == 3
    human = runner.invoke(app, args, terminal_width=200)
    assert "Rows not settled" in human.stdout
    cells = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in human.stdout.splitlines()
        if line.startswith("│")
    ]
    assert cells[0][:3] == ["9", "in doubt: create", "0"]
    assert [cells[1][:3], cells[1][4]] == [["7", "failed", "2"], "email is taken"]


def test_state_show_lists_at_most_100_rows_unless_asked(runner: CliRunner, project: Path) -> None:
    from bcsync.run.snapshot import Failed, Snapshot, snapshot_path

    with Snapshot(snapshot_path(project, "vip")) as snapshot:
        snapshot.fail([Failed(pk=str(n), error="rejected") for n in range(150)])
    args = ["--project", str(project), "state", "show", "vip"]
    assert len(json.loads(runner.invoke(app, [*args, "--json"]).stdout)["unsettled"]) == 100
    everything = runner.invoke(app, [*args, "--json", "--rows"])
    assert len(json.loads(everything.stdout)["unsettled"]) == 150
    assert "100 of 150 shown; --rows lists them all" in runner.invoke(app, args).stdout


def test_state_show_before_any_run(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["--project", str(project), "state", "show", "leads"])
    assert result.exit_code == 0
    assert "no snapshot yet" in result.stdout
    bad = runner.invoke(app, ["--project", str(project), "state", "show", "ghost"])
    assert bad.exit_code == 2 and "ghost" in bad.stderr


def test_state_reset_asks_first(runner: CliRunner, project: Path) -> None:
    seed_snapshot(project)
    args = ["--project", str(project), "state", "reset", "vip"]
    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 1
    assert "Forget the snapshot of 'vip'?" in declined.stderr
    show = ["--project", str(project), "state", "show", "vip", "--json"]
    assert json.loads(runner.invoke(app, show).stdout)["snapshot"]["total"] == 6

    accepted = runner.invoke(app, args, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert "6 rows forgotten" in accepted.stdout
    after = json.loads(runner.invoke(app, show).stdout)["snapshot"]
    # Nothing is held any more; each row stays a tombstone so it finds its record again.
    assert after["synced"] == after["owned"] == 0 and after["released"] == 6


def test_state_reset_with_yes_does_not_ask(runner: CliRunner, project: Path) -> None:
    seed_snapshot(project)
    result = runner.invoke(app, ["--project", str(project), "state", "reset", "vip", "--yes"])
    assert result.exit_code == 0
    assert "Forget" not in result.stderr
    assert "snapshot reset" in result.stdout


# -- runs against the emulator (real engine, real HTTP, CLI in a subprocess) -------------------

VIP_SYNC = """\
vip:
  destination: store
  object: customers
  model: {table: customers, primary_key: customer_key}
  mode: upsert
  match: {column: email, field: email}
  mappings:
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
VIP_AND_LEADS = (
    VIP_SYNC
    + """\
leads:
  destination: store
  object: customers
  model: {sql: "select * from customers where customer_key > 20", primary_key: customer_key}
  mode: update
  match: {column: email, field: email}
  mappings:
    - {column: last_name, field: last_name}
"""
)


def customers(n: int, bad_email: int | None = None) -> list[dict[str, object]]:
    return [
        {
            "customer_key": key,
            "email": "not-an-email" if key == bad_email else f"c{key}@example.com",
            "first_name": f"First{key}",
            "last_name": f"Last{key}",
        }
        for key in range(1, n + 1)
    ]


def test_run_json_is_the_run_document_and_history_keeps_it(sync_project) -> None:
    sync_project.load("customers", customers(25))
    sync_project.configure(VIP_SYNC)
    result = sync_project.cli("run", "vip", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads(result.stdout)
    assert run["sync"] == "vip" and run["status"] == "success"
    assert run["counts"]["added"] == 25 and run["counts"]["succeeded"] == 25
    assert run["api_calls"] >= 3  # 25 customers are at least 3 batches of 10
    assert len(sync_project.emulator.dump()["customers"]) == 25

    shown = sync_project.cli("show", run["run_id"][:8], "--json")
    assert json.loads(shown.stdout) == run
    history = json.loads(sync_project.cli("runs", "--json").stdout)["runs"]
    assert [entry["run_id"] for entry in history] == [run["run_id"]]


def test_run_summary_shows_invalid_rows_and_the_hint(sync_project) -> None:
    sync_project.load("customers", customers(12, bad_email=7))
    sync_project.configure(VIP_SYNC)
    result = sync_project.cli("run", "vip")
    assert result.returncode == 0, result.stderr  # a warning is not a failure
    out = result.stdout
    assert "warning" in out
    assert re.search(r"invalid 1\b", out) and re.search(r"succeeded 11\b", out)
    assert re.search(r"pk 7: .*not a valid email", out)
    run_id = json.loads(sync_project.cli("runs", "--json").stdout)["runs"][0]["run_id"]
    assert f"bcsync show {run_id} --rows" in out
    assert "Traceback" not in result.stderr


def test_second_run_sends_only_the_change(sync_project) -> None:
    sync_project.load("customers", customers(30))
    sync_project.configure(VIP_SYNC)
    assert sync_project.cli("run", "vip").returncode == 0
    sync_project.sql("update customers set last_name = 'Changed' where customer_key = 3")
    plan = sync_project.cli("plan", "vip", "--json")
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    assert set(document) == {
        "sync", "counts", "operations", "estimated_api_calls", "estimated_seconds", "planner"
    }  # fmt: skip
    # The local planner over a DuckDB warehouse runs the model in its own DuckDB: no bytes out.
    assert document["planner"] == {
        "planner": "local", "scanned": 30, "rows_read": 30, "bytes_read": 0
    }  # fmt: skip
    assert document["counts"]["changed"] == 1 and document["counts"]["added"] == 0
    assert document["operations"]["update"] == 1

    human = sync_project.cli("plan", "vip")
    assert re.search(r"changed 1\b", human.stdout) and "API calls" in human.stdout
    run = json.loads(sync_project.cli("run", "vip", "--json").stdout)
    assert run["counts"]["changed"] == 1 and run["counts"]["succeeded"] == 1
    lasts = {c["email"]: c["last_name"] for c in sync_project.emulator.dump()["customers"]}
    assert lasts["c3@example.com"] == "Changed"


def test_several_syncs_give_one_document_with_runs(sync_project) -> None:
    sync_project.load("customers", customers(24))
    sync_project.configure(VIP_AND_LEADS)
    result = sync_project.cli("run", "vip", "leads", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [run["sync"] for run in runs] == ["vip", "leads"]
    everything = sync_project.cli("run", "--all", "--json")
    assert sorted(run["sync"] for run in json.loads(everything.stdout)["runs"]) == [
        "leads",
        "vip",
    ]


def test_a_failed_run_exits_1_without_printing_the_token(sync_project) -> None:
    sync_project.load("customers", customers(5))
    sync_project.configure(VIP_SYNC)
    wrong = {"BIGCOMMERCE_ACCESS_TOKEN": "wrong-token-123"}
    result = sync_project.cli("run", "vip", "--json", env=wrong)
    assert result.returncode == 1, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "failed" and run["error"]
    human = sync_project.cli("run", "vip", env=wrong)
    assert human.returncode == 1 and "failed" in human.stdout
    for output in (result.stdout, result.stderr, human.stdout, human.stderr):
        assert "wrong-token-123" not in output
        assert sync_project.emulator.token not in output


def test_check_passes_then_names_a_missing_column(sync_project) -> None:
    sync_project.load("customers", customers(3))
    sync_project.configure(VIP_SYNC)
    good = sync_project.cli("check")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✓ vip" in good.stdout
    sync_project.configure(VIP_SYNC.replace("{column: last_name,", "{column: surname,"))
    bad = sync_project.cli("check", "vip")
    assert bad.returncode == 2
    assert "✗ vip" in bad.stdout and "surname" in bad.stdout


# -- the progress bar ----------------------------------------------------------------------------


def test_progress_bar_shows_rows_rate_and_eta() -> None:
    import io

    from rich.console import Console

    from bcsync.cli.progress import RunProgress
    from bcsync.run import events

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    with RunProgress(console) as bar:
        bar(events.RunStarted("vip", "r1"))
        bar(events.Planned("vip", "r1", {"added": 500}, 500))
        bar(events.Progress("vip", "r1", 100, 500, 10))
        time.sleep(0.05)
        bar(events.Progress("vip", "r1", 250, 500, 25))
    text = screen.getvalue()
    assert "250/500" in text
    assert re.search(r"\b[1-9][\d,]* rows/s", text) and re.search(r"ETA \d+:\d\d", text)


def test_progress_bar_is_not_drawn_when_stderr_is_not_a_terminal() -> None:
    import io

    from rich.console import Console

    from bcsync.cli.progress import RunProgress
    from bcsync.run import events

    log = io.StringIO()
    with RunProgress(Console(file=log)) as bar:
        bar(events.RunStarted("vip", "r1"))
        bar(events.Progress("vip", "r1", 5, 10, 1))
    assert log.getvalue() == ""


# -- init ----------------------------------------------------------------------------------------


def test_init_scaffolds_and_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.stderr
    for name in ("bcsync.yml", ".env.example"):
        assert (target / name).is_file() and f"created {target / name}" in result.stdout
    assert (target / "models").is_dir()
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_a_fresh_project_checks_and_runs_against_the_emulator(tmp_path: Path, emulator) -> None:
    target = tmp_path / "shop"
    assert CliRunner().invoke(app, ["init", str(target)]).exit_code == 0
    (target / ".env").write_text(
        f"BIGCOMMERCE_STORE_HASH={emulator.store_hash}\n"
        f"BIGCOMMERCE_ACCESS_TOKEN={emulator.token}\n"
        f"BIGCOMMERCE_API_URL={emulator.api_url}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    base = [sys.executable, "-m", "bcsync", "--project", str(target)]

    def bcsync(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    check = bcsync("check")
    assert check.returncode == 0, check.stdout + check.stderr
    run = bcsync("run", "customers", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(run.stdout)
    assert document["status"] == "success" and document["counts"]["succeeded"] > 0
    assert len(emulator.dump()["customers"]) == document["counts"]["succeeded"]


def test_guards_stop_a_mass_delete_unless_overridden(sync_project) -> None:
    sync_project.load("customers", customers(10))
    sync_project.configure(VIP_SYNC + "  on_delete: delete\n")
    assert sync_project.cli("run", "vip").returncode == 0
    sync_project.sql("delete from customers where customer_key > 2")
    stopped = sync_project.cli("run", "vip", "--json")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    run = json.loads(stopped.stdout)
    assert run["status"] == "failed" and run["error"]
    assert len(sync_project.emulator.dump()["customers"]) == 10  # nothing was deleted

    forced = sync_project.cli("run", "vip", "--json", "--override-guards")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert json.loads(forced.stdout)["counts"]["removed"] == 8
    assert len(sync_project.emulator.dump()["customers"]) == 2


def test_full_resync_treats_every_row_as_added(sync_project) -> None:
    sync_project.load("customers", customers(6))
    sync_project.configure(VIP_SYNC)
    assert sync_project.cli("run", "vip").returncode == 0
    again = json.loads(sync_project.cli("run", "vip", "--json", "--full-resync").stdout)
    assert again["counts"]["added"] == 6 and again["counts"]["succeeded"] == 6
    assert len(sync_project.emulator.dump()["customers"]) == 6  # matched, not duplicated


def test_emulator_on_a_taken_port_says_so() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bcsync", "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
