"""The live debugger: a run's API calls, filtered by status class, endpoint, method and primary
key (GET parameters, so a filtered view is a URL to bookmark), paged by ``seq``; one call's
request and response; the HAR of the run or of the filter. While the run is going,
``debugger.js`` polls ``/runs/{id}/calls/live`` and appends the calls made since.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bcsync.api import HarTooLarge, Project
from bcsync.errors import ConfigError
from bcsync.state import ApiCallRecord, RunRecord
from bcsync.state.call_log import STATUS_CLASSES, CallFilter, endpoint_of
from bcsync.web.app import MAX_KEY, Key, OptionalKey, project_of, render

# A HAR is built in memory: about 2.6 KB a call, so 20,000 calls is some 50 MB.
HAR_MAX_CALLS = 20_000

router = APIRouter()

PAGE_SIZE = 100
LIVE_BATCH = 500
_RATE_PREFIX = "x-rate-limit-"
_SHOWN_PKS = 5


def _filter(
    status: str | None, endpoint: str | None, method: str | None, pk: str | None
) -> CallFilter:
    """The filter of the query parameters; an empty one (a form's "any") does not filter."""
    try:
        return CallFilter(
            status=status or None,
            endpoint=endpoint or None,
            method=method or None,
            pk=(pk or "").strip() or None,
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _run(project: Project, run_id: str) -> RunRecord:
    try:
        return project.run_record(run_id)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None


def status_class(status: int | None) -> str:
    return "error" if status is None else f"{status // 100}xx"


def rate_limit(headers: Mapping[str, str]) -> dict[str, str]:
    """The answer's ``X-Rate-Limit-*`` headers, by the rest of their name (``Requests-Left``)."""
    return {
        name[len(_RATE_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(_RATE_PREFIX)
    }


def _rate_text(headers: Mapping[str, str]) -> str:
    rate = {k.lower(): v for k, v in rate_limit(headers).items()}
    if not rate:
        return ""
    parts = []
    if "requests-left" in rate:
        parts.append(f"{rate['requests-left']}/{rate.get('requests-quota', '?')} left")
    if "time-reset-ms" in rate:
        parts.append(f"reset {rate['time-reset-ms']} ms")
    if "time-window-ms" in rate:
        parts.append(f"window {rate['time-window-ms']} ms")
    return " · ".join(parts)


def _pk_href(base: str, pk: str) -> str:
    return f"{base}?pk={quote(pk, safe='')}"


def call_view(request: Request, run_id: str, call: ApiCallRecord) -> dict[str, Any]:
    """What a row of the calls table shows (the page and ``debugger.js`` render the same)."""
    pks = list(call.pks)
    shown = ", ".join(pks[:_SHOWN_PKS])
    if len(pks) > _SHOWN_PKS:
        shown += f" +{len(pks) - _SHOWN_PKS} more"
    return {
        "seq": call.seq,
        "href": str(request.url_for("call", run_id=run_id, seq=call.seq)),
        "started": call.started_at.strftime("%H:%M:%S.%f")[:-3],
        "method": call.method,
        "path": call.path,
        "endpoint": endpoint_of(call.path),
        "status": str(call.status) if call.status is not None else "no answer",
        "status_class": status_class(call.status),
        "duration": f"{call.duration_ms:.0f} ms",
        "attempt": call.attempt,
        "rows": shown,
        "pks": pks,
        "rate": _rate_text(call.response_headers),
        # An answer's status says what went wrong (its call shows the rest); no answer: why.
        "error": (call.error or "") if call.status is None else "",
    }


def _url(request: Request, name: str, params: Mapping[str, Any], **path: Any) -> str:
    url = request.url_for(name, **path)
    return str(url.include_query_params(**params)) if params else str(url)


@router.get("/runs/{run_id}/calls", response_class=HTMLResponse, name="debugger")
def debugger_page(
    request: Request,
    run_id: str,
    status: str | None = None,
    endpoint: str | None = None,
    method: str | None = None,
    pk: str | None = None,
    after: OptionalKey = None,
    before: OptionalKey = None,
) -> HTMLResponse:
    project = project_of(request)
    where = _filter(status, endpoint, method, pk)
    run = _run(project, run_id)
    page = project.debugger_calls(run.run_id, where, after=after, before=before, limit=PAGE_SIZE)
    facets = project.call_facets(run.run_id)
    params = where.params()
    rid = run.run_id
    links = {
        "har_run": _url(request, "har", {}, run_id=rid),
        "har_filter": _url(request, "har", params, run_id=rid) if where.active else None,
        "unfiltered": _url(request, "debugger", {}, run_id=rid),
        "reload": str(request.url),
        "first": _url(request, "debugger", params, run_id=rid) if page.earlier else None,
        "earlier": _url(request, "debugger", params | {"before": page.first_seq}, run_id=rid)
        if page.earlier and page.first_seq is not None
        else None,
        "later": _url(request, "debugger", params | {"after": page.last_seq}, run_id=rid)
        if page.later and page.last_seq is not None
        else None,
    }
    # New calls are appended only at the tail: on the last page of a run still going.
    live = (
        _url(request, "debugger_live", params, run_id=rid)
        if run.running and not page.later
        else None
    )
    return render(
        request,
        "debugger.html",
        {
            "title": f"API calls of run {rid[:8]}",
            "run": run,
            "where": where,
            "facets": facets,
            "status_classes": STATUS_CLASSES,
            "calls": [call_view(request, rid, call) for call in page.calls],
            "links": links,
            "live_url": live,
            "last_seq": page.last_seq or after or 0,
            "run_href": f"/runs/{rid}",
        },
    )


@router.get("/runs/{run_id}/calls/live", name="debugger_live")
def debugger_live(
    request: Request,
    run_id: str,
    after: Key = 0,
    status: str | None = None,
    endpoint: str | None = None,
    method: str | None = None,
    pk: str | None = None,
) -> JSONResponse:
    """The calls after ``after`` that match, and whether the run is still going (JSON)."""
    project = project_of(request)
    where = _filter(status, endpoint, method, pk)
    run = _run(project, run_id)
    page = project.debugger_calls(run.run_id, where, after=after, limit=LIVE_BATCH)
    return JSONResponse(
        {
            "status": str(run.status),
            "running": run.running,
            "api_calls": run.api_calls,
            "calls": [call_view(request, run.run_id, call) for call in page.calls],
            "more": page.later,
        },
        headers={"Cache-Control": "no-store"},
    )


def pretty_body(text: str | None) -> tuple[str, bool]:
    """A body for reading: JSON indented (and whether it was JSON), anything else as it is."""
    if text is None or text == "":
        return "", False
    try:
        parsed = json.loads(text)
    except ValueError:
        return text, False
    return json.dumps(parsed, indent=2, ensure_ascii=False), True


@router.get("/runs/{run_id}/calls/{seq:int}", response_class=HTMLResponse, name="call")
def call_page(request: Request, run_id: str, seq: int) -> HTMLResponse:
    project = project_of(request)
    run = _run(project, run_id)
    call = project.call(run.run_id, seq) if seq <= MAX_KEY else None
    if call is None:
        raise HTTPException(404, f"run {run.run_id} has no API call #{seq}")
    request_body, request_json = pretty_body(call.request_body)
    response_body, response_json = pretty_body(call.response_body)
    debugger = str(request.url_for("debugger", run_id=run.run_id))
    return render(
        request,
        "call.html",
        {
            "title": f"Call #{call.seq} of run {run.run_id[:8]}",
            "run": run,
            "call": call,
            "view": call_view(request, run.run_id, call),
            "url": call.path + (f"?{call.query}" if call.query else ""),
            "request_body": request_body,
            "request_json": request_json,
            "response_body": response_body,
            "response_json": response_json,
            "rate": rate_limit(call.response_headers),
            "debugger": debugger,
            "pk_links": [
                (pk, _pk_href(debugger, pk), f"/syncs/{quote(run.sync, safe='')}/rows/{quote(pk)}")
                for pk in call.pks
            ],
            "previous": str(request.url_for("call", run_id=run.run_id, seq=seq - 1))
            if seq > 1
            else None,
            "next": str(request.url_for("call", run_id=run.run_id, seq=seq + 1))
            if seq < run.api_calls or run.running
            else None,
            "run_href": f"/runs/{run.run_id}",
        },
    )


@router.get("/runs/{run_id}/har", name="har")
def har_download(
    request: Request,
    run_id: str,
    status: str | None = None,
    endpoint: str | None = None,
    method: str | None = None,
    pk: str | None = None,
) -> Response:
    """The HAR of the run's calls (those of the filter, when one is given), as a download."""
    project = project_of(request)
    where = _filter(status, endpoint, method, pk)
    run = _run(project, run_id)
    try:
        document = project.filtered_har(run.run_id, where, max_calls=HAR_MAX_CALLS)
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    except HarTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    name = f"bcsync-{run.run_id[:8]}{'-filtered' if where.active else ''}.har"
    return Response(
        document,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
