"""Keeping secrets out of what bcsync records, sends and logs.

BigCommerce's row errors quote the values they refuse, run errors quote whatever failed, and HTTP
libraries put URLs (a Slack webhook URL *is* its secret) into exception messages and log lines.
Every such text goes through a :class:`Redactor` built from every secret in the project before
it reaches the run store, the snapshot, an alert, the warehouse logs or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from bcsync.config.alerts import EmailChannel, PagerDutyChannel, SlackChannel, SmsChannel
from bcsync.config.database_url import password_spans
from bcsync.config.project import ProjectConfig

MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words; no real secret is that short
_MIN_TOKEN_SEGMENT = 12  # a URL's last path segment counts as a token only when this long
# Loggers of the HTTP stack (httpx logs every request's URL at INFO). A filter acts only on the
# logger a record is created on, so httpcore's child loggers are named one by one.
_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _url_parts(url: str) -> Iterator[str]:
    """A URL and the pieces of it that are secret on their own (password, webhook path)."""
    yield url
    parts = urlsplit(url)
    if parts.password:
        yield parts.password
        yield unquote(parts.password)
    if parts.path.strip("/"):
        yield parts.path
        token = parts.path.rstrip("/").rpartition("/")[2]
        if len(token) >= _MIN_TOKEN_SEGMENT:  # Slack's token is the last segment (24 chars)
            yield token


def channel_secrets(channel: object) -> Iterator[str]:
    """The secret strings of one alert channel's config."""
    if isinstance(channel, SlackChannel):
        yield from _url_parts(channel.webhook_url.get_secret_value())
    elif isinstance(channel, PagerDutyChannel):
        yield channel.routing_key.get_secret_value()
    elif isinstance(channel, SmsChannel):
        yield channel.auth_token.get_secret_value()
    elif isinstance(channel, EmailChannel):
        url = channel.smtp_url.get_secret_value()
        yield url
        parts = urlsplit(url)
        if parts.password:
            yield parts.password
            yield unquote(parts.password)


def database_passwords(url: str) -> Iterator[str]:
    """The passwords of a database URL (user info and ``?password=``), as written and decoded."""
    for start, end in password_spans(url):
        yield url[start:end]
        yield unquote(url[start:end])


def project_secrets(config: ProjectConfig) -> tuple[str, ...]:
    """Every secret of the project: access tokens, each alert channel's secrets, and the
    passwords of the warehouse and the run store."""
    found: list[str] = []
    for destination in config.destinations.values():
        found.append(destination.access_token.get_secret_value())
    if config.alerts is not None:
        for channel in config.alerts.channels.values():
            found.extend(channel_secrets(channel))
    for url in (config.warehouse.url, config.state.url):
        found.extend(database_passwords(url))
    return tuple(found)


@dataclass(frozen=True)
class Redactor:
    """Replaces every known secret in a text with ``***`` (longest first, so a URL goes whole)."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | SecretStr]) -> Redactor:
        plain = {v.get_secret_value() if isinstance(v, SecretStr) else v for v in values}
        usable = sorted((v for v in plain if len(v) >= _MIN_SECRET), key=len, reverse=True)
        return cls(tuple(usable))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message with the secrets masked."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextmanager
def redacted_http_logs(redact: Redactor) -> Iterator[None]:
    """While inside, the HTTP libraries' own log lines have the secrets masked."""
    log_filter = RedactingFilter(redact)
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)
