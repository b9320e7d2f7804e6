"""One module per page (and ``api`` for the JSON routes); each exposes a ``router``."""

from fastapi import APIRouter

from bcsync.web.pages import syncs

ROUTERS: tuple[APIRouter, ...] = (syncs.router,)
