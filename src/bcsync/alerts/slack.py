"""Slack through an incoming webhook: ``POST`` a JSON ``{"text": …}`` to the webhook URL.

The webhook URL is the secret; it is never logged (see ``redaction``). Slack answers ``200 ok``;
``400 invalid_payload``, ``403 invalid_token``, ``404 no_service`` and ``410 channel_is_archived``
will not get better by retrying, ``429`` and ``5xx`` may.
"""

from __future__ import annotations

import httpx

from bcsync.alerts.delivery import Outgoing, post
from bcsync.alerts.messages import AlertMessage
from bcsync.config.alerts import SlackChannel


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its message formatting asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: AlertMessage) -> dict[str, object]:
    """The webhook's JSON body: the full text (``mrkdwn`` off, so names stay literal)."""
    return {"text": escape(message.text), "mrkdwn": False}


def outgoing(channel: SlackChannel, message: AlertMessage, http: httpx.Client) -> list[Outgoing]:
    url = channel.webhook_url.get_secret_value()

    def send() -> None:
        post(http, url, "Slack", json=payload(message))

    return [Outgoing("webhook", send)]
