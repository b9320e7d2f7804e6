"""The Syncs page and its actions: Run now, Plan, and Full resync (its guard override behind a
confirmation page). ``--read-only`` hides the actions and their routes answer 403. Each sync's
row also says its schedule in plain words and when it next runs, and a run waiting to start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bcsync.api import Project
from bcsync.errors import BcsyncError
from bcsync.vocabulary import RunStatus
from bcsync.web.app import UiSettings, project_of, render
from bcsync.web.masking import project_secrets, scrub
from bcsync.web.runner import AlreadyRunning, Runner, RunNotStarted
from bcsync.web.schedules import schedule_view
from bcsync.web.setup_mode import run_refusal

router = APIRouter(include_in_schema=False)

QUEUED_LOOKBACK = 5  # runs read to find the last run behind a queued one (at most one waits)


def runner_of(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


def read_only(request: Request) -> bool:
    settings: UiSettings = request.app.state.settings
    return settings.read_only


def forbidden(request: Request) -> HTMLResponse:
    return message_page(
        request,
        "Read-only",
        "This server was started with --read-only: it does not start runs or plans.",
        403,
    )


def message_page(request: Request, title: str, message: str, status: int) -> HTMLResponse:
    response = render(request, "syncs.html", {"title": title, "message": message, "rows": None})
    response.status_code = status
    return response


def unknown_sync(request: Request, name: str) -> HTMLResponse:
    return message_page(
        request, "No such sync", f"There is no sync named {name!r} in bcsync.yml.", 404
    )


def syncs_context(request: Request) -> dict[str, Any]:
    project = project_of(request)
    activity = {found.sync: found for found in project.sync_activity()}
    now = datetime.now(UTC)
    rows = []
    for name, sync in project.config.syncs.items():
        found = activity.get(name)
        last, queued = found.last if found else None, None
        if last is not None and last.status == RunStatus.QUEUED:
            # A run waiting to start is not the last run: show the one before it as that.
            queued = last
            earlier = project.sync_history(name, limit=QUEUED_LOOKBACK).runs
            last = next((run for run in earlier if run.status != RunStatus.QUEUED), None)
        rows.append(
            {
                "name": name,
                "sync": sync,
                "activity": found,
                "last": last,
                "queued": queued,
                "schedule": schedule_view(sync, now, n=1),
            }
        )
    return {"rows": rows, "title": "Syncs"}


@router.get("/", response_class=HTMLResponse, name="syncs")
def syncs_page(request: Request) -> HTMLResponse:
    return render(request, "syncs.html", syncs_context(request))


def start_run(
    request: Request, name: str, *, full_resync: bool = False, override_guards: bool = False
) -> Response:
    """Start a run from a form and go to its page; the Syncs page says why when it cannot."""
    project = project_of(request)
    if read_only(request):
        return forbidden(request)
    refusal = run_refusal(request)
    if refusal is not None:
        return message_page(request, "The run did not start", refusal, 409)
    if name not in project.config.syncs:
        return unknown_sync(request, name)
    try:
        run_id = runner_of(request).start(
            project,
            name,
            full_resync=full_resync,
            override_guards=override_guards,
            trigger="manual",
        )
    except AlreadyRunning as exc:
        context = syncs_context(request) | {"message": str(exc), "running_id": exc.run_id}
        response = render(request, "syncs.html", context)
        response.status_code = 409
        return response
    except (RunNotStarted, BcsyncError) as exc:
        text = scrub(str(exc), project_secrets(project.config))
        return message_page(request, "The run did not start", text, 500)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/syncs/{name}/run", name="run_now")
def run_now(request: Request, name: str) -> Response:
    return start_run(request, name)


@router.post("/syncs/{name}/plan", response_class=HTMLResponse, name="plan_sync")
def plan(request: Request, name: str) -> Response:
    project = project_of(request)
    if read_only(request):
        return forbidden(request)
    refusal = run_refusal(request)
    if refusal is not None:
        return message_page(request, "No plan", refusal, 409)
    if name not in project.config.syncs:
        return unknown_sync(request, name)
    context: dict[str, Any] = {"title": f"Plan of {name}", "name": name}
    status = 200
    try:
        # A Project of its own: an engine's rate governors belong to one event loop at a time.
        context["plan"] = Project(project.config).plan(name)
    except BcsyncError as exc:
        context["error"] = scrub(str(exc), project_secrets(project.config))
        status = 422
    response = render(request, "plan.html", context)
    response.status_code = status
    return response


@router.get("/syncs/{name}/resync", response_class=HTMLResponse, name="confirm_resync")
def confirm_resync(request: Request, name: str) -> Response:
    project = project_of(request)
    if read_only(request):
        return forbidden(request)
    if name not in project.config.syncs:
        return unknown_sync(request, name)
    sync = project.config.syncs[name]
    return render(
        request,
        "confirm.html",
        {"title": f"Full resync of {name}", "name": name, "sync": sync},
    )


@router.post("/syncs/{name}/resync", name="full_resync")
def full_resync(request: Request, name: str, override_guards: str | None = Form(None)) -> Response:
    return start_run(request, name, full_resync=True, override_guards=override_guards == "yes")
