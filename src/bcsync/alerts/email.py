"""E-mail through SMTP (stdlib ``smtplib``), configured by one URL:
``smtp://user:password@host:587`` (STARTTLS, required) or ``smtps://…:465`` (TLS from the start).

The server's certificate is always verified against the default trust store. A relay with a
private CA is trusted the standard OpenSSL way: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` in the
environment (or the system store). A ``smtp://`` server that does not offer STARTTLS is refused
rather than sent a password or the alert in clear text.

SMTP ``4xx`` answers, dropped connections and timeouts are worth a retry; ``5xx`` answers (bad
credentials, refused recipients) and TLS failures are not.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from bcsync.alerts.delivery import DeliveryError, Outgoing
from bcsync.alerts.messages import AlertMessage
from bcsync.config.alerts import EmailChannel

_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, parsed from ``smtp_url`` (repr hides the password)."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        return f"SmtpTarget(host={self.host!r}, port={self.port}, implicit_tls={self.implicit_tls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The target of an ``smtp://`` or ``smtps://`` URL; user and password are URL-decoded."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise DeliveryError("smtp_url must be smtp://[user:password@]host[:port]", retriable=False)
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise DeliveryError("smtp_url has an invalid port", retriable=False) from None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def build_email(channel: EmailChannel, message: AlertMessage) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = message.title
    email["From"] = channel.from_
    email["To"] = ", ".join(channel.to)
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain=channel.from_.rpartition("@")[2])
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    email["X-Bcsync-Alert"] = message.dedup_key
    email.set_content(message.text + "\n")
    return email


def _converse(target: SmtpTarget, email: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
        if target.implicit_tls
        else smtplib.SMTP(target.host, target.port, timeout=timeout)
    )
    with smtp:
        smtp.ehlo()
        if not target.implicit_tls:
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"SMTP server {target.host}:{target.port} does not offer STARTTLS; "
                    "refusing to send in clear text",
                    retriable=False,
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username is not None:
            smtp.login(target.username, target.password or "")
        smtp.send_message(email)


def send(channel: EmailChannel, message: AlertMessage, timeout: float) -> None:
    """Send ``message`` to every address of the channel in one e-mail; raise DeliveryError."""
    target = parse_smtp_url(channel.smtp_url.get_secret_value())
    where = f"SMTP server {target.host}:{target.port}"
    try:
        _converse(target, build_email(channel, message), timeout)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        refused = ", ".join(f"{addr} ({code})" for addr, (code, _) in exc.recipients.items())
        raise DeliveryError(
            f"{where} refused the recipients: {refused}",
            retriable=all(400 <= code < 500 for code in codes),
        ) from None
    except smtplib.SMTPResponseException as exc:
        answer = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"{where} answered {exc.smtp_code}: {answer}".rstrip(),
            retriable=400 <= exc.smtp_code < 500,
        ) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryError(f"{where} closed the connection: {exc}", retriable=True) from None
    except ssl.SSLError as exc:  # before OSError: a certificate problem will not fix itself
        raise DeliveryError(f"{where}: TLS failed: {exc}", retriable=False) from None
    except OSError as exc:
        raise DeliveryError(f"{where} unreachable: {exc}", retriable=True) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}", retriable=False) from None


def outgoing(channel: EmailChannel, message: AlertMessage, timeout: float) -> list[Outgoing]:
    def deliver() -> None:
        send(channel, message, timeout)

    return [Outgoing("smtp", deliver)]
