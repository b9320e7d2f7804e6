"""The live debugger page: a run's API calls, filtered and paged, one call's request and response,
and the HAR of the run or of a filter.

The first tests build a run store by hand (calls of known shape) and ask the app in-process; the
browser test at the end syncs a project on the emulator with faults injected and uses the page
as a user would.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bcsync.state import ApiCallRecord, RunStore, call_log

TOKEN = "debugger-token-5b7e1c9d"
PAGE_SIZE = 100  # calls on a page of the debugger
RATE = {
    "X-Rate-Limit-Requests-Left": "149",
    "X-Rate-Limit-Requests-Quota": "150",
    "X-Rate-Limit-Time-Reset-Ms": "2990",
    "X-Rate-Limit-Time-Window-Ms": "30000",
}
_SEQ_IN_ROW = re.compile(r'<tr class="call status-[^"]*">\s*<td><a href="[^"]*">(\d+)</a>')


def write_project(directory: Path, *, token: str = TOKEN, extra: str = "") -> Path:
    """A bcsync.yml (one customers sync, secrets from .env), its run store in ``directory``."""
    (directory / ".env").write_text(f"BIGCOMMERCE_ACCESS_TOKEN={token}\n")
    (directory / "bcsync.yml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            warehouse:
              url: duckdb:///warehouse.duckdb
            state:
              url: sqlite:///{directory / "state.db"}
            destinations:
              store:
                type: bigcommerce
                store_hash: abc123
                access_token: ${{BIGCOMMERCE_ACCESS_TOKEN}}
            syncs:
              vip_customers:
                destination: store
                object: customers
                model: {{sql: "select 1 as id", primary_key: id}}
                mode: upsert
                match: {{column: email, field: email}}
                mappings: [{{column: email, field: email}}]
            """
        )
        + textwrap.dedent(extra)
    )
    return directory


def call(
    seq: int,
    *,
    method: str = "PUT",
    path: str = "/v3/customers",
    status: int | None = 200,
    pks: tuple[str, ...] = (),
    request_body: str | None = None,
    response_body: str | None = '{"data": []}',
    error: str | None = None,
    attempt: int = 1,
) -> ApiCallRecord:
    return ApiCallRecord(
        seq=seq,
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(milliseconds=seq),
        duration_ms=12.5,
        method=method,
        path=path,
        query="",
        request_headers={"X-Auth-Token": "***", "Content-Type": "application/json"},
        request_body=request_body,
        status=status,
        response_headers={"Content-Type": "application/json", **RATE} if status else {},
        response_body=response_body if status else None,
        attempt=attempt,
        pks=pks,
        error=error,
    )


# Twelve calls of known shape: their seq is what the filters must narrow to.
CALLS = [
    call(1, method="GET", path="/v3/customers", pks=("1", "2", "3")),
    call(2, method="POST", status=429, path="/v3/customers", pks=("1", "2")),
    call(3, method="POST", status=201, path="/v3/customers", pks=("1", "2"), attempt=2),
    call(4, method="PUT", status=500, pks=("3",)),
    call(5, method="GET", path="/v3/customers", pks=("3",)),
    call(6, method="PUT", status=422, pks=("3",)),
    call(7, method="PUT", status=None, pks=("4",), error="ReadTimeout: timed out"),
    call(8, method="PUT", status=200, pks=("4",), attempt=2),
    call(9, method="GET", path="/v2/orders/17", pks=("5",)),
    call(10, method="PUT", path="/v2/orders/18", pks=("6",)),
    call(11, method="GET", path="/v2/orders/17/products", pks=("5",)),
    call(
        12,
        method="POST",
        path="/v3/customers",
        status=422,
        pks=("7",),
        request_body='[{"email":"x@example.com","first_name":"<script>alert(1)</script>"}]',
        response_body='{"status":422,"title":"Email taken","errors":{"email":"in use"}}',
    ),
]


class Ui:
    """``bcsync serve`` over a project whose run store holds hand-made runs, and a client."""

    def __init__(self, directory: Path, ui_server: Any) -> None:
        self.dir = write_project(directory)
        self.store = RunStore.open(f"sqlite:///{directory / 'state.db'}")
        self.server = ui_server(self.dir)
        self.client = httpx.Client(base_url=self.server.base_url, timeout=30)

    def run_with(self, calls: list[ApiCallRecord], *, finish: bool = True) -> str:
        run_id = self.store.start_run("vip_customers")
        self.store.add_api_calls(run_id, calls)
        if finish:
            self.store.finish_run(run_id, "warning", counts={}, api_calls=len(calls))
        return run_id

    def seqs(self, url: str, **params: Any) -> list[int]:
        page = self.client.get(url, params=params)
        assert page.status_code == 200, page.text
        return [int(seq) for seq in _SEQ_IN_ROW.findall(page.text)]


@pytest.fixture
def ui(tmp_path: Path, ui_server: Any) -> Iterator[Ui]:
    made = Ui(tmp_path, ui_server)
    with made.client:
        yield made
    made.store.close()


def test_filters_narrow_the_calls_by_status_class_endpoint_method_and_row(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    url = f"/runs/{run_id}/calls"

    assert ui.seqs(url) == list(range(1, 13))
    assert ui.seqs(url, status="4xx") == [2, 6, 12]
    assert ui.seqs(url, status="5xx") == [4]
    assert ui.seqs(url, status="error") == [7]
    assert ui.seqs(url, status="2xx") == [1, 3, 5, 8, 9, 10, 11]
    assert ui.seqs(url, method="POST") == [2, 3, 12]
    assert ui.seqs(url, method="get") == [1, 5, 9, 11]
    assert ui.seqs(url, endpoint="/v3/customers") == [1, 2, 3, 4, 5, 6, 7, 8, 12]
    # An endpoint with ids matches every record's path of that shape, and only that shape.
    assert ui.seqs(url, endpoint="/v2/orders/{id}") == [9, 10]
    assert ui.seqs(url, endpoint="/v2/orders/{id}/products") == [11]
    assert ui.seqs(url, pk="3") == [1, 4, 5, 6]
    assert ui.seqs(url, pk="4", status="2xx") == [8]
    assert ui.seqs(url, pk="3", method="PUT", status="5xx", endpoint="/v3/customers") == [4]
    assert ui.seqs(url, pk="no-such-row") == []
    # The empty values of the form's "any" do not filter.
    assert ui.seqs(url, status="", method="", endpoint="", pk="") == list(range(1, 13))

    page = ui.client.get(url, params={"status": "4xx", "pk": "3"}).text
    assert "No calls match" not in page
    assert '<option value="4xx" selected>' in page
    assert 'value="3"' in page  # the primary key stays in its box
    # The filter's HAR link carries the same filter.
    assert f"/runs/{run_id}/har?status=4xx&amp;pk=3" in page
    empty = ui.client.get(url, params={"pk": "no-such-row"}).text
    assert "No calls match these filters." in empty


def test_the_filter_form_offers_the_run_s_methods_and_endpoints(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    page = ui.client.get(f"/runs/{run_id}/calls").text
    endpoints = re.search(r'<select id="f-endpoint".*?</select>', page, re.S)
    assert endpoints is not None
    assert re.findall(r'<option value="([^"]*)"', endpoints.group(0)) == [
        "",
        "/v2/orders/{id}",
        "/v2/orders/{id}/products",
        "/v3/customers",
    ]
    methods = re.search(r'<select id="f-method".*?</select>', page, re.S)
    assert methods is not None
    assert re.findall(r'<option value="([^"]*)"', methods.group(0)) == ["", "GET", "POST", "PUT"]


def test_a_row_shows_status_duration_attempt_rows_and_rate_limit_headers(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    page = ui.client.get(f"/runs/{run_id}/calls", params={"pk": "1"}).text
    rows = re.findall(r'<tr class="call.*?</tr>', page, re.S)
    assert len(rows) == 3
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td>(.*?)</td>", rows[2], re.S)
    ]
    assert cells == [
        "3",
        "03:04:05.003",
        "POST",
        "/v3/customers",
        "201",
        "12 ms",
        "2",
        "1, 2",
        "149/150 left · reset 2990 ms · window 30000 ms",
    ]
    timeout = ui.client.get(f"/runs/{run_id}/calls", params={"status": "error"}).text
    assert "no answer" in timeout and "ReadTimeout: timed out" in timeout


def test_calls_page_by_seq_forwards_and_back(ui: Ui) -> None:
    run_id = ui.run_with([call(n, pks=(str(n % 3),)) for n in range(1, 251)])
    url = f"/runs/{run_id}/calls"
    first = ui.client.get(url).text
    assert [int(s) for s in _SEQ_IN_ROW.findall(first)] == list(range(1, 101))
    assert "Earlier calls" not in first
    later = re.search(r'href="([^"]*)" rel="next">Later calls', first)
    assert later is not None and "after=100" in later.group(1)

    second = ui.client.get(later.group(1).replace("&amp;", "&")).text
    assert [int(s) for s in _SEQ_IN_ROW.findall(second)] == list(range(101, 201))
    earlier = re.search(r'href="([^"]*)" rel="prev">Earlier calls', second)
    assert earlier is not None
    assert ui.seqs(earlier.group(1).replace("&amp;", "&")) == list(range(1, 101))

    assert ui.seqs(url, after=200) == list(range(201, 251))
    assert "Later calls" not in ui.client.get(url, params={"after": 200}).text
    # Paging keeps the filter: pk 0 is every third call.
    assert ui.seqs(url, pk="0", after=150) == list(range(153, 251, 3))


def test_a_call_opens_into_request_and_response_with_formatted_escaped_json(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    listing = ui.client.get(f"/runs/{run_id}/calls", params={"pk": "7"}).text
    link = re.search(r'<a href="([^"]*/calls/12)">12</a>', listing)
    assert link is not None
    page = ui.client.get(link.group(1))
    assert page.status_code == 200
    text = page.text
    assert '<h2 id="request-heading">Request</h2>' in text
    assert '<h2 id="response-heading">Response</h2>' in text
    assert "POST /v3/customers" in text
    request_body = re.search(r'<pre class="body" id="request-body"[^>]*>(.*?)</pre>', text, re.S)
    assert request_body is not None
    # Pretty-printed, and the markup in a value is text, not markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in request_body.group(1)
    assert "<script>alert(1)" not in text
    shown = html.unescape(request_body.group(1))
    assert shown.startswith("[\n  {\n")
    assert '"first_name": "<script>alert(1)</script>"' in shown
    response_body = re.search(r'<pre class="body" id="response-body"[^>]*>(.*?)</pre>', text, re.S)
    assert response_body is not None
    answer = html.unescape(response_body.group(1))
    assert '"title": "Email taken"' in answer
    assert '"errors": {\n    "email": "in use"\n  }' in answer
    assert "X-Rate-Limit-Requests-Left" in text and "149" in text
    assert ui.client.get(f"/runs/{run_id}/calls/99").status_code == 404


def test_har_of_the_run_and_of_a_filter_is_a_download(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    whole = ui.client.get(f"/runs/{run_id}/har")
    assert whole.status_code == 200
    assert whole.headers["content-disposition"].startswith("attachment;")
    assert len(whole.json()["log"]["entries"]) == 12

    filtered = ui.client.get(f"/runs/{run_id}/har", params={"pk": "3", "status": "4xx"})
    assert "filtered" in filtered.headers["content-disposition"]
    entries = filtered.json()["log"]["entries"]
    assert [e["response"]["status"] for e in entries] == [422]
    assert entries[0]["request"]["url"].endswith("/stores/abc123/v3/customers")
    assert TOKEN not in filtered.text and TOKEN not in whole.text


def test_wrong_runs_and_filters_are_answered_plainly(ui: Ui) -> None:
    run_id = ui.run_with(CALLS)
    assert ui.client.get("/runs/nosuchrun/calls").status_code == 404
    assert ui.client.get("/runs/nosuchrun/har").status_code == 404
    bad = ui.client.get(f"/runs/{run_id}/calls", params={"status": "9xx"})
    assert bad.status_code == 400
    assert "not one of" in bad.text


def test_a_running_run_s_new_calls_come_from_the_live_route(ui: Ui) -> None:
    run_id = ui.run_with(CALLS[:3], finish=False)
    page = ui.client.get(f"/runs/{run_id}/calls").text
    assert 'data-calls-live="' in page and 'data-after="3"' in page
    assert "This run is in progress" in page and ">Reload</a>" in page

    live = f"/runs/{run_id}/calls/live"
    assert ui.client.get(live, params={"after": 3}).json()["calls"] == []
    ui.store.add_api_calls(run_id, CALLS[3:6])
    answer = ui.client.get(live, params={"after": 3}).json()
    assert answer["running"] is True
    assert [c["seq"] for c in answer["calls"]] == [4, 5, 6]
    assert answer["calls"][0]["status"] == "500"
    # The live route keeps the page's filter.
    only = ui.client.get(live, params={"after": 3, "status": "4xx"}).json()
    assert [c["seq"] for c in only["calls"]] == [6]

    ui.store.finish_run(run_id, "success", counts={}, api_calls=6)
    assert ui.client.get(live, params={"after": 6}).json()["running"] is False
    assert "data-calls-live" not in ui.client.get(f"/runs/{run_id}/calls").text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_debugger_and_alert_history_queries_on_both_run_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'state.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    with RunStore.open(url) as store:
        run_id = store.start_run("vip_customers")
        store.add_api_calls(run_id, CALLS)
        other = store.start_run("vip_customers")
        store.add_api_calls(other, CALLS[:4])

        def seqs(where: call_log.CallFilter, **page: Any) -> list[int]:
            return [c.seq for c in call_log.filtered_calls(store, run_id, where, **page).calls]

        assert seqs(call_log.CallFilter(status="4xx")) == [2, 6, 12]
        assert seqs(call_log.CallFilter(status="error")) == [7]
        assert seqs(call_log.CallFilter(endpoint="/v2/orders/{id}")) == [9, 10]
        assert seqs(call_log.CallFilter(pk="3", method="put")) == [4, 6]
        assert seqs(call_log.CallFilter(), after=10) == [11, 12]
        window = call_log.filtered_calls(store, run_id, call_log.CallFilter(), before=6, limit=2)
        assert [c.seq for c in window.calls] == [4, 5]
        assert (window.earlier, window.later) == (True, True)
        assert call_log.call_facets(store, run_id).endpoints == (
            "/v2/orders/{id}",
            "/v2/orders/{id}/products",
            "/v3/customers",
        )
        assert len(call_log.matching_calls(store, other, call_log.CallFilter(pk="1"))) == 3

        first = call_log.record_notification(
            store, sync="vip_customers", trigger="run_failed", state="critical",
            channel="team", kind="slack", delivered=False, attempts=3,
            error="Slack unreachable", run_id=run_id, title="[CRITICAL] one",
        )  # fmt: skip
        second = call_log.record_notification(
            store, sync="-", trigger="test", state="warning", channel="team", kind="slack",
            delivered=True, attempts=1, error=None, run_id=None, title="[TEST] two",
        )  # fmt: skip
        page = call_log.notifications(store, limit=1)
        assert [n.id for n in page.items] == [second] and page.older
        older = call_log.notifications(store, before=second)
        assert [(n.id, n.delivered, n.error) for n in older.items] == [
            (first, False, "Slack unreachable")
        ]
        assert not older.older


# -- in a real browser, on a run against the emulator ---------------------------------------

CUSTOMERS = """\
vip_customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: id}
  mode: insert
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""


def _customer(n: int) -> dict[str, Any]:
    return {"id": n, "email": f"user{n}@example.com", "first_name": f"U{n}", "last_name": "T"}


def _shown_seqs(page: Any) -> list[int]:
    return [
        int(text)
        for text in page.locator("table.calls tbody tr td:first-child a").all_inner_texts()
    ]


def _shown_column(page: Any, column: int) -> list[str]:
    return [
        text.strip()
        for text in page.locator(f"table.calls tbody tr td:nth-child({column})").all_inner_texts()
    ]


def test_the_debugger_in_a_browser_after_a_run_with_a_429_and_a_500(
    sync_project: Any, emulator: Any, ui_server: Any, page: Any, tmp_path: Path
) -> None:
    # A customer already there makes row 3 a 422; the first create is refused with a 429 and
    # the first look-up of settling answers a 500: the run has 2xx, 4xx and 5xx calls.
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user3@example.com", "first_name": "Taken", "last_name": "Already"}],
        )
    emulator.faults(
        [
            {"method": "POST", "path": "/v3/customers", "status": 429, "times": 1},
            {"method": "GET", "path": "/v3/customers", "status": 500, "times": 1},
        ]
    )
    sync_project.load("customers", [_customer(n) for n in range(1, 6)])
    sync_project.configure(CUSTOMERS)
    ran = sync_project.cli("run", "vip_customers", "--json")
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["run_id"]
    server = ui_server(sync_project.dir)

    page.goto(server.url(f"/runs/{run_id}/calls"))
    assert page.get_by_role("heading", name=f"API calls of run {run_id[:8]}").is_visible()
    everything = _shown_seqs(page)
    statuses = _shown_column(page, 5)
    assert "429" in statuses and "500" in statuses and any(s.startswith("2") for s in statuses)

    page.get_by_label("Status").select_option("4xx")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=4xx"))
    four = _shown_column(page, 5)
    assert four and all(s.startswith("4") for s in four)
    assert "429" in four and "422" in four
    assert len(four) < len(everything)

    page.get_by_label("Status").select_option("5xx")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=5xx"))
    assert _shown_column(page, 5) == ["500"]

    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(re.compile(r"/calls$"))
    assert _shown_seqs(page) == everything

    page.get_by_label("Method").select_option("POST")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"method=POST"))
    posts = _shown_column(page, 3)
    assert posts and set(posts) == {"POST"} and len(posts) < len(everything)

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Endpoint").select_option("/v3/customers")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"endpoint=%2Fv3%2Fcustomers"))
    assert set(_shown_column(page, 4)) == {"/v3/customers"}

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Primary key").fill("3")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"pk=3"))
    mine = _shown_seqs(page)
    assert mine and len(mine) < len(everything)
    assert all("3" in rows.split(", ") for rows in _shown_column(page, 8))
    assert "422" in _shown_column(page, 5)

    # The 422 opens into its request and response, JSON formatted.
    row = page.locator("table.calls tbody tr").filter(has_text="422").first
    row.locator("td:first-child a").click()
    page.wait_for_url(re.compile(r"/calls/\d+$"))
    assert page.get_by_role("heading", name="Request", exact=True).is_visible()
    assert page.get_by_role("heading", name="Response", exact=True).is_visible()
    request_body = page.locator("#request-body").inner_text()
    assert "user3@example.com" in [item["email"] for item in json.loads(request_body)]
    assert "\n  " in request_body  # indented, not one line
    response_body = page.locator("#response-body").inner_text()
    assert json.loads(response_body)["status"] == 422
    assert TOKEN not in page.content() and emulator.token not in page.content()

    # The HAR of the pk filter: a download that parses and holds no token.
    page.go_back()
    page.wait_for_url(re.compile(r"pk=3"))
    with page.expect_download() as download:
        page.get_by_role("link", name="these calls only").click()
    saved = tmp_path / "filtered.har"
    download.value.save_as(saved)
    text = saved.read_text()
    assert emulator.token not in text
    har = json.loads(text)
    assert len(har["log"]["entries"]) == len(mine)
    assert all("3" in entry["comment"] for entry in har["log"]["entries"])
    assert httpx.get(server.url(f"/runs/{run_id}/har")).status_code == 200


def test_a_run_in_progress_shows_its_new_calls_without_a_reload(
    sync_project: Any, emulator: Any, ui_server: Any, page: Any
) -> None:
    # 2500 rows against a slow store: calls are stored at each checkpoint (every 1000 rows),
    # and the page, opened once, must show them arriving.
    sync_project.load("customers", [_customer(n) for n in range(1, 2501)])
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir)
    emulator.faults([{"path": "*", "latency_ms": 80, "times": 100_000}])
    process = sync_project.popen("run", "vip_customers")
    try:
        run_id = _wait_for_running_run(server)
        page.goto(server.url(f"/runs/{run_id}/calls"))
        page.evaluate("window.__notReloaded = true")
        assert page.locator("#live-note").is_visible()
        shown_first = page.locator("table.calls tbody tr.call").count()
        page.wait_for_function(
            "n => document.querySelectorAll('table.calls tbody tr.call').length > n",
            arg=shown_first,
            timeout=30_000,
        )
        assert process.wait(timeout=120) == 0
        page.wait_for_function(
            "() => document.getElementById('run-status').textContent === 'success'",
            timeout=15_000,
        )
        emulator.faults([])
        assert page.evaluate("window.__notReloaded") is True  # updated in place
        assert "The run has finished (success)" in page.locator("#live-note").inner_text()
        # Every call of the run, each once, in order: what the whole run's HAR holds.
        live = _shown_seqs(page)
        har = httpx.get(server.url(f"/runs/{run_id}/har"), timeout=30).json()
        assert live == list(range(1, len(har["log"]["entries"]) + 1))
        assert len(live) > PAGE_SIZE  # more than a fresh page shows at once
        page.reload()
        assert _shown_seqs(page) == live[:PAGE_SIZE]
        assert page.locator("tbody[data-calls-live]").count() == 0  # a fresh page is not live
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for_running_run(server: Any) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for sync in httpx.get(server.url("/api/v1/syncs"), timeout=10).json()["syncs"]:
            if sync.get("running_run_id"):
                return str(sync["running_run_id"])
        time.sleep(0.1)
    raise AssertionError("no run in progress appeared")
