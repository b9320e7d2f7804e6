"""The record of one HTTP attempt to BigCommerce, as the debugger stores and shows it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

REDACTED = "***"


@dataclass(frozen=True)
class ApiCall:
    """One attempt of one request: what went out, what came back (if anything), and when.

    ``request_headers`` carry ``X-Auth-Token: ***``, never the token. Bodies are the full text;
    truncating them is the recorder's job. ``status`` is ``None`` when no answer arrived (timeout,
    connection lost), and ``error`` then says what happened.
    """

    method: str
    url: str  # the full URL without the query string
    path: str  # relative to /stores/{store_hash}, e.g. /v3/customers
    query: Mapping[str, str] | str
    request_headers: Mapping[str, str]
    request_body: str | None
    status: int | None
    response_headers: Mapping[str, str]
    response_body: str | None
    started_at: dt.datetime  # UTC
    duration_ms: float
    attempt: int  # 1-based
    pks: tuple[str, ...] = ()
    error: str | None = None
