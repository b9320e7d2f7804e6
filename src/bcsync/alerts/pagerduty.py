"""PagerDuty through the Events API v2: ``POST {events_url}`` (``/v2/enqueue``) with JSON.

A trigger is ``{routing_key, event_action: "trigger", dedup_key, payload: {summary, source,
severity, timestamp, custom_details}}``; a recovery is ``{routing_key, event_action: "resolve",
dedup_key}`` with the same dedup key, which closes the alert the trigger opened. PagerDuty answers
``202``; ``400`` means the event is malformed (no retry), ``429`` and ``5xx`` are worth a retry.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import httpx

from bcsync.alerts.delivery import Outgoing, post
from bcsync.alerts.messages import AlertMessage
from bcsync.config.alerts import PagerDutyChannel

SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries


def severity(message: AlertMessage) -> str:
    """critical → critical, warning → warning; a test message is only ``info``."""
    return "info" if message.trigger == "test" else message.level


def event(routing_key: str, message: AlertMessage, action: str | None = None) -> dict[str, Any]:
    """The Events API v2 body for ``message``: ``resolve`` for a recovery, else ``trigger``."""
    action = action or ("resolve" if message.recovered else "trigger")
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": message.dedup_key,
    }
    if action == "trigger":
        body["client"] = "bcsync"
        body["payload"] = {
            "summary": message.title[:SUMMARY_LIMIT],
            "source": f"bcsync@{socket.gethostname()}",
            "severity": severity(message),
            "timestamp": datetime.now(UTC).isoformat(),
            "component": message.sync,
            "group": "bcsync",
            "class": message.trigger,
            "custom_details": dict(message.details),
        }
    return body


def outgoing(
    channel: PagerDutyChannel, message: AlertMessage, http: httpx.Client
) -> list[Outgoing]:
    key = channel.routing_key.get_secret_value()

    def send() -> None:
        post(http, channel.events_url, "PagerDuty", json=event(key, message))

    return [Outgoing("events", send)]


def resolve(channel: PagerDutyChannel, message: AlertMessage, http: httpx.Client) -> Outgoing:
    """A ``resolve`` for ``message``'s dedup key (closes a test alert right after sending it)."""
    key = channel.routing_key.get_secret_value()

    def send() -> None:
        post(http, channel.events_url, "PagerDuty", json=event(key, message, "resolve"))

    return Outgoing("events", send)
