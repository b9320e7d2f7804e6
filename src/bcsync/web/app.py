"""The web application: one FastAPI app holding the project, its pages and its JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bcsync.api import Project

HERE = Path(__file__).parent


@dataclass(frozen=True)
class UiSettings:
    """How ``bcsync serve`` was started."""

    read_only: bool = False
    token: str | None = None  # None: loopback only, no login


def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=HERE / "templates")


def render(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """``template`` rendered with ``context`` (plus ``settings`` for every page)."""
    templates: Jinja2Templates = request.app.state.templates
    context = {
        "settings": request.app.state.settings,
        # Every form posts it back (hidden field ``csrf``); set by the security middleware.
        "csrf_token": getattr(request.state, "csrf_token", ""),
        **context,
    }
    response: HTMLResponse = templates.TemplateResponse(request, template, context)
    return response


def project_of(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


def create_app(project: Project, settings: UiSettings | None = None) -> FastAPI:
    """The app for ``project``; pages and API routes are the routers of ``web.pages``."""
    from bcsync.web.pages import ROUTERS

    app = FastAPI(
        title="bcsync",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.project = project
    app.state.settings = settings or UiSettings()
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
