"""A new user's walk through the Setup pages, and what such a user gets wrong: a new sync given
the name of the one ``bcsync init`` wrote, a key guessed from a column full of duplicates, an
upsert matching ids against emails, a form left unsaved, the keyboard dropped after Save.

Each test is a bug the walk-through found in Chromium against ``bcsync serve`` and the emulator.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.test_setup_pages import SLOW, add_mapping, set_up_store, wait_for_run

# Orders from the sample CSV: order_key is the key; status_id is an id-looking column that is the
# same on every row (a key guessed by name alone picked it, and every row was then invalid).
ORDERS_SQL = """\
select 'ERP-' || customer_id as order_key, status_id, first_name, last_name,
  '1 Main St' as street, 'Austin' as city, '78751' as zip, 'US' as country_iso2, email,
  '[{"name": "Coffee Mug", "quantity": 1, "price_inc_tax": 12.5, "price_ex_tax": 10}]'
    as products
from (select *, 'Awaiting Fulfillment' as status_id from read_csv('data/customers.csv'))"""
ORDER_MAPPINGS = [
    ("first_name", "billing_address.first_name"),
    ("last_name", "billing_address.last_name"),
    ("street", "billing_address.street_1"),
    ("city", "billing_address.city"),
    ("zip", "billing_address.zip"),
    ("country_iso2", "billing_address.country_iso2"),
    ("email", "billing_address.email"),
]


@pytest.fixture
def new_project(tmp_path: Path) -> Path:
    """A project as ``bcsync init`` writes it: its ``store`` unset, its ``customers`` sync."""
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


def open_new_sync(page: Any, server: Any, name: str) -> None:
    page.goto(server.url("/setup/syncs/new"))
    page.get_by_label("Name", exact=True).fill(name)


def preview_file(page: Any, path: str = "models/customers.sql") -> None:
    page.get_by_role("radio", name="A SQL file").check()
    page.get_by_label("File path (relative to the project)").fill(path)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("table.preview")).to_contain_text("ada@example.com", timeout=SLOW)


def review(page: Any) -> Any:
    page.get_by_role("button", name="Review", exact=True).click()
    result = page.locator("#s-review-result")
    expect(result).to_contain_text(re.compile("No problem found|Fix these"), timeout=SLOW)
    return result


def test_a_new_sync_named_as_an_existing_one_does_not_replace_it(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    config = new_project / "bcsync.yml"
    before = config.read_text()

    # `bcsync init` wrote a sync named customers: the form for a new one must not overwrite it.
    open_new_sync(page, server, "customers")
    preview_file(page)
    page.get_by_role("button", name="Suggest mappings by name").click()
    expect(page.locator("#s-mappings tbody tr")).to_have_count(4)
    result = review(page)
    expect(result).to_contain_text("Fix these before saving")
    expect(result).to_contain_text("syncs.customers")
    expect(result).to_contain_text("exists already")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()

    # The API refuses it too, whatever the form does; an edit of the sync (no create) still works.
    version = httpx.get(server.url("/api/v1/setup")).json()["version"]
    headers = {"Origin": server.base_url}
    sync = {"destination": "store", "object": "customers", "model": {"table": "x"}}
    refused = httpx.put(
        server.url("/api/v1/setup/syncs/customers"),
        json={"sync": sync, "version": version, "create": True},
        headers=headers,
    )
    assert refused.status_code == 409, refused.text
    assert "exists already" in refused.json()["error"]
    assert config.read_text() == before

    # Another name saves next to it.
    page.get_by_label("Name", exact=True).fill("sample_customers")
    review(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#s-saved")).to_contain_text("Saved sync sample_customers")
    written = config.read_text()
    assert written.startswith(before.rstrip("\n")) and "sample_customers:" in written


def test_an_upsert_matches_on_the_column_named_as_the_field(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    open_new_sync(page, server, "by_email")
    preview_file(page)
    # Mode chosen after the preview, then before it: either way email → email, not customer_id.
    page.get_by_label("Mode", exact=True).select_option("upsert")
    expect(page.get_by_label("Match column")).to_have_value("email")
    expect(page.get_by_label("Matches the store's field")).to_have_value("email")

    open_new_sync(page, server, "by_email")
    page.get_by_label("Mode", exact=True).select_option("upsert")
    preview_file(page)
    expect(page.get_by_label("Match column")).to_have_value("email")
    # A column the user picks stays picked.
    page.get_by_label("Match column").select_option("customer_id")
    page.get_by_label("Matches the store's field").select_option("id")
    page.get_by_label("Mode", exact=True).select_option("update")
    expect(page.get_by_label("Match column")).to_have_value("customer_id")


def test_an_order_sync_end_to_end_with_a_key_that_is_a_key(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    open_new_sync(page, server, "erp_orders")
    page.get_by_label("Object").select_option("orders")
    page.get_by_role("radio", name="SQL", exact=True).check()
    page.get_by_label("SQL query").fill(ORDERS_SQL)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("table.preview")).to_contain_text("ERP-1", timeout=SLOW)
    # status_id looks like a key by its name, but the preview shows one value on every row.
    expect(page.get_by_label("Primary key")).to_have_value("order_key")
    page.get_by_role("button", name="Suggest mappings by name").click()
    expect(page.locator("#s-mappings tbody tr")).to_have_count(2)  # products, status_id
    for column, field in ORDER_MAPPINGS:
        add_mapping(page, column, field)

    # With that key every row is invalid: the review says so and will not save.
    page.get_by_label("Primary key").select_option("status_id")
    result = review(page)
    expect(result).to_contain_text("all 3 rows of the model are invalid")
    expect(result).to_contain_text("duplicate primary key")
    expect(result.locator("[data-invalid-rows]")).to_contain_text("3 rows would not be sent")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()

    page.get_by_label("Primary key").select_option("order_key")
    result = review(page)
    expect(result).to_contain_text("No problem found")
    expect(result.locator("[data-invalid-rows]")).to_have_count(0)
    expect(result.locator('table.plan-counts [data-count="added"]')).to_have_text("3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#s-saved")).to_contain_text("Saved sync erp_orders")
    page.get_by_role("button", name="Run erp_orders now").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f]{32}$"))
    run = wait_for_run(server, page.url.rsplit("/", 1)[1])
    assert run["status"] == "success", run
    assert run["counts"]["succeeded"] == 3
    orders = [o for o in emulator.dump()["orders"] if not o.get("is_deleted")]
    assert sorted(o["billing_address"]["email"] for o in orders) == sorted(
        ["ada@example.com", "grace@example.com", "alan@example.com"]
    )


def test_leaving_an_unsaved_form_asks_first_and_a_saved_one_does_not(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    asked: list[str] = []
    context = page.context

    def watch(tab: Any) -> None:
        tab.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))

    # A page that only opened the form (and filled it in from bcsync.yml) leaves quietly.
    tab = context.new_page()
    watch(tab)
    tab.goto(server.url("/setup/syncs/customers"))
    expect(tab.locator("table.preview")).to_contain_text("ada@example.com", timeout=SLOW)
    tab.get_by_role("heading").first.click()  # a user gesture, without changing anything
    tab.close(run_before_unload=True)
    assert asked == []

    tab = context.new_page()
    watch(tab)
    tab.goto(server.url("/setup/syncs/new"))
    tab.get_by_label("Name", exact=True).fill("half_done")
    tab.close(run_before_unload=True)
    tab.wait_for_event("close")
    assert asked == ["beforeunload"]

    # Once saved, nothing is left to lose.
    open_new_sync(page, server, "done")
    watch(page)
    preview_file(page)
    page.get_by_role("button", name="Suggest mappings by name").click()
    expect(page.locator("#s-mappings tbody tr")).to_have_count(4)
    review(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#s-saved")).to_contain_text("Saved sync done")
    asked.clear()
    page.goto(server.url("/setup"))
    assert asked == []


def test_the_keyboard_is_not_dropped_by_save_or_remove(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    open_new_sync(page, server, "keys")
    preview_file(page)
    page.get_by_role("button", name="Suggest mappings by name").click()
    rows = page.locator("#s-mappings tbody tr")
    expect(rows).to_have_count(4)

    # Rows 2 to 5 (Suggest replaced the empty row 1): removing one moves to the next one's Remove.
    page.get_by_role("button", name="Remove mapping 4").focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("button", name="Remove mapping 5")).to_be_focused()
    page.keyboard.press("Enter")  # the last row: focus goes back up
    expect(rows).to_have_count(2)
    expect(page.get_by_role("button", name="Remove mapping 3")).to_be_focused()

    page.get_by_role("button", name="Review", exact=True).focus()
    page.keyboard.press("Enter")
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_enabled(timeout=SLOW)
    save.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#s-saved")).to_contain_text("Saved sync keys")
    # Save is disabled now: the keyboard lands on what comes next, Run now.
    expect(page.get_by_role("button", name="Run keys now")).to_be_focused()


def test_review_right_after_suggest_reviews_the_suggested_mappings(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    open_new_sync(page, server, "quick")
    preview_file(page)
    # A quick user: Review before the suggestions are in. The review covers them all the same.
    page.get_by_role("button", name="Suggest mappings by name").click()
    page.get_by_role("button", name="Review", exact=True).click()
    result = page.locator("#s-review-result")
    expect(result).to_contain_text("No problem found", timeout=SLOW)
    expect(result.locator("pre.diff")).to_contain_text("{column: phone, field: phone}")
    expect(page.locator("#s-mappings tbody tr")).to_have_count(4)
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_enabled()


def test_deleting_a_running_sync_with_reset_says_what_to_do(
    new_project: Path, emulator: Any, ui_server: Any, page: Any
) -> None:
    server = ui_server(new_project)
    set_up_store(page, server, emulator)
    config = new_project / "bcsync.yml"
    emulator.faults([{"path": "*", "latency_ms": 3000, "times": 4}])  # a run that takes a while
    page.goto(server.url("/"))
    page.get_by_role("button", name="Run customers now").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]

    page.goto(server.url("/setup"))
    page.get_by_role("button", name="Delete customers").click()
    page.get_by_label("Reset it", exact=False).check()
    page.get_by_role("button", name="Delete the sync").click()
    status = page.locator("#setup-status")
    expect(status).to_contain_text("customers is running, so its state cannot be reset now")
    expect(status).to_contain_text("delete it keeping its state")
    assert "\n  customers:\n" in config.read_text()  # refused whole: nothing written

    page.get_by_label("Keep it", exact=False).check()
    page.get_by_role("button", name="Delete the sync").click()
    expect(status).to_contain_text("Deleted customers; its state was kept.")
    assert "\n  customers:\n" not in config.read_text()
    wait_for_run(server, run_id)
