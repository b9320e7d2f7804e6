"""Field routes: every field a mapping can name in the store, and a new customer attribute.

The list is the store's own (native fields with their types, its customer attributes, form
fields, metafield namespaces); creating an attribute needs the destination's token saved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bcsync.destinations.bigcommerce.store_fields import create_attribute, list_fields
from bcsync.errors import ApiError
from bcsync.web.app import project_of
from bcsync.web.pages.setup_api.bodies import (
    PREFIX,
    AttributeRequest,
    Json,
    openapi_body,
    parse_body,
)
from bcsync.web.pages.setup_api.destinations import usable_destination
from bcsync.web.pages.setup_api.errors import Failure, guarded, require_writable

router = APIRouter(prefix=PREFIX, tags=["setup"])


def _object(value: str) -> str:
    if value not in ("customers", "orders"):
        raise Failure(422, "object must be customers or orders")
    return value


@router.get("/destinations/{name}/fields", summary="Every field a mapping can name in the store")
def destination_fields(
    request: Request, name: str, object: Annotated[str, Query()] = "customers"
) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        if name not in config.destinations:
            raise Failure(404, f"no destination named {name!r} in bcsync.yml")
        return list_fields(usable_destination(config, name), _object(object)).to_json()

    return guarded(request, work)


@router.post(
    "/destinations/{name}/attributes",
    summary="Create a customer attribute",
    openapi_extra=openapi_body(AttributeRequest),
)
def new_attribute(request: Request, name: str, raw: Json) -> Any:
    config = project_of(request).config

    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(AttributeRequest, raw)
        if name not in config.destinations:
            raise Failure(404, f"no destination named {name!r} in bcsync.yml")
        destination = usable_destination(config, name)
        if destination is None:
            raise Failure(409, f"destination {name!r} is not set up yet: save its token first")
        try:
            created = create_attribute(destination, body.name, body.type)
        except ValueError as exc:
            raise Failure(422, str(exc)) from None
        except ApiError as exc:
            raise Failure(exc.status if exc.status in (409, 422) else 502, str(exc)) from None
        return {
            "id": created.get("id"),
            "name": created.get("name", body.name),
            "type": created.get("type", body.type),
            "field": f"attributes.{created.get('name', body.name)}",
        }

    return guarded(request, work)
