"""Which destination object serves a sync's ``object``."""

from __future__ import annotations

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import DestinationObject
from bcsync.destinations.bigcommerce.client import BigCommerceClient


def object_for(sync: SyncConfig, client: BigCommerceClient) -> DestinationObject:
    # Each object's modules load only for a sync of it: a run pays for one object's, not both.
    if sync.object == "orders":
        from bcsync.destinations.bigcommerce.orders import OrderObject

        return OrderObject(sync, client)
    from bcsync.destinations.bigcommerce.customers import CustomerObject

    return CustomerObject(sync, client)
