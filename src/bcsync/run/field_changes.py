"""A row's field-level before/after, read from the API calls the debugger recorded.

For each mapped field of a sync: the value the previous run that carried the row sent (what was
last synced), the value this run sent, and what BigCommerce answered. Write requests are batched
(customers go ten to a request): the row's item is found by its position among the primary keys
the call carried, checked against the record id when the item has one; the answer's item by the
record id, else the email, else the same position. A body cut by ``debugger.max_body_bytes`` is
reported as truncated, never guessed from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bcsync.config.project import SyncConfig
from bcsync.state import ApiCallRecord

TRUNCATED_MARK = "… [truncated "
_WRITE_METHODS = ("POST", "PUT")
_ELSEWHERE = ("attributes.", "metafields.")


@dataclass(frozen=True)
class Seen:
    """One side of a field's before/after: a value, or why there is none.

    ``state``: ``value`` | ``absent`` (the item has no such field) | ``truncated`` (the body was
    cut when recorded) | ``no_call`` (no recorded write carried the row) | ``elsewhere`` (the
    field travels in another request, e.g. attribute values) | ``unreadable`` (not JSON) |
    ``refused`` (the answer was an error; ``value`` is its HTTP status, None: no answer).
    """

    state: str
    value: Any = None

    def text(self) -> str:
        if self.state == "value":
            return json.dumps(self.value, ensure_ascii=False)
        if self.state == "refused":
            return f"refused (HTTP {self.value})" if self.value is not None else "no answer"
        return {
            "absent": "not in the body",
            "truncated": "body truncated (debugger.max_body_bytes): not shown",
            "no_call": "no recorded write",
            "elsewhere": "sent in another request",
            "unreadable": "body is not JSON",
        }.get(self.state, self.state)


@dataclass(frozen=True)
class FieldChange:
    """One mapped field of the row: last synced, sent in this run, answered by BigCommerce."""

    column: str
    field: str
    before: Seen
    sent: Seen
    answered: Seen

    @property
    def changed(self) -> bool:
        return (
            self.before.state == "value"
            and self.sent.state == "value"
            and self.before.value != self.sent.value
        )


@dataclass(frozen=True)
class WriteSeen:
    """The row's item in the last write of a run that carried it (None: no such call)."""

    call: ApiCallRecord | None
    request: Mapping[str, Any] | Seen
    response: Mapping[str, Any] | Seen


def row_write(calls: Sequence[ApiCallRecord], pk: str, dest_id: str | None) -> WriteSeen:
    """The row's item in the last successful write among ``calls`` (else the last write)."""
    writes = [c for c in calls if c.method in _WRITE_METHODS and pk in c.pks and _is_record(c)]
    if not writes:
        return WriteSeen(None, Seen("no_call"), Seen("no_call"))
    ok = [c for c in writes if c.status is not None and 200 <= c.status < 300]
    call = (ok or writes)[-1]
    request = _item(call.request_body, call, pk, dest_id, None)
    sent_id = request.get("id") if isinstance(request, Mapping) else None
    email = request.get("email") if isinstance(request, Mapping) else None
    response: Mapping[str, Any] | Seen
    if call.status is None or not 200 <= call.status < 300:
        response = Seen("refused", call.status)  # an error body holds no record
    else:
        response = _item(call.response_body, call, pk, dest_id or sent_id, email)
    return WriteSeen(call, request, response)


def field_changes(sync: SyncConfig, before: WriteSeen | None, now: WriteSeen) -> list[FieldChange]:
    """Each mapped field's before/after for one row (``before`` None: no earlier run)."""
    found = []
    for mapping in sync.mappings:
        field = mapping.field
        previous = before.request if before is not None else Seen("no_call")
        found.append(
            FieldChange(
                mapping.column,
                field,
                _value(previous, field),
                _value(now.request, field),
                _value(now.response, field),
            )
        )
    return found


def _is_record(call: ApiCallRecord) -> bool:
    """A write of the record itself (not of its attribute values or metafields)."""
    return call.path == "/v3/customers" or (
        call.path.startswith("/v2/orders") and "/metafields" not in call.path
    )


def _item(
    body: str | None,
    call: ApiCallRecord,
    pk: str,
    dest_id: Any,
    email: Any,
) -> Mapping[str, Any] | Seen:
    if body is None or body == "":
        return Seen("absent")
    if TRUNCATED_MARK in body:
        return Seen("truncated")
    try:
        document = json.loads(body)
    except ValueError:
        return Seen("unreadable")
    if isinstance(document, Mapping) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, Mapping):
        return document
    if not isinstance(document, list):
        return Seen("unreadable")
    items = [item for item in document if isinstance(item, Mapping)]
    if dest_id is not None:
        for item in items:
            if str(item.get("id")) == str(dest_id):
                return item
    if isinstance(email, str):
        for item in items:
            if str(item.get("email", "")).strip().lower() == email.strip().lower():
                return item
    pks = list(call.pks)
    if len(items) == len(pks):
        return items[pks.index(pk)]
    return Seen("absent")


def _value(item: Mapping[str, Any] | Seen, field: str) -> Seen:
    if isinstance(item, Seen):
        return item
    if field.startswith(_ELSEWHERE):
        return Seen("elsewhere")
    if field.startswith("form_fields."):
        name = field.removeprefix("form_fields.")
        for entry in item.get("form_fields") or []:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                return Seen("value", entry.get("value"))
        return Seen("absent")
    if field == "store_credit_amount":
        amounts = item.get("store_credit_amounts")
        if isinstance(amounts, list) and amounts and isinstance(amounts[0], Mapping):
            return Seen("value", amounts[0].get("amount"))
        return Seen("absent")
    node: Any = item
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return Seen("absent")
        node = node[part]
    return Seen("value", node)


@dataclass(frozen=True)
class RowFields:
    """A row's before/after in one run: the run, the earlier run that carried it, each mapped
    field, and the write call read (None: no recorded write carried the row)."""

    run_id: str
    previous_run_id: str | None
    changes: list[FieldChange]
    call: ApiCallRecord | None
