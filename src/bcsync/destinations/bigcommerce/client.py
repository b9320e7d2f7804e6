"""The BigCommerce HTTP client: one place that sends requests, retries them and classifies errors.

Every attempt goes through the store's :class:`~.ratelimit.RateGovernor` and is reported to
``on_call`` as an :class:`~.calls.ApiCall` with the token redacted. Errors come out as the classes
of :mod:`bcsync.errors`, so callers decide by class:

- 401/403 → ``AuthError`` (fatal); other 4xx → ``RequestRejectedError`` with BigCommerce's message.
- 429 → the governor pauses the whole store, then the request is retried.
- A create answered with any 5xx, or whose answer was lost after it went out (timeout, dropped
  connection) → ``AmbiguousWriteError`` at once, never re-sent: BigCommerce answers 5xx after
  creates it did apply, so only a definite 4xx proves nothing was made, and the caller settles
  the rest by reading BigCommerce (DESIGN §3.8).
- Reads and other writes: 500/502/503/504, timeouts, lost connections → retried with exponential
  backoff and jitter, a bounded number of times; then the last error is raised.

Whether to try again is the error's own word (:func:`bcsync.errors.is_retriable`), asked by the
shared :class:`~bcsync.retry.RetryPolicy`; this module only marks the exceptions it knows of when
it builds an error (a 5xx that will never work, an update whose answer was lost).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json as jsonlib
import logging
import posixpath
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import unquote

import httpx

from bcsync import __version__
from bcsync.destinations.bigcommerce.calls import REDACTED, ApiCall
from bcsync.destinations.bigcommerce.error_bodies import bigcommerce_message
from bcsync.destinations.bigcommerce.ratelimit import RateGovernor
from bcsync.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthError,
    GuardError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    TransportError,
)
from bcsync.retry import RetryPolicy

WriteKind = Literal["read", "create", "write"]

RETRIED_SERVER_STATUSES = frozenset({500, 502, 503, 504})
# Failures where the request cannot have reached BigCommerce: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer. ``headers`` keys are lower-case; ``body`` is parsed JSON, or None for
    204 and empty bodies."""

    status: int
    headers: Mapping[str, str]
    body: Any


def is_order_collection(path: str) -> bool:
    """True when ``path`` names the whole v2 orders collection (``/v2/orders``, however spelled)."""
    route = unquote(path.split("?", 1)[0].split("#", 1)[0]).strip().lower()
    route = posixpath.normpath("/" + route.strip("/"))
    return route.removesuffix(".json").rstrip("/ ") == "/v2/orders"


class BigCommerceClient:
    """An async client for one store's REST Management API (``{api_url}/stores/{store_hash}``)."""

    def __init__(
        self,
        *,
        api_url: str,
        store_hash: str,
        access_token: str,
        governor: RateGovernor | None = None,
        timeout: float = 30.0,
        max_attempts: int = 6,
        on_call: Callable[[ApiCall], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = f"bcsync/{__version__}",
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        if not access_token:
            raise ValueError("a BigCommerce access token is required")
        self.api_url = api_url.rstrip("/")
        self.store_hash = store_hash
        self.base_url = f"{self.api_url}/stores/{store_hash}"
        self.governor = governor or RateGovernor()  # a client without one paces alone
        self.retry = RetryPolicy(
            attempts=max(1, max_attempts),
            backoff=backoff_base,
            cap=backoff_max,
            timeout=timeout,
            jitter=random.Random(),
        )
        self.on_call = on_call
        self._token = access_token
        self._user_agent = user_agent
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.retry.timeout), transport=transport
        )
        self._clock_offset: dt.timedelta | None = None  # the store's clock minus ours

    def __repr__(self) -> str:
        return f"BigCommerceClient(api_url={self.api_url!r}, store_hash={self.store_hash!r})"

    async def __aenter__(self) -> BigCommerceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        pks: Sequence[str] = (),
        write_kind: WriteKind | None = None,
    ) -> ApiResponse:
        """Send one request (retrying as the module docstring says) and return a 2xx answer.

        ``path`` is relative to the store, e.g. ``/v3/customers``. ``pks`` are the model rows the
        request carries, for the debugger. ``write_kind`` defaults to ``read`` for GET/HEAD,
        ``create`` for POST and ``write`` otherwise; a ``create`` is never re-sent once it may
        have reached BigCommerce.

        Long because the pacing, recording and retry of one request share its state and read best
        together."""
        method = method.upper()
        kind: WriteKind = write_kind or (
            "read" if method in ("GET", "HEAD") else "create" if method == "POST" else "write"
        )
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"path must be relative to the store and start with '/': {path!r}")
        content: str | None = None
        if json is not None:
            try:
                # allow_nan=False: Python would write NaN and Infinity bare, which is not JSON.
                content = jsonlib.dumps(json, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError) as exc:
                # Found before anything went out: the rows carried are rejected, never in doubt.
                raise RequestRejectedError(
                    f"{method} {path}: not sent: the request body is not JSON ({exc})",
                    method=method,
                    path=path,
                ) from None
        headers = {
            "X-Auth-Token": self._token,
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method, self.base_url + path, params=params, content=content, headers=headers
        )
        # Checked on the URL exactly as it will go out, so no spelling of the path slips through.
        store_path = request.url.path.removeprefix(f"/stores/{self.store_hash}")
        if method == "DELETE" and (is_order_collection(path) or is_order_collection(store_path)):
            raise GuardError(
                "refusing to send DELETE /v2/orders without an order id: "
                "it would archive every order in the store"
            )

        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(request, path, content, attempt, tuple(pks), kind)
            if isinstance(outcome, ApiResponse):
                return outcome
            delay = self.retry.delay(outcome, attempt)
            if delay is None:
                raise outcome
            if delay > 0:  # a 429 advises none: the governor holds every request of the store
                await asyncio.sleep(delay)

    async def get_all(
        self, path: str, *, params: Mapping[str, str] | None = None, v: Literal[2, 3]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield every non-empty page of a list. v3 follows ``meta.pagination``; v2 (which has no
        paging metadata) stops at a short page or a 204. Pages of 250 unless ``limit`` is given."""
        query = {"limit": "250", **(params or {})}
        limit = int(query["limit"])
        page = int(query.get("page", "1"))
        while True:
            query["page"] = str(page)
            response = await self.request("GET", path, params=query)
            body = response.body
            if v == 3:
                items = body.get("data", []) if isinstance(body, dict) else []
                pagination = (body.get("meta") or {}).get("pagination") or {}
                if items:
                    yield items
                total_pages = int(pagination.get("total_pages") or 0)
                if not items or page >= total_pages:
                    return
            else:
                items = body if isinstance(body, list) else []
                if items:
                    yield items
                if len(items) < limit:
                    return
            page += 1

    async def store_time(self, probe_path: str) -> dt.datetime:
        """The store's clock now, to the second below, from the ``Date`` header of the last
        answer (a cheap read of ``probe_path`` when none came yet; our own clock if the store
        sends no ``Date``). It marks a create in flight, so that a record found later is known
        to be made by it only if created at or after the mark (DESIGN §3.8)."""
        if self._clock_offset is None:
            await self.request("GET", probe_path, params={"limit": "1"})
            if self._clock_offset is None:
                self._clock_offset = dt.timedelta()
        return (_now() + (self._clock_offset or dt.timedelta())).replace(microsecond=0)

    def _observe_clock(self, response: httpx.Response) -> None:
        """Learn the store's clock from an answer's ``Date`` (whole seconds, rounded down, so
        the offset errs early by less than a second)."""
        date = response.headers.get("date")
        if not date:
            return
        try:
            server = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if server.tzinfo is not None:
            # Each reading errs early (the header is rounded down): keep the latest of them.
            estimate = server - _now()
            self._clock_offset = max(estimate, self._clock_offset or estimate)

    async def _attempt(
        self,
        request: httpx.Request,
        path: str,
        content: str | None,
        attempt: int,
        pks: tuple[str, ...],
        kind: WriteKind,
    ) -> ApiResponse | ApiError:
        """One attempt under the governor; returns the answer or the classified error."""
        method = request.method
        response: httpx.Response | None = None
        error: ApiError
        async with self.governor.slot(method, path) as permit:
            started_at = dt.datetime.now(dt.UTC)
            start = time.perf_counter()
            try:
                response = await self._http.send(request)
            except httpx.RequestError as exc:
                error = self._transport_error(exc, method, path, kind)
            else:
                permit.observe(response.status_code, response.headers)
                self._observe_clock(response)
            duration_ms = (time.perf_counter() - start) * 1000
        if response is not None:
            result = self._classify(response, method, path, kind)
            error_text = None if isinstance(result, ApiResponse) else str(result)
        else:
            result, error_text = error, str(error)
        self._record(
            request, path, content, response, started_at, duration_ms, attempt, pks, error_text
        )
        return result

    def _transport_error(
        self, exc: httpx.RequestError, method: str, path: str, kind: WriteKind
    ) -> ApiError:
        what = f"{type(exc).__name__}: {self._scrub(str(exc))}" if str(exc) else type(exc).__name__
        if isinstance(exc, _NOT_SENT) or kind == "read":
            return TransportError(
                f"{method} {path}: could not reach BigCommerce ({what})", method=method, path=path
            )
        lost = AmbiguousWriteError(
            f"{method} {path}: the request went out but no answer came back ({what})",
            method=method,
            path=path,
        )
        lost.retriable = kind == "write"  # an update lands once however often it is sent
        return lost

    def _classify(
        self, response: httpx.Response, method: str, path: str, kind: WriteKind
    ) -> ApiResponse | ApiError:
        status = response.status_code
        body = _parse_body(response)
        where = f"{method} {path}"
        if 200 <= status < 300:
            headers = {key.lower(): value for key, value in response.headers.items()}
            return ApiResponse(status=status, headers=headers, body=body)
        said = self._scrub(bigcommerce_message(body))
        if status == 401:
            message = f"{where}: BigCommerce rejected the access token (401)"
            return AuthError(message, method=method, path=path, status=status, body=body)
        if status == 403:
            message = self._refused(where, said)
            return AuthError(message, method=method, path=path, status=status, body=body)
        if status == 429:
            message = f"{where}: BigCommerce rate limit reached (429)"
            return RateLimitedError(message, method=method, path=path, status=status, body=body)
        if status >= 500 and kind == "create":
            # BigCommerce (or its gateway) answers 5xx after creates it did apply: never re-send.
            message = f"{where}: BigCommerce answered {status}; the create may have happened" + (
                f": {said}" if said else ""
            )
            return AmbiguousWriteError(message, method=method, path=path, status=status, body=body)
        if status >= 500:
            message = f"{where}: BigCommerce server error ({status})" + (
                f": {said}" if said else ""
            )
            error = ServerError(message, method=method, path=path, status=status, body=body)
            error.retriable = status in RETRIED_SERVER_STATUSES  # not 501, 505…: they never work
            return error
        message = f"{status} {said}" if said else f"{status} {response.reason_phrase}"
        return RequestRejectedError(message, method=method, path=path, status=status, body=body)

    def _refused(self, where: str, said: str) -> str:
        """The 403 message. BigCommerce answers a store hash the token does not belong to with 403
        as well as a missing scope, so both causes are named: the store hash, never the token."""
        message = (
            f"{where}: BigCommerce refused the request (403): the access token lacks the scope for "
            f"this endpoint, or store hash {self.store_hash!r} does not belong to this token"
        )
        return self._scrub(message + (f": {said}" if said else ""))

    def _record(
        self,
        request: httpx.Request,
        path: str,
        content: str | None,
        response: httpx.Response | None,
        started_at: dt.datetime,
        duration_ms: float,
        attempt: int,
        pks: tuple[str, ...],
        error: str | None,
    ) -> None:
        if self.on_call is None:
            return
        scrub = self._scrub
        call = ApiCall(
            method=request.method,
            url=scrub(str(request.url.copy_with(query=None))),
            path=scrub(path.split("?", 1)[0]),
            query={scrub(k): scrub(v) for k, v in request.url.params.multi_items()},
            request_headers={
                k: REDACTED if k.lower() == "x-auth-token" else scrub(v)
                for k, v in request.headers.items()
            },
            request_body=scrub(content) if content is not None else None,
            status=response.status_code if response is not None else None,
            response_headers=(
                {k: scrub(v) for k, v in response.headers.items()} if response is not None else {}
            ),
            response_body=scrub(response.text) if response is not None else None,
            started_at=started_at,
            duration_ms=duration_ms,
            attempt=attempt,
            pks=pks,
            error=scrub(error) if error else None,
        )
        try:
            self.on_call(call)
        except Exception:  # a broken recorder must not turn a confirmed write into a failure
            log.exception("recording an API call failed")

    def _scrub(self, text: str) -> str:
        """The token never leaves this object, even if something echoes it back."""
        return text.replace(self._token, REDACTED) if self._token in text else text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse_body(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
