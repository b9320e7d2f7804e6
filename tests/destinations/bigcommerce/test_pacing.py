"""The quota pacer on a fake clock, against a simulated BigCommerce quota window.

The simulated store counts requests the way the emulator does (a fixed window that opens at the
first request after the previous one ended) and answers with the same ``X-Rate-Limit-*`` headers,
so these tests show how much of the quota a long run gets and how many 429s it meets, in seconds
of real time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from typing import Any

import pytest

from bcsync.destinations.bigcommerce.ratelimit import QuotaPacer, endpoint_key


class SimulatedStore:
    """A fixed quota window that opens at the first request after the previous one ended."""

    def __init__(self, quota: int, window: float) -> None:
        self.quota, self.window = quota, window
        self.start: float | None = None
        self.used = 0
        self.ok = 0
        self.limited = 0

    def take(self, now: float) -> tuple[int, dict[str, str]]:
        if self.start is not None and now >= self.start + self.window:
            self.start, self.used = None, 0
        if self.start is None:
            self.start = now
        reset_ms = math.ceil((self.start + self.window - now) * 1000)
        allowed = self.used < self.quota
        self.used += allowed
        headers = {
            "X-Rate-Limit-Time-Window-Ms": str(int(self.window * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.quota - self.used),
        }
        if allowed:
            self.ok += 1
            return 200, headers
        self.limited += 1
        return 429, {**headers, "X-Retry-After": str(max(1, math.ceil(reset_ms / 1000)))}


def simulate(
    *, quota: int, window: float, workers: int, latency: float, duration: float, seed: int = 1
) -> SimulatedStore:
    """``workers`` callers sending back to back through one pacer for ``duration`` seconds.

    Events run in time order: a caller asks for a slot, its request reaches the store half a
    latency after the send (when the store counts it), and the answer comes back after another
    half, when the pacer learns from it. Latency varies by ±50% so answers overtake each other.
    """
    rng = random.Random(seed)
    pacer = QuotaPacer(rng=random.Random(seed))
    store = SimulatedStore(quota, window)
    events: list[tuple[float, int, str, int, int, dict[str, str]]] = []
    seq = 0

    def push(at: float, kind: str, ticket: int = 0, status: int = 0, headers: Any = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, ticket, status, headers or {}))

    def half_trip() -> float:
        return latency * rng.uniform(0.5, 1.5) / 2

    for _ in range(workers):
        push(0.0, "ask")
    while events:
        now, _, kind, ticket, status, headers = heapq.heappop(events)
        if now > duration:
            break
        if kind == "ask":
            when, got = pacer.reserve_slot(now)
            if got is None:
                push(max(when, now + 1e-6), "ask")
            else:
                push(when + half_trip(), "arrive", got)
        elif kind == "arrive":
            status, headers = store.take(now)
            push(now + half_trip(), "answer", ticket, status, headers)
        elif kind == "answer":
            if status == 429:
                pacer.on_rate_limited(ticket, headers, now)
            else:
                pacer.observe(ticket, headers, now)
            push(now, "ask")
    return store


@pytest.mark.parametrize(
    ("workers", "latency"),
    [(1, 0.005), (4, 0.02), (10, 0.005), (10, 0.15), (30, 0.05), (3, 0.4)],
)
def test_a_long_run_uses_the_quota_evenly_without_429s(workers: int, latency: float) -> None:
    quota, window, duration = 150, 3.0, 60.0
    store = simulate(
        quota=quota, window=window, workers=workers, latency=latency, duration=duration
    )
    available = quota * duration / window
    # Slow answers with few workers cannot reach the quota at all; then the pacer must not hold
    # them back (they get what back-to-back sending gives).
    reachable = min(available, workers * duration / latency)
    assert store.ok >= 0.9 * reachable, (store.ok, reachable)
    assert store.limited <= 0.01 * (store.ok + store.limited), (store.limited, store.ok)


def window_headers(quota: int, left: int, reset_ms: int, window_ms: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Time-Window-Ms": str(window_ms),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Requests-Quota": str(quota),
        "X-Rate-Limit-Requests-Left": str(left),
    }


def test_a_small_burst_goes_at_once_and_the_rest_is_spread_over_the_window() -> None:
    pacer = QuotaPacer(reserve=2, burst=0.1)  # spreading: the mode for burst < 1
    _, first = pacer.reserve_slot(0.0)
    assert first is not None
    pacer.observe(first, window_headers(150, 149, 3000, 3000), 0.0)
    slots = [pacer.reserve_slot(0.0) for _ in range(100)]
    assert all(ticket is not None for _, ticket in slots)
    times = [when for when, _ in slots]
    assert times[:15] == [0.0] * 15  # 10 % of the quota need not wait
    gaps = [b - a for a, b in itertools.pairwise(times[15:])]
    # The 132 usable requests left are spread evenly over the 3 s to the reset.
    assert min(gaps) == pytest.approx(max(gaps), rel=1e-6)
    assert gaps[0] == pytest.approx(3.0 / 132, rel=0.01)


def test_answers_lag_by_the_requests_sent_after_them() -> None:
    pacer = QuotaPacer(reserve=0, burst=0)
    tickets = [pacer.reserve_slot(0.0)[1] for _ in range(5)]  # five out, none answered
    assert None not in tickets
    # lower-case names, as BigCommerce may send them
    lower = {k.lower(): v for k, v in window_headers(10, 9, 30_000, 30_000).items()}
    pacer.observe(tickets[0], lower, 0.01)
    # 9 left when the first arrived; the four sent after it may not be counted: 5 more may go.
    granted = [pacer.reserve_slot(0.01)[1] for _ in range(10)]
    assert sum(1 for t in granted if t is not None) == 5


def test_an_answer_to_the_latest_request_counts_everything_before_it() -> None:
    pacer = QuotaPacer(reserve=0, burst=0)
    tickets = [pacer.reserve_slot(0.0)[1] for _ in range(5)]
    pacer.observe(tickets[-1], window_headers(10, 5, 30_000, 30_000), 0.01)
    granted = [pacer.reserve_slot(0.01)[1] for _ in range(10)]
    assert sum(1 for t in granted if t is not None) == 5


def test_a_429_pauses_for_the_longer_of_retry_after_and_reset() -> None:
    pacer = QuotaPacer(rng=random.Random(3))
    _, ticket = pacer.reserve_slot(10.0)
    assert ticket is not None
    headers = {"X-Retry-After": "2", "X-Rate-Limit-Time-Reset-Ms": "4500"}
    until = pacer.on_rate_limited(ticket, headers, 10.0)
    assert 14.5 <= until <= 14.5 + 1.0
    assert pacer.reserve_slot(12.0) == (until, None)  # nobody else goes either
    pacer2 = QuotaPacer(rng=random.Random(3))
    _, ticket = pacer2.reserve_slot(0.0)
    assert ticket is not None
    headers = {"X-Retry-After": "7", "X-Rate-Limit-Time-Reset-Ms": "10"}
    assert pacer2.on_rate_limited(ticket, headers, 0.0) >= 7.0


def test_a_429_without_headers_backs_off_exponentially() -> None:
    pacer = QuotaPacer(backoff_base=1.0, backoff_max=60.0, rng=random.Random(5))
    now, waits = 0.0, []
    for _ in range(8):
        _, ticket = pacer.reserve_slot(now)
        assert ticket is not None
        until = pacer.on_rate_limited(ticket, {}, now)
        waits.append(until - now)
        now = until
    for n, wait in enumerate(waits):
        ceiling = min(60.0, 2.0**n)
        assert ceiling / 2 <= wait <= ceiling
    assert waits[-1] > 8 * waits[0]
    _, ticket = pacer.reserve_slot(now)
    assert ticket is not None
    pacer.observe(ticket, {}, now + 0.1)  # a success ends the streak
    _, ticket = pacer.reserve_slot(now + 0.2)
    assert ticket is not None
    assert pacer.on_rate_limited(ticket, {}, now + 0.2) - (now + 0.2) <= 1.0


def test_no_quota_means_no_waiting() -> None:
    pacer = QuotaPacer()
    unlimited = window_headers(2_147_483_647, 2_147_483_646, 30_000, 30_000)
    now = 0.0
    for i in range(10_000):
        when, ticket = pacer.reserve_slot(now)
        assert ticket is not None
        assert when - now < 1e-4
        pacer.observe(ticket, unlimited, now)
        now += 1e-5 * (i % 3)


def test_a_late_answer_from_the_previous_window_is_ignored() -> None:
    pacer = QuotaPacer(reserve=0, burst=0)
    answers = [
        (0.0, 9, 1000),
        (1.05, 9, 1000),  # our estimate rolled over; first answer of the new window
        (1.07, 0, 5),  # a straggler from the old window: 0 left, 5 ms to go
    ]
    for now, left, reset_ms in answers:
        _, ticket = pacer.reserve_slot(now)
        assert ticket is not None
        pacer.observe(ticket, window_headers(10, left, reset_ms, 1000), now + 0.01)
    assert pacer.reserve_slot(1.09)[1] is not None


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("put", "/v3/customers", "PUT /v3/customers"),
        ("PUT", "/v2/orders/12", "PUT /v2/orders/{id}"),
        ("GET", "/v2/orders/12/products?limit=5", "GET /v2/orders/{id}/products"),
        ("GET", "/v3/customers/", "GET /v3/customers"),
        ("GET", "/v2/orders/count", "GET /v2/orders/count"),
    ],
)
def test_endpoint_keys_are_route_templates(method: str, path: str, key: str) -> None:
    assert endpoint_key(method, path) == key


def finish_time(
    *, total: int, quota: int, window: float, workers: int, latency: float, **kw: Any
) -> tuple[float, SimulatedStore]:
    """How long ``total`` requests take through one pacer (``kw`` its settings), ``workers`` at
    once, each answered after ``latency`` seconds; the store counts them on arrival."""
    pacer = QuotaPacer(rng=random.Random(1), **kw)
    store = SimulatedStore(quota, window)
    events: list[tuple[float, int, str, int, int, dict[str, str]]] = []
    counter = itertools.count()
    left, done, last = total, 0, 0.0

    def push(at: float, kind: str, ticket: int = 0, status: int = 0, headers: Any = None) -> None:
        heapq.heappush(events, (at, next(counter), kind, ticket, status, headers or {}))

    for _ in range(workers):
        push(0.0, "ask")
    while events:
        now, _, kind, ticket, status, headers = heapq.heappop(events)
        if kind == "ask":
            if left == 0:
                continue
            when, got = pacer.reserve_slot(now)
            if got is None:
                push(max(when, now + 1e-6), "ask")
            else:
                left -= 1
                push(when + latency / 2, "arrive", got)
        elif kind == "arrive":
            status, headers = store.take(now)
            push(now + latency / 2, "answer", ticket, status, headers)
        else:
            if status == 429:
                pacer.on_rate_limited(ticket, headers, now)
                left += 1
            else:
                pacer.observe(ticket, headers, now)
                done, last = done + 1, now
            push(now, "ask")
    assert done == total
    return last, store


def test_a_window_is_used_at_once_and_then_the_pacer_waits_for_the_reset() -> None:
    pacer = QuotaPacer()  # the default: the whole window's quota may go at once
    _, first = pacer.reserve_slot(0.0)
    assert first is not None
    pacer.observe(first, window_headers(150, 149, 3000, 3000), 0.01)
    slots = [pacer.reserve_slot(0.02) for _ in range(150)]
    assert [when for when, _ in slots[:149]] == [0.02] * 149
    assert slots[149] == (pytest.approx(3.01), None)  # spent: ask again at the reset
    for _, ticket in slots[:149]:
        assert ticket is not None
        pacer.observe(ticket, window_headers(150, 0, 2900, 3000), 0.2)
    assert pacer.reserve_slot(3.02)[1] is not None  # a fresh window


def test_the_last_window_of_a_run_is_not_stretched_to_its_reset() -> None:
    """1,082 requests (the bench's 9,000 customers) at 150 per 3 s need 7 full windows and 32
    requests of an 8th: sent at once they end just after 21 s; spread evenly, near 21.6 s."""
    kw: dict[str, Any] = {"total": 1082, "quota": 150, "window": 3.0, "workers": 10}
    at_once, store = finish_time(latency=0.004, **kw)
    assert store.limited == 0
    assert 21.0 < at_once < 21.2, at_once
    spread, store = finish_time(latency=0.004, reserve=2, burst=0.1, **kw)
    assert store.limited == 0
    assert spread > at_once + 0.4, (spread, at_once)


def test_requests_in_flight_at_a_rollover_count_against_the_new_window() -> None:
    pacer = QuotaPacer()
    _, first = pacer.reserve_slot(0.0)
    assert first is not None
    pacer.observe(first, window_headers(10, 9, 1000, 1000), 0.0)
    late = [pacer.reserve_slot(0.9)[1] for _ in range(3)]  # still out when the window ends
    assert None not in late
    # They may reach the store after its reset and count there: 7 more, not 10, may go now.
    granted = [pacer.reserve_slot(1.0)[1] for _ in range(10)]
    assert sum(t is not None for t in granted) == 7
    # The first answer from the new window tells how many it really holds: the three had
    # landed in the old one, so 10 - 1 (the request answered) - 6 (sent after it) = 3 more.
    assert late[0] is not None and granted[0] is not None
    for ticket in late:
        assert ticket is not None
        pacer.observe(ticket, window_headers(10, 0, 50, 1000), 0.95)
    pacer.observe(granted[0], window_headers(10, 9, 1000, 1000), 1.01)
    assert sum(pacer.reserve_slot(1.02)[1] is not None for _ in range(10)) == 3


@pytest.mark.parametrize("latency", [0.004, 0.05])
def test_a_long_run_meets_no_429s_with_the_whole_window_at_once(latency: float) -> None:
    last, store = finish_time(total=3000, quota=150, window=3.0, workers=30, latency=latency)
    assert store.limited == 0
    assert last < 60 * (1 + 2 * latency)  # 20 windows, each late by about a round trip
