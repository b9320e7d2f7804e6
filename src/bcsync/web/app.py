"""The web application: one FastAPI app holding the project, its pages and its JSON API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bcsync.api import Project

HERE = Path(__file__).parent
# The largest key (a call's ``seq``, a row's or a notification's id) a page may be asked for: a
# store's integers are 64-bit, and a bigger number in a link is a 422, not a 500 from the driver.
MAX_KEY = 2**63 - 1
Key = Annotated[int, Query(ge=0, le=MAX_KEY)]
OptionalKey = Annotated[int | None, Query(ge=0, le=MAX_KEY)]


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
        # Not empty while the project is being set up (web.setup_mode): the pages' banner.
        "setup_problems": getattr(request.app.state, "setup_problems", ()),
        **context,
    }
    response: HTMLResponse = templates.TemplateResponse(request, template, context)
    return response


def project_of(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


def create_app(
    project: Project, settings: UiSettings | None = None, setup_problems: Sequence[str] = ()
) -> FastAPI:
    """The app for ``project``; pages and API routes are the routers of ``web.pages``.
    ``setup_problems``: what keeps a project being set up from running (web.setup_mode)."""
    from bcsync.web.pages import API, PAGES
    from bcsync.web.runner import Runner
    from bcsync.web.security import SecurityMiddleware, Sessions
    from bcsync.web.security import router as login_router

    app = FastAPI(
        title="bcsync",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.project = project
    app.state.setup_problems = tuple(setup_problems)
    app.state.settings = settings or UiSettings()
    app.state.templates = templates()
    app.state.runner = Runner()  # the runs this server starts (Run now, the API)
    app.state.sessions = Sessions()
    # Login, sessions and CSRF in front of every route, static files included.
    app.add_middleware(SecurityMiddleware, settings=app.state.settings, sessions=app.state.sessions)
    app.include_router(login_router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in PAGES:
        app.include_router(router, include_in_schema=False)
    for api in API:
        app.include_router(api)
    return app
