"""The Row page: one primary key across runs, the record it holds, the calls that carried it,
and a field-level before/after — in Chromium against ``bcsync serve`` after CLI runs."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import urllib.parse
from types import SimpleNamespace
from typing import Any

import httpx

from bcsync.run.debugger import truncate
from bcsync.run.field_changes import Seen, field_changes, row_write
from bcsync.state import ApiCallRecord
from tests.fixtures.projects import SyncProject
from tests.sync.test_orders_sync import INSERT_ORDERS, order

CUSTOMERS = """\
customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: id}
  mode: upsert
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
MAPPED = [
    ("email", "email"),
    ("first_name", "first_name"),
    ("phone", "phone"),
    ("score", "form_fields.Score"),
    ("tier", "attributes.Tier"),
]


def customer(n: int, **overrides: Any) -> dict[str, Any]:
    row = {"id": n, "email": f"user{n}@example.com", "first_name": f"F{n}", "last_name": "L"}
    return row | overrides


def run(sync_project: SyncProject) -> dict[str, Any]:
    done = sync_project.cli("run", "customers", "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["status"] == "success", document
    return document


def cells(page: Any, field: str) -> list[str]:
    row = page.locator(f'tr[data-field="{field}"]')
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def test_the_row_page_shows_what_a_run_changed_for_one_customer(
    sync_project: SyncProject, emulator: Any, ui_server: Any, page: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in (1, 2, 3)])
    sync_project.configure(CUSTOMERS)
    first = run(sync_project)
    sync_project.load("customers", [customer(1), customer(2, first_name="Grace"), customer(3)])
    second = run(sync_project)
    held = {c["email"]: c for c in emulator.dump()["customers"]}["user2@example.com"]
    assert held["first_name"] == "Grace"
    server = ui_server(sync_project.dir)

    page.goto(server.url("/syncs/customers/rows/2"))

    assert page.get_by_role("heading", name="Row 2 of customers").is_visible()
    # Before/after of the latest run that carried the row, against the run before it.
    assert cells(page, "first_name") == ["first_name", '"F2"', '"Grace"', '"Grace"']
    assert cells(page, "last_name") == ["last_name", '"L"', '"L"', '"L"']
    assert cells(page, "email")[1:] == ['"user2@example.com"'] * 3
    changed = page.locator("tr.changed")
    assert changed.count() == 1 and "first_name" in changed.inner_text()
    fields = page.locator("section", has=page.get_by_role("heading", name="Before and after"))
    assert second["run_id"][:8] in fields.inner_text()
    assert first["run_id"][:8] in fields.inner_text()

    # The record it holds, with its control-panel link (and never the token).
    assert page.locator("[data-dest-id]").inner_text() == str(held["id"])
    link = page.get_by_role("link", name="open it in the store's control panel")
    assert link.get_attribute("href") == (
        f"https://store-{emulator.store_hash}.mybigcommerce.com/manage/customers/{held['id']}/edit"
    )
    assert emulator.token not in page.content()

    # Its outcomes across runs, newest first, each linked to its run.
    outcomes = page.locator("section", has=page.get_by_role("heading", name="Outcomes across runs"))
    lines = outcomes.locator("tbody tr").all_inner_texts()
    assert len(lines) == 2
    assert lines[0].startswith(second["run_id"][:8]) and "update" in lines[0]
    assert lines[1].startswith(first["run_id"][:8]) and "create" in lines[1]
    # The calls that carried it in the run shown.
    calls = page.locator("section", has=page.get_by_role("heading", name="Calls that carried it"))
    assert "PUT" in calls.inner_text() and "/v3/customers" in calls.inner_text()

    # The first run: a create, nothing synced before it.
    outcomes.locator("tbody tr").nth(1).get_by_role("link", name="show").click()
    page.wait_for_url(f"**run={first['run_id']}")
    assert cells(page, "first_name") == ["first_name", "no recorded write", '"F2"', '"F2"']
    assert "no earlier run sent this row" in fields.inner_text()
    assert "POST" in calls.inner_text()


def test_a_truncated_body_is_reported_not_guessed(
    sync_project: SyncProject, ui_server: Any, page: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in (1, 2, 3)])
    sync_project.configure(CUSTOMERS, extra="debugger:\n  max_body_bytes: 40\n")
    run(sync_project)
    server = ui_server(sync_project.dir)

    page.goto(server.url("/syncs/customers/rows/2"))

    sent = cells(page, "first_name")
    assert sent[2] == sent[3] == "body truncated (debugger.max_body_bytes): not shown"
    assert "was cut when it was recorded" in page.locator("main").inner_text()


def test_unknown_rows_and_syncs_are_404(sync_project: SyncProject, ui_server: Any) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(CUSTOMERS)
    run(sync_project)
    server = ui_server(sync_project.dir)

    assert httpx.get(server.url("/syncs/customers/rows/1")).status_code == 200
    assert httpx.get(server.url("/syncs/customers/rows/999")).status_code == 404
    assert httpx.get(server.url("/syncs/nosuch/rows/1")).status_code == 404
    assert httpx.get(server.url("/syncs/customers/rows/1?run=nosuchrun")).status_code == 404


def test_an_order_s_row_page_reads_its_nested_fields(
    sync_project: SyncProject, emulator: Any, ui_server: Any, page: Any
) -> None:
    odd_key = "ERP 2/b?#%"  # a primary key that needs escaping in a URL
    sync_project.load("orders", [order(1), order(2, order_key=odd_key)])
    sync_project.configure(INSERT_ORDERS)
    done = sync_project.cli("run", "orders", "--json")
    assert json.loads(done.stdout)["status"] == "success", done.stdout
    held = [o for o in emulator.dump()["orders"] if o["billing_address"]["first_name"] == "Ann2"]
    server = ui_server(sync_project.dir)

    page.goto(server.url("/syncs/orders/rows/" + urllib.parse.quote(odd_key)))

    assert cells(page, "billing_address.first_name") == [
        "first_name",
        "no recorded write",
        '"Ann2"',
        '"Ann2"',
    ]
    assert cells(page, "staff_notes")[2] == '"imported 2"'
    assert cells(page, "metafields.warehouse.channel")[2] == "sent in another request"
    link = page.get_by_role("link", name="open it in the store's control panel")
    assert link.get_attribute("href") == (
        f"https://store-{emulator.store_hash}.mybigcommerce.com/manage/orders/{held[0]['id']}"
    )
    page.get_by_role("link", name="show").click()  # the run's own before/after, same row
    page.wait_for_url("**?run=*")
    assert page.get_by_role("heading", name=f"Row {odd_key} of orders").is_visible()


def test_a_batched_request_is_read_at_this_row_s_item() -> None:
    mappings = [SimpleNamespace(column=c, field=f) for c, f in MAPPED]
    sync = SimpleNamespace(mappings=mappings)
    body = [
        {"id": 11, "email": "a@example.com", "first_name": "A", "form_fields": []},
        {
            "id": 12,
            "email": "b@example.com",
            "first_name": "B",
            "form_fields": [{"name": "Score", "value": 7}],
        },
    ]
    answer = {"data": [{**body[1], "first_name": "B!"}, body[0]]}  # any order
    call = ApiCallRecord(
        seq=1,
        started_at=dt.datetime.now(dt.UTC),
        duration_ms=1,
        method="PUT",
        path="/v3/customers",
        request_body=json.dumps(body),
        status=200,
        response_body=json.dumps(answer),
        pks=("pk-a", "pk-b"),
    )
    attribute = ApiCallRecord(
        seq=2,
        started_at=dt.datetime.now(dt.UTC),
        duration_ms=1,
        method="PUT",
        path="/v3/customers/attribute-values",
        request_body="[]",
        status=200,
        pks=("pk-b",),
    )

    seen = row_write([call, attribute], "pk-b", "12")
    assert seen.call is call  # the write of the record itself, not of its attribute values
    changes = {c.field: c for c in field_changes(sync, None, seen)}  # type: ignore[arg-type]
    assert changes["first_name"].sent.value == "B"
    assert changes["first_name"].answered.value == "B!"
    assert changes["form_fields.Score"].sent.value == 7
    assert changes["attributes.Tier"].sent.text() == "sent in another request"
    assert changes["phone"].sent.text() == "not in the body"
    assert changes["first_name"].before.text() == "no recorded write"

    cut = ApiCallRecord(**{**call.__dict__, "request_body": truncate(json.dumps(body), 20)})
    assert row_write([cut], "pk-b", "12").request == Seen("truncated")


def test_run_and_row_pages_on_a_postgresql_run_store(
    sync_project: SyncProject, emulator: Any, ui_server: Any, postgres_url: str
) -> None:
    sync_project.state_url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with emulator.client() as http:
        taken = {"email": "user3@example.com", "first_name": "Taken", "last_name": "T"}
        assert http.post("/v3/customers", json=[taken]).status_code == 200
    sync_project.load("customers", [customer(n) for n in (1, 2, 3)])
    sync_project.configure(CUSTOMERS.replace("mode: upsert", "mode: insert"))
    done = sync_project.cli("run", "customers", "--json")
    first = json.loads(done.stdout)
    assert first["counts"]["rejected"] == 1, done.stdout
    sync_project.load("customers", [customer(1), customer(2, first_name="Grace"), customer(3)])
    sync_project.configure(CUSTOMERS)  # upsert: the taken email is matched this time
    run(sync_project)
    server = ui_server(sync_project.dir)

    page = httpx.get(server.url(f"/runs/{first['run_id']}")).text
    assert "1 row" in page and "user3@example.com" in page
    rows = httpx.get(server.url(f"/runs/{first['run_id']}/rows.json")).json()["rows"]
    assert [(r["pk"], r["outcome"]) for r in rows] == [("3", "rejected")]
    held = {c["email"]: c["id"] for c in emulator.dump()["customers"]}
    row = html.unescape(httpx.get(server.url("/syncs/customers/rows/2")).text)
    assert f"/manage/customers/{held['user2@example.com']}/edit" in row
    assert re.search(r'data-field="first_name".*?"F2".*?"Grace".*?"Grace"', row, re.S)
    # The rejected create: what was sent, and that BigCommerce refused it.
    rejected = httpx.get(server.url("/syncs/customers/rows/3"), params={"run": first["run_id"]})
    refused = html.unescape(rejected.text)
    assert re.search(
        r'data-field="email".*?"user3@example.com".*?refused \(HTTP 4\d\d\)', refused, re.S
    )
