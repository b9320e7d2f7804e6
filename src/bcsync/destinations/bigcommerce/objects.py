"""Which destination object serves a sync's ``object``."""

from __future__ import annotations

from bcsync.config.project import SyncConfig
from bcsync.destinations.base import DestinationObject
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.customers import CustomerObject
from bcsync.destinations.bigcommerce.orders import OrderObject


def object_for(sync: SyncConfig, client: BigCommerceClient) -> DestinationObject:
    if sync.object == "orders":
        return OrderObject(sync, client)
    return CustomerObject(sync, client)
