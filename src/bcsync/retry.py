"""The one retry policy: how many tries, how long each may take, how long to wait in between.

Used by the BigCommerce client and by alert delivery. Whether an error is worth another try is
the error's own word (:func:`bcsync.errors.is_retriable`), never a list of classes here. The wait
after attempt ``n`` (1-based) is the error's ``retry_after`` when it carries one, otherwise
``backoff * factor**(n - 1)``, at most ``cap``; with ``jitter`` it is drawn uniformly between
half and all of that ("equal jitter"), so clients that failed together do not retry together.

The policy is pure: it sleeps nowhere, so callers keep their own sleep (async or injected).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from bcsync.errors import is_retriable


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` tries of at most ``timeout`` seconds each, backing off in between."""

    attempts: int = 3
    backoff: float = 0.5  # seconds, the wait after the first failed attempt
    factor: float = 2.0
    cap: float = math.inf  # no single wait is longer
    timeout: float = 10.0  # seconds, per HTTP request or SMTP conversation step
    jitter: random.Random | None = field(default=None, compare=False)

    def wait(self, attempt: int) -> float:
        """Seconds of backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.backoff * self.factor ** (attempt - 1))
        return ceiling if self.jitter is None else self.jitter.uniform(ceiling / 2, ceiling)

    def delay(self, error: BaseException, attempt: int) -> float | None:
        """Seconds to wait before trying again after ``error`` ended attempt ``attempt``, or
        None when there is no next try: the error is not retriable, or the attempts are spent."""
        if not is_retriable(error) or attempt >= self.attempts:
            return None
        return error.retry_after if error.retry_after is not None else self.wait(attempt)
