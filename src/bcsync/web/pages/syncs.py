"""The Syncs page: every sync with its object, mode, destination and last run."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bcsync.web.app import project_of, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, name="syncs")
def syncs_page(request: Request) -> HTMLResponse:
    project = project_of(request)
    rows = []
    for name, sync in project.config.syncs.items():
        last = project.runs(name, limit=1)
        rows.append({"name": name, "sync": sync, "last": last[0] if last else None})
    return render(request, "syncs.html", {"rows": rows, "title": "Syncs"})
