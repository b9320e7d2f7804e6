from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bcsync.errors import StateError
from bcsync.state import ApiCallRecord, RunStore

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _call(seq: int, pks: tuple[str, ...], *, at: datetime = T0, **kw) -> ApiCallRecord:
    fields = {
        "seq": seq,
        "started_at": at + timedelta(seconds=seq),
        "duration_ms": 12.5 * seq,
        "method": "PUT",
        "path": "/stores/abc/v3/customers",
        "query": "",
        "request_headers": {"X-Auth-Token": "***", "Content-Type": "application/json"},
        "request_body": json.dumps([{"id": int(pk), "phone": "555"} for pk in pks]),
        "status": 200,
        "response_headers": {"X-Rate-Limit-Requests-Left": "149"},
        "response_body": '{"data": []}',
        "attempt": 1,
        "pks": pks,
        "error": None,
    }
    return ApiCallRecord(**(fields | kw))


def test_api_calls_recorded_and_found_by_row(store: RunStore) -> None:
    run_id = store.start_run("vip")
    calls = [
        _call(1, ("1", "2", "3")),
        _call(2, ("4",), status=429, response_body=None, attempt=1),
        _call(3, ("4",), attempt=2),
        _call(4, (), method="GET", query="email:in=a@x.com", status=None, error="timed out"),
    ]
    store.add_api_calls(run_id, calls[:2])
    store.add_api_calls(run_id, calls[2:])
    store.add_api_calls(run_id, [])

    assert store.api_calls(run_id) == calls
    assert store.api_calls(run_id, pk="4") == calls[1:3]
    assert store.api_calls(run_id, pk="2") == [calls[0]]
    assert store.api_calls(run_id, pk="99") == []
    got = store.api_calls(run_id)[0]
    assert got.started_at == calls[0].started_at and got.started_at.tzinfo is not None


def test_credential_headers_are_never_stored(store: RunStore) -> None:
    run_id = store.start_run("vip")
    leaky = _call(1, ("1",), request_headers={"x-auth-token": "tok_live_123", "Accept": "a/b"})
    store.add_api_calls(run_id, [leaky])
    (stored,) = store.api_calls(run_id)
    assert stored.request_headers == {"x-auth-token": "***", "Accept": "a/b"}


def test_duplicate_sequence_number_is_a_clear_error(store: RunStore) -> None:
    run_id = store.start_run("vip")
    store.add_api_calls(run_id, [_call(1, ("1",))])
    with pytest.raises(StateError, match="sequence numbers must be unique"):
        store.add_api_calls(run_id, [_call(1, ("2",))])
    assert len(store.api_calls(run_id)) == 1


def test_prune_removes_old_calls_only(store: RunStore) -> None:
    old_run = store.start_run("vip")
    new_run = store.start_run("vip")
    store.add_api_calls(old_run, [_call(i, (str(i),), at=T0 - timedelta(days=40)) for i in (1, 2)])
    store.add_api_calls(new_run, [_call(1, ("1",)), _call(2, ("1",))])

    assert store.prune_api_calls(T0 - timedelta(days=30)) == 2
    assert store.api_calls(old_run) == []
    assert store.api_calls(old_run, pk="1") == []
    assert [c.seq for c in store.api_calls(new_run, pk="1")] == [1, 2]
    assert store.prune_api_calls(T0 - timedelta(days=30)) == 0
    # The pk index of pruned calls went with them: a reused seq is accepted again.
    store.add_api_calls(old_run, [_call(1, ("1",))])
    assert [c.seq for c in store.api_calls(old_run, pk="1")] == [1]
