"""The per-store rate governor: quota pacing, concurrency caps and 429 pauses.

BigCommerce gives each store one request quota per window, shared by every API account on it, and
caps how many requests may run at once on some endpoints. One :class:`RateGovernor` per store
(a project's :class:`Governors` hands it out) is shared by every sync of the project, so two syncs
to the same store never add up to more than the store allows.

- :class:`QuotaPacer` (pure, clock passed in, state as plain data) tracks the store's quota
  window from the ``X-Rate-Limit-*`` headers, lets each window's requests go while it has any left
  and turns a 429 into a store-wide pause.
- A :class:`Pacing` runs a pacer for a governor: :class:`LocalPacing` in this process, or
  ``shared_quota.SharedPacing``, whose state lives in a PostgreSQL run store so that every process
  talking to the store shares its quota.
- :class:`RateGovernor` adds the concurrency caps (per process) and the waiting. It uses a thread
  lock and per-loop futures instead of asyncio primitives, so syncs on different event loops (or
  threads) can share it.
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
from typing import Any, Protocol

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

# A ticket not answered after this long (or two windows) is counted as lost: its process died.
_LOST_AFTER_SECONDS = 120.0

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

    BigCommerce counts requests in fixed windows, so what a window holds is used best by sending
    while it has requests left and then waiting for the reset: the first ``burst`` × quota
    requests of every window go at once (by default all of them). Spreading them evenly over the
    window instead (``burst`` < 1: the rest is spaced out up to the reset) gives the same rate
    while work keeps coming, but leaves the end of every window unused when a run ends or pauses
    in it: in a 20 s run that cost several percent of the quota.

    Never more than the window has left goes out. Requests still in flight when a window ends may
    land in the next one, so a window whose reset we only guessed starts with those taken off;
    the first answer from it tells the truth. Every method takes ``now`` (seconds on any clock,
    the same for every call) so the logic can be driven by a fake clock, and the whole state is
    plain data (:meth:`to_state`, :meth:`from_state`) so processes can share it. Each reserved
    request holds a ticket until its answer is observed (or it is released).
    """

    reserve: int = 0  # requests kept back per window (for a store that counts them loosely)
    burst: float = 1.0  # share of each window's quota that may go at once; the rest is spread
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
    pending: dict[int, tuple[float, int]] = field(default_factory=dict)  # ticket → send order
    tickets: int = 0

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
            self._forget_lost(now)
            # Requests still in flight may arrive after the store's reset and count in this one.
            self.left = self.quota - len(self.pending)
        usable = self.left - self.reserve
        if usable < 1:
            return self.reset_at, None
        if self.quota - self.left < self.burst * self.quota:
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
        self.tickets += 1
        self.pending[self.tickets] = (send_at, self.tickets)
        return self.tickets

    def _forget_lost(self, now: float) -> None:
        """Drop tickets whose answer never came (a process that shared the state died)."""
        horizon = now - max(2 * self.window, _LOST_AFTER_SECONDS)
        for ticket in [t for t, (sent, _) in self.pending.items() if sent < horizon]:
            del self.pending[ticket]

    # -- sharing -------------------------------------------------------------------------------

    _STATE = ("quota", "window", "left", "reset_at", "reset_seen", "next_slot", "pause_until")

    def to_state(self) -> dict[str, Any]:
        """The window's state as JSON-able data (not the settings, not the random source)."""
        state: dict[str, Any] = {name: getattr(self, name) for name in self._STATE}
        state["bare_429s"] = self.bare_429s
        state["tickets"] = self.tickets
        state["pending"] = [[t, sent] for t, (sent, _) in self.pending.items()]
        return state

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Take over a state written by :meth:`to_state` (by this or another process)."""
        for name in self._STATE:
            if name in state:
                setattr(self, name, state[name])
        self.quota = None if state.get("quota") is None else int(state["quota"])
        self.bare_429s = int(state.get("bare_429s", 0))
        self.tickets = int(state.get("tickets", 0))
        self.pending = {int(t): (float(sent), int(t)) for t, sent in state.get("pending", [])}

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
            # the truth; but a window may open only at its first request, so a window we guessed
            # at a rollover gives way to the first answer from it (whose count includes the
            # requests that were in flight at the rollover, or not).
            if self.reset_seen:
                self.left = min(self.left, estimate)
                self.reset_at = min(self.reset_at, reset_at)
            else:
                self.left = estimate
                self.reset_at = reset_at
        elif self.quota is not None and reset_at < self.reset_at - window / 2:
            return  # a late answer from the previous window
        else:
            self.left = estimate
            self.reset_at = reset_at
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


class Pacing(Protocol):
    """Where a governor gets its send slots: this process's own :class:`QuotaPacer`
    (:class:`LocalPacing`), or one shared by every process that talks to the store
    (``bcsync.destinations.bigcommerce.shared_quota.SharedPacing``)."""

    async def acquire(self) -> int:
        """Wait until a request may be sent; returns its ticket."""
        ...

    def settle(self, ticket: int, status: int | None, headers: Mapping[str, str]) -> None:
        """What came back for a ticket's request (``status`` None: it got no answer)."""
        ...

    def requests_per_second(self) -> float | None:
        """The store's sustainable request rate as last advertised (None: unknown/unlimited)."""
        ...


class LocalPacing:
    """A :class:`QuotaPacer` owned by this process, behind a thread lock (callers may sit on
    several event loops)."""

    def __init__(self, pacer: QuotaPacer, clock: Callable[[], float] = time.monotonic) -> None:
        self._pacer = pacer
        self._clock = clock
        self._lock = threading.Lock()

    def requests_per_second(self) -> float | None:
        quota, window = self._pacer.quota, self._pacer.window
        if quota is None or window <= 0:
            return None
        return quota / window

    def settle(self, ticket: int, status: int | None, headers: Mapping[str, str]) -> None:
        with self._lock:
            now = self._clock()
            if status == 429:
                self._pacer.on_rate_limited(ticket, headers, now)
            elif status is not None:
                self._pacer.observe(ticket, headers, now)
            else:
                self._pacer.release(ticket)

    async def acquire(self) -> int:
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


class RateGovernor:
    """Shares one store's request quota and concurrency between every request sent to it.

    The concurrency caps are this process's; the quota pacing is ``pacing`` (by default a
    :class:`QuotaPacer` of this process's own)."""

    def __init__(
        self,
        *,
        max_in_flight: int = 10,
        default_endpoint_cap: int = 8,
        endpoint_caps: Mapping[str, int] | None = None,
        reserve: int = 0,
        burst: float = 1.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        pacing: Pacing | None = None,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.default_endpoint_cap = default_endpoint_cap
        self.endpoint_caps = dict(DEFAULT_ENDPOINT_CAPS if endpoint_caps is None else endpoint_caps)
        self._lock = threading.Lock()
        self.pacing: Pacing = pacing or LocalPacing(
            QuotaPacer(
                reserve=reserve, burst=burst, backoff_base=backoff_base, backoff_max=backoff_max
            ),
            clock,
        )
        self._in_flight = 0
        self._by_endpoint: Counter[str] = Counter()
        self._waiters: list[_Waiter] = []

    def cap_for(self, key: str) -> int:
        return self.endpoint_caps.get(key, self.default_endpoint_cap)

    def requests_per_second(self) -> float | None:
        """The store's sustainable request rate as last advertised (None: unknown or unlimited)."""
        return self.pacing.requests_per_second()

    @asynccontextmanager
    async def slot(self, method: str, path: str) -> AsyncIterator[Permit]:
        """Wait until a request may be sent (caps, quota pacing, 429 pauses), hold its place while
        it runs, and learn from what the caller reports through ``permit.observe``."""
        key = endpoint_key(method, path)
        await self._enter(key)
        try:
            ticket = await self.pacing.acquire()
        except BaseException:
            with self._lock:
                self._leave_locked(key)
            raise
        permit = Permit(key)
        try:
            yield permit
        finally:
            try:
                self.pacing.settle(ticket, permit.status, permit.headers)
            finally:
                with self._lock:
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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def store_id(api_url: str, store_hash: str) -> tuple[str, str]:
    """Which store an API URL and store hash name (the URL's case and trailing slash aside)."""
    return api_url.rstrip("/").lower(), store_hash


class Governors:
    """The rate governors of one project's stores: one :class:`RateGovernor` per store, created
    with defaults on first use and shared by every check, plan and run of the project.

    ``pacing(api_url, store_hash)`` makes a store's quota pacing; by default each governor has a
    :class:`LocalPacing` of its own (``shared_quota.governors_for`` passes the one shared through
    a PostgreSQL run store)."""

    def __init__(self, pacing: Callable[[str, str], Pacing] | None = None) -> None:
        self._pacing = pacing
        self._by_store: dict[tuple[str, str], RateGovernor] = {}
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """True when the stores' quotas are shared with other processes."""
        return self._pacing is not None

    def for_store(self, api_url: str, store_hash: str) -> RateGovernor:
        key = store_id(api_url, store_hash)
        with self._lock:
            governor = self._by_store.get(key)
            if governor is None:
                pacing = self._pacing(*key) if self._pacing is not None else None
                governor = self._by_store[key] = RateGovernor(pacing=pacing)
            return governor
