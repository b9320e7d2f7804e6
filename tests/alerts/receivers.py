"""Local stand-ins for the alert services, each checking that a request has the shape the real
service documents:

- Slack incoming webhook: ``POST`` JSON ``{"text": "…"}`` to the webhook path; answers ``200 ok``.
- PagerDuty Events API v2: ``POST /v2/enqueue`` JSON with ``routing_key``, ``event_action``
  (trigger | acknowledge | resolve), ``dedup_key``, and for a trigger ``payload`` with
  ``summary`` (≤ 1024 chars), ``source``, ``severity`` (critical | error | warning | info);
  answers ``202 {"status": "success", "message": "Event processed", "dedup_key": …}``.
- Twilio Messages API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP basic auth
  ``AccountSid:AuthToken``, form-encoded ``To``, ``From`` (E.164) and ``Body`` (≤ 1600 chars);
  answers ``201`` with a Message resource.
- SMTP (aiosmtpd) that requires STARTTLS and AUTH, with a self-signed certificate made by openssl.

A request of the wrong shape is answered the way the service would (400/401) and listed in
``problems``; the fixtures fail the test at teardown if any were seen.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SLACK_PATH = "/slack/services/T0TEST/B0TEST/hooksecret0123456789"
PAGERDUTY_ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"  # 32 characters, like a real one
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twiliotoken-5e6f7a8b9c0d"
SMTP_USER = "alerts"
SMTP_PASSWORD = "smtp-password-77x"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEVERITIES = {"critical", "error", "warning", "info"}
_ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass
class Received:
    service: str  # slack | pagerduty | twilio
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (Slack, PagerDuty) or form dict (Twilio)
    raw: str


@dataclass
class HttpReceiver:
    """Slack, PagerDuty and Twilio on one local HTTP server."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # service -> list of statuses to answer before behaving again (fault injection)
    faults: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, service: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.service == service]

    def fail(self, service: str, *statuses: int) -> None:
        """Answer the next requests to ``service`` with these statuses, in order."""
        with self.lock:
            self.faults.setdefault(service, []).extend(statuses)

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    @property
    def pagerduty_url(self) -> str:
        return self.url + "/v2/enqueue"


def _json_body(raw: str, problems: list[str]) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        problems.append("body is not JSON")
        return None


def check_slack(headers: dict[str, str], raw: str) -> tuple[Any, list[str]]:
    problems: list[str] = []
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("Slack: Content-Type must be application/json")
    body = _json_body(raw, problems)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("Slack: body must be an object with a non-empty 'text'")
    return body, problems


def check_pagerduty(headers: dict[str, str], raw: str) -> tuple[Any, list[str]]:
    problems: list[str] = []
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("PagerDuty: Content-Type must be application/json")
    event = _json_body(raw, problems)
    if not isinstance(event, dict):
        return event, [*problems, "PagerDuty: event must be an object"]
    if event.get("routing_key") != PAGERDUTY_ROUTING_KEY:
        problems.append("PagerDuty: wrong or missing routing_key")
    action = event.get("event_action")
    if action not in _ACTIONS:
        problems.append(f"PagerDuty: event_action {action!r} not one of {sorted(_ACTIONS)}")
    key = event.get("dedup_key")
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        problems.append("PagerDuty: dedup_key must be a string of 1..255 characters")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return event, [*problems, "PagerDuty: a trigger needs a payload object"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            problems.append("PagerDuty: payload.summary must be 1..1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("PagerDuty: payload.source is required")
        if payload.get("severity") not in _SEVERITIES:
            problems.append("PagerDuty: payload.severity must be critical|error|warning|info")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(payload["timestamp"])
            except (TypeError, ValueError):
                problems.append("PagerDuty: payload.timestamp must be ISO 8601")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("PagerDuty: payload.custom_details must be an object")
    return event, problems


def check_twilio(path: str, headers: dict[str, str], raw: str) -> tuple[Any, list[str], int]:
    """The form, the problems, and the status Twilio would answer (201, 400 or 401)."""
    match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", path)
    if match is None:
        return None, [f"Twilio: unknown path {path}"], 404
    expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    if match.group(1) != TWILIO_SID or headers.get("authorization") != expected:
        return None, ["Twilio: bad account SID or basic auth"], 401
    problems: list[str] = []
    if headers.get("content-type", "") != "application/x-www-form-urlencoded":
        problems.append("Twilio: Content-Type must be application/x-www-form-urlencoded")
    form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
    for key in ("To", "From"):
        if not _E164.match(form.get(key, "")):
            problems.append(f"Twilio: {key} must be an E.164 number")
    if not 0 < len(form.get("Body", "")) <= 1600:
        problems.append("Twilio: Body must be 1..1600 characters")
    return form, problems, 400 if problems else 201


class _Handler(BaseHTTPRequestHandler):
    receiver: HttpReceiver

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length).decode()
        headers = {key.lower(): value for key, value in self.headers.items()}
        path = self.path
        if path == SLACK_PATH:
            service = "slack"
        elif path == "/v2/enqueue":
            service = "pagerduty"
        elif path.startswith("/2010-04-01/"):
            service = "twilio"
        else:
            self.receiver.problems.append(f"unexpected POST {path}")
            self._answer(404, "no_service", "text/plain")
            return
        with self.receiver.lock:
            pending = self.receiver.faults.get(service)
            fault = pending.pop(0) if pending else None
        if fault is not None:
            self._answer(fault, {"message": "injected fault"})
            return
        if service == "slack":
            body, problems = check_slack(headers, raw)
            status = 400 if problems else 200
            answer: Any = "invalid_payload" if problems else "ok"
            content_type = "text/plain"
        elif service == "pagerduty":
            body, problems = check_pagerduty(headers, raw)
            status, content_type = (400 if problems else 202), "application/json"
            answer = (
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": problems,
                }
                if problems
                else {
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": body["dedup_key"],
                }
            )
        else:
            body, problems, status = check_twilio(path, headers, raw)
            content_type = "application/json"
            answer = (
                {"code": 21604, "message": "; ".join(problems), "status": status}
                if problems
                else {
                    "sid": "SM" + uuid.uuid4().hex,
                    "account_sid": TWILIO_SID,
                    "to": body["To"],
                    "from": body["From"],
                    "body": body["Body"],
                    "status": "queued",
                    "api_version": "2010-04-01",
                }
            )
        with self.receiver.lock:
            self.receiver.problems.extend(problems)
            if not problems:
                self.receiver.received.append(Received(service, path, headers, body, raw))
        self._answer(status, answer, content_type)


def start_http_receiver() -> tuple[HttpReceiver, ThreadingHTTPServer]:
    receiver = HttpReceiver()
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return receiver, server


def dead_url() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- SMTP --------------------------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (cert, key), made by openssl."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Mail:
    envelope_from: str
    recipients: list[str]
    message: Message
    authenticated_as: str | None
    tls: bool


@dataclass
class SmtpReceiver:
    port: int
    mails: list[Mail] = field(default_factory=list)

    def url(self, password: str = "${SMTP_PASSWORD}") -> str:
        return f"smtp://{SMTP_USER}:{password}@127.0.0.1:{self.port}"


class _MailHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data if session.authenticated else None
        self.receiver.mails.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.original_content or envelope.content),
                login.decode() if isinstance(login, bytes) else login,
                session.ssl is not None,
            )
        )
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)


def start_smtp_receiver(cert: Path | None, key: Path | None) -> tuple[SmtpReceiver, Controller]:
    """With a certificate: STARTTLS and AUTH required (like a submission server on 587).
    Without: a plain relay that offers neither."""
    receiver = SmtpReceiver(port=free_port())
    options: dict[str, Any] = {}
    if cert is not None and key is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "auth_require_tls": True,
            "authenticator": _authenticator,
        }
    controller = Controller(
        _MailHandler(receiver), hostname="127.0.0.1", port=receiver.port, **options
    )
    controller.start()
    return receiver, controller
