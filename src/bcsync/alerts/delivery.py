"""Delivering one alert through one channel: the error a channel raises, the retry policy (the
shared :class:`~bcsync.retry.RetryPolicy`, without jitter or cap), and the record of what happened
(:class:`Delivery`). Channels raise; the dispatcher never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bcsync.alerts.redaction import Redactor
from bcsync.errors import Retriable
from bcsync.retry import RetryPolicy


class DeliveryError(Exception, Retriable):
    """A channel could not deliver. ``retriable`` says whether the same send may work later
    (connection refused, timeout, 429, 5xx) or never will (bad key, bad request, TLS failure).
    The message never carries a secret: channels build it from the status and the answer."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


# 3 tries, 10 s each, waiting 0.5 s then 1 s.
DEFAULT_RETRY = RetryPolicy(attempts=3, backoff=0.5, factor=2.0, timeout=10.0)


@dataclass(frozen=True)
class Outgoing:
    """One independent send of a channel (an SMS channel has one per recipient)."""

    label: str  # for logs: "webhook", "recipient 2", "smtp"; never a secret
    send: Callable[[], None]  # raises DeliveryError


@dataclass(frozen=True)
class Delivery:
    """What became of one alert on one channel."""

    channel: str  # the channel's name in bcsync.yml
    kind: str  # slack | pagerduty | sms | email
    trigger: str
    state: str  # the level the alert announced: ok (recovery) | warning | critical
    delivered: bool
    attempts: int  # the most tries any of the channel's sends needed
    error: str | None = None  # the last error, redacted; None when delivered


def send_with_retries(
    outgoing: Outgoing,
    policy: RetryPolicy,
    redact: Redactor,
    on_failure: Callable[[int, str, bool], None],
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, str | None]:
    """Try one send up to ``policy.attempts`` times; never raises.

    Returns (delivered, attempts made, last error). ``on_failure(attempt, error, will_retry)``
    is told of every failed attempt, with the error already redacted.
    """
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            outgoing.send()
            return True, attempt, None
        except DeliveryError as exc:
            error, delay = redact(str(exc)), policy.delay(exc, attempt)
        except Exception as exc:  # a bug or an unforeseen library error must not fail the sync
            error, delay = redact(f"{type(exc).__name__}: {exc}"), None
        on_failure(attempt, error, delay is not None)
        if delay is None:
            return False, attempt, error
        sleep(delay)
    return False, policy.attempts, error


def http_failure(exc: httpx.HTTPError, service: str) -> DeliveryError:
    """A DeliveryError for a request that got no answer (always retriable). The exception's
    text is kept for the reason (e.g. connection refused); the dispatcher redacts it."""
    return DeliveryError(f"{service} unreachable: {type(exc).__name__}: {exc}", retriable=True)


def check_answer(response: httpx.Response, service: str) -> None:
    """Raise DeliveryError unless ``response`` is a 2xx; 429 and 5xx are worth retrying."""
    if response.is_success:
        return
    status = response.status_code
    body = " ".join(response.text.split())[:200]
    raise DeliveryError(
        f"{service} answered HTTP {status}: {body or response.reason_phrase}",
        retriable=status == 429 or status >= 500,
    )


def post(
    http: httpx.Client,
    url: str,
    service: str,
    *,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """POST and check the answer, turning transport errors into a retriable DeliveryError."""
    try:
        response = http.post(
            url, json=json, data=data, auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth
        )
    except httpx.HTTPError as exc:
        raise http_failure(exc, service) from None
    check_answer(response, service)
    return response
