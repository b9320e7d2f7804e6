"""Request counters for ``GET /_emulator/stats``: total, by endpoint template and by status."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    """Counts every API request once, with the status the client was sent."""

    def __init__(self) -> None:
        self.requests_total = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()

    def record(self, endpoint: str, status: int) -> None:
        self.requests_total += 1
        self.by_endpoint[endpoint] += 1
        self.by_status[str(status)] += 1

    def reset(self) -> None:
        self.requests_total = 0
        self.by_endpoint.clear()
        self.by_status.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": dict(self.by_status),
        }
