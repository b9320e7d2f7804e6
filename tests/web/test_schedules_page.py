"""Schedules, next runs, triggers and the ``queued`` and ``skipped`` statuses as a user sees them:
the Syncs, Sync and Run pages in Chromium, and ``/api/v1/syncs`` and ``/api/v1/runs/{id}`` over
HTTP, against a real ``bcsync serve`` whose runs come from the run store's own queue."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bcsync.client import BcsyncClient, WaitTimedOut
from bcsync.config.project import load_config
from bcsync.config.schedule import next_fire_times
from bcsync.state import RunStore
from tests.fixtures.web import VIP_CUSTOMERS


def sync_yaml(name: str, extra: str) -> str:
    return VIP_CUSTOMERS.replace("vip_customers:", f"{name}:") + extra


SYNCS = (
    sync_yaml(
        "vip_customers",
        "  schedule: {every: 15m, start_at: 2030-01-01T00:00:00Z}\n"
        "  on_overlap: queue_one\n"
        "  misfire_grace: 5m\n",
    )
    + sync_yaml("office_hours", '  schedule: {cron: "30 8 * * 1-5", timezone: Europe/Berlin}\n')
    + sync_yaml("followers", "  schedule: {after: [vip_customers]}\n")
    + sync_yaml("by_hand", "")
)
SKIP_REASON = "run 0123abcd of vip_customers was still going"


def scheduled_project(sync_project: Any) -> Any:
    sync_project.configure(SYNCS)
    return sync_project


def office_hours_ticks(sync_project: Any, before: datetime, n: int) -> list[list[datetime]]:
    """The cron sync's next ``n`` ticks as of ``before`` and as of now (a tick may pass between)."""
    schedule = load_config(sync_project.dir).syncs["office_hours"].schedule
    assert schedule is not None
    return [next_fire_times(schedule, at, n) for at in (before, datetime.now(UTC))]


def queue_a_skipped_then_a_queued_run(sync_project: Any) -> tuple[str, str]:
    with RunStore.open(sync_project.state_url) as store:
        skipped = store.queue_run(
            "vip_customers",
            trigger="schedule",
            tick="2030-01-01T00:00:00Z",
            skipped_because=SKIP_REASON,
        )
        queued = store.queue_run(
            "vip_customers", trigger="after:office_hours", tick="after:feedc0de"
        )
    assert skipped is not None and queued is not None
    return skipped, queued


def test_the_syncs_page_shows_each_schedule_in_words_and_its_next_run(
    sync_project: Any, ui_server: Any, page: Any
):
    server = ui_server(scheduled_project(sync_project).dir, "--no-scheduler")
    before = datetime.now(UTC)

    page.goto(server.url("/"))

    def cells(name: str) -> list[str]:
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
        texts: list[str] = row.get_by_role("cell").all_inner_texts()
        return texts

    headers = page.get_by_role("columnheader").all_inner_texts()
    schedule, next_run = headers.index("Schedule"), headers.index("Next run")
    vip = cells("vip_customers")
    assert vip[schedule] == "every 15 minutes from 2030-01-01 00:00 UTC"
    assert vip[next_run] == "2030-01-01 00:00:00 UTC"
    office = cells("office_hours")
    assert office[schedule] == "at 08:30 on Monday to Friday, Europe/Berlin"
    assert office[next_run] in {
        f"{ticks[0]:%Y-%m-%d %H:%M:%S} UTC" for ticks in office_hours_ticks(sync_project, before, 1)
    }
    followers = cells("followers")
    assert followers[schedule] == "after vip_customers succeeds"
    assert followers[next_run] == "after vip_customers"
    by_hand = cells("by_hand")
    assert by_hand[schedule] == "manual only"
    assert by_hand[next_run] == "not scheduled"


def test_the_sync_page_shows_the_schedule_its_next_five_runs_and_its_rules(
    sync_project: Any, ui_server: Any, page: Any
):
    server = ui_server(scheduled_project(sync_project).dir, "--no-scheduler")
    before = datetime.now(UTC)

    page.goto(server.url("/syncs/vip_customers"))
    section = page.get_by_role("region", name="Schedule")
    text = section.inner_text()
    assert "every 15 minutes from 2030-01-01 00:00 UTC" in text
    assert "queue_one: a tick while a run is going waits for it" in text
    assert "5 minutes" in text
    assert section.get_by_role("listitem").all_inner_texts() == [
        "2030-01-01 00:00:00 UTC",
        "2030-01-01 00:15:00 UTC",
        "2030-01-01 00:30:00 UTC",
        "2030-01-01 00:45:00 UTC",
        "2030-01-01 01:00:00 UTC",
    ]

    page.goto(server.url("/syncs/office_hours"))
    items = page.get_by_role("region", name="Schedule").get_by_role("listitem").all_inner_texts()
    assert items in [
        [
            f"{tick:%Y-%m-%d %H:%M:%S} UTC ({tick.astimezone(berlin()):%Y-%m-%d %H:%M:%S %Z}, "
            "Europe/Berlin)"
            for tick in ticks
        ]
        for ticks in office_hours_ticks(sync_project, before, 5)
    ]
    assert all(" 08:30:00 CE" in item for item in items)  # CET or CEST: 08:30 in Berlin

    page.goto(server.url("/syncs/followers"))
    assert (
        "It runs when vip_customers finishes"
        in page.get_by_role("region", name="Schedule").inner_text()
    )
    page.goto(server.url("/syncs/by_hand"))
    assert "it runs only when started" in page.get_by_role("region", name="Schedule").inner_text()


def berlin() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_queued_and_skipped_runs_and_their_triggers_in_the_pages(
    sync_project: Any, ui_server: Any, page: Any
):
    project = scheduled_project(sync_project)
    server = ui_server(project.dir, "--no-scheduler")
    skipped, queued = queue_a_skipped_then_a_queued_run(project)

    page.goto(server.url("/"))
    row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="vip_customers", exact=True)
    )
    headers = page.get_by_role("columnheader").all_inner_texts()
    cells = row.get_by_role("cell").all_inner_texts()
    assert cells[headers.index("Last run")].startswith("skipped")
    assert "by schedule" in cells[headers.index("Last run")]
    assert " ".join(cells[headers.index("In progress")].split()) == "queued by after:office_hours"

    page.goto(server.url("/syncs/vip_customers"))
    history = page.get_by_role("table").filter(has_text="Trigger")
    assert [
        r.get_by_role("cell").all_inner_texts()[1:5] for r in history.get_by_role("row").all()[1:]
    ] == [
        ["queued", "after:office_hours", cells_started(page, queued), "waiting to start"],
        ["skipped", "schedule", cells_started(page, skipped), "0.0 s"],
    ]
    status = page.get_by_label("Status")
    choices = status.locator("option").all_inner_texts()
    assert {"queued", "skipped", "running"} <= set(choices)
    status.select_option("queued")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=queued**")
    ids = page.get_by_role("table").filter(has_text="Trigger").get_by_role("link").all()
    assert [link.inner_text() for link in ids] == [queued[:8]]

    page.goto(server.url(f"/runs/{queued}"))
    assert "This run is queued" in page.locator("[data-queued]").inner_text()
    assert page.locator("[data-trigger]").inner_text() == "after:office_hours"
    assert page.locator(".status").first.inner_text() == "queued"

    page.goto(server.url(f"/runs/{skipped}"))
    assert page.get_by_role("heading", name="Why it was skipped").is_visible()
    assert SKIP_REASON in page.locator(".skip-reason").inner_text()
    assert page.locator("[data-trigger]").inner_text() == "schedule"
    assert page.locator("[data-queued]").count() == 0


def cells_started(page: Any, run_id: str) -> str:
    """The run's start as the history table shows it (read from its ``<time>`` element)."""
    cell = page.get_by_role("row").filter(has=page.locator(f'a[href="/runs/{run_id}"]'))
    text: str = cell.locator("time").inner_text()
    return text


def test_the_api_lists_schedules_and_next_runs_and_a_queued_run_is_not_finished(
    sync_project: Any, ui_server: Any
):
    project = scheduled_project(sync_project)
    server = ui_server(project.dir, "--no-scheduler")
    _, queued = queue_a_skipped_then_a_queued_run(project)

    syncs = {s["name"]: s for s in httpx.get(server.url("/api/v1/syncs")).json()["syncs"]}

    vip = syncs["vip_customers"]
    assert vip["schedule"] == {
        "kind": "every",
        "every_seconds": 900.0,
        "start_at": "2030-01-01T00:00:00+00:00",
        "end_at": None,
        "description": "every 15 minutes from 2030-01-01 00:00 UTC",
    }
    assert vip["next_runs"] == [
        "2030-01-01T00:00:00Z",
        "2030-01-01T00:15:00Z",
        "2030-01-01T00:30:00Z",
        "2030-01-01T00:45:00Z",
        "2030-01-01T01:00:00Z",
    ]
    assert (vip["on_overlap"], vip["misfire_grace_seconds"]) == ("queue_one", 300.0)
    assert syncs["office_hours"]["schedule"]["timezone"] == "Europe/Berlin"
    assert len(syncs["office_hours"]["next_runs"]) == 5
    assert all(t.endswith("Z") for t in syncs["office_hours"]["next_runs"])
    assert syncs["followers"]["schedule"]["after"] == ["vip_customers"]
    assert syncs["followers"]["next_runs"] == []
    assert (syncs["by_hand"]["schedule"], syncs["by_hand"]["next_runs"]) == (None, [])

    run = httpx.get(server.url(f"/api/v1/runs/{queued}")).json()
    assert (run["status"], run["running"], run["finished"]) == ("queued", False, False)
    assert run["trigger"] == "after:office_hours"
    # The client keeps polling a queued run (it is not final), until its timeout.
    with BcsyncClient(server.base_url) as client, pytest.raises(WaitTimedOut) as late:
        client.wait(queued, timeout=0.6, poll=0.2)
    assert late.value.run["status"] == "queued"


def test_serve_runs_a_schedule_and_the_syncs_page_shows_the_run_by_schedule(
    sync_project: Any, ui_server: Any, page: Any
):
    sync_project.load(
        "customers",
        [{"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}],
    )
    sync_project.configure(sync_yaml("vip_customers", "  schedule: {every: 2s}\n"))
    server = ui_server(sync_project.dir)  # with its scheduler

    deadline = time.monotonic() + 30
    while True:
        (vip,) = httpx.get(server.url("/api/v1/syncs")).json()["syncs"]
        last = vip["last_run"]
        if last is not None and last["status"] == "success":
            break
        assert time.monotonic() < deadline, f"no scheduled run succeeded: {vip}"
        time.sleep(0.2)
    assert last["trigger"] == "schedule"
    assert vip["schedule"]["description"] == "every 2 seconds"
    assert {c["email"] for c in sync_project.emulator.dump()["customers"]} == {"ada@example.com"}

    page.goto(server.url("/"))
    headers = page.get_by_role("columnheader").all_inner_texts()
    row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="vip_customers", exact=True)
    )
    cells = row.get_by_role("cell").all_inner_texts()
    assert "by schedule" in cells[headers.index("Last run")]
    assert cells[headers.index("Schedule")] == "every 2 seconds"
    assert cells[headers.index("Next run")].endswith(" UTC")
