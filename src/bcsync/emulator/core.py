"""The emulator's shared pieces: the store-wide state object and the resource-module contract.

Each resource module (``customers.py``, ``attributes.py``, ``orders.py``, ``metafields.py`` …)
keeps its own in-memory table class and exposes::

    def routes(emu: Emulator) -> list[starlette.routing.Route]

Route paths are written *without* the ``/stores/{store_hash}`` prefix, e.g. ``/v3/customers`` or
``/v2/orders/{id}``; ``app.py`` mounts them under the prefix, and the route template (method +
path) is the key used in ``/_emulator/stats``.

Tables register themselves on the ``Emulator`` with :meth:`Emulator.register_table` so that
``POST /_emulator/reset`` and ``GET /_emulator/dump`` reach every resource without the admin module
knowing them.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from bcsync.emulator.settings import EmulatorSettings


class Table(Protocol):
    """A resource's in-memory data."""

    def reset(self) -> None: ...


class Emulator:
    """Everything one running emulator holds: settings, data tables, stats and fault rules.

    The app runs in one event loop, so handlers need no locking between themselves; ``lock``
    exists for the admin API and for callers that read tables from another thread.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.tables: dict[str, Any] = {}

    def register_table(self, name: str, table: Any) -> Any:
        self.tables[name] = table
        return table

    def table(self, name: str) -> Any:
        return self.tables[name]

    def reset(self) -> None:
        for table in self.tables.values():
            table.reset()
