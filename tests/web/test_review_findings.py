"""Findings of a hostile review of `bcsync serve`, each driven against the real server.

- bad input that reached the run store as it came (a 64-bit overflow in SQLite, a NUL character
  in PostgreSQL) answered 500 instead of a 4xx;
- ``/login?next=/<tab>/evil.example`` put a link to another site on the login page;
- a cookie of another site on the same host name that ``SimpleCookie`` cannot read hid bcsync's
  own cookies: logged out at every page, every form refused;
- the Row page showed another sync's row for ``?run=`` of a run of that other sync;
- the CSV export wrote a primary key starting with ``=`` as a spreadsheet formula;
- a run with thousands of distinct rejection messages made its Run page list every one of them
  (a query each), taking tens of seconds.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from tests.fixtures.projects import SyncProject
from tests.web.test_run_page import CUSTOMERS

BOTH = (
    CUSTOMERS
    + """\
others:
  destination: store
  object: customers
  model: {table: others, primary_key: id}
  mode: insert
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""
)
TOO_LONG = "column 'first_name' (field first_name): is 150 characters long; the maximum is 100"
TOKEN = "review-ui-token-0123456789"
HUGE = "99999999999999999999999"


def customer(n: int, **overrides: Any) -> dict[str, Any]:
    row = {"id": str(n), "email": f"user{n}@example.com", "first_name": f"F{n}", "last_name": "L"}
    return row | overrides


def run_json(sync_project: SyncProject, sync: str = "customers") -> dict[str, Any]:
    done = sync_project.cli("run", sync, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def a_run_with_invalid_rows(sync_project: SyncProject) -> str:
    """Two good rows and three invalid ones (one message), one of them keyed ``=1+1``."""
    rows = [customer(1), customer(2)]
    rows += [customer(n, first_name="x" * 150) for n in (11, 12)]
    rows += [customer(13, id="=1+1", first_name="x" * 150)]
    sync_project.load("customers", rows)
    sync_project.configure(CUSTOMERS)
    result = run_json(sync_project)
    assert result["counts"]["invalid"] == 3, result
    return str(result["run_id"])


def test_numbers_too_big_for_the_store_are_a_4xx_not_a_500(
    sync_project: SyncProject, ui_server: Any
) -> None:
    run_id = a_run_with_invalid_rows(sync_project)
    server = ui_server(sync_project.dir)
    group = f"outcome=invalid&error={quote(TOO_LONG)}"
    paths = [
        f"/runs/{run_id}?{group}&after={HUGE}",
        f"/runs/{run_id}/calls?after={HUGE}",
        f"/runs/{run_id}/calls?before={HUGE}",
        f"/runs/{run_id}/calls/live?after={HUGE}",
        f"/runs/{run_id}/calls/{HUGE}",
        f"/alerts?before={HUGE}",
        f"/alerts?tested={HUGE}",
    ]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.get(f"/runs/{run_id}?{group}&after=0").status_code == 200
        for path in paths:
            answer = client.get(path)
            assert 400 <= answer.status_code < 500, f"{path}: {answer.status_code} {answer.text}"
    assert "Traceback" not in server.log.read_text()


def test_a_nul_character_in_a_url_is_a_400_on_a_postgresql_run_store(
    sync_project: SyncProject, postgres_url: str, ui_server: Any
) -> None:
    sync_project.state_url = postgres_url
    run_id = a_run_with_invalid_rows(sync_project)
    server = ui_server(sync_project.dir)
    paths = [
        "/runs/a%00b",
        "/api/v1/runs/a%00b",
        "/api/v1/runs/a%00b/rows",
        f"/runs/{run_id}?pk=1%00",
        f"/runs/{run_id}/calls?pk=1%00",
        f"/runs/{run_id}/calls?method=G%00",
        f"/runs/{run_id}/har?endpoint=/v3%00",
        "/syncs/customers/rows/1%00",
        f"/syncs/customers/rows/1?run={run_id}%00",
    ]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.get(f"/runs/{run_id}?pk=11").status_code == 200
        for path in paths:
            answer = client.get(path)
            assert 400 <= answer.status_code < 500, f"{path}: {answer.status_code} {answer.text}"
    assert "Traceback" not in server.log.read_text()


def _browser_target(page_url: str, href: str) -> str:
    """Where a browser goes for ``href`` on ``page_url``: it drops tabs and line breaks from
    a URL and reads a backslash as a slash (the WHATWG URL parser)."""
    cleaned = re.sub(r"[\t\n\r]", "", html.unescape(href)).replace("\\", "/")
    return urljoin(page_url, cleaned)


def test_the_login_page_never_links_to_another_site(
    sync_project: SyncProject, ui_server: Any
) -> None:
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir, host="0.0.0.0", env={"BCSYNC_UI_TOKEN": TOKEN})
    base = server.base_url
    for evil in ("/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example/x", "/%20/x"):
        page_url = f"{base}/login?next={evil}"
        answer = httpx.get(page_url)
        assert answer.status_code == 200, answer.text
        for href in re.findall(r'href="([^"]*)"', answer.text):
            target = _browser_target(page_url, href)
            assert urlsplit(target).netloc == urlsplit(base).netloc, (evil, href, target)
        hidden = re.search(r'name="next" value="([^"]*)"', answer.text)
        assert hidden is not None
        target = _browser_target(page_url, hidden.group(1))
        assert urlsplit(target).netloc == urlsplit(base).netloc, (evil, hidden.group(1))


def test_after_the_login_the_browser_gets_the_page_it_asked_for(
    sync_project: SyncProject, ui_server: Any
) -> None:
    """A primary key with ``?`` and ``#`` (``%3F``, ``%23`` in its Row page's URL) survives the
    detour through the login page."""
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir, host="0.0.0.0", env={"BCSYNC_UI_TOKEN": TOKEN})
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        asked = "/syncs/customers/rows/q%3Fx%3D1%23h"
        to_login = client.get(asked)
        assert to_login.status_code == 303
        login = client.get(to_login.headers["location"])
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        hidden = re.search(r'name="next" value="([^"]*)"', login.text)
        assert csrf is not None and hidden is not None
        logged_in = client.post(
            "/login",
            data={"csrf": csrf.group(1), "token": TOKEN, "next": html.unescape(hidden.group(1))},
        )
        assert logged_in.status_code == 303
        assert logged_in.headers["location"] == asked


def test_a_cookie_of_another_site_on_the_host_does_not_log_the_user_out(
    sync_project: SyncProject, ui_server: Any
) -> None:
    """Cookies are per host name, not per port: every other app on the machine shares them. A
    value ``SimpleCookie`` cannot read (JSON, a space) must not hide bcsync's session."""
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir, host="0.0.0.0", env={"BCSYNC_UI_TOKEN": TOKEN})
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        login = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf is not None
        assert client.post("/login", data={"csrf": csrf.group(1), "token": TOKEN}).is_redirect
        ours = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    for foreign in ('prefs={"theme":"dark"}', "greeting=hello world", "name=Zoë"):
        headers = {"Cookie": f"{foreign}; {ours}".encode()}
        page = httpx.get(server.url("/"), headers=headers)
        assert page.status_code == 200, (foreign, page.status_code, page.headers)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        plan = httpx.post(
            server.url("/syncs/customers/plan"), headers=headers, data={"csrf": token.group(1)}
        )
        assert plan.status_code != 403, (foreign, plan.text)


def test_the_row_page_refuses_a_run_of_another_sync(
    sync_project: SyncProject, ui_server: Any
) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.load("others", [customer(1, email="other1@example.com", first_name="Other")])
    sync_project.configure(BOTH)
    run_json(sync_project, "customers")
    other_run = run_json(sync_project, "others")["run_id"]
    server = ui_server(sync_project.dir)
    own = httpx.get(server.url("/syncs/customers/rows/1"))
    assert own.status_code == 200 and "Other" not in own.text
    crossed = httpx.get(server.url(f"/syncs/customers/rows/1?run={other_run}"))
    assert crossed.status_code == 404, crossed.text
    assert "others" in crossed.json()["detail"]


def test_the_csv_export_writes_no_spreadsheet_formula(
    sync_project: SyncProject, ui_server: Any
) -> None:
    run_id = a_run_with_invalid_rows(sync_project)
    server = ui_server(sync_project.dir)
    answer = httpx.get(server.url(f"/runs/{run_id}/rows.csv"))
    assert answer.status_code == 200
    table = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(row["pk"] for row in table) == ["'=1+1", "11", "12"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in table for cell in row.values())
    # The JSON export keeps the exact key.
    document = httpx.get(server.url(f"/runs/{run_id}/rows.json")).json()
    assert "=1+1" in {row["pk"] for row in document["rows"]}


def test_a_run_with_thousands_of_distinct_messages_opens_quickly(
    sync_project: SyncProject, ui_server: Any
) -> None:
    """BigCommerce's messages quote the row (``the email 'a@b.c' is already in use``): 3,000
    rejected rows can be 3,000 messages. The page lists the most shared ones and says more follow.
    """
    run_id = a_run_with_invalid_rows(sync_project)
    # The engine writes outcomes as it goes; 3,000 more are added to the finished run's.
    with sqlite3.connect(sync_project.dir / ".bcsync" / "state.db") as db:
        db.executemany(
            "INSERT INTO row_outcomes (run_id, pk, op, outcome, error, dest_id)"
            " VALUES (?, ?, 'create', 'rejected', ?, NULL)",
            [
                (run_id, f"d{n}", f"email: the email 'dup{n}@example.com' is already in use")
                for n in range(3000)
            ],
        )
    server = ui_server(sync_project.dir)
    started = time.monotonic()
    page = httpx.get(server.url(f"/runs/{run_id}"), timeout=120)
    took = time.monotonic() - started
    assert page.status_code == 200
    assert took < 5, f"the Run page took {took:.1f} s"
    assert page.text.count('class="error-group"') <= 50
    assert "data-more-groups" in page.text
    # The biggest group (three invalid rows share one message) is listed first.
    assert page.text.index("is 150 characters long") < page.text.index("dup")
    # A PK search still finds a row whose message is not listed.
    found = httpx.get(server.url(f"/runs/{run_id}"), params={"pk": "d2999"})
    assert "dup2999@example.com" in found.text


def test_a_link_from_another_site_leaves_the_forms_of_open_tabs_working(
    sync_project: SyncProject, ui_server: Any, page: Any
) -> None:
    """The user has the Syncs page open, then follows a link from an alert in Slack (another
    site) to the UI in a second tab. That navigation must not give the browser a new CSRF id:
    the first tab's Plan button must still work."""
    sync_project.load("customers", [customer(1)])
    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir)
    page.goto(server.url("/"))
    chat = page.context.new_page()
    chat.route(
        "http://chat.example/**",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body=f'<a id="alert" href="{server.url("/alerts")}">the alert</a>',
        ),
    )
    chat.goto("http://chat.example/")
    chat.click("#alert")
    chat.wait_for_url(server.url("/alerts"))
    with page.expect_response(lambda r: r.url.endswith("/plan")) as answer:
        page.get_by_role("button", name="Plan customers").click()
    assert answer.value.status == 200, page.content()


def test_the_sync_page_answers_extreme_dates_without_a_500(
    sync_project: SyncProject, ui_server: Any
) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(CUSTOMERS)
    run_json(sync_project)
    server = ui_server(sync_project.dir)
    for query in (
        "until=9999-12-31",
        "before=9999-12-31T23:59:59-23:59,x",
        "before=0001-01-01T00:00:00%2B23:59,x",
    ):
        answer = httpx.get(server.url(f"/syncs/customers?{query}"))
        assert answer.status_code < 500, (query, answer.status_code)


def test_a_run_whose_process_died_is_not_reported_running_forever(
    sync_project: SyncProject, ui_server: Any
) -> None:
    """An orchestrator polls ``GET /api/v1/runs/{id}`` until ``running`` is false. A run whose
    process was killed (or a `bcsync serve` stopped while it ran) stays ``syncing`` in the store
    until the sync's next run closes it: until then it must read as interrupted, not running."""
    # 600 rows are 60 creates of 10 at 200 ms each: the kill lands long before the run ends.
    sync_project.load("customers", [customer(n) for n in range(1, 601)])
    sync_project.configure(CUSTOMERS)
    sync_project.kill_midway("customers", endpoint="POST /v3/customers", after=1, latency_ms=200)
    server = ui_server(sync_project.dir)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        listed = client.get("/api/v1/syncs").json()["syncs"][0]
        assert listed["running_run_id"] is None  # the Syncs page knows nothing is going
        run_id = listed["last_run"]["run_id"]
        document = client.get(f"/api/v1/runs/{run_id}").json()
        assert (document["running"], document["status"]) == (False, "interrupted"), document
        assert "process died" in document["error"]
        events = client.get(f"/runs/{run_id}/events", timeout=10).text
        assert events.startswith("event: done"), events[:200]
        assert "in progress" not in client.get(f"/runs/{run_id}").text
        assert listed["last_run"]["status"] == "interrupted", listed
        assert "status-interrupted" in client.get("/").text  # the Syncs page says so too


def test_guessing_the_token_is_slow_everywhere_and_does_not_stall_the_ui(
    sync_project: SyncProject, ui_server: Any
) -> None:
    """A wrong token costs time at the login form *and* as a bearer token, one guess at a time
    server-wide; and guesses waiting out their delay hold no worker thread, so a user with the
    token is answered at once however many guesses are in flight."""
    import asyncio

    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir, host="0.0.0.0", env={"BCSYNC_UI_TOKEN": TOKEN})
    base = server.base_url.replace("0.0.0.0", "127.0.0.1")
    right = {"Authorization": f"Bearer {TOKEN}"}
    wrong = {"Authorization": "Bearer a-wrong-guess"}

    async def scenario() -> tuple[float, float]:
        limits = httpx.Limits(max_connections=400)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            started = time.monotonic()
            answers = await asyncio.gather(
                *(client.get("/api/v1/syncs", headers=wrong) for _ in range(6))
            )
            guessing = time.monotonic() - started
            assert {a.status_code for a in answers} == {401}
            login = await client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "token": "another-wrong-guess"}
            flood = [asyncio.create_task(client.post("/login", data=form)) for _ in range(150)]
            await asyncio.sleep(0.5)
            started = time.monotonic()
            served = await client.get("/api/v1/syncs", headers=right)
            waited = time.monotonic() - started
            assert served.status_code == 200
            for task in flood:
                task.cancel()
            await asyncio.gather(*flood, return_exceptions=True)
            return guessing, waited

    # In a thread of its own: this module's Chromium keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        guessing, waited = pool.submit(lambda: asyncio.run(scenario())).result()
    assert guessing >= 2.5, f"6 wrong bearer tokens were answered in {guessing:.2f} s"
    assert waited < 0.5, f"with guesses in flight, a request with the token took {waited:.2f} s"
