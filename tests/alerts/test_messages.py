"""What an alert says, on every channel's format, and that secrets never get into it."""

from __future__ import annotations

from bcsync.alerts.messages import channel_test_message, compose, first_errors
from bcsync.alerts.pagerduty import event
from bcsync.alerts.redaction import Redactor
from bcsync.alerts.slack import payload
from bcsync.alerts.triggers import evaluate
from bcsync.config.alerts import RejectedRowsThresholds
from tests.alerts.helpers import run_result

THRESHOLDS = RejectedRowsThresholds(warning=0.01, critical=0.10)
TOKEN = "bc-secret-token-123456"


NO_SECRETS = Redactor()


def message_for(result, previous=None, redact=NO_SECRETS):
    (transition,) = evaluate(result, THRESHOLDS, previous or {}).transitions
    return compose(transition, result, redact)


def test_a_failure_message_names_sync_run_status_counts_errors_and_commands() -> None:
    result = run_result("failed", planned=10, rejected=2, error="BigCommerce answered 500")
    message = message_for(result)
    assert message.title == "[CRITICAL] bcsync vip_customers: run failed"
    lines = message.text.splitlines()
    assert lines[0] == message.title
    assert "Sync: vip_customers" in lines
    assert lines[2].startswith(f"Run: {result.run_id} (status failed, started 2024-05-01T10:00")
    assert "Alert: run_failed ok -> critical" in lines
    assert "Error: BigCommerce answered 500" in lines
    assert (
        "Counts: queried 10, invalid 0, added 0, changed 10, removed 0, planned 10, succeeded 8, "
        "rejected 2, skipped 0"
    ) in lines
    assert "First errors (2 of 2):" in lines
    assert "  - pk 1 (update): email of row 1 is already in use" in lines
    assert lines[-2:] == [
        f"Debug: bcsync debug {result.run_id}",
        f"Rows: bcsync show {result.run_id} --rows",
    ]
    assert message.dedup_key == "bcsync:vip_customers:run_failed"
    assert message.details["counts"]["rejected"] == 2


def test_only_the_first_five_errors_are_listed_rejected_before_invalid() -> None:
    result = run_result("warning", rejected=3, invalid=4)
    lines = first_errors(result, NO_SECRETS)
    assert len(lines) == 5
    assert [line.split(":")[0] for line in lines] == [
        "pk 0 (update)",
        "pk 1 (update)",
        "pk 2 (update)",
        "pk i0",
        "pk i1",
    ]
    assert "First errors (5 of 7):" in message_for(result).text


def test_a_long_error_is_clipped() -> None:
    result = run_result("warning", rejected_rows=[{"pk": "9", "op": "create", "error": "x" * 900}])
    (line,) = first_errors(result, NO_SECRETS)
    assert len(line) == 200 and line.endswith("…")


def test_a_recovery_message() -> None:
    message = message_for(run_result("success"), {"run_failed": "critical"})
    assert message.recovered
    assert message.title == "[RESOLVED] bcsync vip_customers: run failed is back to ok"
    assert "Alert: run_failed critical -> ok" in message.text


def test_sms_text_is_short_and_keeps_the_debug_command() -> None:
    result = run_result("failed", error="boom " * 400)
    message = message_for(result)
    assert len(message.short) < 400
    assert message.short.endswith(f"bcsync debug {result.run_id}")


def test_secrets_are_masked_even_when_an_error_is_clipped_across_one() -> None:
    redact = Redactor.of([TOKEN])
    # The token starts just before the clip width, so clipping first would leave a piece of it.
    error = "y" * 190 + " " + TOKEN
    result = run_result(
        "failed",
        error=f"401 with token {TOKEN}",
        rejected_rows=[{"pk": "1", "op": "update", "error": error}],
    )
    message = message_for(result, redact=redact)
    for text in (message.text, message.short, message.title, str(dict(message.details))):
        assert TOKEN not in text
        assert TOKEN[:10] not in text
    assert "401 with token ***" in message.text


def test_slack_payload_escapes_control_characters() -> None:
    result = run_result("failed", error="<script> & friends")
    body = payload(message_for(result))
    assert "&lt;script&gt; &amp; friends" in body["text"]


def test_pagerduty_events_for_trigger_and_resolve() -> None:
    failed = message_for(run_result("failed"))
    trigger = event("KEY", failed)
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert set(trigger["payload"]) >= {"summary", "source", "severity", "timestamp"}
    resolved = message_for(run_result("success"), {"run_failed": "critical"})
    assert event("KEY", resolved) == {
        "routing_key": "KEY",
        "event_action": "resolve",
        "dedup_key": "bcsync:vip_customers:run_failed",
    }


def test_the_test_message_is_harmless() -> None:
    message = channel_test_message("team")
    assert "Nothing is wrong" in message.text
    assert message.dedup_key == "bcsync:test:team"
    assert event("KEY", message)["payload"]["severity"] == "info"


def test_redactor_masks_longest_first_and_ignores_tiny_values() -> None:
    redact = Redactor.of(["https://hooks.example/T/B/abcdefgh", "abcdefgh", "ab", ""])
    assert redact("see https://hooks.example/T/B/abcdefgh and abcdefgh, ab") == (
        "see *** and ***, ab"
    )
