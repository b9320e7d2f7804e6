"""Injected failures (``POST /_emulator/faults``): error statuses, latency and dropped connections.

A rule matches on ``method`` (default any) and ``path``: a route template
(``/v2/orders/{id}``), a literal path (``/v2/orders/7``, without the ``/stores/{hash}`` prefix)
or ``*``. The first rule in the list that matches and has uses left applies, and one use is spent.

- ``status`` without ``apply``: answer with that status at once (after ``latency_ms``); the request
  never reaches the handler. The body has the endpoint's error shape (v2 array or v3 object).
  ``rate_limit_headers: false`` leaves out the ``X-Rate-Limit-*``/``X-Retry-After`` headers
  (a 429 without headers = platform overload).
- ``status`` with ``apply: true``: the request goes on like any other (auth, quota, its
  concurrency slot, ``latency_ms``, the handler performs the write), and then the client gets
  that status instead of the real answer, in the same error shape and headers as above. This
  stages BigCommerce's 500/502/503/504 after a write it did apply. ``apply`` needs a ``status``
  and excludes ``drop_after_apply``.
- no ``status``: the request goes on; ``latency_ms`` is spent inside the handler's
  concurrency slot (so it also makes concurrency caps observable), and ``drop_after_apply``
  performs the write and then cuts the connection mid-response.
- ``times``: how many requests the rule applies to; omitted or null = until removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_KNOWN = {
    "method",
    "path",
    "status",
    "times",
    "latency_ms",
    "drop_after_apply",
    "apply",
    "rate_limit_headers",
}


class FaultRuleError(ValueError):
    """A rule the admin API cannot accept; the message names the rule and the key."""


@dataclass
class FaultRule:
    method: str | None = None
    path: str = "*"
    status: int | None = None
    times: int | None = None
    latency_ms: int = 0
    drop_after_apply: bool = False
    apply: bool = False
    rate_limit_headers: bool = True

    @classmethod
    def parse(cls, index: int, raw: Any) -> FaultRule:
        if not isinstance(raw, dict):
            raise FaultRuleError(f"rules[{index}]: must be an object")
        unknown = sorted(set(raw) - _KNOWN)
        if unknown:
            raise FaultRuleError(f"rules[{index}]: unknown key(s) {', '.join(unknown)}")
        rule = cls(
            method=str(raw["method"]).upper() if raw.get("method") else None,
            path=str(raw.get("path") or "*"),
            status=_opt_int(index, raw, "status"),
            times=_opt_int(index, raw, "times"),
            latency_ms=_opt_int(index, raw, "latency_ms") or 0,
            drop_after_apply=bool(raw.get("drop_after_apply", False)),
            apply=bool(raw.get("apply", False)),
            rate_limit_headers=bool(raw.get("rate_limit_headers", True)),
        )
        if rule.status is not None and not 100 <= rule.status <= 599:
            raise FaultRuleError(f"rules[{index}].status: {rule.status} is not an HTTP status")
        if rule.apply and rule.drop_after_apply:
            raise FaultRuleError(f"rules[{index}]: apply and drop_after_apply exclude each other")
        if rule.apply and rule.status is None:
            raise FaultRuleError(f"rules[{index}].apply: needs a status to answer with")
        if rule.status is not None and rule.drop_after_apply:
            raise FaultRuleError(f"rules[{index}]: status and drop_after_apply exclude each other")
        if rule.path != "*" and not rule.path.startswith("/"):
            raise FaultRuleError(f"rules[{index}].path: must be '*' or start with '/'")
        return rule

    def matches(self, method: str, template: str | None, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path in ("*", path) or self.path == template

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _opt_int(index: int, raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultRuleError(f"rules[{index}].{key}: must be a non-negative integer")
    return value


class FaultBook:
    """The active rules, in the order they were added."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, raw_rules: Any) -> list[FaultRule]:
        """Validate every rule first, then add them all (or none)."""
        if not isinstance(raw_rules, list):
            raise FaultRuleError("'rules' must be a list")
        parsed = [FaultRule.parse(i, r) for i, r in enumerate(raw_rules)]
        self.rules.extend(parsed)
        return parsed

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, template: str | None, path: str) -> FaultRule | None:
        """The first rule that applies to this request, with one use spent."""
        for rule in self.rules:
            if rule.matches(method, template, path):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None
