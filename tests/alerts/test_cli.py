"""``bcsync alerts test CHANNEL`` through the Typer sub-app, against the local receivers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from bcsync.api import load_project
from bcsync.cli import alerts as cli
from bcsync.cli.alerts import alerts_app
from bcsync.retry import RetryPolicy
from tests.alerts.conftest import AlertProject
from tests.alerts.receivers import dead_url

runner = CliRunner()


def invoke(project: AlertProject, *args: str):
    return runner.invoke(alerts_app, ["test", *args, "--project", str(project.dir)])


def test_slack_test_message(alert_project: AlertProject) -> None:
    result = invoke(alert_project, "team")
    assert result.exit_code == 0, result.output
    assert "sent a test message to 'team' (slack)" in result.stdout
    (request,) = alert_project.http.of("slack")
    assert request.body["text"].startswith("[TEST] bcsync alert channel 'team' works")
    # Kept in the history of notifications the Alerts page shows, as a test from the UI is.
    (sent,) = load_project(alert_project.dir).notifications().items
    assert (sent.channel, sent.trigger, sent.delivered) == ("team", "test", True)


def test_pagerduty_test_message_is_resolved_at_once(alert_project: AlertProject) -> None:
    result = invoke(alert_project, "oncall")
    assert result.exit_code == 0, result.output
    trigger, resolve = (r.body for r in alert_project.http.of("pagerduty"))
    assert (trigger["event_action"], trigger["payload"]["severity"]) == ("trigger", "info")
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"] == "bcsync:test:oncall"


def test_sms_test_message_reaches_every_phone(alert_project: AlertProject) -> None:
    result = invoke(alert_project, "phones")
    assert result.exit_code == 0, result.output
    assert sorted(r.body["To"] for r in alert_project.http.of("twilio")) == [
        "+15550002222",
        "+15550003333",
    ]


def test_email_test_message(alert_project: AlertProject) -> None:
    result = invoke(alert_project, "mail")
    assert result.exit_code == 0, result.output
    (mail,) = alert_project.smtp.mails
    assert mail.message["Subject"] == "[TEST] bcsync alert channel 'mail' works"


def test_unknown_channel_exits_2_and_lists_the_channels(alert_project: AlertProject) -> None:
    result = invoke(alert_project, "nope")
    assert result.exit_code == 2
    assert "unknown alert channel 'nope' (defined: mail, oncall, phones, team)" in result.stderr


def test_undeliverable_channel_exits_1_without_leaking_the_url(
    alert_project: AlertProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "RETRY", RetryPolicy(backoff=0.0, timeout=2.0))
    secret_url = dead_url() + "/slack/services/T0/B0/verysecrettoken42"
    alert_project.write(slack_url=secret_url)
    result = invoke(alert_project, "team")
    assert result.exit_code == 1
    assert "not delivered after 3 attempt(s)" in result.stderr
    assert "verysecrettoken42" not in result.output


def test_bad_config_exits_2(tmp_path) -> None:
    (tmp_path / "bcsync.yml").write_text("version: 1\n")
    result = runner.invoke(alerts_app, ["test", "team", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "bcsync.yml" in result.stderr


def test_registered_under_a_root_app_it_takes_the_global_project_option(
    alert_project: AlertProject,
) -> None:
    # How the main CLI registers it: app.add_typer(alerts_app, name="alerts"), whose root
    # callback stores the global --project in ctx.obj.
    root = typer.Typer()

    @root.callback()
    def _root(
        ctx: typer.Context, project: Annotated[Path, typer.Option("--project")] = Path(".")
    ) -> None:
        ctx.obj = SimpleNamespace(project=project)

    root.add_typer(alerts_app, name="alerts")
    result = runner.invoke(root, ["--project", str(alert_project.dir), "alerts", "test", "team"])
    assert result.exit_code == 0, result.output
    assert len(alert_project.http.of("slack")) == 1
