"""Random fault rules for the emulator's fault API (DESIGN §5), on the endpoints bcsync uses.

Kinds: ``429`` (with rate-limit headers), ``429-bare`` (without), ``5xx`` (answered before the
write), ``5xx-applied`` (the write is done, then 500/502/503/504: ``"apply": true``),
``drop`` (``drop_after_apply``: the write is done, then the connection is cut) and ``latency``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

CUSTOMER_WRITES = (
    ("POST", "/v3/customers", 4),
    ("PUT", "/v3/customers", 3),
    ("DELETE", "/v3/customers", 1),
    ("PUT", "/v3/customers/attribute-values", 2),
    ("DELETE", "/v3/customers/attribute-values", 0.5),
    ("POST", "/v3/customers/metafields", 1.5),
    ("PUT", "/v3/customers/metafields", 1),
    ("DELETE", "/v3/customers/metafields", 0.5),
)
CUSTOMER_READS = (
    ("GET", "/v3/customers", 2),
    ("GET", "/v3/customers/attributes", 0.5),
    ("GET", "/v3/customers/metafields", 1),
)
ORDER_WRITES = (
    ("POST", "/v2/orders", 4),
    ("PUT", "/v2/orders/{id}", 3),
    ("DELETE", "/v2/orders/{id}", 1),
    ("POST", "/v3/orders/metafields", 1),
    ("PUT", "/v3/orders/metafields", 1),
    ("DELETE", "/v3/orders/metafields", 0.5),
    ("POST", "/v3/orders/{id}/metafields", 1),
)
ORDER_READS = (
    ("GET", "/v2/orders", 2),
    ("GET", "/v2/orders/{id}", 1),
    ("GET", "/v2/order_statuses", 0.5),
    ("GET", "/v3/orders/metafields", 0.5),
    ("GET", "/v3/orders/{id}/metafields", 0.5),
)
SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class Fault:
    kind: str
    rule: dict[str, Any]

    def describe(self) -> str:
        rule = self.rule
        where = f"{rule.get('method', '*')} {rule['path']}"
        what = {
            "latency": f"+{rule.get('latency_ms')}ms",
            "drop": "drop",
            "5xx-applied": f"{rule.get('status')}-after-write",
        }.get(self.kind, str(rule.get("status")))
        if self.kind == "429-bare":
            what = "429-no-headers"
        return f"{where} {what}×{rule.get('times')}"


def choose(rng: random.Random, kind: str, apply_supported: bool) -> list[Fault]:
    """0-3 fault rules for the next run."""
    count = rng.choices([0, 1, 2, 3], [25, 40, 25, 10])[0]
    return [_one(rng, kind, apply_supported) for _ in range(count)]


def _one(rng: random.Random, kind: str, apply_supported: bool) -> Fault:
    writes, reads = (
        (CUSTOMER_WRITES, CUSTOMER_READS)
        if kind == "customers"
        else (
            ORDER_WRITES,
            ORDER_READS,
        )
    )
    kinds = {"5xx": 3, "drop": 2, "429": 1.2, "429-bare": 1, "latency": 1}
    if apply_supported:
        kinds["5xx-applied"] = 3
    fault = rng.choices(list(kinds), list(kinds.values()))[0]
    on_write = fault in ("drop", "5xx-applied") or rng.random() < 0.75
    table = writes if on_write else reads
    method, path, _ = rng.choices(table, [w for *_, w in table])[0]
    rule: dict[str, Any] = {"method": method, "path": path, "times": rng.choice([1, 1, 2])}
    if fault == "5xx":
        rule["status"] = rng.choice(SERVER_ERRORS)
    elif fault == "5xx-applied":
        rule.update(status=rng.choice(SERVER_ERRORS), apply=True)
    elif fault == "drop":
        rule["drop_after_apply"] = True
    elif fault == "429":
        rule["status"] = 429
    elif fault == "429-bare":
        rule.update(status=429, rate_limit_headers=False)
    else:
        rule = {"path": "*", "latency_ms": rng.randint(30, 250), "times": rng.randint(1, 6)}
    return Fault(fault, rule)
