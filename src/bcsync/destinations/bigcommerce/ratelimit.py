"""The per-store rate governor: quota pacing, concurrency caps and 429 pauses.

BigCommerce gives each store one request quota per window, shared by every API account on it, and
caps how many requests may run at once on some endpoints. One :class:`RateGovernor` per store
(a project's :class:`Governors` hands it out) is shared by every sync of the project, so two syncs
to the same store never add up to more than the store allows.

- :class:`QuotaPacer` (pure, clock passed in) spreads the requests left in the window evenly over
  the time left, from the ``X-Rate-Limit-*`` headers, and turns a 429 into a store-wide pause.
- :class:`RateGovernor` adds the concurrency caps and the waiting. It uses a thread lock and
  per-loop futures instead of asyncio primitives, so syncs on different event loops (or threads)
  can share it.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# BigCommerce's documented per-endpoint concurrency limits (reference §2.4).
DEFAULT_ENDPOINT_CAPS: Mapping[str, int] = {
    "PUT /v3/customers": 3,
    "POST /v3/customers": 10,
    "POST /v3/customers/attributes": 3,
    "PUT /v3/customers/attributes": 3,
    "PUT /v3/customers/attribute-values": 3,
    "PUT /v3/customers/addresses": 3,
    "POST /v3/customers/addresses": 10,
}

_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_key(method: str, path: str) -> str:
    """``PUT /v2/orders/12?x=1`` → ``PUT /v2/orders/{id}``: the key of caps and statistics."""
    route = path.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
    return f"{method.upper()} {_NUMERIC_SEGMENT.sub('/{id}', route)}"


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A numeric header, looked up case-insensitively; None when absent or not a number."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class QuotaPacer:
    """Where the store's quota window stands, as far as the responses tell, and when to send next.

    Two ways to a slot, and neither sends more than the window has left:

    - a small burst allowance (a token bucket of ``burst`` × quota, refilled at the quota's
      average rate), so a short run is not slowed down by pacing;
    - otherwise the requests left are spread evenly over the time left until the reset, so a long
      run uses the quota steadily instead of spending it at once and waiting out the window.

    Every method takes ``now`` (monotonic seconds) so the logic can be driven by a fake clock.
    Each reserved request holds a ticket until its answer is observed (or it is released).
    """

    reserve: int = 2  # requests kept back per window for clock skew at the window boundary
    burst: float = 0.1  # share of the quota that may go out at once
    backoff_base: float = 1.0  # first wait after a 429 without rate-limit headers (seconds)
    backoff_max: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    quota: int | None = None  # None: no quota known (no headers yet, or unlimited)
    window: float = 0.0  # seconds
    left: float = 0.0  # estimate of requests we may still send in the current window
    reset_at: float = 0.0
    reset_seen: bool = False  # reset_at comes from a response, not from our guess at a rollover
    next_slot: float = 0.0
    pause_until: float = 0.0
    bare_429s: int = 0  # consecutive 429s without headers
    credit: float = 0.0  # burst tokens available
    credit_at: float = 0.0
    pending: dict[int, tuple[float, int]] = field(default_factory=dict)  # ticket → send order
    _tickets: int = 0

    def reserve_slot(self, now: float) -> tuple[float, int | None]:
        """Claim the next send slot: ``(when, ticket)``. Or ``(until, None)`` when nothing may be
        sent before ``until`` (a 429 pause, or the window's quota is spent): wait, then ask again.
        """
        if now < self.pause_until:
            return self.pause_until, None
        if self.quota is None:
            return now, self._ticket(now)
        if now >= self.reset_at:  # our estimate of the window rolled over: a fresh quota
            periods = int((now - self.reset_at) // self.window) + 1
            self.reset_at += periods * self.window
            self.reset_seen = False
            self.left = self.quota
        usable = self.left - self.reserve
        if usable < 1:
            return self.reset_at, None
        self._refill(now)
        if self.credit >= 1:
            self.credit -= 1
            self.left -= 1
            return now, self._ticket(now)
        slot = max(now, self.next_slot)
        if slot >= self.reset_at:
            return slot, None
        # Spread what is left evenly over the time left: the requests reserved ahead of us are
        # already taken off ``left``, so successive slots end up evenly spaced up to the reset.
        self.next_slot = slot + (self.reset_at - slot) / usable
        self.left -= 1
        return slot, self._ticket(slot)

    def _ticket(self, send_at: float) -> int:
        self._tickets += 1
        self.pending[self._tickets] = (send_at, self._tickets)
        return self._tickets

    def _refill(self, now: float) -> None:
        if self.quota is None or now <= self.credit_at:
            return
        rate = self.quota / self.window
        self.credit = min(self.burst * self.quota, self.credit + (now - self.credit_at) * rate)
        self.credit_at = now

    def release(self, ticket: int) -> None:
        """A reserved request ended without an answer (or was never sent)."""
        self.pending.pop(ticket, None)

    def observe(self, ticket: int, headers: Mapping[str, str], now: float) -> None:
        """Learn the window's state from a (non-429) answer to a reserved request."""
        order = self.pending.pop(ticket, (now, ticket))
        self.bare_429s = 0
        quota = _header_number(headers, "X-Rate-Limit-Requests-Quota")
        left = _header_number(headers, "X-Rate-Limit-Requests-Left")
        reset_ms = _header_number(headers, "X-Rate-Limit-Time-Reset-Ms")
        window_ms = _header_number(headers, "X-Rate-Limit-Time-Window-Ms")
        if quota is None or left is None or reset_ms is None:
            return  # e.g. an error page from a proxy: keep what we knew
        window = (window_ms or reset_ms) / 1000.0
        if quota <= 0 or window <= 0:
            self.quota = None  # unlimited: nothing to pace against
            return
        reset_at = now + reset_ms / 1000.0
        # The count in these headers lags: requests sent after this one (and those not sent yet)
        # cannot be in it.
        estimate = left - sum(1 for other in self.pending.values() if other > order)
        if self.quota is not None and abs(reset_at - self.reset_at) < window / 2:
            # Same window: answers can arrive out of order, so keep the more cautious count. An
            # observed reset time is late by the answer's travel time, so the earliest is nearest
            # the truth; but a window may open only at its first request, so a reset time we
            # guessed at a rollover gives way to the first observed one.
            self.left = min(self.left, estimate)
            self.reset_at = min(self.reset_at, reset_at) if self.reset_seen else reset_at
        elif self.quota is not None and reset_at < self.reset_at - window / 2:
            return  # a late answer from the previous window
        else:
            self.left = estimate
            self.reset_at = reset_at
        if self.quota is None:  # first sight of a quota: the burst allowance starts full
            self.credit, self.credit_at = self.burst * quota, now
        self.reset_seen = True
        self.quota, self.window = int(quota), window

    def on_rate_limited(self, ticket: int, headers: Mapping[str, str], now: float) -> float:
        """A 429 for a reserved request: pause every request of the store; returns the pause end.

        Waits the longer of ``X-Retry-After`` and ``X-Rate-Limit-Time-Reset-Ms`` plus jitter; a
        429 without either (the platform is overloaded) backs off exponentially."""
        self.pending.pop(ticket, None)
        retry_after = _header_number(headers, "X-Retry-After")
        reset_ms = _header_number(headers, "X-Rate-Limit-Time-Reset-Ms")
        if retry_after is None and reset_ms is None:
            self.bare_429s += 1
            wait = min(self.backoff_max, self.backoff_base * 2 ** (self.bare_429s - 1))
            wait *= self.rng.uniform(0.5, 1.0)
        else:
            self.bare_429s = 0
            wait = max(retry_after or 0.0, (reset_ms or 0.0) / 1000.0)
            wait += self.rng.uniform(0.0, min(1.0, 0.05 + 0.1 * wait))
            quota = _header_number(headers, "X-Rate-Limit-Requests-Quota")
            window_ms = _header_number(headers, "X-Rate-Limit-Time-Window-Ms")
            if quota is not None and quota > 0 and window_ms is not None and window_ms > 0:
                self.quota, self.window = int(quota), window_ms / 1000.0
            if self.quota is not None:
                self.left = 0
                self.reset_at = now + wait
        self.pause_until = max(self.pause_until, now + wait)
        self.next_slot = max(self.next_slot, self.pause_until)
        self.credit, self.credit_at = 0.0, self.pause_until
        return self.pause_until


@dataclass(eq=False)
class _Waiter:
    key: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


class Permit:
    """The right to send one request; tell it what came back with :meth:`observe`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.status: int | None = None
        self.headers: Mapping[str, str] = {}

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        self.status, self.headers = status, headers


class RateGovernor:
    """Shares one store's request quota and concurrency between every request sent to it."""

    def __init__(
        self,
        *,
        max_in_flight: int = 10,
        default_endpoint_cap: int = 8,
        endpoint_caps: Mapping[str, int] | None = None,
        reserve: int = 2,
        burst: float = 0.1,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.default_endpoint_cap = default_endpoint_cap
        self.endpoint_caps = dict(DEFAULT_ENDPOINT_CAPS if endpoint_caps is None else endpoint_caps)
        self._clock = clock
        self._lock = threading.Lock()
        self._pacer = QuotaPacer(
            reserve=reserve, burst=burst, backoff_base=backoff_base, backoff_max=backoff_max
        )
        self._in_flight = 0
        self._by_endpoint: Counter[str] = Counter()
        self._waiters: list[_Waiter] = []

    def cap_for(self, key: str) -> int:
        return self.endpoint_caps.get(key, self.default_endpoint_cap)

    def requests_per_second(self) -> float | None:
        """The store's sustainable request rate as last advertised (None: unknown or unlimited)."""
        quota, window = self._pacer.quota, self._pacer.window
        if quota is None or window <= 0:
            return None
        return quota / window

    @asynccontextmanager
    async def slot(self, method: str, path: str) -> AsyncIterator[Permit]:
        """Wait until a request may be sent (caps, quota pacing, 429 pauses), hold its place while
        it runs, and learn from what the caller reports through ``permit.observe``."""
        key = endpoint_key(method, path)
        await self._enter(key)
        try:
            ticket = await self._pace()
        except BaseException:
            with self._lock:
                self._leave_locked(key)
            raise
        permit = Permit(key)
        try:
            yield permit
        finally:
            with self._lock:
                now = self._clock()
                if permit.status == 429:
                    self._pacer.on_rate_limited(ticket, permit.headers, now)
                elif permit.status is not None:
                    self._pacer.observe(ticket, permit.headers, now)
                else:
                    self._pacer.release(ticket)
                self._leave_locked(key)

    def _fits_locked(self, key: str) -> bool:
        return self._in_flight < self.max_in_flight and self._by_endpoint[key] < self.cap_for(key)

    def _take_locked(self, key: str) -> None:
        self._in_flight += 1
        self._by_endpoint[key] += 1

    def _leave_locked(self, key: str) -> None:
        self._in_flight -= 1
        self._by_endpoint[key] -= 1
        self._grant_waiters_locked()

    def _grant_waiters_locked(self) -> None:
        for waiter in list(self._waiters):
            if not self._fits_locked(waiter.key):
                continue
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:  # its event loop is closed; nobody is waiting there any more
                self._waiters.remove(waiter)
                continue
            self._take_locked(waiter.key)
            waiter.granted = True
            self._waiters.remove(waiter)

    async def _enter(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._fits_locked(key):
                self._take_locked(key)
                return
            waiter = _Waiter(key, loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                if waiter.granted:
                    self._leave_locked(key)
                else:
                    self._waiters.remove(waiter)
            raise

    async def _pace(self) -> int:
        """Wait for a send slot; returns the pacer's ticket for it."""
        ticket: int | None = None
        while True:
            with self._lock:
                now = self._clock()
                if ticket is not None:
                    # Reserved earlier, but a 429 elsewhere may have paused the store meanwhile.
                    when = self._pacer.pause_until
                    if when <= now:
                        return ticket
                else:
                    when, ticket = self._pacer.reserve_slot(now)
            try:
                if when > now:
                    await asyncio.sleep(when - now)
                elif ticket is not None:
                    return ticket
                else:  # cannot happen with a positive window; never spin
                    await asyncio.sleep(0.001)
            except BaseException:
                if ticket is not None:
                    with self._lock:
                        self._pacer.release(ticket)
                raise


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Governors:
    """The rate governors of one project's stores: one :class:`RateGovernor` per store, created
    with defaults on first use and shared by every check, plan and run of the project."""

    def __init__(self) -> None:
        self._by_store: dict[tuple[str, str], RateGovernor] = {}
        self._lock = threading.Lock()

    def for_store(self, api_url: str, store_hash: str) -> RateGovernor:
        key = (api_url.rstrip("/").lower(), store_hash)
        with self._lock:
            governor = self._by_store.get(key)
            if governor is None:
                governor = self._by_store[key] = RateGovernor()
            return governor
