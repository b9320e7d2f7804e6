"""The Run page: timeline, counts, the raw error, and the rejected and invalid rows grouped by
message (searchable by primary key, exportable as CSV and JSON), live while the run is going."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from bcsync.api import Project
from bcsync.errors import ConfigError
from bcsync.state import RunRecord
from bcsync.web.app import Key, project_of, render
from bcsync.web.live import progress_events, run_progress, timeline

router = APIRouter()

GROUP_ROWS = 20  # rows listed under each message; the rest are a "next rows" link away
# Messages listed: BigCommerce's often quote the row (``the email 'a@b.c' is already in use``),
# so a run of many rejections can have as many messages as rows; the page lists the most shared
# ones (each costs a query) and says that more follow.
MAX_GROUPS = 50
EXPORT_FIELDS = ("pk", "outcome", "op", "error", "dest_id")


def found_run(project: Project, run_id: str) -> RunRecord:
    """The run, or a 404 naming what was asked for."""
    try:
        return project.run_record(run_id)
    except ConfigError:
        raise HTTPException(status_code=404, detail=f"no run {run_id!r} in the run store") from None


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="run")
def run_page(
    request: Request,
    run_id: str,
    pk: str | None = None,
    outcome: str | None = None,
    error: str | None = None,
    after: Key = 0,
) -> HTMLResponse:
    project = project_of(request)
    run = found_run(project, run_id)
    pk = pk.strip() if pk and pk.strip() else None
    groups = []
    # One group's next rows: that group, wherever it ranks; else the most shared messages.
    found = project.error_groups(
        run.run_id, pk=pk, limit=None if outcome is not None else MAX_GROUPS + 1
    )
    more_groups = outcome is None and len(found) > MAX_GROUPS
    for group in found[:MAX_GROUPS] if outcome is None else found:
        # ``outcome``/``error`` given: the next page of that one group (keyset paging by row).
        if outcome is not None and (group.outcome, group.error or "") != (outcome, error or ""):
            continue
        start = after if outcome is not None else 0
        rows = project.error_group_rows(
            run.run_id,
            group.outcome,
            group.error,
            after=start,
            limit=GROUP_ROWS + 1,
            pk=pk,
        )
        more = rows[GROUP_ROWS - 1].id if len(rows) > GROUP_ROWS else None
        groups.append({"group": group, "rows": rows[:GROUP_ROWS], "after": more})
    # A searched row that is not a problem row: say what happened to it instead.
    searched = project.calls(run.run_id, pk=pk).outcome if pk and not groups else None
    context = {
        "title": f"Run {run.run_id[:8]}",
        "searched": searched,
        "run": run,
        "progress": run_progress(run),
        "phases": timeline(run),
        "groups": groups,
        "pk": pk or "",
        "one_group": outcome is not None,
        "more_groups": more_groups,
        "max_groups": MAX_GROUPS,
    }
    return render(request, "run.html", context)


@router.get("/runs/{run_id}/events", name="run_events")
def run_events(request: Request, run_id: str) -> StreamingResponse:
    """Server-sent events: the run's progress until it finishes (see ``web.live``)."""
    project = project_of(request)
    run = found_run(project, run_id)
    return StreamingResponse(
        progress_events(lambda: project.run_record(run.run_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/runs/{run_id}/rows.csv", name="run_rows_csv")
def run_rows_csv(request: Request, run_id: str) -> StreamingResponse:
    """Every rejected and invalid row of the run as CSV."""
    project = project_of(request)
    run = found_run(project, run_id)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_FIELDS)
        for row in project.problem_rows(run.run_id):
            writer.writerow([_csv_cell(v) for v in _export(row).values()])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="run-{run.run_id}-rows.csv"'},
    )


@router.get("/runs/{run_id}/rows.json", name="run_rows_json")
def run_rows_json(request: Request, run_id: str) -> StreamingResponse:
    """Every rejected and invalid row of the run as a JSON document ``{run_id, sync, rows}``."""
    project = project_of(request)
    run = found_run(project, run_id)

    def chunks() -> Iterator[str]:  # ~64 KB a chunk: each one is a hop to the event loop
        parts = [f'{{"run_id": {json.dumps(run.run_id)}, "sync": {json.dumps(run.sync)}, "rows": [']
        size = 0
        for index, row in enumerate(project.problem_rows(run.run_id)):
            part = ("," if index else "") + json.dumps(_export(row))
            parts.append(part)
            size += len(part)
            if size > 64_000:
                yield "".join(parts)
                parts, size = [], 0
        parts.append("]}")
        yield "".join(parts)

    return StreamingResponse(
        chunks(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="run-{run.run_id}-rows.json"'},
    )


def _export(row: object) -> dict[str, str | None]:
    return {key: getattr(row, key) for key in EXPORT_FIELDS}


# A cell a spreadsheet would read as a formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``, or one
# behind a tab or a line break): a primary key or a message quoting a warehouse value can be one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _csv_cell(value: str | None) -> str:
    """A value as a CSV cell that opens as text: a leading ``'`` before a formula's start."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value
