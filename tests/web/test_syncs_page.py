"""The Syncs and Sync pages and their actions (Run now, Plan, Full resync), in Chromium and over
plain HTTP against a real `bcsync serve`; runs are made with the CLI or the UI itself."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bcsync.api import load_project
from bcsync.state import RunStore
from bcsync.state.run_history import RunFilter
from bcsync.state.schema import runs

INSERT = """\
vip_customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: id}
  mode: insert
  on_delete: delete
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
ADA = {"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
ALAN = {"id": 2, "email": "alan@example.com", "first_name": "Alan", "last_name": "Turing"}
TAKEN = {"id": 3, "email": "taken@example.com", "first_name": "Tak", "last_name": "En"}


def held_emails(emulator: Any) -> set[str]:
    return {c["email"] for c in emulator.dump()["customers"]}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def wait_for_run(server: Any, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        run: dict[str, Any] = httpx.get(server.url(f"/api/v1/runs/{run_id}")).json()
        if run["finished"]:  # not "running": a queued run is neither
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.2)


def cli_run(project: Any, *options: str) -> None:
    done = project.cli("run", "vip_customers", *options)
    assert done.returncode in (0, 1), done.stderr


def run_ids(html: str) -> list[str]:
    """The runs listed in a Sync page's history, in the page's order (by their short id)."""
    table = html.split('<table class="runs">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/runs/([0-9a-f]{32})"', table)


def test_run_now_in_the_browser_lands_on_the_run_and_the_syncs_page_shows_it(
    sync_project: Any, ui_server: Any, page: Any
):
    sync_project.load("customers", [ADA, ALAN])
    sync_project.configure(INSERT)
    server = ui_server(sync_project.dir)
    page.goto(server.url("/"))
    row = page.get_by_role("row").filter(has_text="vip_customers")
    assert "never" in row.inner_text()

    page.get_by_role("button", name="Run vip_customers now").click()

    page.wait_for_url(re.compile(r".*/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]
    run = wait_for_run(server, run_id)
    assert run["status"] == "success", run["error"]
    assert run["trigger"] == "manual"
    assert run["counts"]["succeeded"] == 2
    assert held_emails(sync_project.emulator) == {ADA["email"], ALAN["email"]}

    page.goto(server.url("/"))
    cells = row.get_by_role("cell").all_inner_texts()
    assert cells[4].startswith("success")
    assert cells[5:9] == ["2", "0", "no", "none"]
    assert row.get_by_role("link", name="success").get_attribute("href") == f"/runs/{run_id}"

    row.get_by_role("link", name="vip_customers", exact=True).click()
    page.wait_for_url(server.url("/syncs/vip_customers"))
    assert page.get_by_role("heading", name="vip_customers").is_visible()
    history = page.locator("table.runs tbody tr")
    assert history.count() == 1
    assert "manual" in history.first.inner_text()
    assert page.get_by_role(
        "group", name="Rows sent and rejected per run of vip_customers"
    ).is_visible()
    page.get_by_role("link", name=run_id[:8]).click()
    page.wait_for_url(server.url(f"/runs/{run_id}"))


def test_the_sync_page_filters_pages_and_charts_the_history_with_secrets_masked(
    sync_project: Any, ui_server: Any
):
    emulator = sync_project.emulator
    with emulator.client() as http:
        http.post(
            "/v3/customers", json=[{k: TAKEN[k] for k in ("email", "first_name", "last_name")}]
        )
    sync_project.configure(INSERT)
    sync_project.load("customers", [ADA])
    cli_run(sync_project)  # 1: sends Ada
    cli_run(sync_project)  # 2: nothing to do
    sync_project.load("customers", [ADA, TAKEN])
    cli_run(sync_project)  # 3: the taken email is rejected
    server = ui_server(sync_project.dir)
    url = server.url("/syncs/vip_customers")

    everything = httpx.get(url)
    assert everything.status_code == 200
    newest_first = run_ids(everything.text)
    assert len(newest_first) == 3
    third, second, first = newest_first
    runs = {rid: httpx.get(server.url(f"/api/v1/runs/{rid}")).json() for rid in newest_first}
    assert [runs[rid]["status"] for rid in newest_first] == ["warning", "success", "success"]
    assert runs[third]["counts"]["rejected"] == 1 and runs[first]["counts"]["succeeded"] == 1

    assert run_ids(httpx.get(url, params={"rejections": "yes"}).text) == [third]
    assert run_ids(httpx.get(url, params={"zero_ops": "yes"}).text) == [second]
    assert run_ids(httpx.get(url, params={"status": "success"}).text) == [second, first]
    today = datetime.now(UTC).date()
    assert run_ids(httpx.get(url, params={"since": today.isoformat()}).text) == newest_first
    tomorrow = (today + timedelta(days=1)).isoformat()
    nothing = httpx.get(url, params={"since": tomorrow})
    assert run_ids(nothing.text) == [] and "No run matches these filters." in nothing.text
    yesterday = (today - timedelta(days=1)).isoformat()
    assert run_ids(httpx.get(url, params={"until": yesterday}).text) == []
    bad = httpx.get(url, params={"status": "exploded", "since": "soon"})
    assert "unknown status" in bad.text and "not a date" in bad.text

    # Paging by key: one run a page, following the "Older runs" links.
    seen: list[str] = []
    link: str | None = "/syncs/vip_customers?limit=1"
    while link is not None:
        html = httpx.get(server.url(link.replace("&amp;", "&"))).text
        seen += run_ids(html)
        older = re.search(r'<a href="([^"]+)" rel="next">Older runs</a>', html)
        link = older.group(1) if older else None
        assert link is None or ("before=" in link and "offset" not in link)
    assert seen == newest_first

    chart = everything.text.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('class="bar-sent"') == 3 and chart.count('class="bar-rejected"') == 3
    assert "1 rejected" in chart and "3 runs" in chart

    config = everything.text.split('<pre class="config">', 1)[1].split("</pre>", 1)[0]
    assert "mode: insert" in config and "table: customers" in config
    assert "access_token: &#39;***&#39;" in config or "access_token: '***'" in config
    assert emulator.token not in everything.text

    missing = httpx.get(server.url("/syncs/no_such_sync"))
    assert missing.status_code == 404 and "No such sync" in missing.text


def test_the_syncs_page_shows_a_run_in_progress_open_alerts_and_refuses_a_second_run(
    sync_project: Any, ui_server: Any
):
    sync_project.load("customers", [ADA, ALAN])
    sync_project.configure(INSERT)
    with RunStore.open(sync_project.state_url) as store:
        store.set_alert_state("vip_customers", "rejected_rows", "critical")
        store.set_alert_state("vip_customers", "failed", "ok")
    server = ui_server(sync_project.dir)
    sync_project.emulator.faults([{"path": "*", "latency_ms": 400, "times": 100_000}])
    with httpx.Client(base_url=server.base_url) as browser:
        csrf = csrf_of(browser.get("/").text)

        started = browser.post("/syncs/vip_customers/run", data={"csrf": csrf})
        assert started.status_code == 303
        run_id = started.headers["location"].removeprefix("/runs/")
        again = browser.post("/syncs/vip_customers/run", data={"csrf": csrf})
        listing = browser.get("/").text

        assert again.status_code == 409
        assert "already running" in again.text and f'href="/runs/{run_id}"' in again.text
        row = listing.split("vip_customers", 1)[1].split("</tr>", 1)[0]
        assert f'<a href="/runs/{run_id}" class="running">' in row
        assert "rejected_rows: critical" in row and "failed: ok" not in row
        sync_project.emulator.faults([])
        assert wait_for_run(server, run_id)["status"] == "success"
        assert 'class="running"' not in browser.get("/").text


def test_plan_shows_the_counts_and_estimate_and_writes_nothing(sync_project: Any, ui_server: Any):
    sync_project.load("customers", [ADA, ALAN])
    sync_project.configure(INSERT)
    server = ui_server(sync_project.dir)
    with httpx.Client(base_url=server.base_url) as browser:
        csrf = csrf_of(browser.get("/").text)

        plan = browser.post("/syncs/vip_customers/plan", data={"csrf": csrf})

    assert plan.status_code == 200
    assert '<td data-count="added">2</td>' in plan.text
    assert '<td data-operation="create">2</td>' in plan.text
    assert re.search(r"About \d+ API calls and [\d.]+ seconds", plan.text)
    assert held_emails(sync_project.emulator) == set()
    assert httpx.get(server.url("/api/v1/syncs")).json()["syncs"][0]["last_run"] is None


def test_full_resync_of_an_empty_model_goes_on_only_when_the_override_is_confirmed(
    sync_project: Any, ui_server: Any
):
    sync_project.load("customers", [ADA, ALAN])
    sync_project.configure(INSERT)
    cli_run(sync_project)
    assert held_emails(sync_project.emulator) == {ADA["email"], ALAN["email"]}
    sync_project.sql("DELETE FROM customers")  # the model comes back empty: the guard trips
    server = ui_server(sync_project.dir)
    with httpx.Client(base_url=server.base_url) as browser:
        confirm = browser.get("/syncs/vip_customers/resync")
        assert confirm.status_code == 200
        assert "Override the delete guards" in confirm.text
        csrf = csrf_of(confirm.text)

        unconfirmed = browser.post("/syncs/vip_customers/resync", data={"csrf": csrf})
        guarded = wait_for_run(server, unconfirmed.headers["location"].removeprefix("/runs/"))
        assert guarded["status"] == "failed" and "refusing" in guarded["error"]
        assert held_emails(sync_project.emulator) == {ADA["email"], ALAN["email"]}

        confirmed = browser.post(
            "/syncs/vip_customers/resync", data={"csrf": csrf, "override_guards": "yes"}
        )
        overridden = wait_for_run(server, confirmed.headers["location"].removeprefix("/runs/"))

    assert overridden["status"] == "success", overridden["error"]
    assert overridden["counts"]["queried"] == 0
    # A full resync removes nothing, overridden or not.
    assert held_emails(sync_project.emulator) == {ADA["email"], ALAN["email"]}
    history = httpx.get(server.url("/syncs/vip_customers")).text
    assert history.count("full resync</span>") == 2


def test_read_only_hides_the_actions_and_refuses_them(sync_project: Any, ui_server: Any):
    sync_project.load("customers", [ADA])
    sync_project.configure(INSERT)
    token = "read-only-ui-token"
    server = ui_server(
        sync_project.dir, "--read-only", host="0.0.0.0", env={"BCSYNC_UI_TOKEN": token}
    )
    with httpx.Client(base_url=server.base_url) as browser:
        login = browser.get("/login")
        browser.post("/login", data={"csrf": csrf_of(login.text), "token": token})
        listing = browser.get("/")
        assert listing.status_code == 200 and "vip_customers" in listing.text
        for action in ("Run now", "Plan", "Full resync"):
            assert action not in listing.text
        csrf = csrf_of(listing.text)  # the Log out form's

        for path in ("/syncs/vip_customers/run", "/syncs/vip_customers/plan"):
            refused = browser.post(path, data={"csrf": csrf})
            assert refused.status_code == 403 and "--read-only" in refused.text
        assert browser.get("/syncs/vip_customers/resync").status_code == 403
        refused = browser.post("/syncs/vip_customers/resync", data={"csrf": csrf})
        assert refused.status_code == 403 and "--read-only" in refused.text
    assert held_emails(sync_project.emulator) == set()


def test_history_pages_by_key_miss_and_repeat_no_run_even_when_start_times_tie(
    sync_project: Any,
):
    sync_project.configure(INSERT)
    tie = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with RunStore.open(sync_project.state_url) as store:
        made = []
        for n in range(7):
            run_id = store.start_run("vip_customers", trigger="schedule")
            store.finish_run(
                run_id,
                "warning" if n % 3 == 0 else "success",
                counts={"rejected": int(n % 3 == 0), "succeeded": n},
                api_calls=n,
            )
            made.append(run_id)
        with store.engine.begin() as conn:  # five of them started at the same instant
            conn.execute(runs.update().where(runs.c.run_id.in_(made[1:6])).values(started_at=tie))
    project = load_project(sync_project.dir)

    seen: list[str] = []
    cursor = None
    while True:
        page = project.sync_history("vip_customers", before=cursor, limit=3)
        seen += [run.run_id for run in page.runs]
        if page.next is None:
            break
        cursor = page.next
    assert sorted(seen) == sorted(made) and len(seen) == 7
    warned = project.sync_history("vip_customers", where=RunFilter(status="warning"), limit=2)
    assert [run.status for run in warned.runs] == ["warning", "warning"]
    assert warned.next is not None
    rest = project.sync_history(
        "vip_customers", where=RunFilter(status="warning"), before=warned.next, limit=2
    )
    assert len(rest.runs) == 1 and rest.next is None
    assert {r.run_id for r in warned.runs + list(rest.runs)} == {made[0], made[3], made[6]}
