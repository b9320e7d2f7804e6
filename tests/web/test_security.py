"""Who may use `bcsync serve`: the token beyond loopback (login once, or a bearer token for the
API), and CSRF protection of every state-changing request, over plain HTTP."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tests.fixtures.web import VIP_CUSTOMERS, free_port

CUSTOMERS = VIP_CUSTOMERS
TOKEN = "s3cret-ui-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
EVIL = "https://evil.example"


def project_with_customers(sync_project: Any) -> Any:
    sync_project.load(
        "customers", [{"id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": "L"}]
    )
    sync_project.configure(CUSTOMERS)
    return sync_project


def public_server(sync_project: Any, ui_server: Any) -> Any:
    """`bcsync serve` on every interface, with the token in BCSYNC_UI_TOKEN."""
    return ui_server(
        project_with_customers(sync_project).dir,
        host="0.0.0.0",
        env={"BCSYNC_UI_TOKEN": TOKEN},
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def wait_for_run(server: Any, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        run: dict[str, Any] = httpx.get(
            server.url(f"/api/v1/runs/{run_id}"), headers=headers
        ).json()
        if run["finished"]:  # not "running": a queued run is neither
            return run
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_without_the_token_pages_go_to_login_and_the_api_answers_401(
    sync_project: Any, ui_server: Any
):
    server = public_server(sync_project, ui_server)

    for path in ("/", "/syncs/vip_customers", "/runs/abc", "/alerts", "/no/such/page"):
        answer = httpx.get(server.url(path))
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path
    for path in ("/api/v1/syncs", "/api/v1/runs/abc", "/api/v1/runs/abc/calls"):
        answer = httpx.get(server.url(path))
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == "Bearer"
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.get(server.url("/api/v1/syncs"), headers=wrong).status_code == 401
    for headers in ({}, wrong):
        post = httpx.post(server.url("/api/v1/syncs/vip_customers/runs"), headers=headers)
        assert post.status_code == 401
    form = httpx.post(server.url("/syncs/vip_customers/run"), data={"csrf": "x"})
    assert form.status_code == 303 and form.headers["location"].startswith("/login")
    login = httpx.get(server.url("/login"))
    assert login.status_code == 200 and 'type="password"' in login.text
    assert TOKEN not in login.text
    assert sync_project.emulator.dump()["customers"] == []


def test_an_api_client_with_the_bearer_token_needs_no_cookie(sync_project: Any, ui_server: Any):
    server = public_server(sync_project, ui_server)

    listed = httpx.get(server.url("/api/v1/syncs"), headers=BEARER)
    assert listed.status_code == 200
    assert listed.json()["syncs"][0]["name"] == "vip_customers"
    started = httpx.post(server.url("/api/v1/syncs/vip_customers/runs"), headers=BEARER)
    assert started.status_code == 202, started.text
    assert "set-cookie" not in started.headers
    run = wait_for_run(server, started.json()["run_id"], BEARER)
    assert run["status"] == "success", run["error"]
    assert run["counts"]["succeeded"] == 1
    assert [c["email"] for c in sync_project.emulator.dump()["customers"]] == ["ada@example.com"]

    for cross_site in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        refused = httpx.post(
            server.url("/api/v1/syncs/vip_customers/runs"), headers=BEARER | cross_site
        )
        assert refused.status_code == 403, cross_site
        assert "cross-site" in refused.json()["detail"]


def test_a_browser_logs_in_once_and_its_forms_need_the_csrf_token(
    sync_project: Any, ui_server: Any
):
    server = public_server(sync_project, ui_server)
    with httpx.Client(base_url=server.base_url) as browser:
        login = browser.get("/syncs/vip_customers", follow_redirects=True)
        assert login.url.path == "/login"
        token_field = csrf_of(login.text)
        wrong = browser.post(
            "/login", data={"csrf": token_field, "token": "guess", "next": "/syncs/vip_customers"}
        )
        assert wrong.status_code == 401 and "not the UI token" in wrong.text
        no_csrf = browser.post("/login", data={"token": TOKEN})
        assert no_csrf.status_code == 403

        logged_in = browser.post(
            "/login", data={"csrf": token_field, "token": TOKEN, "next": "/syncs/vip_customers"}
        )

        assert logged_in.status_code == 303
        assert logged_in.headers["location"] == "/syncs/vip_customers"
        cookie = logged_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = browser.get("/syncs/vip_customers")
        assert page.status_code == 200 and "Run history" in page.text
        csrf = csrf_of(browser.get("/").text)

        assert browser.post("/syncs/vip_customers/run").status_code == 403
        assert browser.post("/syncs/vip_customers/run", data={"csrf": "forged"}).status_code == 403
        for cross_site in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
            refused = browser.post(
                "/syncs/vip_customers/run", data={"csrf": csrf}, headers=cross_site
            )
            assert refused.status_code == 403
        assert sync_project.emulator.dump()["customers"] == []

        started = browser.post(
            "/syncs/vip_customers/run",
            data={"csrf": csrf},
            headers={"Origin": server.base_url, "Sec-Fetch-Site": "same-origin"},
        )
        assert started.status_code == 303
        run_id = started.headers["location"].removeprefix("/runs/")
        run = wait_for_run(server, run_id, BEARER)
        assert run["status"] == "success", run["error"]
        assert browser.get("/api/v1/syncs").status_code == 200  # the session opens the API too

        logout = browser.post("/logout", data={"csrf": csrf})
        assert logout.status_code == 303
        assert browser.get("/").status_code == 303
    assert [c["email"] for c in sync_project.emulator.dump()["customers"]] == ["ada@example.com"]


def test_on_loopback_without_a_token_posts_still_need_the_csrf_token(
    sync_project: Any, ui_server: Any
):
    server = ui_server(project_with_customers(sync_project).dir)
    with httpx.Client(base_url=server.base_url) as browser:
        csrf = csrf_of(browser.get("/").text)

        assert browser.post("/syncs/vip_customers/run").status_code == 403
        cross = browser.post(
            "/syncs/vip_customers/run", data={"csrf": csrf}, headers={"Origin": EVIL}
        )
        assert cross.status_code == 403
        # A form another site posts to the API: no JSON, no token.
        form = httpx.post(server.url("/api/v1/syncs/vip_customers/runs"), data={"a": "b"})
        assert form.status_code == 403
        # A name pointed at 127.0.0.1 by another site (DNS rebinding) gets nothing.
        rebound = httpx.get(server.url("/"), headers={"Host": "evil.example"})
        assert rebound.status_code == 400
        assert sync_project.emulator.dump()["customers"] == []

        started = browser.post("/syncs/vip_customers/run", data={"csrf": csrf})
        assert started.status_code == 303
        assert started.headers["location"].startswith("/runs/")


def test_serve_beyond_loopback_without_a_token_refuses_to_start(sync_project: Any):
    project = project_with_customers(sync_project)

    refused = project.cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), timeout=30)

    assert refused.returncode == 2
    assert "BCSYNC_UI_TOKEN" in refused.stderr and "--token-file" in refused.stderr


def test_a_sync_s_configuration_is_shown_with_every_secret_of_the_project_masked(
    sync_project: Any,
):
    from bcsync.config.project import load_config
    from bcsync.web.masking import masked_config

    webhook = "https://hooks.slack.example/T000/B000/very-secret-path"
    with open(sync_project.dir / ".env", "a") as env:
        env.write(f"SLACK_URL={webhook}\n")
    sync_project.configure(
        CUSTOMERS.replace(
            "model: {table: customers, primary_key: id}",
            "model: {sql: \"select *, '${SLACK_URL}' as hook from customers\", primary_key: id}",
        ),
        extra="""\
        alerts:
          channels:
            team: {type: slack, webhook_url: "${SLACK_URL}"}
        """,
    )
    config = load_config(sync_project.dir)

    shown = masked_config(config, "vip_customers")

    assert webhook not in shown and sync_project.emulator.token not in shown
    assert "access_token: '***'" in shown
    assert "'***' as hook from customers" in shown
    assert "mode: upsert" in shown and "field: first_name" in shown


def test_no_page_can_be_framed_by_another_site(sync_project: Any, ui_server: Any) -> None:

    sync_project.configure(CUSTOMERS)
    server = ui_server(sync_project.dir)
    for path in ("/", "/syncs/vip_customers", "/alerts", "/login", "/api/v1/syncs", "/nope"):
        answer = httpx.get(server.url(path))
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", path


def test_a_schedule_is_shown_as_written(sync_project: Any) -> None:
    from bcsync.config.project import load_config
    from bcsync.web.masking import masked_config

    sync_project.configure(
        CUSTOMERS
        + "  schedule: {every: 1h30m, start_at: '2026-01-01T00:00:00+00:00'}\n"
        + "  misfire_grace: 5m\n"
    )

    shown = masked_config(load_config(sync_project.dir), "vip_customers")

    assert "every: 1h30m" in shown and "misfire_grace: 5m" in shown, shown
    assert "2026-01-01T00:00:00+00:00" in shown, shown


def test_chromium_logs_in_once_and_a_page_of_another_site_cannot_post_for_it(
    sync_project: Any, ui_server: Any, page: Any
):
    server = public_server(sync_project, ui_server)
    # Chromium refuses to browse 0.0.0.0: the same server through loopback.
    base = server.base_url.replace("0.0.0.0", "127.0.0.1")

    page.goto(base + "/syncs/vip_customers")
    assert page.get_by_role("heading", name="Log in").is_visible()
    page.get_by_label("UI token").fill("a wrong guess")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That is not the UI token."
    page.get_by_label("UI token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/syncs/vip_customers")
    assert page.get_by_role("heading", name="vip_customers").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "bcsync_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # Another site's page, open in the same browser, posts a form to the UI.
    evil = (
        f'<form id="f" method="post" action="{base}/syncs/vip_customers/run">'
        '<input name="csrf" value="guessed"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    page.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=evil),
    )
    with page.expect_response(lambda r: r.url.endswith("/run")) as answer:
        page.goto("http://evil.example/")
    # SameSite=Strict: the session cookie stays home, so the post is sent to log in.
    assert answer.value.status == 303
    assert answer.value.headers["location"].startswith("/login")
    assert sync_project.emulator.dump()["customers"] == []
    assert (
        httpx.get(server.url("/api/v1/syncs"), headers=BEARER).json()["syncs"][0]["last_run"]
        is None
    )

    page.goto(base + "/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(base + "/login")
    page.goto(base + "/")
    assert page.get_by_role("heading", name="Log in").is_visible()


def test_on_loopback_a_page_of_another_site_cannot_post_to_the_ui_in_chromium(
    sync_project: Any, ui_server: Any, page: Any
):
    server = ui_server(project_with_customers(sync_project).dir)
    page.goto(server.url("/"))  # the user has the UI open: its cookie is in the browser
    evil = (
        f'<form id="f" method="post" action="{server.url("/syncs/vip_customers/run")}">'
        '<input name="csrf" value="guessed"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    page.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=evil),
    )

    with page.expect_response(lambda r: r.url.endswith("/run")) as answer:
        page.goto("http://evil.example/")

    assert answer.value.status == 403
    assert "cross-site" in page.content()
    assert sync_project.emulator.dump()["customers"] == []
