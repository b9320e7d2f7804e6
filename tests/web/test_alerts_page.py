"""The Alerts page: channels with their secrets masked, each trigger's state per sync, the history
of notifications sent, and Send test through the real delivery code to local receivers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bcsync.alerts import RetryPolicy, notify_run
from bcsync.config.project import load_config
from bcsync.state import RunStore, call_log
from tests.alerts.helpers import run_result
from tests.alerts.receivers import (
    PAGERDUTY_ROUTING_KEY,
    HttpReceiver,
    dead_url,
    start_http_receiver,
)
from tests.web.test_debugger_page import write_project

TOKEN = "alerts-page-token-3c8d0a"
UI_TOKEN = "ui-login-token-a41f"
DEAD_HOOK = "/services/T0DEAD/B0DEAD/deadhooksecret0123456789"


def alerts_yaml(receiver: HttpReceiver, dead: str) -> str:
    return f"""\
alerts:
  channels:
    team: {{type: slack, webhook_url: "${{SLACK_WEBHOOK_URL}}"}}
    oncall: {{type: pagerduty, routing_key: "${{PAGERDUTY_ROUTING_KEY}}",
              events_url: "{receiver.pagerduty_url}"}}
    broken: {{type: slack, webhook_url: "${{DEAD_WEBHOOK_URL}}"}}
  defaults: {{channels: [team, oncall]}}
"""


class AlertsUi:
    def __init__(
        self,
        directory: Path,
        receiver: HttpReceiver,
        ui_server: Any,
        *options: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.dir = directory
        self.receiver = receiver
        self.dead = dead_url() + DEAD_HOOK
        write_project(directory, token=TOKEN, extra=alerts_yaml(receiver, self.dead))
        with (directory / ".env").open("a") as dotenv:
            dotenv.write(
                f"SLACK_WEBHOOK_URL={receiver.slack_url}\n"
                f"PAGERDUTY_ROUTING_KEY={PAGERDUTY_ROUTING_KEY}\n"
                f"DEAD_WEBHOOK_URL={self.dead}\n"
            )
        self.server = ui_server(directory, *options, env=env)
        self.http = httpx.Client(base_url=self.server.base_url, timeout=60, follow_redirects=True)

    @property
    def secrets(self) -> list[str]:
        return [
            TOKEN,
            self.receiver.slack_url,
            "hooksecret0123456789",
            PAGERDUTY_ROUTING_KEY,
            self.dead,
            "deadhooksecret0123456789",
        ]

    def post_test(self, channel: str) -> httpx.Response:
        """Press Send test the way a browser does: the page's form with its CSRF token."""
        page = self.http.get("/alerts").text
        match = re.search(
            rf'action="[^"]*/alerts/channels/{channel}/test">\s*'
            r'<input type="hidden" name="csrf" value="([^"]*)">',
            page,
        )
        assert match is not None, "no Send test form for " + channel
        return self.http.post(f"/alerts/channels/{channel}/test", data={"csrf": match.group(1)})


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    made, server = start_http_receiver()
    yield made
    server.shutdown()
    server.server_close()
    assert made.problems == []


@pytest.fixture
def alerts_ui(tmp_path: Path, receiver: HttpReceiver, ui_server: Any) -> Iterator[AlertsUi]:
    made = AlertsUi(tmp_path, receiver, ui_server)
    with made.http:
        yield made


def _no_secret(ui: AlertsUi, text: str) -> None:
    for secret in ui.secrets:
        assert secret not in text
        assert html.escape(secret) not in text


def test_send_test_delivers_and_the_history_shows_it_in_a_browser(
    alerts_ui: AlertsUi, page: Any
) -> None:
    page.goto(alerts_ui.server.url("/alerts"))
    assert page.get_by_role("heading", name="Alerts", exact=True).is_visible()
    team = page.locator("tr[data-channel=team]")
    port = alerts_ui.receiver.url.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/…***" in team.inner_text()
    oncall = page.locator("tr[data-channel=oncall]").inner_text()
    assert "routing key ***" in oncall
    assert "vip_customers" in team.inner_text()  # the sync that alerts to it
    history = page.locator("table.notifications")
    assert "No notification has been sent" in history.inner_text()

    team.get_by_role("button", name="Send test").click()
    page.wait_for_url(re.compile(r"tested=\d+"))
    assert "Test message sent to team (slack)" in page.get_by_role("status").inner_text()
    [received] = alerts_ui.receiver.of("slack")
    assert received.body["text"].startswith("[TEST] bcsync alert channel 'team' works")
    rows = history.locator("tbody tr")
    assert rows.count() == 1
    assert "[TEST] bcsync alert channel 'team' works" in rows.first.inner_text()
    assert "team (slack)" in rows.first.inner_text()
    assert "delivered" in rows.first.inner_text()
    _no_secret(alerts_ui, page.content())


def test_a_channel_that_cannot_deliver_shows_its_error_without_the_secret(
    alerts_ui: AlertsUi,
) -> None:
    sent = alerts_ui.post_test("broken")
    assert sent.status_code == 200  # after the redirect back to the page
    assert "tested=" in str(sent.url)
    text = sent.text
    result = re.search(r'<div id="test-result"[^>]*>(.*?)</div>', text, re.S)
    assert result is not None
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", result.group(1))).split())
    assert shown.startswith("Test message to broken (slack) was not delivered after 3 attempts:")
    assert "unreachable" in shown
    assert "not delivered" in text.split('class="notifications"')[1]
    _no_secret(alerts_ui, text)
    assert alerts_ui.receiver.of("slack") == []


def test_pagerduty_test_is_sent_and_resolved(alerts_ui: AlertsUi) -> None:
    sent = alerts_ui.post_test("oncall")
    assert "Test message sent to <strong>oncall</strong> (pagerduty)" in sent.text
    actions = [r.body["event_action"] for r in alerts_ui.receiver.of("pagerduty")]
    assert actions == ["trigger", "resolve"]
    _no_secret(alerts_ui, sent.text)


def test_trigger_states_and_run_alerts_appear_once_a_run_alerted(alerts_ui: AlertsUi) -> None:
    page = alerts_ui.http.get("/alerts").text
    state = re.search(
        r'<tr data-sync="vip_customers" data-trigger="run_failed">(.*?)</tr>', page, re.S
    )
    assert state is not None and "never fired" in state.group(1)

    config = load_config(alerts_ui.dir)
    failed = run_result("failed", planned=0, error="warehouse unreachable")
    with RunStore.open(config.state.url) as store:
        deliveries = notify_run(config, store, failed, policy=RetryPolicy(attempts=1))
    assert [d.delivered for d in deliveries] == [True, True]

    page = alerts_ui.http.get("/alerts").text
    state = re.search(
        r'<tr data-sync="vip_customers" data-trigger="run_failed">(.*?)</tr>', page, re.S
    )
    assert state is not None
    assert ">critical<" in state.group(1) and failed.run_id[:8] in state.group(1)
    history = page.split('class="notifications"')[1]
    rows = re.findall(r"<tr class=\"delivered\">(.*?)</tr>", history, re.S)
    assert len(rows) == 2  # one per channel, newest first
    assert all("[CRITICAL] bcsync vip_customers: run failed" in row for row in rows)
    assert "oncall (pagerduty)" in rows[0] and "team (slack)" in rows[1]
    assert all(f"/runs/{failed.run_id}" in row for row in rows)
    _no_secret(alerts_ui, page)


def test_the_history_is_newest_first_and_paged(alerts_ui: AlertsUi) -> None:
    config = load_config(alerts_ui.dir)
    with RunStore.open(config.state.url) as store:
        for n in range(1, 26):
            call_log.record_notification(
                store, sync="vip_customers", trigger="run_failed", state="critical",
                channel="team", kind="slack", delivered=True, attempts=1, error=None,
                run_id=None, title=f"message number {n:02d}",
            )  # fmt: skip
    page = alerts_ui.http.get("/alerts").text
    titles = re.findall(r"message number (\d+)", page)
    assert titles == [f"{n:02d}" for n in range(25, 5, -1)]
    older = re.search(r'href="([^"]*)" rel="next">Older notifications', page)
    assert older is not None
    rest = alerts_ui.http.get(html.unescape(older.group(1))).text
    assert re.findall(r"message number (\d+)", rest) == ["05", "04", "03", "02", "01"]
    assert "Older notifications" not in rest and ">Newest</a>" in rest


def test_read_only_hides_send_test_and_refuses_it(
    tmp_path: Path, receiver: HttpReceiver, ui_server: Any
) -> None:
    ui = AlertsUi(tmp_path, receiver, ui_server, "--read-only", env={"BCSYNC_UI_TOKEN": UI_TOKEN})
    bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
    ui.http.close()
    ui.http = httpx.Client(base_url=ui.server.base_url, timeout=60, headers=bearer)
    with ui.http:
        page = ui.http.get("/alerts").text
        refused = ui.http.post("/alerts/channels/team/test")
    assert "Send test" not in page
    assert 'tr data-channel="team"' in page
    # The bearer token passes the CSRF check, so the refusal is the read-only one.
    assert refused.status_code == 403
    assert "read-only" in refused.text
    assert receiver.of("slack") == []
