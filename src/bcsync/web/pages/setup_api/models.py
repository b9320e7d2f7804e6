"""Model routes: the warehouse's tables, and a model's first rows, columns and key warnings.

A preview reads the warehouse as a run would; its rows are masked like every answer, since a
model can read ``.env`` as well as any file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from bcsync.config.editing.loading import EditProblem
from bcsync.config.project import ModelConfig
from bcsync.errors import BcsyncError
from bcsync.warehouse.preview import PREVIEW, list_tables, open_for_preview, preview_model
from bcsync.web.app import project_of
from bcsync.web.pages.setup_api.bodies import (
    PREFIX,
    Json,
    PreviewRequest,
    openapi_body,
    parse_body,
)
from bcsync.web.pages.setup_api.errors import (
    Failure,
    guarded,
    require_writable,
    scrubbed,
    secrets_of,
)
from bcsync.web.pages.setup_api.refusals import outside_files

router = APIRouter(prefix=PREFIX, tags=["setup"])


@router.get("/warehouse/tables", summary="The warehouse's tables and views")
def warehouse_tables(request: Request) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        warehouse = open_for_preview(
            config.resolve_url(config.warehouse.url), project_dir=config.project_dir
        )
        try:
            tables = list_tables(warehouse)
        finally:
            warehouse.close()
        return {"tables": [{"schema": schema, "name": name} for schema, name in tables]}

    return guarded(request, work)


@router.post(
    "/models/preview",
    summary="A model's first rows, columns and key warnings",
    openapi_extra=openapi_body(PreviewRequest),
)
def preview(request: Request, raw: Json) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(PreviewRequest, raw)
        given = {key: getattr(body, key) for key in ("sql", "table", "file") if getattr(body, key)}
        outside = outside_files(config.project_dir, None, given, "model")
        if outside:
            raise Failure(422, "the model cannot be read", outside)
        try:
            model = ModelConfig.model_validate(
                {**given, "primary_key": body.primary_key or "-"},
                context={"project_dir": config.project_dir},
            )
        except ValidationError as exc:
            problems = [
                EditProblem(".".join(str(p) for p in error["loc"]) or "model", error["msg"])
                for error in exc.errors(include_url=False)
            ]
            raise Failure(422, "the model cannot be read", problems) from None
        warehouse = open_for_preview(
            config.resolve_url(config.warehouse.url), project_dir=config.project_dir
        )
        try:
            shown = preview_model(warehouse, model, limit=body.limit, key=body.primary_key)
            answer: dict[str, Any] = scrubbed(shown.to_json(), secrets_of(request))
            return answer
        except BcsyncError as exc:  # the warehouse's words, without the stand-in sync name
            raise Failure(422, str(exc).replace(f"sync '{PREVIEW}': ", "")) from None
        finally:
            warehouse.close()

    return guarded(request, work)
