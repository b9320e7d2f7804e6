"""Batch bisection (``bcsync.destinations.bigcommerce.batching``): when BigCommerce rejects a
batch as a whole, the bad items are isolated in about log2(n) rounds and the good ones land.

``send`` is a fake store that refuses any batch holding a bad item, the way BigCommerce's v3
batch endpoints do; no HTTP is involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bcsync.destinations.bigcommerce.batching import bisect, chunks
from bcsync.errors import ApiError, AuthError, RequestRejectedError, ServerError


class Store:
    """Takes a batch when none of its items is bad; else refuses it whole with a 422 body.

    ``name_indexes``: the body names the bad items by their index in the batch
    (``{"errors": {"2.email": ...}}``), as a v3 batch error does; ``named`` overrides which
    indexes it names (an index format BigCommerce does not document may be wrong)."""

    def __init__(
        self,
        bad: Sequence[int],
        *,
        name_indexes: bool = False,
        named: Callable[[Sequence[int]], list[int]] | None = None,
    ) -> None:
        self.bad = set(bad)
        self.name_indexes = name_indexes
        self.named = named
        self.calls: list[list[int]] = []
        self.landed: list[int] = []

    async def send(self, items: Sequence[int]) -> None:
        self.calls.append(list(items))
        if not self.bad & set(items):
            self.landed.extend(items)
            return
        body: dict[str, Any] = {"title": "Invalid batch"}
        if self.name_indexes:
            indexes = (
                self.named(items)
                if self.named
                else [i for i, item in enumerate(items) if item in self.bad]
            )
            body["errors"] = {
                f"{i}.email": f"item {items[i] if i < len(items) else '?'} is bad" for i in indexes
            }
        raise RequestRejectedError("422 Unprocessable Entity", status=422, body=body)


def run(items: Sequence[int], store: Store) -> list[tuple[int, str]]:
    return asyncio.run(bisect(items, store.send))


def test_a_good_batch_is_one_call_and_nothing_is_rejected() -> None:
    store = Store(bad=[])
    assert run(list(range(10)), store) == []
    assert store.calls == [list(range(10))]
    assert store.landed == list(range(10))


def test_one_bad_item_is_isolated_by_halving_and_the_rest_land() -> None:
    store = Store(bad=[5])
    assert run(list(range(8)), store) == [(5, "Invalid batch")]
    assert store.calls == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [4, 5],
        [4],
        [5],
        [6, 7],
    ]
    assert sorted(store.landed) == [0, 1, 2, 3, 4, 6, 7]


@pytest.mark.parametrize("size_log2", [0, 1, 3, 6])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_bad_item_costs_two_calls_per_halving(size_log2: int, where: str) -> None:
    size = 2**size_log2
    bad = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    store = Store(bad=[bad])
    assert [item for item, _ in run(list(range(size)), store)] == [bad]
    # The whole batch, then at each of the log2(n) levels the bad half and its good sibling.
    assert len(store.calls) == 1 + 2 * size_log2
    assert sorted(store.landed) == [i for i in range(size) if i != bad]


def test_items_the_error_names_are_sent_alone_and_the_rest_together() -> None:
    store = Store(bad=[2, 6], name_indexes=True)
    rejected = run(list(range(8)), store)
    assert rejected == [(2, "Invalid batch — email: item 2 is bad"),
                        (6, "Invalid batch — email: item 6 is bad")]  # fmt: skip
    assert store.calls == [list(range(8)), [2], [6], [0, 1, 3, 4, 5, 7]]
    assert sorted(store.landed) == [0, 1, 3, 4, 5, 7]


def test_a_named_item_that_goes_through_alone_lands_and_the_bad_one_is_still_found() -> None:
    # The body names item 0, but item 3 is the bad one (an index format read wrongly).
    store = Store(bad=[3], name_indexes=True, named=lambda items: [0] if len(items) > 1 else [])
    assert run([0, 1, 2, 3], store) == [(3, "Invalid batch")]
    assert store.calls == [[0, 1, 2, 3], [0], [1, 2, 3], [1], [2, 3], [2], [3]]
    assert sorted(store.landed) == [0, 1, 2]


def test_indexes_outside_the_batch_or_naming_every_item_fall_back_to_halving() -> None:
    outside = Store(
        bad=[1], name_indexes=True, named=lambda items: [len(items) + 5] if len(items) > 1 else []
    )
    assert run([0, 1, 2, 3], outside) == [(1, "Invalid batch")]
    assert outside.calls[:3] == [[0, 1, 2, 3], [0, 1], [0]]

    every = Store(bad=[0, 1, 2, 3], name_indexes=True, named=lambda items: list(range(len(items))))
    assert [item for item, _ in run([0, 1, 2, 3], every)] == [0, 1, 2, 3]
    assert every.calls[:2] == [[0, 1, 2, 3], [0, 1]]
    assert every.landed == []


def test_a_single_item_rejected_without_a_message_gets_the_error_itself() -> None:
    async def send(items: Sequence[str]) -> None:
        raise RequestRejectedError("400 Bad Request", status=400, body=None)

    assert asyncio.run(bisect(["only"], send)) == [("only", "400 Bad Request")]


def test_an_empty_batch_is_sent_as_it_is() -> None:
    store = Store(bad=[])
    assert run([], store) == []
    assert store.calls == [[]]


def test_a_write_still_failing_after_retries_is_not_bisected_and_nothing_is_confirmed() -> None:
    calls: list[list[str]] = []

    async def send(items: Sequence[str]) -> None:
        calls.append(list(items))
        raise ServerError("503 Service Unavailable", status=503)

    rejected = asyncio.run(bisect(["a", "b", "c"], send))
    assert calls == [["a", "b", "c"]]
    assert rejected == [
        (item, "BigCommerce did not confirm the write: 503 Service Unavailable")
        for item in ("a", "b", "c")
    ]


@pytest.mark.parametrize(
    "error",
    [AuthError("403 Forbidden", status=403), ApiError("unexpected answer"), ValueError("bug")],
)
def test_a_fatal_or_unknown_error_stops_the_run(error: Exception) -> None:
    calls: list[list[int]] = []

    async def send(items: Sequence[int]) -> None:
        calls.append(list(items))
        raise error

    with pytest.raises(type(error)):
        asyncio.run(bisect([1, 2, 3, 4], send))
    assert calls == [[1, 2, 3, 4]]


@given(
    st.integers(min_value=1, max_value=40).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)), st.booleans())
    )
)
def test_every_bad_item_is_rejected_once_and_every_good_item_lands_once(
    case: tuple[int, set[int], bool],
) -> None:
    size, bad, name_indexes = case
    store = Store(bad=sorted(bad), name_indexes=name_indexes)
    rejected = run(list(range(size)), store)
    assert sorted(item for item, _ in rejected) == sorted(bad)
    assert sorted(store.landed) == [i for i in range(size) if i not in bad]


def test_chunks_are_consecutive_slices_of_at_most_size() -> None:
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks([1, 2, 3, 4], 2)) == [[1, 2], [3, 4]]
    assert list(chunks([1, 2], 10)) == [[1, 2]]
    assert list(chunks([], 3)) == []
    assert list(chunks("abcde", 3)) == ["abc", "de"]
