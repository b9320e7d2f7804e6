"""What BigCommerce says when it refuses a request, read from the error body in one place.

The v2 and v3 APIs word their errors differently, and a v3 batch that partly fails names the bad
items by index (two formats) and may still return the items it applied. Every writer reads these
bodies through the functions here, so a new shape BigCommerce answers with is handled once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def bigcommerce_message(body: Any) -> str:
    """BigCommerce's own words from an error body: v2 ``[{status, message}]``, v3 ``{title,
    errors}``, or ``{error}`` / ``{message}``. Empty when the body says nothing."""
    if isinstance(body, list):
        return "; ".join(
            str(item["message"]) for item in body if isinstance(item, dict) and item.get("message")
        )
    if not isinstance(body, dict):
        return ""
    head = str(body.get("title") or body.get("message") or body.get("error") or "")
    detail = body.get("detail")
    errors = body.get("errors")
    parts = [head] if head else []
    if detail:
        parts.append(str(detail))
    if isinstance(errors, dict) and errors:
        parts.append("; ".join(_error_item(str(key), value) for key, value in errors.items()))
    elif isinstance(errors, list) and errors:
        parts.append(
            "; ".join(bigcommerce_message(e) if isinstance(e, dict) else str(e) for e in errors)
        )
    return " — ".join(parts)


def _error_item(key: str, message: Any) -> str:
    """One entry of a v3 ``errors`` object; a batch index prefix (``0.email``) is dropped, since
    the message is reported against the row it belongs to."""
    head, _, field = key.partition(".")
    if head.isdigit():
        key = field
    return f"{key}: {message}" if key else str(message)


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


def metafield_failures(body: Any) -> dict[int, str]:
    """Item indexes named in a metafield batch error (``errors[].errors`` keyed by index)."""
    failed: dict[int, str] = {}
    if not isinstance(body, dict):
        return failed
    for error in body.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("errors"), dict):
            for key, message in error["errors"].items():
                if str(key).isdigit():
                    failed[int(key)] = str(message)
    return failed


def applied_items(body: Any) -> Sequence[Mapping[str, Any]] | None:
    """The items a refused v3 batch applied anyway (its ``data``), or None when it names none."""
    data = body.get("data") if isinstance(body, dict) else None
    return data or None
