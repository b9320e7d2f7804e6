"""notify_run against real local receivers for all four channels, with a real SQLite run store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bcsync.alerts import RetryPolicy, notify_run
from bcsync.alerts.triggers import TRIGGERS
from bcsync.config.project import load_config
from bcsync.state import RunStore
from tests.alerts.conftest import AlertProject
from tests.alerts.helpers import run_result
from tests.alerts.receivers import (
    PAGERDUTY_ROUTING_KEY,
    TWILIO_SID,
    dead_url,
    start_smtp_receiver,
)

FAST = RetryPolicy(attempts=3, backoff=0.0, timeout=5.0)
RUN_FAILED_KEY = "bcsync:vip_customers:run_failed"
REJECTED_KEY = "bcsync:vip_customers:rejected_rows"


@pytest.fixture
def store(alert_project: AlertProject) -> Iterator[RunStore]:
    with RunStore.open(alert_project.state_url) as opened:
        yield opened


def notify(project: AlertProject, store: RunStore, result):
    return notify_run(load_config(project.dir), store, result, policy=FAST)


def counts(project: AlertProject) -> dict[str, int]:
    http = project.http
    return {
        "slack": len(http.of("slack")),
        "pagerduty": len(http.of("pagerduty")),
        "twilio": len(http.of("twilio")),
        "email": len(project.smtp.mails),
    }


def test_first_failure_alerts_every_channel_once_then_nothing_until_recovery(
    alert_project: AlertProject, store: RunStore
) -> None:
    failed = run_result("failed", planned=0, error="warehouse unreachable: connection refused")
    deliveries = notify(alert_project, store, failed)

    assert [(d.channel, d.kind, d.trigger, d.state, d.delivered) for d in deliveries] == [
        ("team", "slack", "run_failed", "critical", True),
        ("oncall", "pagerduty", "run_failed", "critical", True),
        ("phones", "sms", "run_failed", "critical", True),
        ("mail", "email", "run_failed", "critical", True),
    ]
    # Twilio gets one message per recipient.
    assert counts(alert_project) == {"slack": 1, "pagerduty": 1, "twilio": 2, "email": 1}

    slack_text = alert_project.http.of("slack")[0].body["text"]
    assert slack_text.startswith("[CRITICAL] bcsync vip_customers: run failed")
    assert failed.run_id in slack_text
    assert "status failed" in slack_text
    assert "warehouse unreachable: connection refused" in slack_text
    assert f"bcsync debug {failed.run_id}" in slack_text
    assert f"bcsync show {failed.run_id} --rows" in slack_text

    event = alert_project.http.of("pagerduty")[0].body
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == RUN_FAILED_KEY
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"] == "[CRITICAL] bcsync vip_customers: run failed"
    assert event["payload"]["custom_details"]["run_id"] == failed.run_id

    texts = alert_project.http.of("twilio")
    assert {t.body["To"] for t in texts} == {"+15550002222", "+15550003333"}
    assert all(t.body["From"] == "+15550001111" for t in texts)
    assert all(t.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json" for t in texts)
    assert f"bcsync debug {failed.run_id}" in texts[0].body["Body"]

    (mail,) = alert_project.smtp.mails
    assert mail.tls and mail.authenticated_as == "alerts"
    assert mail.recipients == ["data-team@example.com", "ops@example.com"]
    assert mail.message["Subject"] == "[CRITICAL] bcsync vip_customers: run failed"
    assert f"bcsync debug {failed.run_id}" in mail.message.get_payload(decode=True).decode()

    state = store.get_alert_state("vip_customers", "run_failed")
    assert (state.state, state.dedup_key, state.last_run_id) == (
        "critical",
        RUN_FAILED_KEY,
        failed.run_id,
    )

    # A second failing run: same state, nothing new anywhere.
    assert notify(alert_project, store, run_result("failed")) == []
    assert counts(alert_project) == {"slack": 1, "pagerduty": 1, "twilio": 2, "email": 1}

    # Recovery: one resolve on each channel; PagerDuty resolves the same dedup key.
    ok = run_result("success")
    deliveries = notify(alert_project, store, ok)
    assert [(d.channel, d.state, d.delivered) for d in deliveries] == [
        ("team", "ok", True),
        ("oncall", "ok", True),
        ("phones", "ok", True),
        ("mail", "ok", True),
    ]
    assert counts(alert_project) == {"slack": 2, "pagerduty": 2, "twilio": 4, "email": 2}
    resolve = alert_project.http.of("pagerduty")[1].body
    assert resolve == {
        "routing_key": PAGERDUTY_ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": RUN_FAILED_KEY,
    }
    assert (
        alert_project.http.of("slack")[1]
        .body["text"]
        .startswith("[RESOLVED] bcsync vip_customers: run failed is back to ok")
    )
    assert alert_project.http.of("twilio")[3].body["Body"].startswith("[RESOLVED]")
    assert alert_project.smtp.mails[1].message["Subject"].startswith("[RESOLVED]")
    assert store.get_alert_state("vip_customers", "run_failed").state == "ok"

    # And a further good run sends nothing.
    assert notify(alert_project, store, run_result("success")) == []
    assert counts(alert_project) == {"slack": 2, "pagerduty": 2, "twilio": 4, "email": 2}


def test_threshold_escalation_warning_then_critical(
    alert_project: AlertProject, store: RunStore
) -> None:
    # Defaults say warning at 1%, critical at 10%; this sync lowers critical to 5%.
    warn = run_result("warning", rejected=2, invalid=1)
    deliveries = notify(alert_project, store, warn)
    assert {(d.trigger, d.state) for d in deliveries} == {("rejected_rows", "warning")}
    assert counts(alert_project) == {"slack": 1, "pagerduty": 1, "twilio": 2, "email": 1}
    event = alert_project.http.of("pagerduty")[0].body
    assert (event["event_action"], event["dedup_key"], event["payload"]["severity"]) == (
        "trigger",
        REJECTED_KEY,
        "warning",
    )
    text = alert_project.http.of("slack")[0].body["text"]
    assert text.startswith("[WARNING] bcsync vip_customers: rejected rows")
    assert "2 rejected + 1 invalid of 100 planned rows (3.0%)" in text
    assert "First errors (3 of 3):" in text
    assert "pk 0 (update): email of row 0 is already in use" in text
    assert "pk i0: invalid: email: not an e-mail" in text

    crit = run_result("warning", rejected=6)  # 6%: critical for this sync only
    deliveries = notify(alert_project, store, crit)
    assert {(d.trigger, d.state) for d in deliveries} == {("rejected_rows", "critical")}
    assert counts(alert_project) == {"slack": 2, "pagerduty": 2, "twilio": 4, "email": 2}
    event = alert_project.http.of("pagerduty")[1].body
    assert (event["event_action"], event["dedup_key"], event["payload"]["severity"]) == (
        "trigger",
        REJECTED_KEY,
        "critical",
    )
    assert alert_project.smtp.mails[1].message["Subject"] == (
        "[CRITICAL] bcsync vip_customers: rejected rows"
    )

    assert notify(alert_project, store, run_result("warning", rejected=40)) == []

    notify(alert_project, store, run_result("success"))
    assert alert_project.http.of("pagerduty")[2].body["event_action"] == "resolve"
    assert alert_project.http.of("pagerduty")[2].body["dedup_key"] == REJECTED_KEY


def test_a_sync_without_own_alerts_uses_the_default_channels(
    alert_project: AlertProject, store: RunStore
) -> None:
    deliveries = notify(alert_project, store, run_result("failed", sync="plain_sync"))
    assert [(d.channel, d.delivered) for d in deliveries] == [("team", True)]
    assert counts(alert_project) == {"slack": 1, "pagerduty": 0, "twilio": 0, "email": 0}
    assert "plain_sync" in alert_project.http.of("slack")[0].body["text"]


DEAD = {
    "team": {"slack_url": dead_url() + "/slack/services/T0/B0/deadsecret123"},
    "oncall": {"events_url": dead_url() + "/v2/enqueue"},
    "phones": {"twilio_url": dead_url()},
    "mail": {"smtp_url": "smtp://alerts:${SMTP_PASSWORD}@" + dead_url().split("//")[1]},
}


@pytest.mark.parametrize("dead", sorted(DEAD))
def test_a_dead_channel_is_retried_logged_and_does_not_stop_the_others(
    alert_project: AlertProject, store: RunStore, all_logs: pytest.LogCaptureFixture, dead: str
) -> None:
    alert_project.write(**DEAD[dead])
    deliveries = notify(alert_project, store, run_result("failed"))  # must not raise

    by_channel = {d.channel: d for d in deliveries}
    assert set(by_channel) == {"team", "oncall", "phones", "mail"}
    assert not by_channel[dead].delivered
    assert by_channel[dead].attempts == 3  # connection refused is worth retrying
    assert by_channel[dead].error
    assert all(d.delivered for name, d in by_channel.items() if name != dead)
    expected = {"slack": 1, "pagerduty": 1, "twilio": 2, "email": 1}
    expected[
        {"team": "slack", "oncall": "pagerduty", "phones": "twilio", "mail": "email"}[dead]
    ] = 0
    assert counts(alert_project) == expected

    failures = [r for r in all_logs.records if r.name == "bcsync.alerts" and r.levelname == "ERROR"]
    assert len(failures) == 1 and f"'{dead}'" in failures[0].getMessage()
    retries = [r for r in all_logs.records if "; retrying" in r.getMessage()]
    assert len(retries) >= 2
    # The state still moved: the next failing run does not replay the alert.
    assert store.get_alert_state("vip_customers", "run_failed").state == "critical"
    assert notify(alert_project, store, run_result("failed")) == []


def test_server_errors_are_retried_and_client_errors_are_not(
    alert_project: AlertProject, store: RunStore
) -> None:
    alert_project.write(sync_alerts="{channels: [team, oncall]}")
    alert_project.http.fail("slack", 500, 503)
    alert_project.http.fail("pagerduty", 400)
    deliveries = {d.channel: d for d in notify(alert_project, store, run_result("failed"))}
    assert (deliveries["team"].delivered, deliveries["team"].attempts) == (True, 3)
    assert (deliveries["oncall"].delivered, deliveries["oncall"].attempts) == (False, 1)
    assert "HTTP 400" in deliveries["oncall"].error
    assert counts(alert_project)["slack"] == 1


def test_an_untrusted_smtp_certificate_is_refused(
    alert_project: AlertProject, store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    alert_project.write(sync_alerts="{channels: [mail]}")
    (delivery,) = notify(alert_project, store, run_result("failed"))
    assert not delivery.delivered
    assert delivery.attempts == 1  # a certificate problem does not fix itself
    assert "TLS failed" in delivery.error and "CERTIFICATE_VERIFY_FAILED" in delivery.error
    assert alert_project.smtp.mails == []


def test_no_secret_reaches_a_message_a_log_or_the_store(
    alert_project: AlertProject, store: RunStore, all_logs: pytest.LogCaptureFixture
) -> None:
    project = alert_project
    leaky = " ".join(project.secrets)
    # Errors that (by someone else's bug) quote every secret must come out masked.
    failed = run_result(
        "failed",
        error=f"401 from https://api.bigcommerce.com with X-Auth-Token: {leaky}",
        rejected_rows=[{"pk": "1", "op": "update", "error": f"echo {leaky}"}],
    )
    project.http.fail("slack", 500)  # a failed attempt gets logged too
    notify(project, store, failed)
    notify(project, store, run_result("warning", rejected=30))

    texts = [r.body["text"] for r in project.http.of("slack")]
    texts += [r.body["Body"] for r in project.http.of("twilio")]
    for event in project.http.of("pagerduty"):
        texts.append(json.dumps({k: v for k, v in event.body.items() if k != "routing_key"}))
    texts += [m.message.as_string() for m in project.smtp.mails]
    # Every log line but the test SMTP server's own (aiosmtpd echoes the AUTH exchange).
    texts += [r.getMessage() for r in all_logs.records if not r.name.startswith("mail.log")]
    texts += [repr(store.get_alert_state("vip_customers", t)) for t in TRIGGERS]
    # failed, then recovered + rejected rows critical: three messages per channel
    assert len(project.http.of("slack")) == 3 and len(project.smtp.mails) == 3
    assert any("***" in text for text in texts)
    assert any("HTTP Request: POST" in r.getMessage() for r in all_logs.records)  # httpx's line
    for secret in project.secrets:
        leaks = [text for text in texts if secret in text]
        assert leaks == [], f"secret {secret[:4]}… leaked"


def test_a_project_without_alerts_sends_nothing(tmp_path, store: RunStore) -> None:
    (tmp_path / "bcsync.yml").write_text(
        "version: 1\nwarehouse: {url: 'duckdb:///w.duckdb'}\n"
        "destinations: {store: {type: bigcommerce, store_hash: abc, access_token: t0ken123}}\n"
        "syncs:\n  s: {destination: store, object: customers, model: {sql: 'select 1', "
        "primary_key: id}, mode: insert, mappings: [{column: a, field: first_name}]}\n"
    )
    config = load_config(tmp_path)
    assert notify_run(config, store, run_result("failed", sync="s"), policy=FAST) == []
    assert store.get_alert_state("s", "run_failed") is None


def test_a_broken_store_is_logged_not_raised(
    alert_project: AlertProject, all_logs: pytest.LogCaptureFixture
) -> None:
    store = RunStore.open(alert_project.state_url)
    store.close()
    (alert_project.dir / "state.db").unlink()
    (alert_project.dir / "state.db").mkdir()  # a directory where the database file should be
    deliveries = notify_run(
        load_config(alert_project.dir), store, run_result("failed"), policy=FAST
    )
    assert deliveries == []
    assert any("alerts for run" in r.getMessage() for r in all_logs.records)


def test_an_smtp_server_without_starttls_is_not_sent_anything(
    alert_project: AlertProject, store: RunStore
) -> None:
    relay, controller = start_smtp_receiver(None, None)  # offers neither STARTTLS nor AUTH
    try:
        alert_project.write(
            sync_alerts="{channels: [mail]}", smtp_url=f"smtp://127.0.0.1:{relay.port}"
        )
        (delivery,) = notify(alert_project, store, run_result("failed"))
    finally:
        controller.stop()
    assert not delivery.delivered and delivery.attempts == 1
    assert "does not offer STARTTLS" in delivery.error
    assert relay.mails == []
