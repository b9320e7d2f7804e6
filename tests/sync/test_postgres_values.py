"""PostgreSQL as the warehouse, end to end: exact values in BigCommerce, no phantom changes.

A customers sync reads a PostgreSQL table holding one column of each type users keep there
(text, numeric bounded and unbounded, float8, boolean, date, timestamptz, interval, json, jsonb,
arrays) as a role of its own, whose run store is in the same database. The tests assert what the
emulator holds over HTTP, that rewriting a value into an equal form (JSON keys reordered, ``1.0``
for ``1``) or changing the role's session settings (``ALTER ROLE … SET``) plans no change, and that
a change deep in an exact number plans exactly one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fixtures.postgres_roles import LoginRole
from tests.fixtures.projects import SyncProject
from tests.sync.test_orders_sync import INSERT_ORDERS

CUSTOMERS = """\
customers:
  destination: store
  object: customers
  model:
    table: customers
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  create_missing_attributes: true
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: note, field: notes}
    - {column: exact, field: company}
    - {column: exact, field: metafields.warehouse.exact}
    - {column: big, field: metafields.warehouse.big}
    - {column: price, field: "attributes.Price"}
    - {column: credit, field: store_credit_amount}
    - {column: ratio, field: "attributes.Ratio"}
    - {column: active, field: accepts_product_review_abandoned_cart_emails}
    - {column: born, field: "attributes.Born"}
    - {column: seen_at, field: metafields.warehouse.seen_at}
    - {column: wait, field: metafields.warehouse.wait}  # hashed: IntervalStyle must not matter
    - {column: profile, field: metafields.warehouse.profile}
    - {column: prefs, field: metafields.warehouse.prefs}
    - {column: tags, field: metafields.warehouse.tags}
    - {column: amounts, field: metafields.warehouse.amounts}
"""

TABLE = """
CREATE TABLE customers (
    customer_key int8 PRIMARY KEY,
    email text, first_name text, last_name text, note text,
    exact numeric,
    big numeric,
    price numeric(12, 2),
    credit float8,
    ratio float8,
    active boolean,
    born date,
    seen_at timestamptz,
    wait interval,
    profile json,
    prefs jsonb,
    tags text[],
    amounts numeric[]
)
"""

ROWS = """
INSERT INTO customers VALUES
  (1, 'ann@example.com', 'Ann', 'Ng', E'tab\\there «quoted» 🎉',
   1.123456789012345679901, 1234567890123456.78, 1234.50, 0.1, 1 / 3.0::float8, true,
   '1990-02-03', '2024-01-31 09:00:00+01', '1 day 02:03:04.5',
   '{"tier": "gold", "n": 1, "big": 12345678901234567890.125}',
   '{"b": [1, 2.5], "a": null}', ARRAY['x', 'y z'], ARRAY[1.10, 2]),
  (2, 'bob@example.com', 'Bob', 'Ode', '', 0.000000000000000000001, -5, 0, 1e-7, 2.5, false,
   '2024-02-29', '2024-02-29 23:59:59.999999+00', '-3 hours', '[]', '{}', ARRAY[]::text[],
   ARRAY[]::numeric[])
"""


class Warehouse:
    """The test's database, seen by its superuser, and the login role bcsync connects as."""

    def __init__(self, admin_url: str, role: LoginRole) -> None:
        self.role = role
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def sql(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def set(self, setting: str, value: str) -> None:
        """``ALTER ROLE … SET``, as a DBA does: every new session of the role starts so."""
        self.sql(f"ALTER ROLE \"{self.role.name}\" SET {setting} = '{value}'")


@pytest.fixture
def warehouse(postgres_url: str, login_role: Callable[..., LoginRole]) -> Iterator[Warehouse]:
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(TABLE)
        conn.exec_driver_sql(ROWS)
    admin.dispose()
    made = Warehouse(postgres_url, login_role("exact-values-pw", rights="create"))
    yield made
    made.admin.dispose()


@pytest.fixture
def project(sync_project: SyncProject, warehouse: Warehouse) -> SyncProject:
    """A project whose warehouse and run store are the test's database, read as the role."""
    url = warehouse.role.url(warehouse.role.password)
    sync_project.warehouse_url = url
    sync_project.state_url = url
    sync_project.configure(CUSTOMERS)
    return sync_project


def held(emulator: Any) -> dict[str, dict[str, Any]]:
    """Each customer the store holds, by email: native fields, attributes by name, metafields."""
    dump = emulator.dump()
    names = {a["id"]: a["name"] for a in dump["attributes"]}
    found = {}
    for customer in dump["customers"]:
        found[customer["email"]] = {
            **customer,
            "attributes": {
                names[a["attribute_id"]]: a["attribute_value"] for a in customer["attributes"]
            },
            "metafields": {m["key"]: m["value"] for m in customer["metafields"]},
        }
    return found


def credit(emulator: Any, customer_id: int) -> float:
    """A customer's store credit, as ``GET /v3/customers?include=storecredit`` answers."""
    with emulator.client() as http:
        response = http.get(
            "/v3/customers", params={"id:in": str(customer_id), "include": "storecredit"}
        )
    response.raise_for_status()
    amount: float = response.json()["data"][0]["store_credit_amounts"][0]["amount"]
    return amount


def changes(project: SyncProject) -> dict[str, int]:
    counts = project.engine().plan("customers").counts
    return {kind: counts[kind] for kind in ("added", "changed", "removed", "invalid")}


NOTHING = {"added": 0, "changed": 0, "removed": 0, "invalid": 0}


def test_every_type_reaches_bigcommerce_with_its_exact_value(
    project: SyncProject, emulator: Any
) -> None:
    result = project.run("customers")
    assert result.status == "success", (result.error, result.invalid_rows)
    assert result.counts["succeeded"] == 2

    ann = held(emulator)["ann@example.com"]
    assert ann["notes"] == "tab\there «quoted» 🎉"
    assert ann["company"] == "1.123456789012345679901"  # not 1.1234567890123457
    assert ann["metafields"]["exact"] == "1.123456789012345679901"
    assert ann["metafields"]["big"] == "1234567890123456.78"
    assert ann["attributes"]["Price"] == "1234.5"
    assert credit(emulator, ann["id"]) == 0.1
    assert ann["attributes"]["Ratio"] == "0.3333333333333333"
    assert ann["accepts_product_review_abandoned_cart_emails"] is True
    assert ann["attributes"]["Born"] == "1990-02-03"
    assert ann["metafields"]["seen_at"] == "2024-01-31 08:00:00+00:00"
    # JSON goes out with its keys sorted, whatever order the column kept them in.
    assert ann["metafields"]["profile"] == '{"big":12345678901234567890.125,"n":1,"tier":"gold"}'
    assert ann["metafields"]["prefs"] == '{"a":null,"b":[1,2.5]}'
    assert ann["metafields"]["tags"] == '["x", "y z"]'
    assert ann["metafields"]["amounts"] == '["1.1", "2"]'

    bob = held(emulator)["bob@example.com"]
    assert bob["company"] == "0.000000000000000000001"
    assert bob["metafields"]["big"] == "-5"
    assert bob["attributes"]["Price"] == "0"
    assert credit(emulator, bob["id"]) == 1e-7
    assert bob["attributes"]["Born"] == "2024-02-29"
    assert bob["metafields"]["seen_at"] == "2024-02-29 23:59:59.999999+00:00"
    assert bob["metafields"]["profile"] == "[]"

    again = project.run("customers")
    assert again.status == "success", again.error
    assert again.api_calls == 0


# Each rewrites the warehouse or the role's settings without changing any value sent.
PHANTOMS = {
    "json keys in another order": "UPDATE customers SET profile = "
    '\'{"big": 12345678901234567890.125, "tier": "gold", "n": 1}\'::json WHERE customer_key = 1',
    "json 1 written 1.0": "UPDATE customers SET profile = "
    '\'{"tier": "gold", "n": 1.0, "big": 12345678901234567890.1250}\'::json '
    "WHERE customer_key = 1",
    "jsonb 2.5 written 2.50e0": "UPDATE customers SET prefs = "
    '\'{"b": [1.0, 2.50e0], "a": null}\'::jsonb WHERE customer_key = 1',
    "numeric with trailing zeros": "UPDATE customers SET exact = 1.12345678901234567990100, "
    "big = 1234567890123456.780 WHERE customer_key = 1",
    "extra_float_digits = 0": ("extra_float_digits", "0"),
    "DateStyle = 'SQL, DMY'": ("DateStyle", "SQL, DMY"),
    "DateStyle = 'German'": ("DateStyle", "German"),
    "IntervalStyle = 'sql_standard'": ("IntervalStyle", "sql_standard"),
    "IntervalStyle = 'iso_8601'": ("IntervalStyle", "iso_8601"),
    "TimeZone = 'Pacific/Chatham'": ("TimeZone", "Pacific/Chatham"),
}


@pytest.mark.parametrize("phantom", PHANTOMS.values(), ids=PHANTOMS.keys())
def test_an_equal_value_or_a_session_setting_plans_no_change(
    project: SyncProject, warehouse: Warehouse, emulator: Any, phantom: str | tuple[str, str]
) -> None:
    first = project.run("customers")
    assert first.status == "success", (first.error, first.invalid_rows)
    if isinstance(phantom, tuple):
        warehouse.set(*phantom)
    else:
        warehouse.sql(phantom)

    assert changes(project) == NOTHING
    again = project.run("customers")
    assert again.status == "success", again.error
    assert again.api_calls == 0
    # `runs` reads the run store's timestamps in the role's sessions too.
    listed = project.cli("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "can't parse" not in listed.stdout + listed.stderr


# Each changes one value by the smallest step its type shows; exactly one row must be sent.
REAL_CHANGES = {
    "one cent on a big numeric": (
        "UPDATE customers SET big = 1234567890123456.79 WHERE customer_key = 1",
        "big",
        "1234567890123456.79",
    ),
    "the 21st decimal of a numeric": (
        "UPDATE customers SET exact = 1.123456789012345679902 WHERE customer_key = 1",
        "exact",
        "1.123456789012345679902",
    ),
    "the last digit of a big JSON number": (
        "UPDATE customers SET profile = "
        '\'{"tier": "gold", "n": 1, "big": 12345678901234567890.126}\'::json '
        "WHERE customer_key = 1",
        "profile",
        '{"big":12345678901234567890.126,"n":1,"tier":"gold"}',
    ),
}


@pytest.mark.parametrize("change", REAL_CHANGES.values(), ids=REAL_CHANGES.keys())
def test_the_smallest_real_change_plans_exactly_one_row(
    project: SyncProject, warehouse: Warehouse, emulator: Any, change: tuple[str, str, str]
) -> None:
    statement, metafield, expected = change
    first = project.run("customers")
    assert first.status == "success", (first.error, first.invalid_rows)
    warehouse.sql(statement)

    assert changes(project) == {**NOTHING, "changed": 1}
    result = project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["succeeded"] == 1
    assert held(emulator)["ann@example.com"]["metafields"][metafield] == expected


CREDITS = """\
credits:
  destination: store
  object: customers
  model:
    table: credits
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  create_missing_attributes: true
  mappings:
    - {column: email, field: email}
    - {column: email, field: first_name}
    - {column: email, field: last_name}
    - {column: credit, field: store_credit_amount}
    - {column: score, field: "attributes.Score"}
"""

ORDERS = INSERT_ORDERS.replace(
    "    - {column: note, field: staff_notes}\n"
    "    - {column: channel, field: metafields.warehouse.channel}\n",
    "    - {column: discount, field: discount_amount}\n"
    "    - {column: margin, field: metafields.warehouse.margin}\n",
)

UNFIT = """
CREATE TABLE credits (customer_key text, email text, credit numeric, score numeric);
INSERT INTO credits VALUES
  ('ok', 'ok@example.com', 12.5, 0.1),
  ('credit', 'credit@example.com', 1.123456789012345679901, 1),
  ('score', 'score@example.com', 1, 1234567890123456.78);
CREATE TABLE orders (
    order_key text, first_name text, last_name text, street text, city text, zip text,
    country text, email text, products json, status text, discount numeric, margin numeric
);
INSERT INTO orders
SELECT key, 'Ann', 'Buyer', '1 Main Street', 'Austin', '78751', 'US', 'ann@example.com',
       '[{"name": "Mug", "quantity": 1, "price_inc_tax": 12.5, "price_ex_tax": 10}]',
       'Awaiting Fulfillment', discount, 0.123456789012345678901
FROM (VALUES ('ok', 12.34), ('big', 1234567890123456.7800), ('cents', 0.12345)) AS t(key, discount);
"""


def test_a_number_its_field_cannot_hold_is_an_invalid_row_never_rounded(
    project: SyncProject, warehouse: Warehouse, emulator: Any
) -> None:
    warehouse.sql(UNFIT)
    warehouse.sql(f'GRANT SELECT ON credits, orders TO "{warehouse.role.name}"')
    project.configure(CREDITS + ORDERS)

    credits = project.run("credits")
    assert credits.status == "warning", credits.error
    reasons = {row["pk"]: row["reason"] for row in credits.invalid_rows}
    assert reasons == {
        "credit": "column 'credit' (field store_credit_amount): 1.123456789012345679901 has "
        "more digits than a number field keeps (about 16): round it in the model",
        "score": "column 'score' (attribute Score, number): 1234567890123456.78 has more "
        "digits than a number field keeps (about 16): round it in the model",
    }
    ok = held(emulator)["ok@example.com"]
    assert credit(emulator, ok["id"]) == 12.5
    assert ok["attributes"]["Score"] == "0.1"

    orders = project.run("orders")
    assert orders.status == "warning", orders.error
    reasons = {row["pk"]: row["reason"] for row in orders.invalid_rows}
    assert reasons == {
        "cents": "column 'discount' (field discount_amount): 0.12345 has more than 4 decimal "
        "places, which money cannot hold: round it in the model"
    }
    live = {o["external_order_id"]: o for o in emulator.dump()["orders"]}
    assert {o["discount_amount"] for o in live.values()} == {"12.3400", "1234567890123456.7800"}
    margins = {m["value"] for o in live.values() for m in o["metafields"]}
    assert margins == {"0.123456789012345678901"}
