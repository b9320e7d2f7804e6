"""Field checks for write bodies; errors are collected per item as ``{"<index>.<field>": …}``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bcsync.emulator.responses import v3_error

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_BATCH = 10


class ItemErrors:
    """The problems found in one item of a batch body."""

    def __init__(self, index: int | str) -> None:
        self.prefix = f"{index}."
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(self.prefix + field, message)

    def __bool__(self) -> bool:
        return bool(self.errors)


def check_string(
    errs: ItemErrors,
    item: dict[str, Any],
    field: str,
    min_len: int = 0,
    max_len: int | None = None,
    required: bool = False,
    label: str | None = None,
) -> None:
    """Present-and-string checks with BigCommerce's length limits (``null`` is refused)."""
    name = label or field
    if field not in item:
        if required:
            errs.add(name, f"{field} is required")
        return
    value = item[field]
    if not isinstance(value, str):
        errs.add(name, f"{field} must be a string")
        return
    if len(value) < min_len:
        errs.add(name, f"{field} must be at least {min_len} characters")
    elif max_len is not None and len(value) > max_len:
        errs.add(name, f"{field} must be at most {max_len} characters")


def check_int(errs: ItemErrors, item: dict[str, Any], field: str, required: bool = False) -> None:
    if field not in item:
        if required:
            errs.add(field, f"{field} is required")
        return
    value = item[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errs.add(field, f"{field} must be a non-negative integer")


def check_bool(errs: ItemErrors, item: dict[str, Any], field: str) -> None:
    if field in item and not isinstance(item[field], bool):
        errs.add(field, f"{field} must be true or false")


def is_number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip() != ""


def is_date_text(value: str) -> bool:
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


async def batch_body(request: Request, max_items: int = MAX_BATCH) -> list[Any] | Response:
    """The JSON array body of a batch write, or the error answer (422 not an array or empty,
    413 over ``max_items``)."""
    if not await request.body():
        return v3_error(422, "The request body is required.", {"body": "send a JSON array"})
    body = await request.json()
    if not isinstance(body, list):
        return v3_error(422, "The request body must be an array.", {"body": "send a JSON array"})
    if not body:
        return v3_error(422, "The request body is empty.", {"body": "send at least one item"})
    if len(body) > max_items:
        return v3_error(
            413,
            f"The request payload is too large. The maximum number of items allowed in the "
            f"array is {max_items}.",
        )
    return body
