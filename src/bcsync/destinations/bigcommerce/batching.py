"""Batch helpers shared by the BigCommerce objects: chunking, error messages, bisection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from bcsync.destinations.bigcommerce.client import bigcommerce_message
from bcsync.errors import ApiError, RequestRejectedError, Retriable

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_text(body: Any, fallback: str = "") -> str:
    """BigCommerce's own words for a rejected request, or ``fallback`` if the body has none."""
    return bigcommerce_message(body) or fallback


def indexed_errors(body: Any) -> dict[int, str]:
    """Per-item messages from a v3 batch error whose keys start with the item index."""
    found: dict[int, str] = {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return found
    for key, message in errors.items():
        head, _, field = str(key).partition(".")
        if head.isdigit():
            index = int(head)
            text = f"{field}: {message}" if field else str(message)
            found[index] = f"{found[index]}; {text}" if index in found else text
    return found


async def bisect(
    items: Sequence[T],
    send: Callable[[Sequence[T]], Awaitable[None]],
    reject: Callable[[T, str], None],
) -> None:
    """Send ``items``; when BigCommerce rejects the batch as a whole, isolate the bad items so the
    good ones still land. ``send`` raises RequestRejectedError for a rejected batch.

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
            for item in items:
                reject(item, f"BigCommerce did not confirm the write: {exc}")
            return
        if len(items) == 1:
            reject(items[0], error_text(exc.body, str(exc)))
            return
        named = sorted(i for i in indexed_errors(exc.body) if 0 <= i < len(items))
        if named and len(named) < len(items):
            suspects = [items[i] for i in named]
            rest = [item for i, item in enumerate(items) if i not in set(named)]
            for suspect in suspects:
                await bisect([suspect], send, reject)
            await bisect(rest, send, reject)
            return
        middle = len(items) // 2
        await bisect(items[:middle], send, reject)
        await bisect(items[middle:], send, reject)
