"""Fixtures for the alert tests: the local receivers and a project wired to them."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.receivers import (
    PAGERDUTY_ROUTING_KEY,
    SMTP_PASSWORD,
    TWILIO_SID,
    TWILIO_TOKEN,
    HttpReceiver,
    SmtpReceiver,
    make_certificate,
    start_http_receiver,
    start_smtp_receiver,
)

ACCESS_TOKEN = "bc-access-token-0a1b2c3d4e5f"
ALL_CHANNELS = "{channels: [team, oncall, phones, mail], rejected_rows: {critical: 0.05}}"


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver, server = start_http_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
    assert receiver.problems == [], "requests not in the documented shape"


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_receiver(
    smtp_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SmtpReceiver]:
    """A submission server (STARTTLS + AUTH required) whose certificate the client trusts
    through ``SSL_CERT_FILE``, the standard OpenSSL way bcsync documents."""
    cert, key = smtp_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    receiver, controller = start_smtp_receiver(cert, key)
    yield receiver
    controller.stop()


class AlertProject:
    """A bcsync.yml whose alert channels point at the local receivers; secrets come from .env."""

    def __init__(self, directory: Path, http: HttpReceiver, smtp: SmtpReceiver) -> None:
        self.dir = directory
        self.http = http
        self.smtp = smtp
        self.env = {
            "BIGCOMMERCE_ACCESS_TOKEN": ACCESS_TOKEN,
            "SLACK_WEBHOOK_URL": http.slack_url,
            "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "SMTP_PASSWORD": SMTP_PASSWORD,
        }
        self.state_url = f"sqlite:///{directory / 'state.db'}"

    @property
    def secrets(self) -> list[str]:
        return [
            ACCESS_TOKEN,
            self.http.slack_url,
            "hooksecret0123456789",
            PAGERDUTY_ROUTING_KEY,
            TWILIO_TOKEN,
            SMTP_PASSWORD,
        ]

    def write(
        self,
        *,
        sync_alerts: str = ALL_CHANNELS,
        defaults: str = "{channels: [team], rejected_rows: {warning: 0.01, critical: 0.10}}",
        slack_url: str = "${SLACK_WEBHOOK_URL}",
        events_url: str | None = None,
        twilio_url: str | None = None,
        smtp_url: str | None = None,
    ) -> Path:
        (self.dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        events_url = events_url or self.http.pagerduty_url
        twilio_url = twilio_url or self.http.url
        smtp_url = smtp_url or self.smtp.url()
        text = textwrap.dedent(
            f"""\
            version: 1
            warehouse:
              url: duckdb:///warehouse.duckdb
            state:
              url: {self.state_url}
            destinations:
              store:
                type: bigcommerce
                store_hash: abc123
                access_token: ${{BIGCOMMERCE_ACCESS_TOKEN}}
            alerts:
              channels:
                team:   {{type: slack, webhook_url: "{slack_url}"}}
                oncall: {{type: pagerduty, routing_key: "${{PAGERDUTY_ROUTING_KEY}}",
                          events_url: "{events_url}"}}
                phones: {{type: sms, account_sid: "${{TWILIO_ACCOUNT_SID}}",
                          auth_token: "${{TWILIO_AUTH_TOKEN}}", base_url: "{twilio_url}",
                          from: "+15550001111", to: ["+15550002222", "+15550003333"]}}
                mail:   {{type: email, smtp_url: "{smtp_url}",
                          from: bcsync@example.com, to: [data-team@example.com, ops@example.com]}}
              defaults: {defaults}
            syncs:
              vip_customers:
                destination: store
                object: customers
                model: {{sql: "select 1 as id", primary_key: id}}
                mode: upsert
                match: {{column: email, field: email}}
                mappings: [{{column: first_name, field: first_name}}]
                alerts: {sync_alerts}
              plain_sync:
                destination: store
                object: customers
                model: {{sql: "select 1 as id", primary_key: id}}
                mode: insert
                mappings: [{{column: first_name, field: first_name}}]
            """
        )
        path = self.dir / "bcsync.yml"
        path.write_text(text)
        return path


@pytest.fixture
def alert_project(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> AlertProject:
    project = AlertProject(tmp_path, http_receiver, smtp_receiver)
    project.write()
    return project


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at every level (httpx's request lines included)."""
    caplog.set_level(logging.DEBUG)
    return caplog
