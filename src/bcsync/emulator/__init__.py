"""A local fake of the BigCommerce REST API: customers v3, orders v2, metafields, auth, limits.

A separate world: nothing here imports the rest of bcsync, and bcsync never imports this package
(the CLI's ``emulator`` and ``demo`` commands and the tests start it).
"""

from __future__ import annotations
