"""The emulator as one ASGI app: ``/_emulator/*`` admin calls and the API under ``/stores/{hash}``.

Every API request goes through the same pipeline, in this order:

1. stats: the request is counted under its route template once its status is known;
2. faults: an injected status answers at once, unless the rule says ``apply``; latency, drop
   and apply rules are remembered for step 6;
3. auth: wrong store hash → 403, missing/unknown token → 401, PATCH → 501, unknown path → 404,
   method not allowed → 405, token without the resource's scope → 403;
4. rate limit: the quota window (429 + ``X-Retry-After`` when spent) and the per-endpoint
   concurrency caps (429 when over the cap);
5. body checks: a body without ``Content-Type: application/json`` → 415, bad JSON → 400;
6. the handler, after any injected latency; then an ``apply`` rule answers its status instead
   of the handler's answer, or a ``drop_after_apply`` rule cuts the connection mid-response.

The four ``X-Rate-Limit-*`` headers go on every API response, errors included. Only requests
that pass auth spend quota.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from bcsync.emulator import admin, metafields, store_info
from bcsync.emulator.auth import allowed, missing_scope, scopes_for, unauthorized
from bcsync.emulator.core import Emulator, route_template
from bcsync.emulator.customers import addresses, attributes, consent, formfields
from bcsync.emulator.customers import routes as customers
from bcsync.emulator.faults import FaultRule
from bcsync.emulator.orders import routes as orders
from bcsync.emulator.ratelimit import QuotaState
from bcsync.emulator.responses import ERROR_TYPE, api_error, v3_error
from bcsync.emulator.settings import EmulatorSettings

_STORE_PATH = re.compile(r"^/stores/([^/]+)(/.*)?$")
_BODY_METHODS = frozenset({"POST", "PUT", "DELETE"})

RESOURCE_MODULES = (
    store_info,
    customers,
    addresses,
    consent,
    attributes,
    formfields,
    orders,
    metafields,
)


def too_many_requests(state: QuotaState | None) -> Response:
    body = {"status": 429, "title": "Too many requests", "type": ERROR_TYPE, "errors": {}}
    response = Response(json.dumps(body), status_code=429, media_type="application/json")
    if state is not None:
        response.headers["X-Retry-After"] = str(state.retry_after_s)
    return response


class EmulatorApp:
    """The ASGI callable; ``emulator`` holds the state the admin API and tests look at."""

    def __init__(self, emulator: Emulator, resource_routes: Iterable[Route]) -> None:
        self.emulator = emulator
        self.routes = list(resource_routes)
        self.admin = admin.build_app(emulator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/_emulator/") or scope["path"] == "/_emulator":
            await self.admin(scope, receive, send)
            return
        await self._api(scope, receive, send)

    def _match(self, scope: Scope, path: str) -> tuple[Route | None, Scope, bool]:
        """The route for ``path``: (route, child scope, method_allowed)."""
        sub_scope = {**scope, "path": path, "root_path": "", "raw_path": path.encode()}
        partial: tuple[Route, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(sub_scope)
            if match is Match.FULL:
                return route, {**sub_scope, **child}, True
            if match is Match.PARTIAL and partial is None:
                partial = (route, {**sub_scope, **child})
        if partial is not None:
            return partial[0], partial[1], False
        return None, sub_scope, False

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        emu = self.emulator
        method = scope["method"]
        found = _STORE_PATH.match(scope["path"])
        path = (found.group(2) or "/") if found else scope["path"]
        route, route_scope, method_ok = self._match(scope, path) if found else (None, scope, False)
        template = route_template(route.path) if route is not None else None
        key = f"{method} {template or path}"
        status_box: list[int] = [0]

        async def send_counted(message: Any) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        try:
            await self._pipeline(
                scope, receive, send_counted, found, path, route, route_scope, method_ok, key
            )
        finally:
            emu.stats.record(key, status_box[0] or 500)

    async def _pipeline(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        found: re.Match[str] | None,
        path: str,
        route: Route | None,
        route_scope: Scope,
        method_ok: bool,
        key: str,
    ) -> None:
        emu = self.emulator
        settings = emu.settings
        method = scope["method"]
        template = key.split(" ", 1)[1] if route is not None else None

        async def reply(response: Response, state: QuotaState | None = None) -> None:
            headers_state = state or emu.quota.peek()
            response.headers.update(headers_state.headers())
            await response(scope, receive, send)

        fault = emu.faults.take(method, template, path)
        if fault is not None and fault.status is not None and not fault.apply:
            await _apply_latency(fault)
            await self._fault_reply(fault, path, scope, receive, send)
            return

        request_headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        if found is None:
            await reply(api_error(path, 404))
            return
        if found.group(1) != settings.store_hash:
            await reply(missing_scope())
            return
        token = request_headers.get("x-auth-token")
        scopes = scopes_for(settings, token.decode("latin-1") if token else None)
        if scopes is None:
            await reply(unauthorized())
            return
        if method == "PATCH":
            await reply(api_error(path, 501))
            return
        if route is None:
            await reply(api_error(path, 404))
            return
        if not method_ok:
            await reply(api_error(path, 405))
            return
        if not allowed(scopes, method, path):
            await reply(missing_scope())
            return

        ok, state = emu.quota.take()
        if not ok:
            await reply(too_many_requests(state), state)
            return
        cap = settings.concurrency_caps.get(key, settings.default_concurrency_cap)
        if not emu.gate.try_enter(key, cap if settings.enforce_concurrency else 0):
            await reply(too_many_requests(state), state)
            return
        try:
            request = Request(route_scope, receive)
            body_error = await _check_body(request, method, path)
            if body_error is not None:
                await reply(body_error, state)
                return
            if fault is not None:
                await _apply_latency(fault)
            response = await route.endpoint(request)
            if fault is not None and fault.apply:
                # The write is done; the client is told it failed (BigCommerce's 5xx after a write).
                await self._fault_reply(fault, path, route_scope, receive, send, state)
                return
            response.headers.update(state.headers())
            if fault is not None and fault.drop_after_apply:
                await _send_truncated(response, send)
                return
            await response(route_scope, receive, send)
        finally:
            emu.gate.leave(key)

    async def _fault_reply(
        self,
        fault: FaultRule,
        path: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: QuotaState | None = None,
    ) -> None:
        """The injected status in the endpoint's error shape; ``state`` is the quota the request
        spent (an ``apply`` rule's request went through), else the current window is shown."""
        status = fault.status or 500
        state = state or self.emulator.quota.peek()
        if status == 429:
            response = too_many_requests(state if fault.rate_limit_headers else None)
        elif status == 204:
            response = Response(status_code=204)
        else:
            response = api_error(path, status)
        if fault.rate_limit_headers:
            response.headers.update(state.headers())
        await response(scope, receive, send)


async def _apply_latency(fault: FaultRule) -> None:
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)


async def _check_body(request: Request, method: str, path: str) -> Response | None:
    """415 for a body that is not declared JSON, 400 for JSON that does not parse."""
    if method not in _BODY_METHODS:
        return None
    body = await request.body()
    if not body:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return api_error(path, 415)
    try:
        await request.json()
    except (ValueError, UnicodeDecodeError):
        if path.startswith("/v2/"):
            return api_error(path, 400, "The request body is not valid JSON.")
        return v3_error(400, "Input is invalid", {"body": "The request body is not valid JSON."})
    return None


async def _send_truncated(response: Response, send: Send) -> None:
    """Start the response, send part of it, then stop: the client sees the connection cut.

    The declared Content-Length is larger than what is sent, so no client can take the partial
    body for a complete answer; the server then closes the connection.
    """
    body = bytes(response.body)
    headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body) + 64).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(settings: EmulatorSettings | None = None) -> tuple[EmulatorApp, Emulator]:
    """A fresh emulator with every resource module's routes mounted under ``/stores/{hash}``."""
    emulator = Emulator(settings or EmulatorSettings())
    routes: list[Route] = []
    for module in RESOURCE_MODULES:
        routes.extend(module.routes(emulator))
    return EmulatorApp(emulator, routes), emulator
