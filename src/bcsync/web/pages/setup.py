"""The Setup pages: destinations and syncs made and edited in the browser.

The pages are forms only; their scripts (``static/setup-api.js`` and one per page:
``setup-list.js``, ``setup-destination.js``, ``setup-sync.js``) fill them from, and send them to,
the setup JSON API (``pages/setup_api/``), which validates and writes ``bcsync.yml`` and ``.env``.
A sync's form starts from the sync exactly as written in ``bcsync.yml`` (``${VAR}`` references
unexpanded, keys the form does not show kept), so saving it changes only what the user changed.
``--read-only`` hides the pages (404), as it hides the nav link to them.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2.utils import htmlsafe_json_dumps

from bcsync.web.app import project_of, render
from bcsync.web.pages.syncs import message_page, read_only

router = APIRouter(include_in_schema=False)


def _hidden(request: Request) -> HTMLResponse:
    return message_page(
        request,
        "Setup is not available",
        "This server was started with --read-only: destinations and syncs cannot be changed here.",
        404,
    )


def _written(request: Request) -> dict[str, Any]:
    """``bcsync.yml`` as written (no ``${VAR}`` expanded); empty when it cannot be read."""
    try:
        data = yaml.safe_load(project_of(request).config.config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _channels(written: dict[str, Any]) -> list[str]:
    alerts = written.get("alerts")
    channels = alerts.get("channels") if isinstance(alerts, dict) else None
    return sorted(channels) if isinstance(channels, dict) else []


@router.get("/setup", response_class=HTMLResponse, name="setup")
def setup_page(request: Request) -> HTMLResponse:
    if read_only(request):
        return _hidden(request)
    return render(request, "setup.html", {"title": "Setup"})


@router.get("/setup/destinations/new", response_class=HTMLResponse, name="new_destination")
def new_destination(request: Request) -> HTMLResponse:
    if read_only(request):
        return _hidden(request)
    return render(request, "setup_destination.html", {"title": "Add a destination", "name": None})


@router.get("/setup/destinations/{name}", response_class=HTMLResponse, name="edit_destination")
def edit_destination(request: Request, name: str) -> HTMLResponse:
    if read_only(request):
        return _hidden(request)
    return render(request, "setup_destination.html", {"title": f"Destination {name}", "name": name})


def _sync_form(request: Request, name: str | None) -> HTMLResponse:
    written = _written(request)
    syncs = written.get("syncs")
    syncs = syncs if isinstance(syncs, dict) else {}
    sync: Any = {}
    if name is not None:
        sync = syncs.get(name)
        if not isinstance(sync, dict):
            return message_page(
                request, "No such sync", f"There is no sync named {name!r} in bcsync.yml.", 404
            )
    title = f"Sync {name}" if name is not None else "Add a sync"
    return render(
        request,
        "setup_sync.html",
        {
            "title": title,
            "name": name,
            # A date in YAML (a schedule's start_at) is not JSON: it goes as its text.
            "initial": htmlsafe_json_dumps(
                {"sync": sync, "channels": _channels(written), "syncs": sorted(syncs)},
                default=str,
            ),
        },
    )


@router.get("/setup/syncs/new", response_class=HTMLResponse, name="new_sync")
def new_sync(request: Request) -> HTMLResponse:
    if read_only(request):
        return _hidden(request)
    return _sync_form(request, None)


@router.get("/setup/syncs/{name}", response_class=HTMLResponse, name="edit_sync")
def edit_sync(request: Request, name: str) -> HTMLResponse:
    if read_only(request):
        return _hidden(request)
    return _sync_form(request, name)
