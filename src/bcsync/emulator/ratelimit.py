"""The store's request quota (a fixed window) and the per-endpoint concurrency caps."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# What the headers advertise when the quota is 0 ("Unlimited Rate Plan"): a number no client
# will pace against, rather than 0, which clients would read as "exhausted".
UNLIMITED = 2_147_483_647


@dataclass(frozen=True)
class QuotaState:
    """The figures the ``X-Rate-Limit-*`` headers carry."""

    window_ms: int
    reset_ms: int
    quota: int
    left: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.left),
        }

    @property
    def retry_after_s(self) -> int:
        """Whole seconds until the window refreshes (at least 1)."""
        return max(1, math.ceil(self.reset_ms / 1000))


class QuotaWindow:
    """A fixed window that opens at the first request after the previous one ended.

    ``limits`` returns the current ``(quota, window_ms)`` so ``PUT /_emulator/config`` applies
    at once.
    """

    def __init__(
        self,
        limits: Callable[[], tuple[int, int]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._start: float | None = None
        self._used = 0

    def reset(self) -> None:
        self._start = None
        self._used = 0

    def _roll(self, now: float, window_ms: int) -> None:
        if self._start is not None and now >= self._start + window_ms / 1000:
            self._start = None
            self._used = 0

    def take(self) -> tuple[bool, QuotaState]:
        """Spend one request; ``(False, state)`` when the window's quota is already spent."""
        quota, window_ms = self._limits()
        now = self._clock()
        self._roll(now, window_ms)
        if self._start is None:
            self._start = now
        allowed = quota <= 0 or self._used < quota
        if allowed:
            self._used += 1
        return allowed, self._state(now, quota, window_ms)

    def peek(self) -> QuotaState:
        """The current figures without spending anything."""
        quota, window_ms = self._limits()
        now = self._clock()
        self._roll(now, window_ms)
        return self._state(now, quota, window_ms)

    def _state(self, now: float, quota: int, window_ms: int) -> QuotaState:
        if self._start is None:
            reset_ms = window_ms
        else:
            reset_ms = max(0, math.ceil((self._start + window_ms / 1000 - now) * 1000))
        if quota <= 0:
            return QuotaState(window_ms, reset_ms, UNLIMITED, UNLIMITED)
        return QuotaState(window_ms, reset_ms, quota, max(0, quota - self._used))


class ConcurrencyGate:
    """Requests in flight per endpoint key; a request over the key's cap is refused."""

    def __init__(self) -> None:
        self._in_flight: Counter[str] = Counter()

    def try_enter(self, key: str, cap: int) -> bool:
        if cap > 0 and self._in_flight[key] >= cap:
            return False
        self._in_flight[key] += 1
        return True

    def leave(self, key: str) -> None:
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]

    def in_flight(self, key: str) -> int:
        return self._in_flight[key]
