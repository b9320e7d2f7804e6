"""Emulator switches. Every UNCONFIRMED behaviour of the reference has a switch here.

Keys match the CLI flags and ``PUT /_emulator/config`` (snake_case).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_SCOPES: frozenset[str] = frozenset(
    {
        "store_v2_customers",
        "store_v2_orders",
        "store_v2_information",
        "store_v2_products",
        "store_metafield_write",
    }
)


@dataclass
class EmulatorSettings:
    store_hash: str = "emustore"
    token: str = "emu-token"
    # Extra tokens and their scopes, e.g. {"ro-token": frozenset({"store_v2_customers_read_only"})}.
    extra_tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    quota: int = 150  # requests per window; 0 = unlimited
    window_ms: int = 30_000
    batch_atomic: bool = True  # customers POST/PUT: one bad item rejects the whole batch
    create_status: int = 200  # POST /v3/customers and POST /v2/orders (UNCONFIRMED: 200 or 201)
    email_case_insensitive: bool = True
    max_limit: int = 250
    over_limit: str = "413"  # "413" or "clamp" for limit > max_limit (UNCONFIRMED)
    concurrency_caps: dict[str, int] = field(
        default_factory=lambda: {
            "PUT /v3/customers": 3,
            "POST /v3/customers": 10,
            "POST /v3/customers/attributes": 3,
            "PUT /v3/customers/attributes": 3,
            "PUT /v3/customers/attribute-values": 3,
        }
    )
