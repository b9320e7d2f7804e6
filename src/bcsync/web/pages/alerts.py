"""The Alerts page: each channel (its secrets masked), each trigger's state per sync, the history
of notifications sent (newest first, paged by id), and a Send test button per channel.

A channel's target is shown as much as helps recognise it (``hooks.slack.com/…***``) and never
more: webhook paths, routing keys, tokens and passwords are masked here, and every text is also
passed through the project's redactor, so a secret that turns up where it is not expected (in a
host name, say) is masked all the same.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bcsync.alerts.redaction import MASK, Redactor, project_secrets
from bcsync.alerts.triggers import TRIGGERS
from bcsync.config.alerts import EmailChannel, PagerDutyChannel, SlackChannel, SmsChannel
from bcsync.errors import ConfigError
from bcsync.web.app import OptionalKey, project_of, render

router = APIRouter()

HISTORY_PAGE = 20
ELLIPSIS = "…"


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _abbreviated(value: str, keep: int = 6) -> str:
    return value if len(value) <= keep else value[:keep] + ELLIPSIS


def channel_target(channel: object) -> str:
    """Where a channel sends, with every secret part masked."""
    if isinstance(channel, SlackChannel):
        return f"{_host(channel.webhook_url.get_secret_value())}/{ELLIPSIS}{MASK}"
    if isinstance(channel, PagerDutyChannel):
        parts = urlsplit(channel.events_url)
        return f"{_host(channel.events_url)}{parts.path} · routing key {MASK}"
    if isinstance(channel, SmsChannel):
        return (
            f"{_host(channel.base_url)} · account {_abbreviated(channel.account_sid)}"
            f" · auth token {MASK} · from {channel.from_} to {', '.join(channel.to)}"
        )
    if isinstance(channel, EmailChannel):
        parts = urlsplit(channel.smtp_url.get_secret_value())
        user = f"{parts.username}:{MASK}@" if parts.username else ""
        return (
            f"{parts.scheme}://{user}{_host(channel.smtp_url.get_secret_value())}"
            f" · from {channel.from_} to {', '.join(channel.to)}"
        )
    return MASK


@router.get("/alerts", response_class=HTMLResponse, name="alerts")
def alerts_page(
    request: Request, before: OptionalKey = None, tested: OptionalKey = None
) -> HTMLResponse:
    project = project_of(request)
    config = project.config
    redact = Redactor.of(project_secrets(config))
    channels_config = config.alerts.channels if config.alerts is not None else {}
    policies = {name: config.alert_policy(name) for name in config.syncs}
    channels = [
        {
            "name": name,
            "type": channel.type,
            "target": redact(channel_target(channel)),
            "syncs": [sync for sync, policy in policies.items() if name in policy.channels],
        }
        for name, channel in sorted(channels_config.items())
    ]
    known = {(s.sync, s.trigger): s for s in project.alert_states()}
    states = [
        {
            "sync": sync,
            "channels": policies[sync].channels,
            "triggers": [(trigger, known.get((sync, trigger))) for trigger in TRIGGERS],
        }
        for sync in config.syncs
    ]
    history = project.notifications(before=before, limit=HISTORY_PAGE)
    newest_url = str(request.url_for("alerts"))
    older_url = (
        str(request.url_for("alerts").include_query_params(before=history.items[-1].id))
        if history.older and history.items
        else None
    )
    result = project.notification(tested) if tested is not None else None
    return render(
        request,
        "alerts.html",
        {
            "title": "Alerts",
            "channels": channels,
            "states": states,
            "history": history.items,
            "older_url": older_url,
            "newest_url": newest_url if before is not None else None,
            "result": result,
            "redact": redact,
        },
    )


@router.post("/alerts/channels/{channel}/test", name="alert_test")
def send_test(request: Request, channel: str) -> RedirectResponse:
    """Send a test message through ``channel``; the page then shows how it went."""
    if request.app.state.settings.read_only:
        raise HTTPException(403, "bcsync serve runs --read-only: sending is turned off")
    project = project_of(request)
    try:
        sent = project.send_test_alert(channel)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None
    target = request.url_for("alerts").include_query_params(tested=sent.id)
    return RedirectResponse(f"{target}#test-result", status_code=303)
