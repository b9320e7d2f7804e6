"""One module per page (and ``api`` for the JSON routes); each exposes a ``router``."""

from fastapi import APIRouter

from bcsync.web.pages import alerts, api, debugger, row, run, setup, setup_api, sync, syncs

# The HTML pages; their routes stay out of the OpenAPI document, which describes the JSON API.
PAGES: tuple[APIRouter, ...] = (
    syncs.router,
    run.router,
    row.router,
    debugger.router,
    alerts.router,
    sync.router,
    setup.router,
)
# The JSON API under /api/v1 (documented at /api/v1/openapi.json).
API: tuple[APIRouter, ...] = (api.router, setup_api.router)
