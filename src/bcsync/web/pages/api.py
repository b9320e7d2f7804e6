"""The JSON API under ``/api/v1``, documented at ``/api/v1/openapi.json``.

An orchestrator triggers a run (``POST /api/v1/syncs/{name}/runs`` → 202 and its ``run_id``) and
polls it (``GET /api/v1/runs/{run_id}`` until ``finished`` is true: a ``queued`` run, waiting for
a worker or for the sync's run in progress, is not ``running`` yet; ``bcsync.client`` does
this); the run's rows and API calls come a page at a time, each page naming the cursor of the
next. With a UI token, every route takes ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bcsync.api import Project
from bcsync.errors import BcsyncError, ConfigError
from bcsync.state.records import AlertStateRecord, RunRecord
from bcsync.vocabulary import FINISHED, Outcome
from bcsync.web.app import UiSettings, project_of
from bcsync.web.masking import project_secrets, scrub
from bcsync.web.runner import AlreadyRunning, Runner, RunNotStarted
from bcsync.web.schedules import schedule_view
from bcsync.web.setup_mode import run_refusal

MAX_PAGE = 1000


class Problem(BaseModel):
    detail: str


class Conflict(Problem):
    run_id: str | None = Field(default=None, description="the run in progress, when known")


class RunSummary(BaseModel):
    run_id: str
    status: str
    trigger: str | None
    running: bool
    finished: bool  # a final status; a queued run is neither running nor finished
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    api_calls: int

    @classmethod
    def of(cls, run: RunRecord) -> RunSummary:
        return cls(
            run_id=run.run_id,
            status=str(run.status),
            trigger=run.trigger,
            running=run.running,
            finished=run.status in FINISHED,
            started_at=run.started_at,
            finished_at=run.finished_at,
            counts=dict(run.counts),
            api_calls=run.api_calls,
        )


class OpenAlert(BaseModel):
    trigger: str
    state: str
    since: datetime
    run_id: str | None

    @classmethod
    def of(cls, alert: AlertStateRecord) -> OpenAlert:
        return cls(
            trigger=alert.trigger,
            state=alert.state,
            since=alert.updated_at,
            run_id=alert.last_run_id,
        )


class SyncOut(BaseModel):
    name: str
    object: str
    mode: str
    destination: str
    last_run: RunSummary | None
    running_run_id: str | None = Field(description="the run in progress, if any")
    open_alerts: list[OpenAlert]
    schedule: dict[str, Any] | None = Field(
        description="the schedule of bcsync.yml as data, plus its `description` in plain words;"
        " null: manual only"
    )
    next_runs: list[datetime] = Field(
        description="the next five fire times, UTC (none for manual and `after:` schedules)"
    )
    on_overlap: str = Field(description="skip | queue_one: a tick while a run is going")
    misfire_grace_seconds: float = Field(description="how late a tick may still fire")


class SyncList(BaseModel):
    syncs: list[SyncOut]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_resync: bool = False
    override_guards: bool = Field(
        default=False, description="delete or clear even when a delete guard would stop the run"
    )


class RunAccepted(BaseModel):
    run_id: str
    sync: str
    url: str = Field(description="where to poll the run")


class RunOut(BaseModel):
    """The JSON of ``bcsync run --json`` (DESIGN §1.2), plus ``trigger``, ``running``,
    ``finished`` and ``sent`` (the added, changed and removed rows, each split into succeeded
    and rejected)."""

    run_id: str
    sync: str
    status: str = Field(
        description="queued (waiting to start); querying | planning | syncing while running;"
        " then how it ended"
    )
    trigger: str | None
    running: bool
    finished: bool = Field(
        description="the run has ended (poll until this is true: a queued run is not running yet)"
    )
    started_at: str
    finished_at: str | None
    error: str | None
    counts: dict[str, int]
    sent: dict[str, dict[str, int]]
    api_calls: int
    rejected_rows: list[dict[str, Any]]
    invalid_rows: list[dict[str, Any]]


class RowOut(BaseModel):
    pk: str
    outcome: str
    op: str | None
    error: str | None
    dest_id: str | None


class RowPage(BaseModel):
    run_id: str
    rows: list[RowOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: last")


class CallOut(BaseModel):
    seq: int
    started_at: datetime
    duration_ms: float
    method: str
    path: str
    query: str
    status: int | None
    attempt: int
    pks: list[str]
    error: str | None
    request_headers: dict[str, str]
    request_body: str | None
    response_headers: dict[str, str]
    response_body: str | None


class CallPage(BaseModel):
    run_id: str
    calls: list[CallOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: last")


router = APIRouter(prefix="/api/v1", tags=["bcsync"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such sync or run"}
}


def _absent_if_empty(value: object) -> object:
    return value if value != "" else None  # ``?cursor=&outcome=`` mean "not given"


Cursor = Annotated[
    str | None,
    Query(pattern=r"^(\d{1,18})?$", description="next_cursor of the page before"),
]
OutcomeQuery = Annotated[Outcome | None, BeforeValidator(_absent_if_empty), Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _run_or_404(project: Project, run_id: str) -> RunRecord:
    try:
        return project.run_record(run_id)
    except ConfigError:
        raise HTTPException(404, f"no run {run_id!r}") from None


@router.get(
    "/syncs",
    response_model=SyncList,
    summary="Every sync, its schedule and next runs, its last run and alerts",
)
def list_syncs(request: Request) -> SyncList:
    project = project_of(request)
    activity = {found.sync: found for found in project.sync_activity()}
    out = []
    now = datetime.now(UTC)
    for name, sync in project.config.syncs.items():
        found = activity.get(name)
        plan = schedule_view(sync, now)
        out.append(
            SyncOut(
                name=name,
                object=sync.object,
                mode=sync.mode,
                destination=sync.destination,
                last_run=RunSummary.of(found.last) if found and found.last else None,
                running_run_id=found.live.run_id if found and found.live else None,
                open_alerts=[OpenAlert.of(alert) for alert in found.alerts] if found else [],
                schedule=plan.to_json(sync),
                next_runs=[tick.utc for tick in plan.next_runs],
                on_overlap=plan.on_overlap,
                misfire_grace_seconds=plan.misfire_grace_seconds,
            )
        )
    return SyncList(syncs=out)


@router.post(
    "/syncs/{name}/runs",
    status_code=202,
    response_model=RunAccepted,
    summary="Start a run of the sync",
    responses={
        **NOT_FOUND,
        403: {"model": Problem, "description": "the server is read-only"},
        409: {
            "model": Conflict,
            "description": "a run of the sync is already in progress, or the project is not set"
            " up yet",
        },
    },
)
def trigger_run(
    request: Request, name: str, body: Annotated[RunRequest | None, Body()] = None
) -> RunAccepted | JSONResponse:
    project = project_of(request)
    settings: UiSettings = request.app.state.settings
    if settings.read_only:
        raise HTTPException(403, "this server is read-only (--read-only): it starts no runs")
    refusal = run_refusal(request)
    if refusal is not None:
        raise HTTPException(409, refusal)
    if name not in project.config.syncs:
        raise HTTPException(404, f"no sync named {name!r}")
    options = body or RunRequest()
    runner: Runner = request.app.state.runner
    try:
        run_id = runner.start(
            project,
            name,
            full_resync=options.full_resync,
            override_guards=options.override_guards,
            trigger="api",
        )
    except AlreadyRunning as exc:
        detail: dict[str, Any] = {"detail": str(exc)}
        if exc.run_id is not None:
            detail["run_id"] = exc.run_id
        return JSONResponse(detail, status_code=409)
    except (RunNotStarted, BcsyncError) as exc:
        raise HTTPException(500, scrub(str(exc), project_secrets(project.config))) from None
    return RunAccepted(run_id=run_id, sync=name, url=f"/api/v1/runs/{run_id}")


@router.get(
    "/runs/{run_id}",
    response_model=RunOut,
    summary="One run, as `bcsync run --json` prints it",
    responses=NOT_FOUND,
)
def get_run(request: Request, run_id: str) -> RunOut:
    project = project_of(request)
    record = _run_or_404(project, run_id)
    result = project.result(record.run_id)
    return RunOut.model_validate(
        {
            **result.to_json(),
            # The record's status: a run whose process is gone reads as interrupted.
            "status": str(record.status),
            "error": record.error,
            "trigger": record.trigger,
            "running": record.running,
            "finished": record.status in FINISHED,
            "sent": record.sent.to_json(),
        }
    )


@router.get(
    "/runs/{run_id}/rows",
    response_model=RowPage,
    summary="The run's row outcomes, a page at a time",
    responses=NOT_FOUND,
)
def run_rows(
    request: Request,
    run_id: str,
    outcome: OutcomeQuery = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> RowPage:
    project = project_of(request)
    record = _run_or_404(project, run_id)
    page = project.outcomes_page(
        record.run_id,
        outcome=outcome,
        after=int(cursor) if cursor else None,
        limit=limit,
    )
    return RowPage(
        run_id=record.run_id,
        rows=[
            RowOut(pk=r.pk, outcome=r.outcome, op=r.op, error=r.error, dest_id=r.dest_id)
            for r in page.rows
        ],
        next_cursor=str(page.next) if page.next is not None else None,
    )


@router.get(
    "/runs/{run_id}/calls",
    response_model=CallPage,
    summary="The run's API calls as the debugger recorded them (token redacted), paged",
    responses=NOT_FOUND,
)
def run_calls(request: Request, run_id: str, cursor: Cursor = None, limit: Limit = 100) -> CallPage:
    project = project_of(request)
    record = _run_or_404(project, run_id)
    page = project.calls_page(record.run_id, after=int(cursor) if cursor else None, limit=limit)
    return CallPage(
        run_id=record.run_id,
        calls=[
            CallOut(
                seq=c.seq,
                started_at=c.started_at,
                duration_ms=c.duration_ms,
                method=c.method,
                path=c.path,
                query=c.query,
                status=c.status,
                attempt=c.attempt,
                pks=list(c.pks),
                error=c.error,
                request_headers=dict(c.request_headers),
                request_body=c.request_body,
                response_headers=dict(c.response_headers),
                response_body=c.response_body,
            )
            for c in page.calls
        ],
        next_cursor=str(page.next) if page.next is not None else None,
    )
