"""Emulator switches. Every UNCONFIRMED behaviour of the reference has a switch here.

Keys match the CLI flags and ``PUT /_emulator/config`` (snake_case).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ALL_SCOPES: frozenset[str] = frozenset(
    {
        "store_v2_customers",
        "store_v2_orders",
        "store_v2_information",
        "store_v2_products",
        "store_metafield_write",
    }
)


def default_form_fields() -> list[dict[str, str]]:
    """A small account-signup form as a fresh store might have configured it."""
    return [
        {"name": "Segment", "type": "text"},
        {"name": "How did you hear about us?", "type": "picklist"},
        {"name": "Interests", "type": "checkboxes"},
        {"name": "Employees", "type": "numbers"},
        {"name": "Birthday", "type": "date"},
    ]


@dataclass
class EmulatorSettings:
    store_hash: str = "emustore"
    token: str = "emu-token"
    # Extra tokens and their scopes, e.g. {"ro-token": frozenset({"store_v2_customers_read_only"})}.
    extra_tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    quota: int = 150  # requests per window; 0 = unlimited
    window_ms: int = 30_000
    # Per-endpoint concurrency caps, keyed by "METHOD /route/template" (UNCONFIRMED what a
    # violation returns; we answer 429). ``default_concurrency_cap`` > 0 applies the 2020 docs'
    # "all other endpoints: 3" rule to every endpoint without its own cap (UNCONFIRMED, off).
    enforce_concurrency: bool = True
    concurrency_caps: dict[str, int] = field(
        default_factory=lambda: {
            "PUT /v3/customers": 3,
            "POST /v3/customers": 10,
            "POST /v3/customers/attributes": 3,
            "PUT /v3/customers/attributes": 3,
            "PUT /v3/customers/attribute-values": 3,
            "PUT /v3/customers/addresses": 3,
            "POST /v3/customers/addresses": 10,
        }
    )
    default_concurrency_cap: int = 0
    batch_atomic: bool = True  # customers POST/PUT: one bad item rejects the whole batch
    create_status: int = 200  # POST /v3/customers and POST /v2/orders (UNCONFIRMED: 200 or 201)
    email_case_insensitive: bool = True  # uniqueness and email:in matching (UNCONFIRMED)
    max_limit: int = 250
    over_limit: str = "413"  # "413" or "clamp" for limit > max_limit (UNCONFIRMED)
    max_attributes: int = 50  # attribute definitions per store
    validate_attribute_values: bool = True  # number/date values checked against the type
    # The store's account-signup form fields ({"name", "type"}); the API cannot create these.
    form_fields: list[dict[str, str]] = field(default_factory=default_form_fields)
    reject_unknown_form_fields: bool = True  # unknown form field name → 422 (UNCONFIRMED)
    data_file: str | None = None  # optional JSON persistence: loaded at start, saved at stop

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply ``changes`` (snake_case keys); return the unknown keys, changing nothing if any."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(k for k in changes if k not in known)
        if unknown:
            return unknown
        for key, value in changes.items():
            if key == "extra_tokens":
                value = {tok: frozenset(scopes) for tok, scopes in dict(value).items()}
            setattr(self, key, value)
        return []

    def copy(self) -> EmulatorSettings:
        """A deep-enough copy (containers are copied) to restore from later."""
        return dataclasses.replace(
            self,
            extra_tokens=dict(self.extra_tokens),
            concurrency_caps=dict(self.concurrency_caps),
            form_fields=[dict(f) for f in self.form_fields],
        )
