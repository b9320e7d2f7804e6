"""Rows holding values JSON cannot carry, end to end through the CLI: never a traceback.

NaN and ±Infinity (alone, or deep in a list or a JSON column), decimals past a float's range
and odd strings go through ``plan`` and ``run``. Rows with a non-JSON number are *invalid* with a
reason naming the column (DESIGN §3.1, §3.8 "Only JSON goes out"); the other rows land, and every
request body the run sent is strict JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tests.fixtures.projects import SyncProject
from tests.sync.test_orders_sync import INSERT_ORDERS

ACCEPTS = "is not a number BigCommerce accepts"

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
    - {column: notes, field: notes}
    - {column: credit, field: store_credit_amount}
    - {column: group_id, field: customer_group_id}
    - {column: ltv, field: "attributes.LTV"}
    - {column: score, field: form_fields.Score}
    - {column: scores, field: metafields.warehouse.scores}
    - {column: big, field: metafields.warehouse.big}
"""

# One valid row, then one row per kind of field holding a number JSON has no word for.
CUSTOMER_ROWS = """\
CREATE TABLE customers AS SELECT * FROM (VALUES
  (1, 'ok@example.com', 'Zoë', 'O''Brien', E'tab\\there [bold]x[/] \\\\ \x1f end 🎉',
   12.5::DOUBLE, NULL::DOUBLE, 3.5::DOUBLE, 4::DOUBLE, [1.5, 2]::DOUBLE[],
   12345678901234567890123456789012345.67::DECIMAL(38, 2)),
  (2, 'credit@example.com', 'A', 'B', 'n', 'nan'::DOUBLE, NULL, 1, 1, [1], 1),
  (3, 'group@example.com', 'A', 'B', 'n', 1, '-inf'::DOUBLE, 1, 1, [1], 1),
  (4, 'ltv@example.com', 'A', 'B', 'n', 1, NULL, 'inf'::DOUBLE, 1, [1], 1),
  (5, 'score@example.com', 'A', 'B', 'n', 1, NULL, 1, 'nan'::DOUBLE, [1], 1),
  (6, 'scores@example.com', 'A', 'B', 'n', 1, NULL, 1, 1, [1, 'nan'::DOUBLE], 1)
) AS t(customer_key, email, first_name, last_name, notes, credit, group_id, ltv, score, scores,
       big)
"""

EXPECTED_CUSTOMER_REASONS = {  # pk: (column, problem)
    "2": ("credit", f"(field store_credit_amount): NaN {ACCEPTS}"),
    "3": ("group_id", f"(field customer_group_id): -Infinity {ACCEPTS}"),
    "4": ("ltv", f"(attribute LTV, number): Infinity {ACCEPTS}"),
    "5": ("score", f"(form field Score): NaN {ACCEPTS}"),
    "6": ("scores", f"(metafield warehouse.scores): NaN at [1] {ACCEPTS}"),
}

# The orders sync of the orders tests, with a money field and a numeric metafield instead of
# the note and the channel.
ORDERS = INSERT_ORDERS.replace(
    "    - {column: note, field: staff_notes}\n"
    "    - {column: channel, field: metafields.warehouse.channel}\n",
    "    - {column: discount, field: discount_amount}\n"
    "    - {column: margin, field: metafields.warehouse.margin}\n",
)
assert "margin" in ORDERS


def product(**extra: Any) -> dict[str, Any]:
    return {"name": "Mug", "quantity": 1, "price_inc_tax": 12.5, "price_ex_tax": 10, **extra}


def order_row(key: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "order_key": key,
        "first_name": "Ann",
        "last_name": "Buyer",
        "street": "1 Main Street",
        "city": "Austin",
        "zip": "78751",
        "country": "US",
        "email": "ann@example.com",
        "products": json.dumps([product()]),
        "status": 11.0,
        "discount": 0.0,
        "margin": [0.25],
    }
    return row | overrides


ORDER_ROWS = [
    order_row("ok"),
    # JSON text as Python's json writes it (bare NaN, Infinity): no JSON parser reads it.
    order_row("price", products=json.dumps([product(price_inc_tax=math.nan)])),
    order_row(
        "option", products=json.dumps([product(product_options=[{"id": 1, "value": math.inf}])])
    ),
    order_row("status", status=math.nan),
    order_row("discount", discount=-math.inf),
    order_row("margin", margin=[0.5, math.inf]),
]

EXPECTED_ORDER_REASONS = {
    "price": ("products", f"product 1: NaN at price_inc_tax {ACCEPTS}"),
    "option": ("products", f"product 1: Infinity at product_options[0].value {ACCEPTS}"),
    "status": ("status", f"(field status_id): NaN {ACCEPTS}"),
    "discount": ("discount", f"(field discount_amount): -Infinity {ACCEPTS}"),
    "margin": ("margin", f"(metafield warehouse.margin): Infinity at [1] {ACCEPTS}"),
}


def _strict_json(text: str) -> Any:
    def refuse(word: str) -> Any:
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def _plan_and_run(
    sync_project: SyncProject, sync: str, expected: dict[str, tuple[str, str]]
) -> None:
    """``plan`` (text and JSON) then ``run``: invalid rows named, the rest sent as strict JSON."""
    plan = sync_project.cli("plan", sync)
    _no_traceback(plan)
    assert plan.returncode == 0, plan.stderr
    assert f"Invalid rows (will not be sent) ({len(expected)})" in plan.stdout
    assert "is not a number BigCommerce accepts" in plan.stdout
    planned = sync_project.cli("plan", sync, "--json")
    _no_traceback(planned)
    assert planned.returncode == 0, planned.stderr
    assert _strict_json(planned.stdout)["counts"]["invalid"] == len(expected)

    ran = sync_project.cli("run", sync, "--json")
    _no_traceback(ran)
    assert ran.returncode == 0, ran.stderr
    document = _strict_json(ran.stdout)
    assert document["status"] == "warning", document
    assert document["counts"]["invalid"] == len(expected)
    assert document["counts"]["succeeded"] == 1, document
    assert document["counts"]["rejected"] == 0, document["rejected_rows"]
    reasons = {row["pk"]: row["reason"] for row in document["invalid_rows"]}
    assert set(reasons) == set(expected)
    for pk, (column, problem) in expected.items():
        # Orders check products twice on insert (as a field and as lines): each part counts.
        for part in reasons[pk].split("; "):
            assert part.startswith(f"column '{column}' ("), reasons[pk]
            assert part.endswith(problem), reasons[pk]

    # Every body the run sent (recorded by the debugger) is JSON a strict parser reads.
    debug = sync_project.cli("debug", document["run_id"], "--json")
    assert debug.returncode == 0, debug.stderr
    calls = _strict_json(debug.stdout)["calls"]
    bodies = [call["request_body"] for call in calls if call["request_body"] is not None]
    assert bodies
    for body in bodies:
        _strict_json(body)
    assert all(200 <= call["status"] < 300 for call in calls), calls


def test_customers_with_nan_and_infinity_plan_and_run_without_a_traceback(
    sync_project: SyncProject, emulator: Any
) -> None:
    emulator.config(form_fields=[{"name": "Score", "type": "numbers"}])
    sync_project.sql(CUSTOMER_ROWS)
    sync_project.configure(CUSTOMERS)
    _plan_and_run(sync_project, "customers", EXPECTED_CUSTOMER_REASONS)

    held = {c["email"]: c for c in emulator.dump()["customers"]}
    assert set(held) == {"ok@example.com"}
    landed = held["ok@example.com"]
    assert landed["notes"] == "tab\there [bold]x[/] \\ \x1f end 🎉"
    metafields = {m["key"]: m["value"] for m in landed["metafields"]}
    assert metafields["big"] == "12345678901234567890123456789012345.67"


def test_orders_with_nan_and_infinity_plan_and_run_without_a_traceback(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", ORDER_ROWS)
    sync_project.configure(ORDERS)
    _plan_and_run(sync_project, "orders", EXPECTED_ORDER_REASONS)
    live = [o for o in emulator.dump()["orders"] if not o.get("is_deleted")]
    assert len(live) == 1


def test_a_value_python_cannot_hold_ends_in_an_error_line_not_a_traceback(
    sync_project: SyncProject,
) -> None:
    # DuckDB's infinite timestamp has no Python datetime. Whatever layer meets it first, the
    # command ends with one "error:" line (or, once that layer names it, an invalid row).
    sync_project.sql(
        "CREATE TABLE customers AS SELECT * FROM (VALUES "
        "(1, 'a@example.com', 'A', 'infinity'::TIMESTAMP), "
        "(2, 'b@example.com', 'B', TIMESTAMP '2024-01-31 08:00:00')"
        ") AS t(customer_key, email, first_name, seen_at)"
    )
    sync_project.configure(
        CUSTOMERS.split("  mappings:")[0]
        + "  mappings:\n"
        + "    - {column: email, field: email}\n"
        + "    - {column: first_name, field: first_name}\n"
        + "    - {column: first_name, field: last_name}\n"
        + "    - {column: seen_at, field: notes}\n"
    )
    for args in (["plan", "customers"], ["run", "customers"]):
        result = sync_project.cli(*args)
        _no_traceback(result)
        if result.returncode != 0:
            assert result.stderr.startswith("error: ") or "error " in result.stdout, result
