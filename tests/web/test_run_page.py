"""The Run page: rejected and invalid rows grouped by message, PK search, CSV and JSON exports,
and a run in progress watched live — in Chromium against ``bcsync serve``, and over plain HTTP.

Runs go through the CLI (``sync_project.cli``/``popen``): Chromium's event loop is open in this
thread while a browser test runs.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.projects import SyncProject

CUSTOMERS = """\
customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: id}
  mode: insert
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
TOO_LONG = "is 150 characters long; the maximum is 100"


def customer(n: int, **overrides: Any) -> dict[str, Any]:
    return {"id": n, "email": f"user{n}@example.com", "first_name": f"F{n}", "last_name": "L"} | (
        overrides
    )


def run_json(sync_project: SyncProject, *args: str) -> dict[str, Any]:
    done = sync_project.cli("run", "customers", "--json", *args)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def run_with_problems(sync_project: SyncProject, emulator: Any) -> dict[str, Any]:
    """Ten rows of which two emails are taken in the store (rejected), and three rows whose
    first name is too long (invalid, one message for the three)."""
    with emulator.client() as http:
        for n in (3, 7):
            taken = {"email": f"user{n}@example.com", "first_name": "Taken", "last_name": "T"}
            assert http.post("/v3/customers", json=[taken]).status_code == 200
    rows = [customer(n) for n in range(1, 11)]
    rows += [customer(n, first_name="x" * 150) for n in (11, 12, 13)]
    sync_project.load("customers", rows)
    sync_project.configure(CUSTOMERS)
    result = run_json(sync_project)
    assert result["status"] == "warning", result
    assert (result["counts"]["rejected"], result["counts"]["invalid"]) == (2, 3), result
    return result


# -- the rejected rows in a browser ------------------------------------------------------------


def test_the_run_page_groups_rows_by_message_finds_a_pk_and_exports_them(
    sync_project: SyncProject, emulator: Any, ui_server: Any, page: Any, tmp_path: Path
) -> None:
    result = run_with_problems(sync_project, emulator)
    run_id = result["run_id"]
    server = ui_server(sync_project.dir)

    page.goto(server.url(f"/runs/{run_id}"))

    assert page.get_by_role("heading", name=f"Run {run_id[:8]}").is_visible()
    assert page.locator('[data-live="status"]').inner_text() == "warning"
    invalid = page.locator("section.error-group").filter(has_text=TOO_LONG)
    assert invalid.locator(".group-count").inner_text() == "3 rows"
    assert invalid.get_by_role("link", name="12").is_visible()
    # The most common message first; the two taken emails are two messages of one row each.
    assert page.locator("section.error-group").first.locator(".group-count").inner_text() == (
        "3 rows"
    )
    rejected = page.locator("section.error-group").filter(has_text="rejected")
    assert rejected.locator(".group-count").all_inner_texts() == ["1 row", "1 row"]
    assert sorted(rejected.locator("tbody tr td:first-child").all_inner_texts()) == ["3", "7"]
    assert rejected.filter(has_text="user7@example.com").get_by_role("link", name="7").count()
    assert page.locator('[data-count="succeeded"]').inner_text() == "8"
    # Finished: nothing follows it live.
    assert page.locator("[data-live-run]").count() == 0

    page.get_by_label("Primary key").fill("7")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**pk=7")
    groups = page.locator("section.error-group")
    assert groups.count() == 1
    assert groups.locator(".group-count").inner_text() == "1 row"
    assert groups.locator("tbody tr").all_inner_texts()[0].startswith("7")
    # The pk leads to the row's page and to the debugger filtered by it.
    row_link = groups.get_by_role("link", name="7").get_attribute("href")
    assert row_link == server.url("/syncs/customers/rows/7")
    calls = groups.get_by_role("link", name="calls").get_attribute("href")
    assert calls == f"/runs/{run_id}/calls?pk=7"

    page.get_by_label("Primary key").fill("1")  # a row that landed is not a problem row
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**pk=1")
    assert (
        "No rejected or invalid row with primary key 1 in this run: row 1 succeeded (create)."
        in (page.locator("main").inner_text())
    )

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    csv_path = tmp_path / "rows.csv"
    csv_download.value.save_as(csv_path)
    exported = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert sorted((r["pk"], r["outcome"]) for r in exported) == [
        ("11", "invalid"),
        ("12", "invalid"),
        ("13", "invalid"),
        ("3", "rejected"),
        ("7", "rejected"),
    ]
    with page.expect_download() as json_download:
        page.get_by_role("link", name="JSON").click()
    json_path = tmp_path / "rows.json"
    json_download.value.save_as(json_path)
    document = json.loads(json_path.read_text())
    assert document["run_id"] == run_id
    assert {r["pk"]: r["error"] for r in document["rows"]}["12"].endswith(TOO_LONG)


def test_a_failed_run_shows_its_raw_error(
    sync_project: SyncProject, ui_server: Any, page: Any
) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(
        CUSTOMERS.replace(
            "{column: last_name, field: last_name}", "{column: nope, field: last_name}"
        )
    )
    done = sync_project.cli("run", "customers", "--json")
    failed = json.loads(done.stdout)
    assert failed["status"] == "failed"
    server = ui_server(sync_project.dir)

    page.goto(server.url(f"/runs/{failed['run_id']}"))

    assert page.get_by_role("heading", name="Error").is_visible()
    assert "nope" in page.locator("pre.raw-error").inner_text()
    assert page.locator('[data-live="status"]').inner_text() == "failed"


# -- a run watched live ------------------------------------------------------------------------


def test_a_run_in_progress_is_followed_live_to_success(
    sync_project: SyncProject, emulator: Any, ui_server: Any, page: Any
) -> None:
    rows = 2500  # three checkpoints of 1000 rows: the page sees it part-way
    sync_project.load("customers", [customer(n) for n in range(1, rows + 1)])
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir)
    emulator.faults([{"path": "*", "latency_ms": 80, "times": 100_000}])
    process = sync_project.popen("run", "customers")
    run_id = wait_for_run(server)

    page.goto(server.url(f"/runs/{run_id}"))
    page.evaluate("window.__notReloaded = true")
    assert page.locator("[data-live-run]").count() == 1  # it is going: the page follows it
    done = "document.querySelector('[data-live=\"progress-text\"]').textContent.split(' ')[0]"
    page.wait_for_function(f"['1000', '2000'].includes({done})", timeout=60_000)  # part-way
    assert page.locator('[data-live="status"]').inner_text() == "syncing"
    assert "rows/s" in page.locator('[data-live="rate"]').inner_text()
    assert page.locator('[data-live="eta"]').inner_text().startswith("ETA")
    assert page.locator('[data-phase="syncing"]').get_attribute("class") == "reached"

    page.wait_for_function(
        "document.querySelector('[data-live=\"status\"]').textContent === 'success'",
        timeout=90_000,
    )
    assert process.wait(timeout=30) == 0
    assert page.evaluate("window.__notReloaded") is True  # updated in place, not reloaded
    held = len(emulator.dump()["customers"])
    assert held == rows
    assert page.locator('[data-count="succeeded"]').inner_text() == str(held)
    assert (
        page.locator('[data-live="progress-text"]').inner_text() == f"{rows} of {rows} rows (100%)"
    )
    assert page.locator('[data-phase="finished"]').get_attribute("class") == "reached"
    assert "has finished (success)" in page.locator('[data-live="note"]').inner_text()


def wait_for_run(server: Any) -> str:
    """The id of the run the CLI started, once it is in the run store (the Syncs page links it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = latest_run_id(server)
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError("the run never appeared in the run store")


def latest_run_id(server: Any) -> str | None:
    from bcsync.api import load_project

    project = load_project(Path(server.log).parent)
    runs = project.runs("customers", limit=1)
    return runs[0].run_id if runs else None


# -- plain HTTP ----------------------------------------------------------------------------------


def test_exports_and_events_over_http(
    sync_project: SyncProject, emulator: Any, ui_server: Any
) -> None:
    result = run_with_problems(sync_project, emulator)
    run_id = result["run_id"]
    server = ui_server(sync_project.dir)

    answer = httpx.get(server.url(f"/runs/{run_id}/rows.csv"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f'filename="run-{run_id}-rows.csv"' in answer.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(table[0]) == ["pk", "outcome", "op", "error", "dest_id"]
    assert {r["pk"] for r in table if r["outcome"] == "rejected"} == {"3", "7"}
    assert all(r["op"] == "create" for r in table if r["outcome"] == "rejected")

    answer = httpx.get(server.url(f"/runs/{run_id}/rows.json"))
    assert answer.status_code == 200
    document = answer.json()
    assert (document["run_id"], document["sync"]) == (run_id, "customers")
    assert sorted(r["pk"] for r in document["rows"] if r["outcome"] == "invalid") == [
        "11",
        "12",
        "13",
    ]

    # A finished run's stream is one ``done`` event with its counts, then the end.
    with httpx.stream("GET", server.url(f"/runs/{run_id}/events"), timeout=10) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        text = "".join(events.iter_text())
    name, data = parse_events(text)[-1]
    assert name == "done"
    assert (data["status"], data["counts"]["rejected"], data["counts"]["invalid"]) == (
        "warning",
        2,
        3,
    )
    assert data["done"] == data["planned"] == 10

    # A unique prefix names the run; the page of a run that does not exist is a 404.
    assert httpx.get(server.url(f"/runs/{run_id[:10]}")).status_code == 200
    for path in ("/runs/nosuchrun", "/runs/nosuchrun/rows.csv", "/runs/nosuchrun/events"):
        assert httpx.get(server.url(path)).status_code == 404, path
    # A group's next page is a link away (keyset paging); the search narrows every group.
    page = httpx.get(server.url(f"/runs/{run_id}"), params={"pk": "12"}).text
    assert "1 row" in page and TOO_LONG in page and "Taken" not in page


def test_the_event_stream_follows_a_run_in_progress(
    sync_project: SyncProject, emulator: Any, ui_server: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 2501)])
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir)
    emulator.faults([{"path": "*", "latency_ms": 25, "times": 100_000}])
    process = sync_project.popen("run", "customers")
    run_id = wait_for_run(server)
    # Without JavaScript, a running run's page refreshes itself and offers a Reload link.
    going = httpx.get(server.url(f"/runs/{run_id}")).text
    assert '<meta http-equiv="refresh"' in going and ">Reload</a>" in going
    assert f'data-live-run="{server.url(f"/runs/{run_id}/events")}"' in going

    with httpx.stream("GET", server.url(f"/runs/{run_id}/events"), timeout=60) as events:
        text = "".join(events.iter_text())
    assert process.wait(timeout=30) == 0
    received = parse_events(text)
    progress = [data for name, data in received if name == "progress"]
    assert progress, text
    assert any(0 < p["done"] < 2500 and p["planned"] == 2500 for p in progress), progress
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones)  # progress only goes forward
    name, final = received[-1]
    assert (name, final["status"], final["done"], final["percent"]) == (
        "done",
        "success",
        2500,
        100,
    )
    assert final["counts"]["succeeded"] == len(emulator.dump()["customers"]) == 2500


def parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_big_group_pages_by_key(sync_project: SyncProject, ui_server: Any) -> None:
    sync_project.load("customers", [customer(n, first_name="x" * 150) for n in range(1, 26)])
    sync_project.configure(CUSTOMERS)
    run_id = run_json(sync_project)["run_id"]
    server = ui_server(sync_project.dir)

    first = httpx.get(server.url(f"/runs/{run_id}")).text
    assert "25 rows" in first
    listed = re.findall(r'/syncs/customers/rows/(\d+)"', first)
    assert len(listed) == 20
    [next_link] = re.findall(r'href="([^"]+)">Next rows with this message', first)
    rest = httpx.get(html.unescape(next_link)).text
    more = re.findall(r'/syncs/customers/rows/(\d+)"', rest)
    assert len(more) == 5
    assert sorted(listed + more, key=int) == [str(n) for n in range(1, 26)]
    assert "Next rows with this message" not in rest
