"""Customer and order metafields (reference §4.10, §6.2–6.3): one table keyed by resource type.

Per-resource endpoints take one object; batch endpoints take arrays, are *not* atomic, and answer
a partial failure with 422 while keeping the items that succeeded.

The table follows ``core.py``'s contract: :meth:`MetafieldsTable.for_resource` feeds the customer
and order dumps, :meth:`MetafieldsTable.on_deleted` cascades a deleted customer's metafields. A
resource is known when its table's ``exists(id)`` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bcsync.emulator.core import Emulator
from bcsync.emulator.pagination import (
    QueryError,
    date_filters,
    paged,
    query_error_response,
    str_list,
)
from bcsync.emulator.responses import ERROR_TYPE, json_response, no_content, v3_data, v3_error
from bcsync.emulator.settings import EmulatorSettings

MAX_PER_RESOURCE = 250
PERMISSION_SETS = ("app_only", "read", "write", "read_and_sf_access", "write_and_sf_access")
# The API account owning the metafields. A fixed id, never derived from the token (a secret).
OWNER_CLIENT_ID = "bcsyncemulatorclient0000000000"
# resource_type -> (name of the table that knows the resources, URL prefix)
RESOURCES = {"order": ("orders", "/v3/orders"), "customer": ("customers", "/v3/customers")}
# Where the two specs differ, the emulator follows each resource's own spec:
# - orders.v3.yml: a PUT (single or batch) carries the whole metafield (MetafieldBase_Post);
#   customers.v3.yml: a PUT is partial (MetafieldBase_Put).
FULL_PUT = {"order": True, "customer": False}
# - customers.v3.yml: single POST/PUT answer {data: [metafield]}
#   (MetaFieldCollectionPostPutResponses)
#   and a single PUT names the metafield `id` in its body too; orders answer {data: metafield}.
SINGLE_AS_LIST = {"order": False, "customer": True}
NOT_FOUND_TITLE = "The resource at that URL is not found."
INVALID_TITLE = "JSON data is missing or invalid"


class MetafieldError(Exception):
    """A refused metafield write: the v3 status, title and per-field errors."""

    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}

    def response(self) -> Response:
        if self.status == 404:  # the documented 404 body carries no `errors`
            body = {"status": 404, "title": self.title, "type": ERROR_TYPE}
            return JSONResponse(body, status_code=404)
        return v3_error(self.status, self.title, self.errors)

    def item_message(self) -> str:
        return "; ".join(self.errors.values()) if self.errors else self.title


def _stamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()  # 2022-06-16T18:39:00+00:00


def _string(body: dict[str, Any], key: str, low: int, high: int, errors: dict[str, str]) -> None:
    value = body[key]
    if not isinstance(value, str) or not low <= len(value) <= high:
        errors[key] = f"{key} must be a string of {low} to {high} characters."


def _validate(body: Any, creating: bool) -> dict[str, Any]:
    """The writable fields of a metafield body; raises 422 naming every bad field."""
    if not isinstance(body, dict):
        raise MetafieldError(422, INVALID_TITLE, {"body": "Expected a JSON object."})
    errors: dict[str, str] = {}
    limits = {"namespace": (1, 64), "key": (1, 64), "value": (1, 65535), "description": (0, 255)}
    for key, (low, high) in limits.items():
        if key in body and not (key == "description" and body[key] is None):
            _string(body, key, low, high, errors)
        elif creating and key != "description":
            errors[key] = f"{key} is required."
    if "permission_set" in body:
        if body["permission_set"] not in PERMISSION_SETS:
            errors["permission_set"] = (
                f"permission_set must be one of {', '.join(PERMISSION_SETS)}."
            )
    elif creating:
        errors["permission_set"] = "permission_set is required."
    if errors:
        raise MetafieldError(422, INVALID_TITLE, errors)
    fields = {k: body[k] for k in ("namespace", "key", "value", "permission_set") if k in body}
    if "description" in body:
        fields["description"] = body["description"] or ""
    return fields


class MetafieldsTable:
    """All metafields, unique on (resource_type, resource_id, namespace, key)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.reset()

    def reset(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.by_resource: dict[tuple[str, int], dict[tuple[str, str], int]] = {}
        self.next_id = 1

    def resource_exists(self, resource_type: str, resource_id: int) -> bool:
        table = self.emu.tables.get(RESOURCES[resource_type][0])
        exists: Callable[[int], bool] | None = getattr(table, "exists", None)
        # Without a table that can answer (a module not loaded), every id counts as existing.
        return True if exists is None else bool(exists(resource_id))

    def for_resource(self, resource_type: str, resource_id: int) -> list[dict[str, Any]]:
        """The resource's metafields as the API returns them, oldest first."""
        ids = self.by_resource.get((resource_type, resource_id), {}).values()
        return [dict(self.rows[i]) for i in sorted(ids)]

    def on_deleted(self, resource_type: str, ids: Collection[int]) -> None:
        """Resources were deleted: their metafields go with them."""
        for resource_id in ids:
            for metafield_id in self.by_resource.pop((resource_type, resource_id), {}).values():
                del self.rows[metafield_id]

    def get(
        self, resource_type: str, metafield_id: int, resource_id: int | None = None
    ) -> dict[str, Any]:
        row = self.rows.get(metafield_id)
        if (
            row is None
            or row["resource_type"] != resource_type
            or (resource_id is not None and row["resource_id"] != resource_id)
        ):
            raise MetafieldError(404, NOT_FOUND_TITLE)
        return row

    def create(self, resource_type: str, resource_id: Any, body: Any) -> dict[str, Any]:
        fields = _validate(body, creating=True)
        if isinstance(resource_id, bool) or not isinstance(resource_id, int) or resource_id < 1:
            raise MetafieldError(422, INVALID_TITLE, {"resource_id": "resource_id is required."})
        if not self.resource_exists(resource_type, resource_id):
            raise MetafieldError(404, f"The {resource_type} {resource_id} does not exist.")
        slots = self.by_resource.setdefault((resource_type, resource_id), {})
        self._check_unique(slots, fields["namespace"], fields["key"], resource_type, resource_id)
        if len(slots) >= MAX_PER_RESOURCE:
            raise MetafieldError(
                422,
                f"The {resource_type} {resource_id} already has the maximum of "
                f"{MAX_PER_RESOURCE} metafields.",
            )
        stamp = _stamp()
        row = {
            "id": self.next_id,
            "key": fields["key"],
            "value": fields["value"],
            "namespace": fields["namespace"],
            "permission_set": fields["permission_set"],
            "resource_type": resource_type,
            "resource_id": resource_id,
            "description": fields.get("description", ""),
            "date_created": stamp,
            "date_modified": stamp,
            "owner_client_id": OWNER_CLIENT_ID,
        }
        self.next_id += 1
        self._store(row)
        return dict(row)

    def _store(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = row
        slots = self.by_resource.setdefault((row["resource_type"], row["resource_id"]), {})
        slots[(row["namespace"], row["key"])] = row["id"]

    def export(self) -> dict[str, Any]:
        """Every metafield, for ``data_file`` persistence."""
        return {"rows": list(self.rows.values()), "next_id": self.next_id}

    def load(self, data: dict[str, Any]) -> None:
        self.reset()
        for row in data.get("rows", []):
            self._store(dict(row))
        self.next_id = data.get("next_id", self.next_id)

    def update(
        self, resource_type: str, metafield_id: Any, body: Any, resource_id: int | None = None
    ) -> dict[str, Any]:
        if isinstance(metafield_id, bool) or not isinstance(metafield_id, int):
            raise MetafieldError(422, INVALID_TITLE, {"id": "id is required."})
        row = self.get(resource_type, metafield_id, resource_id)
        fields = _validate(body, creating=FULL_PUT[resource_type])
        slots = self.by_resource[(resource_type, row["resource_id"])]
        old = (row["namespace"], row["key"])
        new = (fields.get("namespace", old[0]), fields.get("key", old[1]))
        if new != old:
            self._check_unique(slots, *new, resource_type, row["resource_id"])
            del slots[old]
            slots[new] = metafield_id
        row.update(fields)
        row["date_modified"] = _stamp()
        return dict(row)

    def delete(self, resource_type: str, metafield_id: Any, resource_id: int | None = None) -> None:
        if isinstance(metafield_id, bool) or not isinstance(metafield_id, int):
            raise MetafieldError(404, NOT_FOUND_TITLE)
        row = self.get(resource_type, metafield_id, resource_id)
        del self.by_resource[(resource_type, row["resource_id"])][(row["namespace"], row["key"])]
        del self.rows[metafield_id]

    @staticmethod
    def _check_unique(
        slots: dict[tuple[str, str], int], namespace: str, key: str, rtype: str, rid: int
    ) -> None:
        if (namespace, key) in slots:
            raise MetafieldError(
                409,
                f"A metafield with namespace '{namespace}' and key '{key}' already exists "
                f"on {rtype} {rid}.",
                {"key": "Duplicate namespace and key for this resource."},
            )


# ---------------------------------------------------------------------------------------------
# Listing


def _listing(request: Request, rows: list[dict[str, Any]], settings: EmulatorSettings) -> Response:
    """One page of ``rows`` after the documented filters, with offset and cursor paging."""
    query = request.query_params
    try:
        for name in ("key", "namespace"):
            if name in query:
                rows = [r for r in rows if r[name] == query[name]]
            wanted = str_list(query, f"{name}:in")
            if wanted is not None:
                rows = [r for r in rows if r[name] in wanted]
        for name in ("date_created", "date_modified"):
            checks = date_filters(query, name)
            if checks:
                rows = [r for r in rows if all(c(_moment(r[name])) for c in checks)]
        direction = query.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise QueryError("direction", "direction must be asc or desc")
        if direction == "desc":
            rows = rows[::-1]
        chunk, meta = paged(rows, query, settings)
    except QueryError as error:
        return query_error_response(error)
    return v3_data(chunk, meta)


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


# ---------------------------------------------------------------------------------------------
# Endpoints


def routes(emu: Emulator) -> list[Route]:
    table = MetafieldsTable(emu)
    emu.register_table("metafields", table)
    result: list[Route] = []
    for resource_type, (_, prefix) in RESOURCES.items():
        result += _resource_routes(emu, table, resource_type, prefix)
    return result


def _resource_routes(emu: Emulator, table: MetafieldsTable, rtype: str, prefix: str) -> list[Route]:
    settings = emu.settings

    def parent(request: Request) -> int:
        resource_id: int = request.path_params["id"]
        if not table.resource_exists(rtype, resource_id):
            raise MetafieldError(404, NOT_FOUND_TITLE)
        return resource_id

    def metafield_id(request: Request) -> int:
        result: int = request.path_params["metafield_id"]
        return result

    def listing(request: Request, rows: list[dict[str, Any]]) -> Response:
        return _listing(request, rows, settings)

    async def list_one(request: Request) -> Response:
        return listing(request, table.for_resource(rtype, parent(request)))

    def single(row: dict[str, Any]) -> Response:
        return v3_data([row] if SINGLE_AS_LIST[rtype] else row)

    async def create_one(request: Request) -> Response:
        resource_id = parent(request)
        body = await _json_body(request)
        return single(table.create(rtype, resource_id, body))

    async def get_one(request: Request) -> Response:
        return v3_data(dict(table.get(rtype, metafield_id(request), parent(request))))

    async def update_one(request: Request) -> Response:
        resource_id, mf_id = parent(request), metafield_id(request)
        body = await _json_body(request)
        if SINGLE_AS_LIST[rtype] and _get(body, "id") != mf_id:
            raise MetafieldError(422, INVALID_TITLE, {"id": f"id must be sent and equal {mf_id}."})
        return single(table.update(rtype, mf_id, body, resource_id))

    async def delete_one(request: Request) -> Response:
        table.delete(rtype, metafield_id(request), parent(request))
        return no_content()

    async def list_batch(request: Request) -> Response:
        rows = [dict(r) for r in table.rows.values() if r["resource_type"] == rtype]
        return listing(request, rows)

    async def create_batch(request: Request) -> Response:
        items = await _json_array(request)
        return _batch(items, lambda item: table.create(rtype, _get(item, "resource_id"), item))

    async def update_batch(request: Request) -> Response:
        items = await _json_array(request)
        return _batch(items, lambda item: table.update(rtype, _get(item, "id"), item))

    async def delete_batch(request: Request) -> Response:
        items = await _json_array(request)

        def delete(metafield: Any) -> int:
            table.delete(rtype, metafield)
            return int(metafield)

        return _batch(items, delete)

    one = f"{prefix}/{{id:int}}/metafields"
    batch = f"{prefix}/metafields"
    return [
        Route(batch, _v3(list_batch), methods=["GET"]),
        Route(batch, _v3(create_batch), methods=["POST"]),
        Route(batch, _v3(update_batch), methods=["PUT"]),
        Route(batch, _v3(delete_batch), methods=["DELETE"]),
        Route(one, _v3(list_one), methods=["GET"]),
        Route(one, _v3(create_one), methods=["POST"]),
        Route(f"{one}/{{metafield_id:int}}", _v3(get_one), methods=["GET"]),
        Route(f"{one}/{{metafield_id:int}}", _v3(update_one), methods=["PUT"]),
        Route(f"{one}/{{metafield_id:int}}", _v3(delete_one), methods=["DELETE"]),
    ]


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else None


def _batch(items: list[Any], write: Callable[[Any], Any]) -> Response:
    """Apply ``write`` to each item independently; 422 with the successes if any item failed."""
    data: list[Any] = []
    failed: dict[str, str] = {}
    for index, item in enumerate(items):
        try:
            data.append(write(item))
        except MetafieldError as error:
            failed[str(index)] = error.item_message()
    errors = []
    if failed:
        title = f"{len(failed)} of {len(items)} metafields could not be written."
        errors.append({"status": 422, "title": title, "type": ERROR_TYPE, "errors": failed})
    meta = {"total": len(items), "success": len(data), "failed": len(failed)}
    return json_response({"data": data, "errors": errors, "meta": meta}, 422 if failed else 200)


Handler = Callable[[Request], Any]


def _v3(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
        except MetafieldError as error:
            return error.response()
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


class _BadInput(MetafieldError):
    """400 ``Input is invalid`` with a ``detail`` (reference §3.3), for unparseable bodies."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, "Input is invalid")
        self.detail = detail

    def response(self) -> Response:
        body = {"status": 400, "title": self.title, "type": ERROR_TYPE, "detail": self.detail}
        return JSONResponse(body, status_code=400)


async def _json_body(request: Request) -> Any:
    """The request's JSON, ``None`` without a body (``app.py`` already answered 415 and 400)."""
    return await request.json() if await request.body() else None


async def _json_array(request: Request) -> list[Any]:
    body = await _json_body(request)
    if not isinstance(body, list) or not body:
        raise _BadInput("The body must be a non-empty JSON array.")
    return body
