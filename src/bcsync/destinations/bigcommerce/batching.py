"""Batch helpers shared by the BigCommerce objects: chunking and bisection of rejected batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

from bcsync.destinations.bigcommerce.error_bodies import error_text, indexed_errors
from bcsync.errors import ApiError, RequestRejectedError, Retriable

T = TypeVar("T")
Rejected = list[tuple[T, str]]  # (item, why BigCommerce did not take it), in the order found


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def bisect(items: Sequence[T], send: Callable[[Sequence[T]], Awaitable[None]]) -> Rejected[T]:
    """Send ``items``; when BigCommerce rejects the batch as a whole, isolate the bad items so the
    good ones still land, and return the rejected items with their messages. ``send`` raises
    RequestRejectedError for a rejected batch. An item may be rejected more than once (a later
    message is the newer word on it).

    If the error names item indexes, those items are re-sent alone (to confirm, since the index
    format is not documented) and the rest together; otherwise the batch is split in halves."""
    try:
        await send(items)
    except ApiError as exc:
        if not isinstance(exc, RequestRejectedError):
            if not isinstance(exc, Retriable):
                raise  # fatal (401/403): the run stops
            # Still failing after the client's retries: the items are not confirmed and are
            # sent again next run (a create's lost answer never gets here: it is settled).
            return [(item, f"BigCommerce did not confirm the write: {exc}") for item in items]
        if len(items) == 1:
            return [(items[0], error_text(exc.body, str(exc)))]
        named = sorted(i for i in indexed_errors(exc.body) if 0 <= i < len(items))
        rejected: Rejected[T] = []
        if named and len(named) < len(items):
            suspects = [items[i] for i in named]
            rest = [item for i, item in enumerate(items) if i not in set(named)]
            for suspect in suspects:
                rejected += await bisect([suspect], send)
            return rejected + await bisect(rest, send)
        middle = len(items) // 2
        rejected += await bisect(items[:middle], send)
        return rejected + await bisect(items[middle:], send)
    return []
