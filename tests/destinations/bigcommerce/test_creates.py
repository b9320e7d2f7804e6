"""A create whose answer was lost is settled by reading BigCommerce, one rule for every object."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from bcsync.destinations.base import RowOp
from bcsync.destinations.bigcommerce.creates import Created, RecordKind, create_settled
from bcsync.errors import AmbiguousWriteError, RequestRejectedError

MARK = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KIND = RecordKind(
    noun="widget",
    plural="widgets",
    key_field="code",
    lost_twice="lost twice",
    made_by=lambda row, record: record["made_after_mark"],
)


def _op(pk: str) -> RowOp:
    return RowOp(pk, "create", {"code": pk}, "h", marked_at=MARK)


class _Store:
    """Answers each send with the scripted outcome, and records what was sent and read."""

    def __init__(self, answers: list[Any], records: Mapping[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.records = records
        self.sent: list[list[str]] = []

    async def send(self, ops: Sequence[RowOp]) -> Created:
        self.sent.append([op.pk for op in ops])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Created({op.pk: f"new-{op.pk}" for op in ops})

    async def find(self, ops: Sequence[RowOp]) -> dict[str, Mapping[str, Any]]:
        return {op.pk: self.records[op.pk] for op in ops if op.pk in self.records}


def _settle(store: _Store, ops: Sequence[RowOp]) -> Created:
    return asyncio.run(create_settled(ops, store.send, store.find, KIND))


def test_a_lost_create_that_landed_is_held_and_one_made_before_is_refused() -> None:
    store = _Store(
        [AmbiguousWriteError("lost"), "ok"],
        {
            "a": {"id": 7, "code": "a", "made_after_mark": True},
            "b": {"id": 8, "code": "b", "made_after_mark": False},
        },
    )
    result = _settle(store, [_op("a"), _op("b"), _op("c")])
    assert result.ids == {"a": "7", "c": "new-c"}
    assert result.errors == {
        "b": "widget 8 with code 'b' already existed before this sync's create; insert mode "
        "never takes over an existing widget"
    }
    assert store.sent == [["a", "b", "c"], ["c"]]  # only the row with nothing found is re-sent


def test_a_create_lost_again_is_refused_and_never_sent_a_third_time() -> None:
    store = _Store([AmbiguousWriteError("lost"), AmbiguousWriteError("again")], {})
    result = _settle(store, [_op("a")])
    assert result.errors == {"a": "lost twice: again"}
    assert store.sent == [["a"], ["a"]]


def test_a_resend_that_fails_keeps_what_was_settled_and_hands_back_the_error() -> None:
    rejected = RequestRejectedError("422 duplicate")
    store = _Store([AmbiguousWriteError("lost"), rejected], {"a": {"id": 7, "made_after_mark": 1}})
    result = _settle(store, [_op("a"), _op("b")])
    assert result.ids == {"a": "7"}
    assert result.failed is rejected


def test_a_resend_that_fails_with_nothing_settled_raises() -> None:
    store = _Store([AmbiguousWriteError("lost"), RequestRejectedError("422 duplicate")], {})
    with pytest.raises(RequestRejectedError):
        _settle(store, [_op("a")])


def test_insert_mode_leaves_a_held_record_as_it_is() -> None:
    row = RowOp("a", "create", {}, "h", dest_id="9")
    outcome = KIND.insert_skip(row)
    assert (outcome.status, outcome.dest_id, outcome.row_hash) == ("skipped", "9", "h")
    assert outcome.error == "insert mode does not update existing widgets"
