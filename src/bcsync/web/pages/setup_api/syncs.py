"""Sync routes: add or change a sync, copy it under a new name, delete it.

Delete asks what to do with the sync's state: ``keep`` its snapshot (a sync of that name later
picks it up) or ``reset`` it (refused while a run of it is going).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bcsync.config.editing.loading import EditProblem
from bcsync.config.editing.writing import EDIT_LOCK, check_version
from bcsync.errors import SyncLockedError
from bcsync.web.app import project_of
from bcsync.web.pages.setup_api.bodies import (
    PREFIX,
    Json,
    SyncCopy,
    SyncDelete,
    SyncEdit,
    openapi_body,
    parse_body,
)
from bcsync.web.pages.setup_api.edit import Edit
from bcsync.web.pages.setup_api.errors import Failure, guarded, require_writable
from bcsync.web.pages.setup_api.refusals import refuse_unsafe

router = APIRouter(prefix=PREFIX, tags=["setup"])


def name_taken(name: str) -> Failure:
    """A new sync given the name of one in bcsync.yml: it would replace that one unseen."""
    return Failure(
        409,
        f"a sync named {name!r} exists already: give the new sync another name, or edit {name}",
        [EditProblem(f"syncs.{name}", "a sync of this name exists already: pick another name")],
    )


def sync_entry(name: str, sync: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(sync)
    if body.get("name") == name:
        del body["name"]  # the key is the name; bcsync.yml leaves it out
    return body


@router.put("/syncs/{name}", summary="Add or change a sync", openapi_extra=openapi_body(SyncEdit))
def put_sync(request: Request, name: str, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(SyncEdit, raw)
        edit = Edit.open(request)
        if body.create and name in edit.document.section("syncs"):
            raise name_taken(name)
        sync_body = sync_entry(name, body.sync)
        refuse_unsafe(edit, name, sync_body)
        edit.document.set_entry("syncs", name, sync_body)
        return edit.save(request, body.version, dry_run=body.dry_run)

    return guarded(request, work)


@router.post(
    "/syncs/{name}/duplicate",
    summary="Copy a sync under a new name",
    openapi_extra=openapi_body(SyncCopy),
)
def duplicate_sync(request: Request, name: str, raw: Json) -> Any:
    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(SyncCopy, raw)
        edit = Edit.open(request)
        syncs = edit.document.section("syncs")
        if name not in syncs:
            raise Failure(404, f"no sync named {name!r} in bcsync.yml")
        if body.new_name in syncs:
            raise Failure(
                422,
                f"a sync named {body.new_name!r} exists already",
                [EditProblem(f"syncs.{body.new_name}", "already defined")],
            )
        edit.document.copy_entry("syncs", name, body.new_name)
        return edit.save(request, body.version, dry_run=body.dry_run)

    return guarded(request, work)


@router.delete("/syncs/{name}", summary="Delete a sync; state=reset also forgets its snapshot")
def delete_sync(
    request: Request,
    name: str,
    version: Annotated[str | None, Query()] = None,
    state: Annotated[str, Query(description="keep | reset")] = "keep",
    dry_run: Annotated[str, Query(description="true | false")] = "false",
) -> Any:
    # Parsed here (``parse_body``), not by FastAPI: every error of this API has one shape.
    given = {"version": version, "state": state, "dry_run": dry_run}

    def work() -> dict[str, Any]:
        require_writable(request)
        query = parse_body(SyncDelete, {k: v for k, v in given.items() if v is not None})
        edit = Edit.open(request)
        if name not in edit.document.section("syncs"):
            raise Failure(404, f"no sync named {name!r} in bcsync.yml")
        edit.document.remove_entry("syncs", name)
        if query.dry_run:
            return edit.save(request, query.version, dry_run=True)
        with EDIT_LOCK:
            edit.validate()
            check_version(edit.config_path, query.version)
            forgotten = 0
            if query.state == "reset":
                project = project_of(request)
                if name in project.config.syncs:
                    try:
                        forgotten = project.reset(name)
                    except SyncLockedError as exc:  # its run still reads and writes the state
                        raise Failure(
                            409,
                            f"{name} is running, so its state cannot be reset now ({exc}): "
                            "wait for the run to end, or delete it keeping its state",
                        ) from None
            answer = edit.save(request, query.version, dry_run=False)
        return {**answer, "state": query.state, "rows_forgotten": forgotten}

    return guarded(request, work)
