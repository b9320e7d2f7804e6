"""v3 query helpers shared by the resource modules: paging, cursors, list filters and dates.

Query problems raise :class:`QueryError`; :func:`query_error_response` turns one into the
BigCommerce answer (422 in the v3 error shape, or 413 for a ``limit`` above the maximum).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.responses import Response

from bcsync.emulator.responses import v3_error
from bcsync.emulator.settings import EmulatorSettings

T = TypeVar("T")

DEFAULT_LIMIT = 50


class QueryError(Exception):
    """A query parameter BigCommerce would refuse."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def query_error_response(error: QueryError) -> Response:
    if error.status == 413:
        return v3_error(413, error.message, {error.field: error.message})
    return v3_error(
        error.status, "The filter parameters are not valid.", {error.field: error.message}
    )


def page_and_limit(query: QueryParams, settings: EmulatorSettings) -> tuple[int, int]:
    """``page`` (default 1) and ``limit`` (default 50, at most ``settings.max_limit``)."""
    page = _positive_int(query, "page", 1)
    limit = _positive_int(query, "limit", DEFAULT_LIMIT)
    if limit > settings.max_limit:
        if settings.over_limit == "clamp":
            return page, settings.max_limit
        raise QueryError("limit", f"limit must be at most {settings.max_limit}", status=413)
    return page, limit


def _positive_int(query: QueryParams, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise QueryError(name, f"{name} must be a positive integer") from None
    if value < 1:
        raise QueryError(name, f"{name} must be a positive integer")
    return value


def int_list(query: QueryParams, name: str) -> list[int] | None:
    """A comma-separated list of integers (``id:in=4,5,6``), or None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    values = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(int(part))
        except ValueError:
            raise QueryError(name, f"{part!r} is not an integer") from None
    return values


def str_list(query: QueryParams, name: str) -> list[str] | None:
    """A comma-separated list of strings, or None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_date(name: str, raw: str) -> datetime:
    """``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS`` (optional ``Z``/offset) or unix seconds."""
    text = raw.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(name, f"{raw!r} is not a date (use YYYY-MM-DD or ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def date_filters(query: QueryParams, field: str) -> list[Callable[[datetime], bool]]:
    """Predicates for ``field``, ``field:min`` and ``field:max`` (both bounds inclusive)."""
    checks: list[Callable[[datetime], bool]] = []
    exact = query.get(field)
    if exact:
        moment = parse_date(field, exact)
        if len(exact.strip()) == 10:
            checks.append(_same_day(moment))
        else:
            checks.append(_same_second(moment))
    low = query.get(f"{field}:min")
    if low:
        lo = parse_date(f"{field}:min", low)
        checks.append(lambda v: v >= lo)
    high = query.get(f"{field}:max")
    if high:
        hi = parse_date(f"{field}:max", high)
        checks.append(lambda v: v <= hi)
    return checks


def _same_day(moment: datetime) -> Callable[[datetime], bool]:
    return lambda v: v.date() == moment.date()


def _same_second(moment: datetime) -> Callable[[datetime], bool]:
    return lambda v: v.replace(microsecond=0) == moment


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso_z(value: datetime) -> str:
    """v3 customer dates: ``2020-09-04T00:17:10Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def offset_pagination(total: int, page: int, limit: int, count: int) -> dict[str, Any]:
    """The ``meta.pagination`` object; ``previous``/``next`` only when those pages exist."""
    total_pages = math.ceil(total / limit) if total else 0
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < total_pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    return {
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }


def page_slice(items: Sequence[T], page: int, limit: int) -> list[T]:
    start = (page - 1) * limit
    return list(items[start : start + limit])


def encode_cursor(item_id: int) -> str:
    return base64.b64encode(f"id:{item_id}".encode()).decode()


def decode_cursor(name: str, cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        kind, _, value = text.partition(":")
        if kind != "id":
            raise ValueError(text)
        return int(value)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise QueryError(name, f"{cursor!r} is not a cursor from this API") from None


def cursor_pagination(
    page: Sequence[Mapping[str, Any]], limit: int, more_before: bool, more_after: bool
) -> dict[str, Any]:
    """The ``meta.cursor_pagination`` object for ``page`` (items carry an ``id``)."""
    meta: dict[str, Any] = {"count": len(page), "per_page": limit, "links": {}}
    if page:
        start, end = encode_cursor(page[0]["id"]), encode_cursor(page[-1]["id"])
        meta["start_cursor"], meta["end_cursor"] = start, end
        if more_before:
            meta["links"]["previous"] = f"?limit={limit}&before={quote(start, safe='')}"
        if more_after:
            meta["links"]["next"] = f"?limit={limit}&after={quote(end, safe='')}"
    return meta


def paged(
    items: Sequence[dict[str, Any]],
    query: QueryParams,
    settings: EmulatorSettings,
    with_cursor: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of ``items`` (already filtered and sorted, each with an ``id``) and its ``meta``.

    Offset paging by default; page 1 also carries ``cursor_pagination`` when ``with_cursor``.
    With ``after``/``before`` only ``cursor_pagination`` is returned and ``page`` is ignored.
    """
    page, limit = page_and_limit(query, settings)
    after, before = query.get("after"), query.get("before")
    if with_cursor and (after or before):
        if after and before:
            raise QueryError("before", "before and after cannot be combined")
        ids = [item["id"] for item in items]
        if after:
            start = _boundary(ids, decode_cursor("after", after), "after", past=True)
            chunk = list(items[start : start + limit])
            return chunk, {
                "cursor_pagination": cursor_pagination(
                    chunk, limit, start > 0, start + limit < len(items)
                )
            }
        assert before is not None
        end = _boundary(ids, decode_cursor("before", before), "before", past=False)
        start = max(0, end - limit)
        chunk = list(items[start:end])
        return chunk, {"cursor_pagination": cursor_pagination(chunk, limit, start > 0, True)}
    chunk = page_slice(items, page, limit)
    meta: dict[str, Any] = {"pagination": offset_pagination(len(items), page, limit, len(chunk))}
    if with_cursor and page == 1:
        meta["cursor_pagination"] = cursor_pagination(chunk, limit, False, len(items) > limit)
    return chunk, meta


def _boundary(ids: Sequence[int], cursor_id: int, name: str, past: bool) -> int:
    """Where paging resumes: just past (``after``) or at (``before``) the cursor's item.

    A cursor whose item has since been deleted still works in id order, by where its id sorts.
    """
    try:
        index = ids.index(cursor_id)
    except ValueError:
        if list(ids) != sorted(ids):
            raise QueryError(name, "the cursor's item no longer exists") from None
        return sum(1 for i in ids if i < cursor_id)
    return index + 1 if past else index
