"""The Row page: one primary key of a sync across runs — its outcomes, the BigCommerce record it
holds (with its control-panel link), the calls that carried it, and a field-level before/after."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from bcsync.errors import ConfigError
from bcsync.web.app import project_of, render

router = APIRouter()


@router.get("/syncs/{sync}/rows/{pk:path}", response_class=HTMLResponse, name="row")
def row_page(request: Request, sync: str, pk: str, run: str | None = None) -> HTMLResponse:
    project = project_of(request)
    if sync not in project.config.syncs:
        raise HTTPException(status_code=404, detail=f"no sync {sync!r} in bcsync.yml")
    history = project.row_history(sync, pk)
    dest_id = project.held_record(sync, pk)
    if not history and dest_id is None:
        raise HTTPException(status_code=404, detail=f"no run of {sync} has row {pk!r}")
    try:
        fields = project.row_fields(sync, pk, run_id=run)
    except ConfigError as exc:  # no such run, or a run of another sync
        raise HTTPException(status_code=404, detail=str(exc)) from None
    calls = project.calls(fields.run_id, pk=pk).calls if fields is not None else []
    config = project.config.syncs[sync]
    context = {
        "title": f"Row {pk} of {sync}",
        "sync": sync,
        "object": config.object,
        "pk": pk,
        "history": history,
        "dest_id": dest_id,
        "control_panel": project.control_panel_url(sync, dest_id) if dest_id else None,
        "fields": fields,
        "calls": calls,
        "max_body_bytes": project.config.debugger.max_body_bytes,
    }
    return render(request, "row.html", context)
