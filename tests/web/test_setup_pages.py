"""The Setup pages in Chromium against a real ``bcsync serve`` and the emulator: a new user goes
from ``bcsync init`` to a running sync without an editor, an edit keeps a hand-written file's
comments, and ``--read-only`` hides it all.

Every step's screenshot is kept under ``$BCSYNC_SCREENSHOTS`` (else the test's tmp dir); the
directory is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

# What the new sync's SQL reads: the sample CSV `bcsync init` writes, plus two columns for
# customer attributes (a text one and a number one).
LOYAL_SQL = (
    "select customer_id, email, first_name, last_name, 'gold' as tier,"
    " customer_id * 100 as points from read_csv('data/customers.csv')"
)
SAMPLE_EMAILS = {"ada@example.com", "grace@example.com", "alan@example.com"}
COMMENTED = """\
# Newsletter customers: kept in step every night.
vip_customers:
  destination: store   # the one store we have
  object: customers
  model: {table: customers, primary_key: id}
  mode: insert
  mappings:
    # email is required to create a customer
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
PLAIN = """\
vip_customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: id}
  mode: insert
  mappings:
    - {column: email, field: email}
"""
# For what asks the warehouse and the store (a check plans the first run): a busy machine is slow.
SLOW = 20_000
ADA = {"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}


class Shots:
    """``shot(page, "what")`` keeps a full-page screenshot of the step, numbered in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken = 0

    def __call__(self, page: Any, what: str) -> None:
        self.taken += 1
        page.screenshot(path=str(self.directory / f"{self.taken:02d}-{what}.png"), full_page=True)


Shot = Shots


@pytest.fixture
def shot(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Shots]:
    base = os.environ.get("BCSYNC_SCREENSHOTS")
    directory = (Path(base) if base else tmp_path / "screenshots") / request.node.name
    directory.mkdir(parents=True, exist_ok=True)
    yield Shots(directory)
    print(f"\nscreenshots of {request.node.name}: {directory}")


@pytest.fixture
def new_project(tmp_path: Path) -> Path:
    """A project as ``bcsync init`` writes it, nothing filled in."""
    directory = tmp_path / "shop"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    done = subprocess.run(
        [sys.executable, "-m", "bcsync", "init", str(directory)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


def set_up_store(page: Any, server: Any, emulator: Any, shot: Shot | None = None) -> None:
    """Fill in the ``store`` destination that ``bcsync init`` wrote, as a user would."""
    page.goto(server.url("/setup"))
    if shot:
        shot(page, "setup")
    page.get_by_role("link", name="Edit destination store").click()
    page.wait_for_url("**/setup/destinations/store")
    page.get_by_label("Store hash").fill(emulator.store_hash)
    page.get_by_label("API URL (optional)").fill(emulator.api_url)
    result = page.locator("#d-check-result")
    if shot:
        page.get_by_label("Access token").fill("not-the-token")
        page.get_by_role("button", name="Test connection").click()
        expect(result).to_contain_text("401", timeout=SLOW)
        shot(page, "wrong-token")
    page.get_by_label("Access token").fill(emulator.token)
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connected", timeout=SLOW)
    if shot:
        shot(page, "connected")
    page.get_by_role("button", name="Save…").click()
    diff = page.locator("#d-diff pre")
    expect(diff).to_be_visible()
    assert emulator.token not in diff.inner_text()
    if shot:
        shot(page, "destination-diff")
    page.get_by_role("button", name="Confirm and save").click()
    expect(page.locator("#d-saved")).to_contain_text("Saved destination store")
    if shot:
        shot(page, "destination-saved")


def wait_for_run(server: Any, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        run: dict[str, Any] = httpx.get(server.url(f"/api/v1/runs/{run_id}")).json()
        if run["finished"]:  # not "running": a queued run is neither
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.3)


def test_a_destination_is_checked_and_its_token_goes_to_env_only(
    new_project: Path, emulator: Any, ui_server: Any, page: Any, shot: Shot
) -> None:
    server = ui_server(new_project)
    page.goto(server.url("/"))
    page.get_by_role("link", name="Set up a destination").click()
    page.wait_for_url("**/setup")
    set_up_store(page, server, emulator, shot)
    page.goto(server.url("/"))
    expect(page.get_by_role("link", name="Set up a destination")).to_have_count(0)
    page.go_back()

    page.get_by_label("Access token").fill("not-the-token")
    page.get_by_role("button", name="Test connection").click()
    # BigCommerce's 401 explained, not just its status.
    result = page.locator("#d-check-result")
    expect(result).to_contain_text("HTTP 401")
    assert len(result.inner_text()) > len("The store refused: HTTP 401. ") + 20

    env = (new_project / ".env").read_text()
    config = (new_project / "bcsync.yml").read_text()
    assert f"={emulator.token}" in env
    assert emulator.token not in config
    assert "access_token: ${" in config
    page.goto(server.url("/setup"))
    row = page.locator("#destinations tbody tr").filter(has_text="store")
    expect(row).to_contain_text("set")
    expect(row).to_contain_text(emulator.store_hash)

    # A second store, added from scratch.
    page.get_by_role("link", name="Add a destination").click()
    page.wait_for_url("**/setup/destinations/new")
    page.get_by_label("Name", exact=True).fill("staging")
    page.get_by_label("Store hash").fill(emulator.store_hash)
    page.get_by_label("Access token").fill(emulator.token)
    page.get_by_label("API URL (optional)").fill(emulator.api_url)
    page.get_by_role("button", name="Save…").click()
    expect(page.locator("#d-diff pre")).to_contain_text("staging:")
    page.get_by_role("button", name="Confirm and save").click()
    expect(page.locator("#d-saved")).to_contain_text("Saved destination staging")
    shot(page, "second-destination")
    page.goto(server.url("/setup"))
    expect(page.locator("#destinations tbody tr")).to_have_count(2)
    config = (new_project / "bcsync.yml").read_text()
    assert "staging:" in config and emulator.token not in config


def test_from_init_to_a_running_customers_sync_in_the_browser(
    new_project: Path, emulator: Any, ui_server: Any, page: Any, shot: Shot
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)

    page.goto(server.url("/setup"))
    page.get_by_role("link", name="Add a sync").click()
    page.wait_for_url("**/setup/syncs/new")
    page.get_by_label("Name", exact=True).fill("loyal_customers")
    expect(page.get_by_label("Destination")).to_have_value("store")
    page.get_by_role("radio", name="SQL", exact=True).check()
    page.get_by_label("SQL query").fill(LOYAL_SQL)
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("table.preview")
    expect(preview).to_contain_text("points", timeout=SLOW)
    expect(preview).to_contain_text("ada@example.com")
    expect(page.get_by_label("Primary key")).to_have_value("customer_id")
    # A key with duplicates in the preview is warned about.
    page.get_by_label("Primary key").select_option("tier")
    expect(page.locator("#s-preview-result [role=alert]")).to_contain_text("tier")
    page.get_by_label("Primary key").select_option("customer_id")
    expect(page.locator("#s-preview-result [role=alert]")).to_have_count(0)
    shot(page, "preview")

    # Only what bcsync supports: orders have no upsert and match on id only.
    page.get_by_label("Object").select_option("orders")
    mode_options = "el => Array.from(el.options).map(o => o.value)"
    assert page.get_by_label("Mode", exact=True).evaluate(mode_options) == ["insert", "update"]
    page.get_by_label("Mode", exact=True).select_option("update")
    assert page.get_by_label("Matches the store's field").evaluate(mode_options) == ["id"]
    page.get_by_label("Object").select_option("customers")
    assert page.get_by_label("Mode", exact=True).evaluate(mode_options) == [
        "insert",
        "update",
        "upsert",
    ]

    page.get_by_label("Mode", exact=True).select_option("upsert")
    page.get_by_label("Match column").select_option("email")
    expect(page.get_by_label("Matches the store's field")).to_have_value("email")
    page.get_by_role("button", name="Suggest mappings by name").click()
    rows = page.locator("#s-mappings tbody tr")
    expect(rows).to_have_count(3)
    assert sorted(rows.locator("input").evaluate_all("els => els.map(e => e.value)")) == [
        "email",
        "first_name",
        "last_name",
    ]

    # An attribute the store lacks: created from the form.
    tier = add_mapping(page, "tier", "attributes.Tier")
    tier.get_by_role("button", name="Create attribute “Tier”").click()
    expect(tier.locator("[data-field-type]")).to_contain_text("type string")
    # A text column for a number attribute: the form says so and will not save.
    points = add_mapping(page, "tier", "attributes.Points")
    points.get_by_label("Type").select_option("number")
    points.get_by_role("button", name="Create attribute “Points”").click()
    expect(points.locator("[data-field-type]")).to_contain_text("type number")
    # Checked as mapped (each check plans the first run too: slow on a busy machine).
    expect(points.locator("[data-check]")).to_contain_text("✗", timeout=SLOW)
    page.get_by_role("button", name="Review", exact=True).click()
    review = page.locator("#s-review-result")
    expect(review).to_contain_text("Fix these before saving", timeout=SLOW)
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    shot(page, "type-mismatch")

    points.locator("select").first.select_option("points")
    expect(points.locator("[data-check]")).to_contain_text("✓", timeout=SLOW)
    page.get_by_role("button", name="Review", exact=True).click()
    expect(review).to_contain_text("No problem found", timeout=SLOW)
    expect(review.locator("[data-estimate]")).to_contain_text("API calls")
    # The three sample customers are new to the store.
    expect(review.locator('table.plan-counts [data-count="added"]')).to_have_text("3")
    expect(review.locator("pre.diff")).to_contain_text("loyal_customers")
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_enabled()
    page.locator("#s-review-heading").scroll_into_view_if_needed()
    shot(page, "reviewed")
    readme_picture(page, shot.directory / "setup-sync.png")
    save.click()
    expect(page.locator("#s-saved")).to_contain_text("Saved sync loyal_customers")
    shot(page, "saved")
    written = (new_project / "bcsync.yml").read_text()
    assert "loyal_customers:" in written and "attributes.Points" in written

    page.goto(server.url("/"))
    page.get_by_role("button", name="Run loyal_customers now").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f]{32}$"))
    run = wait_for_run(server, page.url.rsplit("/", 1)[1])
    assert run["status"] == "success", run["error"]
    page.goto(server.url("/syncs/loyal_customers"))
    expect(page.locator("table.runs tbody tr").first).to_contain_text("success")
    shot(page, "ran")

    store = emulator.dump()
    assert {c["email"] for c in store["customers"]} == SAMPLE_EMAILS
    assert {(a["name"], a["type"]) for a in store["attributes"]} >= {
        ("Tier", "string"),
        ("Points", "number"),
    }
    values = {str(v["attribute_value"]) for c in store["customers"] for v in c["attributes"]}
    assert "gold" in values and "100" in values


def readme_picture(page: Any, path: Path) -> None:
    """The mappings down to the review's plan and diff: docs/images/setup-sync.png is a copy."""
    top, bottom = page.evaluate(
        """() => [document.querySelector('#s-mappings').closest('fieldset'),
                  document.querySelector('#s-review-result')].map(
            el => el.getBoundingClientRect()).map((box, i) =>
            (i ? box.bottom : box.top) + window.scrollY)"""
    )
    clip = {"x": 0, "y": top - 10, "width": 1280, "height": bottom - top + 30}
    page.screenshot(path=str(path), full_page=True, clip=clip)


def add_mapping(page: Any, column: str, field: str) -> Any:
    page.get_by_role("button", name="Add a mapping").click()
    row = page.locator("#s-mappings tbody tr").last
    row.locator("select").first.select_option(column)
    row.locator("input[list=s-fields]").fill(field)
    return row


def test_an_edit_in_the_browser_keeps_the_files_comments_and_refuses_a_stale_form(
    sync_project: Any, ui_server: Any, page: Any, shot: Shot
) -> None:
    sync_project.load("customers", [ADA])
    sync_project.configure(COMMENTED)
    config = sync_project.dir / "bcsync.yml"
    server = ui_server(sync_project.dir)
    page.goto(server.url("/setup/syncs/vip_customers"))
    expect(page.locator("table.preview")).to_contain_text("ada@example.com", timeout=SLOW)
    page.get_by_label("On delete").select_option("clear")
    # A schedule shows its next fire times as it is typed (then is left out again).
    page.get_by_label("Every…").check()
    page.get_by_label("Every (90s, 15m, 1h30m, 1d)").fill("15m")
    expect(page.locator("#s-next-runs li")).to_have_count(5)
    page.get_by_label("Only when started").check()
    page.get_by_role("button", name="Review", exact=True).click()
    expect(page.locator("#s-review-result")).to_contain_text("No problem found", timeout=SLOW)
    expect(page.locator("#s-review-result pre.diff")).to_contain_text("on_delete: clear")
    shot(page, "reviewed")

    # Someone edits the file meanwhile: the form's save is refused, not merged blindly.
    config.write_text(config.read_text() + "# touched by hand\n")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#s-saved")).to_contain_text("changed on disk", timeout=SLOW)
    shot(page, "stale")

    page.reload()
    expect(page.locator("table.preview")).to_contain_text("ada@example.com", timeout=SLOW)
    page.get_by_label("On delete").select_option("clear")
    page.get_by_role("button", name="Review", exact=True).click()
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_enabled(timeout=SLOW)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#s-saved")).to_contain_text("Saved sync vip_customers")
    shot(page, "saved")

    text = config.read_text()
    for comment in (
        "# Newsletter customers: kept in step every night.",
        "destination: store   # the one store we have",
        "# email is required to create a customer",
        "# touched by hand",
    ):
        assert comment in text
    assert "on_delete: clear" in text


def test_duplicate_and_delete_a_sync(sync_project: Any, ui_server: Any, page: Any) -> None:
    sync_project.configure(PLAIN)
    config = sync_project.dir / "bcsync.yml"
    server = ui_server(sync_project.dir)
    page.goto(server.url("/setup"))
    page.get_by_role("button", name="Duplicate vip_customers").click()
    page.get_by_label("Name of the copy of vip_customers").fill("vip_copy")
    page.get_by_role("button", name="Duplicate", exact=True).click()
    expect(page.locator("#setup-status")).to_contain_text("Copied vip_customers to vip_copy")
    expect(page.locator("#syncs")).to_contain_text("vip_copy")
    assert "vip_copy:" in config.read_text()

    page.get_by_role("button", name="Delete vip_copy").click()
    page.get_by_label("Reset it", exact=False).check()
    page.get_by_role("button", name="Delete the sync").click()
    expect(page.locator("#setup-status")).to_contain_text("Deleted vip_copy")
    expect(page.locator("#syncs")).not_to_contain_text("vip_copy")
    assert "vip_copy" not in config.read_text()
    assert "vip_customers:" in config.read_text()


def test_read_only_hides_the_setup(sync_project: Any, ui_server: Any, page: Any) -> None:
    sync_project.configure(COMMENTED)
    server = ui_server(sync_project.dir, "--read-only")
    page.goto(server.url("/"))
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Setup")
    for path in (
        "/setup",
        "/setup/destinations/new",
        "/setup/syncs/new",
        "/setup/syncs/vip_customers",
    ):
        response = page.goto(server.url(path))
        assert response is not None and response.status == 404, path
        expect(page.locator("main")).to_contain_text("--read-only")
        assert page.locator("form#sync-form, form#destination-form").count() == 0
    refused = httpx.put(
        server.url("/api/v1/setup/syncs/vip_customers"),
        json={"sync": {}, "version": "x"},
    )
    assert refused.status_code == 403
