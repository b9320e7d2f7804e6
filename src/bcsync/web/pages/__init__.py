"""One module per page (and ``api`` for the JSON routes); each exposes a ``router``."""

from fastapi import APIRouter

from bcsync.web.pages import alerts, api, debugger, row, run, sync, syncs

# The HTML pages; their routes stay out of the OpenAPI document, which describes the JSON API.
PAGES: tuple[APIRouter, ...] = (
    syncs.router,
    run.router,
    row.router,
    debugger.router,
    alerts.router,
    sync.router,
)
API = api.router
