"""Who may use the UI and its API, and protection of every state-changing request (CSRF).

Without a token (``bcsync serve`` on loopback; ``server.py`` refuses any other address) nobody logs
in, but the ``Host`` header must name this machine: a page of another site whose name an attacker
points at 127.0.0.1 (DNS rebinding) gets nothing.

With a token (``BCSYNC_UI_TOKEN`` or ``--token-file``):

- a browser logs in once at ``/login`` with the token (compared in constant time) and gets a
  session cookie: a random id the server keeps in memory (``HttpOnly``, ``SameSite=Strict``; a
  restart of the server logs everyone out, and so do 12 hours);
- an API client sends ``Authorization: Bearer <token>`` and needs no cookie;
- without either, a page redirects to ``/login`` and an API route answers 401;
- a wrong token, at the form or as a bearer token, is answered after half a second, one wrong
  guess at a time server-wide (``Sessions.wrong_token``).

Every POST, PUT, PATCH and DELETE is refused (403) when the browser says it comes from another
site (``Sec-Fetch-Site`` cross-site or same-site, or an ``Origin`` other than the server's own
host), and, unless it carries the bearer token, when it lacks the browser's CSRF token (form
field ``csrf`` or header ``X-CSRF-Token``; pages put ``csrf_token`` in their forms, derived from a
second cookie every browser gets, logged in or not). The one exception is an API call in JSON
without a token on a loopback server (``curl -H 'Content-Type: application/json'``): a page of
another site cannot send JSON to us without a CORS preflight, which this server never grants.
Static files (CSS, JS) are public. Behind a reverse proxy, pass the browser's ``Host`` on.

``web.masking`` is the other half of keeping secrets out of pages: a sync's configuration with
every secret of the project replaced by ``***``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bcsync.web.app import UiSettings, render
from bcsync.web.server import is_loopback

SESSION_COOKIE = "bcsync_session"  # a logged-in session (with a token only)
CSRF_COOKIE = "bcsync_csrf"  # what every browser's CSRF token derives from
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/login"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PREFIXES = ("/static/",)
MAX_FORM_BYTES = 1 << 20
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
WRONG_TOKEN_SECONDS = 0.5


class Sessions:
    """Browser sessions: random ids, and which of them logged in (kept in memory).

    Every browser also gets an id of its own in a second cookie on its first visit, logged in
    or not, so that a form (the login form too) can carry a CSRF token: an HMAC of that id under
    a key made at start, so nothing is stored for a visitor who never logs in. The two cookies
    are apart so that a new CSRF id never replaces a session; the CSRF cookie is ``Lax`` (a link
    from another site carries it, so no new id is minted then), the session cookie ``Strict``.
    """

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._logged_in: OrderedDict[str, float] = OrderedDict()  # id -> expiry (monotonic)
        self._lock = threading.Lock()
        self._guesses = asyncio.Lock()

    async def wrong_token(self) -> None:
        """What a wrong UI token costs, at the login form and as a bearer token alike: half a
        second, one wrong guess at a time server-wide (however many connections guess), and no
        worker thread held meanwhile (so users with the token are answered as usual)."""
        async with self._guesses:
            await asyncio.sleep(WRONG_TOKEN_SECONDS)

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, browser_id: str) -> str:
        return hmac.new(self._key, browser_id.encode(), hashlib.sha256).hexdigest()

    def log_in(self) -> str:
        """A new logged-in session (never the id the browser had before: no fixation)."""
        session_id = self.new_id()
        with self._lock:
            self._logged_in[session_id] = time.monotonic() + SESSION_SECONDS
            while len(self._logged_in) > MAX_SESSIONS:
                self._logged_in.popitem(last=False)
        return session_id

    def log_out(self, session_id: str) -> None:
        with self._lock:
            self._logged_in.pop(session_id, None)

    def logged_in(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        with self._lock:
            expiry = self._logged_in.get(session_id)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._logged_in[session_id]
                return False
            return True


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two texts."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _cookie_header(
    name: str, value: str, *, secure: bool, max_age: int | None = None, same_site: str = "Strict"
) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", f"SameSite={same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def _csrf_cookie(browser_id: str, *, secure: bool) -> bytes:
    """The CSRF id's cookie: ``Lax``, so that a link followed from another site (an alert in a
    chat) carries it and the browser is not given a new id, which would leave the forms of its
    open tabs out of date. It proves nothing alone: a form's token is an HMAC of it under the
    server's key, and another site's POST does not carry a ``Lax`` cookie anyway."""
    return _cookie_header(CSRF_COOKIE, browser_id, secure=secure, same_site="Lax")


def _host_name(host: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:8600``, ``::1`` of ``[::1]:8600``."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class _Refused(Exception):
    def __init__(self, status: int, message: str, *, guess: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.guess = guess  # a wrong token: answered only after ``Sessions.wrong_token``


class SecurityMiddleware:
    """The rules of the module docstring, in front of every route (a plain ASGI middleware, so
    streamed answers such as server-sent events pass through untouched)."""

    def __init__(self, app: ASGIApp, settings: UiSettings, sessions: Sessions) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _unframable(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        api = path.startswith("/api/")
        cookies = _cookies(headers.get("cookie", ""))
        session, browser = cookies.get(SESSION_COOKIE), cookies.get(CSRF_COOKIE)
        body: bytes | None = None
        try:
            by_bearer, allowed = self._authenticate(headers, session)
            if not allowed and not (path.startswith(PUBLIC_PREFIXES) or path == LOGIN_PATH):
                if not api:
                    await _to_login(scope, receive, send)
                    return
                raise _Refused(401, "send the UI token: Authorization: Bearer <token>")
            if "\x00" in path or "\x00" in unquote(
                scope.get("query_string", b"").decode("latin-1")
            ):
                # No run id, key or filter holds one, and PostgreSQL refuses it in any query.
                raise _Refused(400, "a NUL character (%00) is not allowed in a URL")
            if scope["method"] in UNSAFE_METHODS:
                body = await self._check_csrf(scope, receive, headers, browser, by_bearer, api)
        except _Refused as refused:
            if refused.guess:
                await self.sessions.wrong_token()
            await _refuse(scope, receive, send, refused.status, str(refused), api)
            return

        browser_id = browser or Sessions.new_id()
        state = scope.setdefault("state", {})
        state["csrf_token"] = self.sessions.csrf_token(browser_id)
        state["session_id"] = session
        state["logged_in"] = self.settings.token is not None and not by_bearer and allowed
        set_cookie = browser is None and not api and not by_bearer
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and set_cookie:
                sent = message.get("headers", [])
                if not any(
                    k.lower() == b"set-cookie" and v.startswith(CSRF_COOKIE.encode())
                    for k, v in sent
                ):
                    message["headers"] = [
                        *sent,
                        (b"set-cookie", _csrf_cookie(browser_id, secure=secure)),
                    ]
            await send(message)

        await self.app(
            scope, _replay(body, receive) if body is not None else receive, send_with_cookie
        )

    def _authenticate(self, headers: Mapping[str, str], session: str | None) -> tuple[bool, bool]:
        """(by bearer token, allowed in). Refuses a wrong bearer token, and without a token any
        ``Host`` that is not this machine."""
        token = self.settings.token
        if token is None:
            host = headers.get("host", "")
            if not is_loopback(_host_name(host).lower()):
                raise _Refused(
                    400,
                    f"this server answers only as localhost, not as {host!r} (to serve it "
                    "under another name, start it with a token: BCSYNC_UI_TOKEN)",
                )
            return False, True
        bearer = _bearer(headers.get("authorization", ""))
        if bearer is not None:
            if not same_secret(bearer, token):
                raise _Refused(401, "wrong bearer token", guess=True)
            return True, True
        return False, self.sessions.logged_in(session)

    async def _check_csrf(
        self,
        scope: Scope,
        receive: Receive,
        headers: Mapping[str, str],
        browser: str | None,
        by_bearer: bool,
        api: bool,
    ) -> bytes | None:
        """Refuse a state-changing request from another site or without the session's CSRF
        token; returns the body when it had to be read (to find the form's token)."""
        why = _cross_site(headers)
        if why is not None:
            raise _Refused(403, why)
        if by_bearer:
            return None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if api and self.settings.token is None and content_type == "application/json":
            return None  # see the module docstring: no other site can send us JSON
        given = headers.get(CSRF_HEADER)
        body: bytes | None = None
        if given is None and content_type in FORM_TYPES:
            body = await _read_body(receive)
            if body is None:
                raise _Refused(413, "the request body is too large")
            given = await _form_field(scope, body, CSRF_FIELD)
        if browser is None or given is None:
            raise _Refused(403, "CSRF token missing: reload the page and try again")
        if not same_secret(given, self.sessions.csrf_token(browser)):
            raise _Refused(403, "CSRF token out of date: reload the page and try again")
        return body


# No page of bcsync may be put in a frame of another site (clickjacking a Run now).
_NO_FRAMING = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)


def _unframable(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *_NO_FRAMING]}
        await send(message)

    return sending


def _cookies(header: str) -> dict[str, str]:
    """Our two cookies from a ``Cookie`` header (values of a plausible length only)."""
    if not header:
        return {}
    # Cookie by cookie, as browsers write them: other sites on this host name (any port) may set
    # cookies ``SimpleCookie`` gives up on (a space, JSON, a non-ASCII letter), and one of those
    # must not hide ours (a session that seems gone, every form refused as without a CSRF token).
    jar = cookie_parser(header)
    return {
        name: jar[name]
        for name in (SESSION_COOKIE, CSRF_COOKIE)
        if name in jar and 20 <= len(jar[name]) <= 100
    }


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _cross_site(headers: Mapping[str, str]) -> str | None:
    """Why the browser's headers say this request comes from another site (None: they do not)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site})"
    origin = headers.get("origin")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()
    ):
        return "cross-site request refused (its Origin is not this server)"
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None beyond ``MAX_FORM_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` out once, then what the client sends (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_field(scope: Scope, body: bytes, name: str) -> str | None:
    async def empty() -> Message:
        return {"type": "http.disconnect"}

    request = Request(scope, _replay(body, empty))
    try:
        form = await request.form()
    except Exception:  # an unreadable form has no token
        return None
    try:
        value = form.get(name)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, api: bool
) -> None:
    response: Response
    if api:
        response = JSONResponse({"detail": message}, status_code=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
    else:
        response = HTMLResponse(_message_page(status, message), status_code=status)
    await response(scope, receive, send)


async def _to_login(scope: Scope, receive: Receive, send: Send) -> None:
    # The path as the browser sent it (still percent-encoded: a ``%3F`` in a primary key stays
    # one), so that the page after the login is the one asked for.
    raw_path: bytes | None = scope.get("raw_path")
    target = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
    await response(scope, receive, send)


def _message_page(status: int, message: str) -> str:
    from markupsafe import escape

    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{status} · bcsync</title></head><body><main><h1>{status}</h1>"
        f'<p>{escape(message)}</p><p><a href="/">Back to the syncs</a></p></main></body></html>'
    )


# -- login and logout --------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _next_target(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (never ``//elsewhere``). A
    browser drops tabs and line breaks from a link (``/<tab>/evil.example`` is
    ``//evil.example``) and reads ``\\`` as ``/``, so a target holding either, or any other
    control character or space, is refused too; ``_to_login`` never writes one."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value)
    ):
        return "/"
    return value


@router.get(LOGIN_PATH, response_class=HTMLResponse, name="login")
def login_page(request: Request, next: str | None = None) -> Response:
    settings: UiSettings = request.app.state.settings
    if settings.token is None or getattr(request.state, "logged_in", False):
        return RedirectResponse(_next_target(next), status_code=303)
    return render(request, "login.html", {"title": "Log in", "next": _next_target(next)})


@router.post(LOGIN_PATH, response_class=HTMLResponse)
async def log_in(
    request: Request, token: str = Form(""), next: str | None = Form(None)
) -> Response:
    settings: UiSettings = request.app.state.settings
    sessions: Sessions = request.app.state.sessions
    target = _next_target(next)
    if settings.token is None:
        return RedirectResponse(target, status_code=303)
    if not same_secret(token, settings.token):
        await sessions.wrong_token()  # guessing costs time
        refused = render(
            request,
            "login.html",
            {"title": "Log in", "next": target, "error": "That is not the UI token."},
        )
        refused.status_code = 401
        return refused
    session_id = sessions.log_in()
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.raw_headers.append(
        (b"set-cookie", _cookie_header(SESSION_COOKIE, session_id, secure=secure))
    )
    return response


@router.post("/logout", name="logout")
def log_out(request: Request) -> Response:
    sessions: Sessions = request.app.state.sessions
    sessions.log_out(getattr(request.state, "session_id", None) or "")
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.raw_headers.append(
        (
            b"set-cookie",
            _cookie_header(SESSION_COOKIE, "", secure=request.url.scheme == "https", max_age=0),
        )
    )
    return response
