"""The live debugger: every API call of a run, recorded (redacted) for the CLI, the UI and HAR.

The client reports each attempt as an :class:`ApiCall` whose ``X-Auth-Token`` is already ``***``;
the recorder truncates bodies past ``max_body_bytes``, masks the project's secrets (the run's
``redact``) in anything that could still echo them, numbers the calls, and writes them to the run
store in batches so recording costs little. ``har`` turns recorded calls into a HAR 1.2 document
that browser dev tools open.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bcsync import __version__
from bcsync.destinations.bigcommerce.calls import REDACTED, ApiCall
from bcsync.state import ApiCallRecord, RunStore

FLUSH_EVERY = 500
log = logging.getLogger(__name__)
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def truncate(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` UTF-8 bytes, saying how much was left out."""
    if text is None:
        return None
    raw = text.encode()
    if len(raw) <= limit:
        return text
    kept = raw[:limit].decode(errors="ignore")
    return f"{kept}… [truncated {len(raw) - limit} of {len(raw)} bytes]"


class CallRecorder:
    """Collects a run's API calls and writes them to the run store.

    Writes happen on one background thread so that storing calls overlaps with waiting for
    BigCommerce instead of holding up the run; ``close()`` waits for the last of them. A write
    that fails is logged (the run goes on: its outcomes are already checkpointed elsewhere).
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        redact: Callable[[str], str],
        max_body_bytes: int = 65_536,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.max_body_bytes = max_body_bytes
        self._redact = redact
        self._pending: list[ApiCallRecord] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcsync-debugger")
        self._writes: list[Future[None]] = []
        self.count = 0

    def _scrub(self, text: str | None) -> str | None:
        return None if text is None else self._redact(text)

    def __call__(self, call: ApiCall) -> None:
        self.count += 1
        query = call.query
        if isinstance(query, Mapping):
            query = urllib.parse.urlencode(query)
        headers = {k: self._scrub(v) or "" for k, v in call.request_headers.items()}
        headers = {k: REDACTED if k.lower() == "x-auth-token" else v for k, v in headers.items()}
        self._pending.append(
            ApiCallRecord(
                seq=self.count,
                started_at=call.started_at,
                duration_ms=call.duration_ms,
                method=call.method,
                path=call.path,
                query=self._scrub(str(query)) or "",
                request_headers=headers,
                request_body=self._scrub(truncate(call.request_body, self.max_body_bytes)),
                status=call.status,
                response_headers=dict(call.response_headers),
                response_body=self._scrub(truncate(call.response_body, self.max_body_bytes)),
                attempt=call.attempt,
                pks=tuple(call.pks),
                error=self._scrub(call.error),
            )
        )
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Hand the calls collected so far to the background writer."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._writes = [w for w in self._writes if not w.done()]
            self._writes.append(self._writer.submit(self.store.add_api_calls, self.run_id, pending))

    def close(self) -> None:
        """Write what is left and wait until every call is stored."""
        self.flush()
        for write in self._writes:
            try:
                write.result()
            except Exception as exc:  # the debugger must never fail a run
                log.warning("run %s: could not record API calls: %s", self.run_id, exc)
        self._writes = []
        self._writer.shutdown(wait=True)


def prune(store: RunStore, retention_days: float) -> int:
    """Forget recorded calls older than the retention; returns how many went."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    return store.prune_api_calls(cutoff)


def _pairs(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _mime(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value
    return "application/json"


def har(calls: Sequence[ApiCallRecord], *, base_url: str) -> dict[str, Any]:
    """A HAR 1.2 log of ``calls``; ``base_url`` is ``{api_url}/stores/{store_hash}``."""
    entries = []
    for call in calls:
        url = base_url.rstrip("/") + call.path + (f"?{call.query}" if call.query else "")
        request: dict[str, Any] = {
            "method": call.method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(call.request_headers),
            "queryString": [
                {"name": k, "value": v} for k, v in urllib.parse.parse_qsl(call.query or "")
            ],
            "headersSize": -1,
            "bodySize": len((call.request_body or "").encode()),
        }
        if call.request_body is not None:
            request["postData"] = {
                "mimeType": _mime(call.request_headers),
                "text": call.request_body,
            }
        body = call.response_body or ""
        response = {
            "status": call.status or 0,
            "statusText": STATUS_TEXT.get(call.status or 0, call.error or ""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _pairs(call.response_headers),
            "content": {
                "size": len(body.encode()),
                "mimeType": _mime(call.response_headers),
                "text": body,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(body.encode()) if call.status else -1,
        }
        entries.append(
            {
                "startedDateTime": call.started_at.isoformat(),
                "time": round(call.duration_ms, 3),
                "request": request,
                "response": response,
                "cache": {},
                "timings": {"send": 0, "wait": round(call.duration_ms, 3), "receive": 0},
                "comment": f"attempt {call.attempt}; rows: {', '.join(call.pks) or '-'}"
                + (f"; error: {call.error}" if call.error else ""),
            }
        )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "bcsync", "version": __version__},
            "entries": entries,
        }
    }


def har_json(calls: Sequence[ApiCallRecord], *, base_url: str) -> str:
    return json.dumps(har(calls, base_url=base_url), indent=2)
