"""One BigCommerce store as a check, plan or run uses it: the client, the access check, the pace.

The engine asks a session for what it needs and never sees HTTP: the client (with the store's
rate governor) for the destination objects, ``probe`` for the access check ``bcsync check``
makes, ``seconds_for`` for the time a plan's calls will take at the store's pace, and ``secret``
for the debugger to redact. The access token is unwrapped here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import httpx

from bcsync.config.project import DestinationConfig
from bcsync.destinations.bigcommerce.calls import ApiCall
from bcsync.destinations.bigcommerce.client import BigCommerceClient
from bcsync.destinations.bigcommerce.ratelimit import RateGovernor

# The HTTP seam: tests pass a transport that checks every request against BigCommerce's OpenAPI.
Transport = httpx.AsyncBaseTransport
# Unknown quota: assume the smallest plan's (150 requests per 30 s) rather than none.
DEFAULT_REQUESTS_PER_SECOND = 5.0


class StoreSession:
    """A destination's store for one command: ``async with StoreSession(…) as session``."""

    def __init__(
        self,
        destination: DestinationConfig,
        *,
        transport: Transport | None = None,
        on_call: Callable[[ApiCall], None] | None = None,
        governor: RateGovernor | None = None,
    ) -> None:
        self.secret = destination.access_token.get_secret_value()
        self.client = BigCommerceClient(
            api_url=destination.api_url,
            store_hash=destination.store_hash,
            access_token=self.secret,
            on_call=on_call,
            transport=transport,
            governor=governor,
        )

    async def __aenter__(self) -> StoreSession:
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.__aexit__(exc_type, exc, tb)

    async def probe(self, path: str) -> None:
        """Read one record of ``path``: raises the client's error when the token cannot."""
        await self.client.request("GET", path, params={"limit": "1"})

    def seconds_for(self, calls: int) -> float:
        """How long ``calls`` requests take at the pace the store has shown (or the smallest
        plan's, before it has shown any)."""
        per_second = self.client.governor.requests_per_second() or DEFAULT_REQUESTS_PER_SECOND
        return calls / per_second
