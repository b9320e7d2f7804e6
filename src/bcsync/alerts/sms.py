"""SMS through Twilio's Messages API: for each recipient, ``POST {base_url}/2010-04-01/Accounts/
{AccountSid}/Messages.json`` form-encoded ``To``, ``From``, ``Body``, with HTTP basic auth
``AccountSid:AuthToken``. Twilio answers ``201``; ``4xx`` (bad number, bad credentials) will not
get better by retrying, ``429`` and ``5xx`` may. Each recipient is its own send, so a retry never
texts a phone twice.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx

from bcsync.alerts.delivery import Outgoing, post
from bcsync.alerts.messages import AlertMessage
from bcsync.config.alerts import SmsChannel

BODY_LIMIT = 1600  # Twilio rejects longer bodies


def messages_url(channel: SmsChannel) -> str:
    sid = quote(channel.account_sid, safe="")
    return f"{channel.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"


def form(channel: SmsChannel, to: str, message: AlertMessage) -> dict[str, str]:
    return {"To": to, "From": channel.from_, "Body": message.short[:BODY_LIMIT]}


def _send_to(
    http: httpx.Client, url: str, auth: tuple[str, str], body: dict[str, str]
) -> Callable[[], None]:
    def send() -> None:
        post(http, url, "Twilio", data=body, auth=auth)

    return send


def outgoing(channel: SmsChannel, message: AlertMessage, http: httpx.Client) -> list[Outgoing]:
    url = messages_url(channel)
    auth = (channel.account_sid, channel.auth_token.get_secret_value())
    return [
        Outgoing(f"recipient {index}", _send_to(http, url, auth, form(channel, to, message)))
        for index, to in enumerate(channel.to, start=1)
    ]
