"""Destination routes: check a store hash and token against the store, add or change one.

The store hash is written into ``bcsync.yml`` as a literal; the token goes to ``.env`` under
the variable ``bcsync.yml`` references, and answers only ever say whether one is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from bcsync.config.editing.envfile import token_variable
from bcsync.config.editing.loading import EditProblem
from bcsync.config.editing.setup_mode import is_placeholder
from bcsync.config.project import DestinationConfig, ProjectConfig
from bcsync.destinations.bigcommerce.access import check_access
from bcsync.web.app import project_of
from bcsync.web.pages.setup_api.bodies import (
    PREFIX,
    DestinationCheck,
    DestinationEdit,
    Json,
    openapi_body,
    parse_body,
)
from bcsync.web.pages.setup_api.edit import Edit
from bcsync.web.pages.setup_api.errors import Failure, guarded, require_writable
from bcsync.web.pages.setup_api.refusals import new_references

router = APIRouter(prefix=PREFIX, tags=["setup"])
# What BigCommerce store hashes look like (and the emulator's); anything else is a typo, or an
# attempt to write YAML or a ``${VAR}`` reference through the form.
STORE_HASH = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A name the setup forms may give a destination (the key in bcsync.yml, part of a variable's).
DESTINATION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def usable_destination(config: ProjectConfig, name: str) -> DestinationConfig | None:
    """The destination when its values are all set (not setup placeholders)."""
    destination = config.destinations.get(name)
    if destination is None:
        return None
    values = (
        destination.store_hash,
        destination.api_url,
        destination.access_token.get_secret_value(),
    )
    return None if any(is_placeholder(value) for value in values) else destination


@router.post(
    "/destinations/check",
    summary="Check a store hash and token against the store",
    openapi_extra=openapi_body(DestinationCheck),
)
def check_destination(request: Request, raw: Json) -> Any:
    token = raw.get("access_token") if isinstance(raw, dict) else None

    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(DestinationCheck, raw)
        api_url = (body.api_url or "").strip() or DestinationConfig.model_fields["api_url"].default
        try:
            DestinationConfig(
                type="bigcommerce",
                store_hash=body.store_hash or "-",
                access_token=body.access_token or "-",
                api_url=api_url,
            )
        except ValidationError:
            return {
                "ok": False,
                "status": None,
                "explanation": "the API URL must be an http:// or https:// URL",
                "scopes": [],
                "problems": ["api_url: must be an http:// or https:// URL"],
            }
        return check_access(body.store_hash, body.access_token, api_url).to_json()

    return guarded(request, work, secrets=[token] if isinstance(token, str) and token else [])


@router.put(
    "/destinations/{name}",
    summary="Add or change a destination (token into .env)",
    openapi_extra=openapi_body(DestinationEdit),
)
def put_destination(request: Request, name: str, raw: Json) -> Any:
    given = raw.get("access_token") if isinstance(raw, dict) else None
    token = given.strip() if isinstance(given, str) else ""

    def work() -> dict[str, Any]:
        require_writable(request)
        body = parse_body(DestinationEdit, raw)
        if not DESTINATION_NAME.fullmatch(name):
            raise Failure(422, "a destination name uses letters, digits, '_' and '-'")
        if not STORE_HASH.fullmatch(body.store_hash.strip()):
            raise Failure(
                422,
                "a store hash is letters and digits (the part after /stores/ in the API path)",
                [EditProblem(f"destinations.{name}.store_hash", "letters and digits only")],
            )
        edit = Edit.open(request)
        found = edit.document.section("destinations").get(name)
        written: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        changes: dict[str, Any] = {"type": "bigcommerce", "store_hash": body.store_hash.strip()}
        env_keys: list[str] = []
        if token:
            variable = token_variable(name, written.get("access_token"), os.environ)
            changes["access_token"] = "${" + variable + "}"
            edit.env_values[variable] = token
            env_keys.append(variable)
        elif "access_token" not in written:
            raise Failure(
                422,
                "a new destination needs its access token",
                [EditProblem(f"destinations.{name}.access_token", "field required")],
            )
        if "api_url" in body.model_fields_set:
            changes["api_url"] = (body.api_url or "").strip() or None
            if not token and _token_moves(project_of(request).config, name, changes["api_url"]):
                raise Failure(
                    422,
                    "give the access token again to send it to another API URL",
                    [EditProblem(f"destinations.{name}.access_token", "field required")],
                )
            problems = new_references(
                written.get("api_url"), changes["api_url"], f"destinations.{name}.api_url"
            )
            if problems:
                raise Failure(422, "the API URL cannot hold '${' from the browser", problems)
        edit.document.update_entry("destinations", name, changes)
        answer = edit.save(request, body.version, dry_run=body.dry_run)
        return {**answer, "env_keys": env_keys}

    return guarded(request, work, secrets=[token] if token else [])


def _token_moves(config: ProjectConfig, name: str, api_url: str | None) -> bool:
    """Whether the saved token would go to another host than it goes to now: the form must
    give it again, or anyone allowed to edit could send it to a server of theirs and read it
    (a check or a run would present it there)."""
    destination = config.destinations.get(name)
    if destination is None or is_placeholder(destination.access_token.get_secret_value()):
        return False
    new = (api_url or DestinationConfig.model_fields["api_url"].default).rstrip("/")
    return new != destination.api_url
