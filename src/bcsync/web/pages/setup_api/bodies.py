"""The JSON bodies the setup API takes, parsed by the API itself.

``parse_body`` turns a body that does not fit into the API's own 422 (the keys named, nothing
quoted back); ``openapi_body`` documents such a route's body in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bcsync.config.editing.loading import EditProblem
from bcsync.warehouse.preview import DEFAULT_ROWS, MAX_ROWS
from bcsync.web.pages.setup_api.errors import Failure

# Where every route of this API lives.
PREFIX = "/api/v1/setup"

Json = Annotated[Any, Body()]
M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: Any) -> M:
    """The request's JSON as ``model``; a 422 naming the keys otherwise. Done here rather than
    by FastAPI, whose 422 quotes the request back (the access token with it)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [
            EditProblem(".".join(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise Failure(422, "the request's JSON is not what this route takes", problems) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its JSON itself (``parse_body``)."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}


class DestinationCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_hash: str
    access_token: str = Field(repr=False)
    api_url: str | None = None


class DestinationEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_hash: str
    access_token: str | None = Field(default=None, repr=False, description="omitted: keep")
    api_url: str | None = Field(default=None, description="omitted: keep; empty: the real API")
    version: str
    dry_run: bool = False


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str | None = None
    table: str | None = None
    file: str | None = None
    primary_key: str | None = None
    limit: int = Field(default=DEFAULT_ROWS, ge=1, le=MAX_ROWS)


class AttributeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    type: Literal["string", "number", "date"]


class SyncCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sync: dict[str, Any]
    plan: bool = Field(
        default=True, description="false: skip planning the first run (the form's live checks)"
    )
    create: bool = Field(default=False, description="true: a new sync (its name must be free)")


class SyncEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sync: dict[str, Any]
    version: str
    dry_run: bool = False
    create: bool = Field(
        default=False, description="true: add a new sync; refused if one has that name already"
    )


class SyncDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    state: Literal["keep", "reset"] = "keep"
    dry_run: bool = False


class SyncCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_name: str
    version: str
    dry_run: bool = False
