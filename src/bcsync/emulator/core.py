"""The emulator's shared pieces: the store-wide state object and the resource-module contract.

Resource modules
----------------
Each resource module (``customers.py``, ``attributes.py``, ``orders.py``, ``metafields.py`` …)
keeps its own in-memory table class and exposes::

    def routes(emu: Emulator) -> list[starlette.routing.Route]

- Route paths are written *without* the ``/stores/{store_hash}`` prefix, e.g. ``/v3/customers``
  or ``/v2/orders/{id:int}``; ``app.py`` mounts them under the prefix. The route template (method
  + path, convertors stripped: ``PUT /v2/orders/{id}``) is the key used in ``/_emulator/stats``,
  fault rules and concurrency caps. Use ``{id:int}`` so ``/v2/orders/count`` is not taken for an
  id; among routes that fully match, the first listed wins.
- Endpoints are ``async def endpoint(request) -> Response``. Before an endpoint runs, ``app.py``
  has already done auth, scopes, rate limiting, 404/405/501, and the body checks (415 without
  ``Content-Type: application/json``, 400 for unparseable JSON), so ``await request.json()`` is
  safe whenever the body is non-empty (``await request.body() == b""`` means no body).
- Handlers run on one event loop and never await between reading and writing a table, so they
  need no locks.

Tables and the admin API
------------------------
A table registers itself with :meth:`Emulator.register_table` (``emu.register_table("orders",
table)``), usually inside ``routes(emu)``. Optional methods a table may implement:

- ``reset() -> None`` (required): empty it; called by ``POST /_emulator/reset``.
- ``dump(emu) -> list[dict]``: its records for ``GET /_emulator/dump``. The dump document is
  ``{name: table.dump(emu)}`` over every table that has ``dump`` (always with ``customers``,
  ``orders`` and ``attributes`` keys, ``[]`` when absent). So the ``orders`` table's ``dump`` gives
  each order as ``GET /v2/orders/{id}`` returns it (archived ones too) plus ``products`` and
  ``metafields`` lists.
- ``for_resource(resource_type, resource_id) -> list[dict]``: the ``metafields`` table implements
  this; :meth:`Emulator.metafields_for` calls it so customer and order dumps can list metafields.
- ``on_deleted(resource_type, ids) -> None``: :meth:`Emulator.notify_deleted` calls it on every
  table when records are deleted (``"customer"`` on customer delete), so metafields and other
  dependants cascade.
- ``export() -> Any`` / ``load(data) -> None``: JSON persistence when ``data_file`` is set.

Other modules reach each other through the registry: ``emu.tables.get("customers")`` has
``exists(customer_id) -> bool``; ``emu.tables.get("metafields")`` is H2's metafields table.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from typing import Any, Protocol

from bcsync.emulator.faults import FaultBook
from bcsync.emulator.ratelimit import ConcurrencyGate, QuotaWindow
from bcsync.emulator.settings import EmulatorSettings
from bcsync.emulator.stats import Stats

_CONVERTOR = re.compile(r"\{(\w+):\w+\}")


def route_template(path: str) -> str:
    """A route path without convertors: ``/v2/orders/{id:int}`` → ``/v2/orders/{id}``."""
    return _CONVERTOR.sub(r"{\1}", path)


class Table(Protocol):
    """A resource's in-memory data."""

    def reset(self) -> None: ...


class Emulator:
    """Everything one running emulator holds: settings, data tables, stats, faults and limits.

    The app runs in one event loop, so handlers need no locking between themselves; ``lock``
    exists for callers that read tables from another thread.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.initial_settings = settings.copy()
        self.lock = threading.RLock()
        self.tables: dict[str, Any] = {}
        self.stats = Stats()
        self.faults = FaultBook()
        self.quota = QuotaWindow(lambda: (self.settings.quota, self.settings.window_ms))
        self.gate = ConcurrencyGate()

    def register_table(self, name: str, table: Any) -> Any:
        self.tables[name] = table
        return table

    def table(self, name: str) -> Any:
        return self.tables[name]

    def reset(self) -> None:
        """Empty every table, the stats and the rate-limit window."""
        for table in self.tables.values():
            table.reset()
        self.stats.reset()
        self.quota.reset()

    def reset_all(self) -> None:
        """:meth:`reset`, and also drop fault rules and restore the start-up settings."""
        self.reset()
        self.faults.clear()
        restored = self.initial_settings.copy()
        for name, value in vars(restored).items():
            setattr(self.settings, name, value)

    def notify_deleted(self, resource_type: str, ids: Collection[int]) -> None:
        """Tell every table that records of ``resource_type`` are gone, so dependants cascade."""
        for table in self.tables.values():
            hook = getattr(table, "on_deleted", None)
            if hook is not None:
                hook(resource_type, ids)

    def metafields_for(self, resource_type: str, resource_id: int) -> list[dict[str, Any]]:
        """Metafields of one resource as the API returns them; ``[]`` if no metafields table."""
        table = self.tables.get("metafields")
        if table is None or not hasattr(table, "for_resource"):
            return []
        result: list[dict[str, Any]] = table.for_resource(resource_type, resource_id)
        return result

    def dump(self) -> dict[str, Any]:
        """The whole store for ``GET /_emulator/dump``."""
        doc: dict[str, Any] = {"customers": [], "orders": [], "attributes": []}
        for name, table in self.tables.items():
            if hasattr(table, "dump"):
                doc[name] = table.dump(self)
        return doc
