"""The Sync page: its schedule and next five fire times, its configuration as written (secrets
masked), its run history (filtered by GET parameters, paged by key) and a chart of rows sent and
rejected per run."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bcsync.state.run_history import RUNNING, RunCursor, RunFilter
from bcsync.vocabulary import FINISHED, RunStatus
from bcsync.web.app import project_of, render
from bcsync.web.charts import RunBar, sent_and_rejected
from bcsync.web.live import duration_text
from bcsync.web.masking import masked_config
from bcsync.web.pages.syncs import unknown_sync
from bcsync.web.schedules import schedule_view

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_PAGE = 200
STATUS_CHOICES = (str(RunStatus.QUEUED), RUNNING, *(str(status) for status in FINISHED))


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _filters(request: Request) -> tuple[RunFilter, dict[str, str], list[str]]:
    """The filter the query asks for, the parameters that made it (for links), and what of the
    query was not understood (said on the page, then ignored)."""
    query = request.query_params
    problems: list[str] = []
    status = query.get("status") or None
    if status is not None and status not in STATUS_CHOICES:
        problems.append(f"unknown status {status!r}")
        status = None
    since, until = _day(query.get("since")), _day(query.get("until"))
    for key, parsed in (("since", since), ("until", until)):
        if query.get(key) and parsed is None:
            problems.append(f"{key}: not a date (YYYY-MM-DD)")
    where = RunFilter(
        status=status,
        has_rejections=query.get("rejections") == "yes",
        zero_operations=query.get("zero_ops") == "yes",
        since=since,
        until=until,
    )
    kept = {
        "status": status or "",
        "rejections": "yes" if where.has_rejections else "",
        "zero_ops": "yes" if where.zero_operations else "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    return where, {k: v for k, v in kept.items() if v}, problems


def _duration(run: Any) -> str:
    if run.status == RunStatus.QUEUED:
        return "waiting to start"
    if run.finished_at is None:
        return "running" if run.running else ""
    return duration_text((run.finished_at - run.started_at).total_seconds())


@router.get("/syncs/{name}", response_class=HTMLResponse, name="sync")
def sync_page(request: Request, name: str) -> HTMLResponse:
    project = project_of(request)
    if name not in project.config.syncs:
        return unknown_sync(request, name)
    where, kept, problems = _filters(request)
    limit = PAGE_SIZE
    if (asked := request.query_params.get("limit", "")).isdigit() and 1 <= int(asked) <= MAX_PAGE:
        limit = int(asked)
        kept["limit"] = asked
    before: RunCursor | None = None
    if cursor := request.query_params.get("before"):
        try:
            before = RunCursor.parse(cursor)
        except ValueError:
            problems.append("the page link is not valid: showing the newest runs")
    page = project.sync_history(name, where=where, before=before, limit=limit)
    older = (
        f"/syncs/{name}?" + urlencode({**kept, "before": page.next.text()})
        if page.next is not None
        else None
    )
    newest = f"/syncs/{name}" + (f"?{urlencode(kept)}" if kept else "")
    filtered = any(key != "limit" for key in kept)
    chart = sent_and_rejected(
        [
            RunBar(
                f"{run.started_at:%Y-%m-%d %H:%M} {run.status}",
                run.counts.succeeded,
                run.counts.rejected,
                f"/runs/{run.run_id}",
            )
            for run in reversed(page.runs)
        ],
        title=f"Rows sent and rejected per run of {name}",
    )
    return render(
        request,
        "sync.html",
        {
            "title": name,
            "name": name,
            "sync": project.config.syncs[name],
            "schedule": schedule_view(project.config.syncs[name]),
            "config_text": masked_config(project.config, name),
            "runs": [{"run": run, "duration": _duration(run)} for run in page.runs],
            "filters": kept,
            "filtered": filtered,
            "statuses": STATUS_CHOICES,
            "problems": problems,
            "older": older,
            "newest": newest if before is not None else None,
            "chart": chart,
        },
    )
