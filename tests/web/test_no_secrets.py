"""No secret in anything the UI serves: a full crawl of a project with distinctive secrets.

The project syncs to the emulator (its access token is the emulator's, ``test-token-9f2c``) and
alerts through Slack, PagerDuty, Twilio and SMTP channels whose webhook path, routing key, auth
token and password are distinctive strings. A run with a rejected row and a 500 answer fills the
run store and sends alerts (one channel is down, so an error is recorded), and every channel is
sent a test from the Alerts page. Then every page and every link of the UI is fetched (HAR, CSV
and JSON downloads included), every GET route of the JSON API, and a Plan: no response body or
header, and no line of the server's log, may hold any secret, plain, HTML-escaped or URL-encoded.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest

from tests.alerts.receivers import (
    PAGERDUTY_ROUTING_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    HttpReceiver,
    dead_url,
    start_http_receiver,
)

SMTP_PASSWORD = "smtp-pw-Zq81xRv04"
DEAD_HOOK = "/services/T0DOWN/B0DOWN/downhooksecretXk2f9Lw7"
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
  alerts: {channels: [team, down], rejected_rows: {warning: 0.01}}
"""
MAX_PAGES = 600
_LINK = re.compile(r'(?:href|src|action)="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    made, server = start_http_receiver()
    yield made
    server.shutdown()
    server.server_close()


def _alerts_extra(receiver: HttpReceiver, smtp_port: int) -> str:
    return f"""\
alerts:
  channels:
    team: {{type: slack, webhook_url: "${{SLACK_WEBHOOK_URL}}"}}
    down: {{type: slack, webhook_url: "${{DOWN_WEBHOOK_URL}}"}}
    oncall: {{type: pagerduty, routing_key: "${{PAGERDUTY_ROUTING_KEY}}",
              events_url: "{receiver.pagerduty_url}"}}
    phones: {{type: sms, account_sid: "{TWILIO_SID}", auth_token: "${{TWILIO_AUTH_TOKEN}}",
              base_url: "{receiver.url}", from: "+15550001111", to: ["+15550002222"]}}
    mail: {{type: email, smtp_url: "smtp://alerts:${{SMTP_PASSWORD}}@127.0.0.1:{smtp_port}",
            from: bcsync@example.com, to: [ops@example.com]}}
"""


def _variants(secret: str) -> set[str]:
    return {
        secret,
        html.escape(secret),
        quote(secret, safe=""),
        quote(secret),
        json.dumps(secret)[1:-1],
    }


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if any(v in text for v in _variants(secret))]


def _fetch(client: httpx.Client, url: str) -> tuple[int, str, str]:
    """Status, headers as text and body of ``url``; a stream (server-sent events) is read for
    two seconds at most."""
    with client.stream("GET", url) as response:
        chunks: list[bytes] = []
        deadline = time.monotonic() + 2
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                break
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        return response.status_code, headers, b"".join(chunks).decode(errors="replace")


def _links(base: str, page_url: str, body: str) -> list[str]:
    found = []
    for raw in _LINK.findall(body):
        url = urljoin(page_url, html.unescape(raw)).split("#")[0]
        if url.startswith(base) and "logout" not in url:
            found.append(url)
    return found


def _api_routes(client: httpx.Client, run_id: str) -> list[str]:
    spec = client.get("/api/v1/openapi.json").json()
    values = {"name": "vip_customers", "sync": "vip_customers", "run_id": run_id, "pk": "3"}
    urls = []
    for path, operations in spec.get("paths", {}).items():
        if "get" not in operations:
            continue
        params = re.findall(r"{([^}:]+)(?::[^}]*)?}", path)
        if all(p in values for p in params):
            urls.append(re.sub(r"{([^}:]+)(?::[^}]*)?}", lambda m: quote(values[m.group(1)]), path))
    return urls


def test_no_page_api_answer_har_or_log_line_holds_a_secret(
    sync_project: Any, emulator: Any, receiver: HttpReceiver, ui_server: Any
) -> None:
    down = dead_url() + DEAD_HOOK
    smtp_port = int(urlsplit(dead_url()).port or 0)  # nothing listens: the test mail fails
    with (sync_project.dir / ".env").open("a") as env:
        env.write(
            f"SLACK_WEBHOOK_URL={receiver.slack_url}\nDOWN_WEBHOOK_URL={down}\n"
            f"PAGERDUTY_ROUTING_KEY={PAGERDUTY_ROUTING_KEY}\nTWILIO_AUTH_TOKEN={TWILIO_TOKEN}\n"
            f"SMTP_PASSWORD={SMTP_PASSWORD}\n"
        )
    secrets = [
        emulator.token,
        receiver.slack_url,
        receiver.slack_url.rsplit("/", 1)[1],
        down,
        DEAD_HOOK.rsplit("/", 1)[1],
        PAGERDUTY_ROUTING_KEY,
        TWILIO_TOKEN,
        SMTP_PASSWORD,
    ]
    with emulator.client() as http:
        taken = {"email": "user3@example.com", "first_name": "Taken", "last_name": "T"}
        assert http.post("/v3/customers", json=[taken]).status_code == 200
    emulator.faults(
        [
            {"method": "POST", "path": "/v3/customers", "status": 429, "times": 1},
            {"method": "GET", "path": "/v3/customers", "status": 500, "times": 1},
        ]
    )
    sync_project.load(
        "customers",
        [
            {"id": n, "email": f"user{n}@example.com", "first_name": f"F{n}", "last_name": "L"}
            for n in range(1, 6)
        ],
    )
    sync_project.configure(CUSTOMERS, extra=_alerts_extra(receiver, smtp_port))
    ran = sync_project.cli("run", "vip_customers", "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = json.loads(ran.stdout)["run_id"]
    assert receiver.of("slack"), "the run's alert reached the team channel"
    server = ui_server(sync_project.dir)
    base = server.base_url

    seen: dict[str, int] = {}
    leaks: list[str] = []

    def check(what: str, status: int, headers: str, body: str) -> None:
        seen[what] = status
        assert status < 500, f"{what} answered {status}: {body[:500]}"
        for secret in _leaks(headers + "\n" + body, secrets):
            leaks.append(f"{what} holds {secret!r}")

    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        # Every channel gets a test message from the Alerts page (the email one fails).
        for channel in ("team", "down", "oncall", "phones", "mail"):
            token = _CSRF.search(client.get("/alerts").text)
            assert token is not None
            sent = client.post(f"/alerts/channels/{channel}/test", data={"csrf": token.group(1)})
            check(f"POST send test {channel}", sent.status_code, str(sent.headers), sent.text)
        history = client.get("/alerts").text
        assert history.count("not delivered") >= 3  # the run's alert to down, and two tests
        # A Plan, which talks to the store.
        token = _CSRF.search(client.get("/").text)
        planned = client.post(
            "/syncs/vip_customers/plan", data={"csrf": token.group(1) if token else ""}
        )
        check("POST plan", planned.status_code, str(planned.headers), planned.text)

        queue = [
            f"{base}/",
            f"{base}/alerts",
            f"{base}/runs/{run_id}",
            f"{base}/runs/{run_id}/calls",
            f"{base}/runs/{run_id}/calls?status=5xx",
            f"{base}/runs/{run_id}/calls?pk=3",
            f"{base}/runs/{run_id}/har",
            f"{base}/runs/{run_id}/har?pk=3",
            f"{base}/syncs/vip_customers/rows/3",
            f"{base}/api/v1/openapi.json",
        ] + [base + path for path in _api_routes(client, run_id)]
        while queue and len(seen) < MAX_PAGES:
            url = queue.pop(0)
            if url in seen:
                continue
            status, headers, body = _fetch(client, url)
            check(url, status, headers, body)
            if "html" in headers.lower():
                queue.extend(u for u in _links(base, url, body) if u not in seen)

    assert not leaks, "\n".join(leaks)
    crawled = " ".join(seen)
    # The crawl reached every kind of page and download.
    for part in ("/calls/", "/har", "/alerts", "/syncs/vip_customers", "rows.csv"):
        assert part in crawled, f"the crawl never fetched a {part} URL"
    api = [url for url in seen if "/api/v1/" in url and "openapi" not in url]
    assert f"{base}/api/v1/runs/{run_id}/calls" in api and len(api) >= 3, api
    server.stop()
    log = server.log.read_text()
    assert not _leaks(log, secrets), "the server's log holds a secret"
