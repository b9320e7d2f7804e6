"""``GET /api/v1/setup``: the project as the setup pages show it.

The file's ``version`` (which every write must carry back), the strict loader's problems while
the project is in setup mode, and the destinations with only whether a token is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bcsync.config.editing.document import version_of
from bcsync.config.editing.setup_mode import is_placeholder
from bcsync.web.app import project_of
from bcsync.web.pages.setup_api.bodies import PREFIX
from bcsync.web.setup_mode import setup_problems

router = APIRouter(prefix=PREFIX, tags=["setup"])


def _dialect(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0]


@router.get("", summary="The project as the setup pages show it")
def setup_overview(request: Request) -> dict[str, Any]:
    project = project_of(request)
    config = project.config
    destinations = []
    for name, destination in config.destinations.items():
        destinations.append(
            {
                "name": name,
                "store_hash": ""
                if is_placeholder(destination.store_hash)
                else destination.store_hash,
                "api_url": "" if is_placeholder(destination.api_url) else destination.api_url,
                "token_set": not is_placeholder(destination.access_token.get_secret_value()),
            }
        )
    return {
        "version": version_of(config.config_path.read_bytes()),
        "problems": list(setup_problems(request)),
        "destinations": destinations,
        "syncs": list(config.syncs),
        "warehouse": {"dialect": _dialect(config.warehouse.url)},
    }
