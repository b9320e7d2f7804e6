"""The demo's orders: phone and marketplace orders in the warehouse, created in BigCommerce by an
insert sync, then shipped in the warehouse and pushed to BigCommerce by an update sync.

The update sync needs BigCommerce's order ids, which a real warehouse gets by loading the store's
orders back (an ELT tool does that); ``load_store_orders`` plays that part.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from bcsync.demo.warehouse import SEED

PRODUCTS = (
    ("Espresso Cup", 9.5), ("Pour-over Kettle", 54.0), ("Burr Grinder", 129.0),
    ("Coffee Beans 1kg", 24.0), ("Milk Jug", 15.0), ("Tamper", 32.0),
)  # fmt: skip
INSERT_SYNC = "phone_orders"
STATUS_SYNC = "order_status"

SYNCS = f"""\
  {INSERT_SYNC}:
    destination: store
    object: orders
    model:
      sql: >
        select o.order_key, c.first_name, c.last_name, c.email, o.street, o.city, o.zip,
               o.country, o.products, o.status, o.channel
        from orders o join customers c using (customer_key)
      primary_key: order_key
    mode: insert
    mappings:
      - {{column: first_name, field: billing_address.first_name}}
      - {{column: last_name,  field: billing_address.last_name}}
      - {{column: email,      field: billing_address.email}}
      - {{column: street,     field: billing_address.street_1}}
      - {{column: city,       field: billing_address.city}}
      - {{column: zip,        field: billing_address.zip}}
      - {{column: country,    field: billing_address.country_iso2}}
      - {{column: products,   field: products}}
      - {{column: status,     field: status_id}}
      - {{column: channel,    field: metafields.sales.channel}}
  {STATUS_SYNC}:
    destination: store
    object: orders
    model:
      sql: >
        select b.id as order_id, o.status, o.tracking_number
        from orders o join store_orders b
          on b.external_order_id = 'bcsync:{INSERT_SYNC}:' || o.order_key
        where o.status <> 'Awaiting Fulfillment'
      primary_key: order_id
    mode: update
    match: {{column: order_id, field: id}}
    mappings:
      - {{column: status,          field: status_id}}
      - {{column: tracking_number, field: metafields.shipping.tracking_number}}
"""


def build_orders(path: Path, orders: int = 300, seed: int = SEED + 2) -> int:
    """Create ``orders`` (for existing customers) and an empty ``store_orders``."""
    rng = random.Random(seed)
    with duckdb.connect(str(path)) as con:
        keys = [int(r[0]) for r in con.execute("select customer_key from customers").fetchall()]
        rows = []
        for n in range(1, orders + 1):
            lines = [
                {"name": name, "quantity": rng.randint(1, 3), "price_inc_tax": price,
                 "price_ex_tax": round(price / 1.2, 2)}
                for name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
            ]  # fmt: skip
            rows.append(
                {
                    "order_key": f"PH-{n:05d}",
                    "customer_key": rng.choice(keys),
                    "street": f"{rng.randint(1, 999)} Market Street",
                    "city": rng.choice(("Austin", "Denver", "Portland", "Boston")),
                    "zip": f"{rng.randint(10000, 99999)}",
                    "country": "US",
                    "products": json.dumps(lines),
                    "status": "Awaiting Fulfillment",
                    "tracking_number": None,
                    "channel": rng.choice(("phone", "marketplace")),
                }
            )
        schema = pa.schema(
            [(name, pa.int64() if name == "customer_key" else pa.string()) for name in rows[0]]
        )
        table = pa.Table.from_pylist(rows, schema=schema)
        con.register("incoming", table)
        con.execute("create or replace table orders as select * from incoming")
        con.unregister("incoming")
        con.execute("create or replace table store_orders (id bigint, external_order_id varchar)")
    return orders


def ship_orders(path: Path, count: int = 60, seed: int = SEED + 3) -> Sequence[str]:
    """Mark ``count`` orders shipped (with a tracking number) and a few completed."""
    rng = random.Random(seed)
    with duckdb.connect(str(path)) as con:
        keys = [r[0] for r in con.execute("select order_key from orders order by 1").fetchall()]
        shipped = sorted(rng.sample(keys, count))
        for index, key in enumerate(shipped):
            status = "Completed" if index % 5 == 0 else "Shipped"
            tracking = f"1Z{rng.randint(10**9, 10**10 - 1)}"
            con.execute(
                "update orders set status = ?, tracking_number = ? where order_key = ?",
                [status, tracking, key],
            )
    return shipped


def load_store_orders(path: Path, orders: Sequence[dict[str, Any]]) -> int:
    """What an ELT tool would do: the store's orders (id, external id) loaded back."""
    rows = [
        {"id": int(o["id"]), "external_order_id": o.get("external_order_id")}
        for o in orders
        if not o.get("is_deleted")
    ]
    with duckdb.connect(str(path)) as con:
        con.execute("delete from store_orders")
        if rows:
            con.register("incoming", pa.Table.from_pylist(rows))
            con.execute("insert into store_orders select id, external_order_id from incoming")
            con.unregister("incoming")
    return len(rows)
