"""``POST /api/v1/setup/syncs/check``: a sync checked before it is saved.

It answers 200 with the problems rather than a 422: the form shows them as it goes. Once the
sync validates, each mapping's column type is checked against its store field, mappings are
suggested by name, and the first run is planned (reading the warehouse and the store; it writes
only the snapshot's hash cache) unless the body says ``"plan": false``: planning takes seconds,
too slow for the checks the form makes as the user types; its Review step plans.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from bcsync.api import Project
from bcsync.config.editing.document import unified_diff
from bcsync.config.project import DestinationConfig, ProjectConfig
from bcsync.destinations.bigcommerce.mapping_checks import check_mapping, suggest
from bcsync.destinations.bigcommerce.store_fields import FieldList, list_fields
from bcsync.errors import BcsyncError
from bcsync.run.preflight import model_types
from bcsync.web.pages.setup_api.bodies import PREFIX, Json, SyncCheck, openapi_body, parse_body
from bcsync.web.pages.setup_api.destinations import usable_destination
from bcsync.web.pages.setup_api.edit import Edit
from bcsync.web.pages.setup_api.errors import (
    Failure,
    guarded,
    require_writable,
    scrubbed,
    secrets_of,
)
from bcsync.web.pages.setup_api.refusals import refuse_unsafe
from bcsync.web.pages.setup_api.syncs import name_taken, sync_entry
from bcsync.web.schedules import schedule_view

router = APIRouter(prefix=PREFIX, tags=["setup"])
INVALID_SHOWN = 5  # the review lists the first invalid rows of the plan, with their reason


@router.post(
    "/syncs/check",
    summary="Check a sync before saving it: problems, types, diff, plan",
    openapi_extra=openapi_body(SyncCheck),
)
def check_sync(request: Request, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(SyncCheck, raw)
        edit = Edit.open(request)
        sync_body = sync_entry(body.name, body.sync)
        try:
            if body.create and body.name in edit.document.section("syncs"):
                raise name_taken(body.name)
            refuse_unsafe(edit, body.name, sync_body)
        except Failure as failure:
            return {
                "problems": [p.to_json() for p in failure.problems],
                "mapping_checks": [],
                "suggestions": [],
                "diff": "",
                "next_runs": [],
                "plan": None,
            }
        edit.document.set_entry("syncs", body.name, sync_body)
        answer: dict[str, Any] = {
            "problems": [],
            "mapping_checks": [],
            "suggestions": [],
            "diff": unified_diff(edit.before, edit.after),
            "next_runs": [],
            "plan": None,
        }
        try:
            config = edit.validate()
        except Failure as failure:
            answer["problems"] = [p.to_json() for p in failure.problems]
            return answer
        sync = config.syncs[body.name]
        now = datetime.now(UTC)
        answer["next_runs"] = [tick.utc.isoformat() for tick in schedule_view(sync, now).next_runs]
        try:
            column_types = model_types(config, sync)
        except BcsyncError as exc:
            answer["problems"].append({"path": f"syncs.{body.name}.model", "message": str(exc)})
            return answer
        destination = usable_destination(config, sync.destination)
        fields: FieldList = list_fields(destination, sync.object)
        by_field = {entry.field: entry for entry in fields.fields}
        checks = [
            check_mapping(m.column, m.field, column_types, by_field, store_read=fields.store_read)
            for m in sync.mappings
        ]
        answer["mapping_checks"] = [check.to_json() for check in checks]
        mapped = {m.column: m.field for m in sync.mappings}
        answer["suggestions"] = [
            {"column": column, "field": field}
            for column, field in suggest(list(column_types), fields.fields, mapped)
        ]
        if body.plan:
            answer.update(first_run_plan(config, body.name, destination))
            answer["problems"].extend(nothing_to_send(body.name, answer.get("plan")))
        return answer

    return guarded(request, lambda: scrubbed(work(), secrets_of(request)))


def first_run_plan(
    config: ProjectConfig, name: str, destination: DestinationConfig | None
) -> dict[str, Any]:
    """``{"plan": ...}`` for the sync's first run, or ``{"plan_error": why}``. The slow part of
    a check (it reads the whole model and the store): the form's live checks skip it."""
    if destination is None:
        sync = config.syncs[name]
        return {"plan_error": f"destination {sync.destination!r} is not set up yet"}
    try:
        plan = Project(config).plan(name)
    except BcsyncError as exc:
        return {"plan_error": str(exc)}
    document = plan.to_json()
    return {
        "plan": {
            "counts": document["counts"],
            "operations": document["operations"],
            "estimated_api_calls": document["estimated_api_calls"],
            "estimated_seconds": document["estimated_seconds"],
            "invalid_rows": [dict(row) for row in plan.invalid_rows[:INVALID_SHOWN]],
        }
    }


def nothing_to_send(name: str, plan: dict[str, Any] | None) -> list[dict[str, str]]:
    """A problem when every row of the model is invalid (a key full of duplicates, a field
    every row breaks): such a sync saves fine and then never sends a thing."""
    counts = (plan or {}).get("counts") or {}
    queried, invalid = counts.get("queried", 0), counts.get("invalid", 0)
    if not queried or invalid < queried:
        return []
    first = (plan or {}).get("invalid_rows") or [{}]
    why = first[0].get("reason") or "see the invalid rows"
    return [
        {
            "path": f"syncs.{name}.model",
            "message": f"all {queried} rows of the model are invalid and would not be sent: {why}",
        }
    ]
