"""The setup API under ``/api/v1/setup``: destinations and syncs set up from the browser.

Every form of the setup pages calls these, and so can a script. Reads: the project as served,
the warehouse's tables, a model's preview, the store's fields. Writes edit ``bcsync.yml``
(``config.editing``): each carries the ``version`` its form read (409 when the file changed
since), is validated by the configuration model before anything is written (422 with the
problems and their key paths), can be a ``dry_run`` (the diff only), and reloads the served
project. The access token goes to ``.env``; answers only ever say whether one is set. Every
POST, PUT and DELETE is refused (403) under ``--read-only``; CSRF is the security middleware's.
Errors are ``{"error": "...", "problems": [{"path", "message"}]}``.

One module per concept: ``errors`` (the API's error shape), ``bodies`` (what routes take),
``edit`` (one edit of bcsync.yml), ``refusals`` (what a form may not write), and the routes:
``overview``, ``destinations``, ``models``, ``fields``, ``sync_check``, ``syncs``.
"""

from fastapi import APIRouter

from bcsync.web.pages.setup_api import (
    destinations,
    fields,
    models,
    overview,
    sync_check,
    syncs,
)

# Every route of the setup API (each module's router carries the /api/v1/setup prefix).
router = APIRouter()
for part in (overview, destinations, models, fields, sync_check, syncs):
    router.include_router(part.router)
