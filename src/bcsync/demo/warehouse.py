"""The demo's sample warehouse: a DuckDB file with a ``customers`` table, built deterministically.

The same seed always gives the same rows, so the demo tells the same story on every machine.
``change_warehouse`` then edits it the way a week of real business would: new customers, edited
ones, some gone, and one row with a malformed email that bcsync must refuse to send.
(Orders join in a later milestone as an ``orders`` table built from the same customers.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

SEED = 20_240_601
TIERS = ("Bronze", "Silver", "Gold", "Platinum")
TIER_WEIGHTS = (50, 30, 15, 5)
SEGMENTS = ("Retail", "Wholesale", "Trade", "Education")
FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
    "Radia", "Tim", "Hedy", "Guido", "Katherine", "John", "Sophie", "Niklaus", "Annie", "Donald",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
    "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "van Rossum", "Johnson", "Backus",
    "Wilson", "Wirth", "Easley", "Knuth",
)  # fmt: skip
# A default shipping address per customer, chosen by key (no draw from the seeded stream, so the
# other columns are what they always were): (city, state, postal code), all in the US.
CITIES = (
    ("Austin", "Texas", "78701"), ("Portland", "Oregon", "97201"), ("Denver", "Colorado", "80202"),
    ("Boston", "Massachusetts", "02108"), ("Chicago", "Illinois", "60601"),
    ("Seattle", "Washington", "98101"), ("Atlanta", "Georgia", "30303"),
)  # fmt: skip
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine Rd")
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", None)
BAD_EMAIL = "not-an-email"

SCHEMA = pa.schema(
    [
        ("customer_key", pa.int64()),
        ("email", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("phone", pa.string()),
        ("company", pa.string()),
        ("loyalty_tier", pa.string()),
        ("loyalty_points", pa.int64()),
        ("segment", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("postal_code", pa.string()),
        ("country", pa.string()),
    ]
)


@dataclass(frozen=True)
class WarehouseChanges:
    """What ``change_warehouse`` did, by primary key."""

    added: tuple[int, ...]
    edited: tuple[int, ...]
    removed: tuple[int, ...]
    bad_email_key: int


def _customer(rng: random.Random, key: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    handle = f"{first}.{last}".lower().replace(" ", "").replace("-", "")
    return {
        "customer_key": key,
        "email": f"{handle}.{key}@example.com",
        "first_name": first,
        "last_name": last,
        "phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "company": rng.choice(COMPANIES),
        "loyalty_tier": rng.choices(TIERS, weights=TIER_WEIGHTS)[0],
        "loyalty_points": rng.randint(0, 20_000),
        "segment": rng.choice(SEGMENTS),
        **_address(key),
    }


def _address(key: int) -> dict[str, str]:
    city, state, postal_code = CITIES[key % len(CITIES)]
    street = f"{100 + key % 900} {STREETS[key % len(STREETS)]}"
    return {
        "street": street,
        "city": city,
        "state": state,
        "postal_code": postal_code,
        "country": "US",
    }


def _insert(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    batch = pa.Table.from_pylist(rows, schema=SCHEMA)
    con.register("incoming", batch)
    con.execute("insert into customers select * from incoming")
    con.unregister("incoming")


def build_warehouse(path: Path, customers: int = 2_500, seed: int = SEED) -> int:
    """Create (or replace) ``customers`` in the DuckDB file at ``path``; return the row count."""
    rng = random.Random(seed)
    rows = [_customer(rng, key) for key in range(1, customers + 1)]
    with duckdb.connect(str(path)) as con:
        con.execute("drop table if exists customers")
        con.execute(
            "create table customers (customer_key bigint, email varchar, first_name varchar,"
            " last_name varchar, phone varchar, company varchar, loyalty_tier varchar,"
            " loyalty_points bigint, segment varchar, street varchar, city varchar,"
            " state varchar, postal_code varchar, country varchar)"
        )
        _insert(con, rows)
    return customers


def change_warehouse(
    path: Path, *, added: int = 50, edited: int = 120, removed: int = 40, seed: int = SEED + 1
) -> WarehouseChanges:
    """Add, edit and remove customers, plus one new row whose email is malformed."""
    rng = random.Random(seed)
    with duckdb.connect(str(path)) as con:
        rows = con.execute("select customer_key from customers order by 1").fetchall()
        keys = [int(row[0]) for row in rows]
        chosen = rng.sample(keys, edited + removed)
        edited_keys, removed_keys = sorted(chosen[:edited]), sorted(chosen[edited:])
        for key in edited_keys:
            # A promotion: new tier and points; every third customer also changed phone number.
            new_phone = f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
            con.execute(
                "update customers set loyalty_tier = ?, loyalty_points = loyalty_points + ?,"
                " phone = case when customer_key % 3 = 0 then ? else phone end"
                " where customer_key = ?",
                [rng.choice(TIERS), rng.randint(100, 5_000), new_phone, key],
            )
        placeholders = ", ".join(["?"] * len(removed_keys))
        con.execute(f"delete from customers where customer_key in ({placeholders})", removed_keys)
        first_new = max(keys) + 1
        new_rows = [_customer(rng, key) for key in range(first_new, first_new + added + 1)]
        bad = new_rows[-1]
        bad["email"] = BAD_EMAIL
        _insert(con, new_rows)
    return WarehouseChanges(
        added=tuple(row["customer_key"] for row in new_rows[:-1]),
        edited=tuple(edited_keys),
        removed=tuple(removed_keys),
        bad_email_key=int(bad["customer_key"]),
    )
