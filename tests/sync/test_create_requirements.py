"""What a create needs (issue 10, item 7): ``check`` and ``plan`` say what ``run`` would refuse.

A sync whose mode creates records (customers: insert, upsert; orders: insert) but does not map a
field BigCommerce requires on create can never create anything: ``check`` and ``plan`` report it,
and a run refuses it before any call. A row whose own values lack such a field is invalid in the
plan with the reason the run gives it. Plan reads nothing per row, so in upsert mode it takes every
new row for a create (no customer matches it), as its operation counts already do: a row the
run then matches to an existing customer is updated instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer, store_customers
from tests.sync.test_orders_sync import INSERT_ORDERS, live_orders, order

EMAIL_ONLY = """\
customers:
  destination: store
  object: customers
  model:
    table: customers
    primary_key: customer_key
  mode: {mode}
  match: {{column: email, field: email}}
  mappings:
    - {{column: email, field: email}}
    - {{column: phone, field: phone}}
"""
CANNOT_CREATE = (
    "creating a customer needs field 'first_name' (not mapped), field 'last_name' (not mapped)"
)


def _writes(emulator: Any) -> dict[str, int]:
    return {k: n for k, n in emulator.stats()["by_endpoint"].items() if not k.startswith("GET ")}


@pytest.mark.parametrize("mode", ["upsert", "insert"])
def test_a_customer_mapping_that_can_never_create_fails_check_plan_and_run(
    sync_project: SyncProject, emulator: Any, mode: str
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 21)])
    sync_project.configure(EMAIL_ONLY.format(mode=mode))

    check = sync_project.cli("check")
    assert check.returncode == 2
    assert CANNOT_CREATE in check.stdout
    assert f"mode {mode} creates customers" in check.stdout
    assert "bcsync.yml:" in check.stdout  # located at the sync's mappings

    plan = sync_project.cli("plan", "customers", "--json")
    assert plan.returncode == 2 and plan.stdout == ""
    assert CANNOT_CREATE in plan.stderr

    before = emulator.stats()["requests_total"]
    run = sync_project.cli("run", "customers", "--json")
    document = json.loads(run.stdout)
    assert run.returncode == 1
    assert document["status"] == "failed" and CANNOT_CREATE in document["error"]
    assert document["counts"]["invalid"] == 0  # refused as a whole, not row by row
    assert emulator.stats()["requests_total"] == before  # not a single call
    assert emulator.dump()["customers"] == []


def test_update_mode_never_creates_so_it_needs_no_names(
    sync_project: SyncProject, emulator: Any
) -> None:
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user1@example.com", "first_name": "Ada", "last_name": "Lovelace"}],
        )
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(EMAIL_ONLY.format(mode="update"))

    check = sync_project.cli("check")
    assert check.returncode == 0, check.stdout
    planned = json.loads(sync_project.cli("plan", "customers", "--json").stdout)
    assert planned["counts"]["invalid"] == 0
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert (result.counts["succeeded"], result.counts["skipped"], result.counts["invalid"]) == (
        1,
        1,
        0,
    )
    assert store_customers(emulator)["user1@example.com"]["phone"] == "555-0001"


def test_insert_rows_without_a_name_are_invalid_in_plan_with_the_runs_reason(
    sync_project: SyncProject, emulator: Any
) -> None:
    rows = [customer(n) for n in range(1, 8)]
    rows[1]["first_name"] = None
    rows[3]["last_name"] = None
    rows[5].update(first_name=None, last_name=None)
    sync_project.load("customers", rows)
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))

    plan = sync_project.engine().plan("customers")
    expected = {
        "2": "creating a customer needs column 'first_name' (field first_name) to be set",
        "4": "creating a customer needs column 'last_name' (field last_name) to be set",
        "6": "creating a customer needs column 'first_name' (field first_name) to be set, "
        "column 'last_name' (field last_name) to be set",
    }
    assert {row["pk"]: row["reason"] for row in plan.invalid_rows} == expected
    assert (plan.counts["invalid"], plan.counts["added"], plan.operations["create"]) == (3, 4, 4)
    shown = sync_project.cli("plan", "customers")
    assert "Invalid rows (will not be sent) (3)" in shown.stdout
    assert expected["4"] in shown.stdout

    result = sync_project.run("customers")
    assert result.status == "warning"
    assert {row["pk"]: row["reason"] for row in result.invalid_rows} == expected
    assert (result.counts["invalid"], result.counts["succeeded"]) == (3, 4)
    assert sorted(store_customers(emulator)) == [f"user{n}@example.com" for n in (1, 3, 5, 7)]
    # The creates BigCommerce would have refused were never sent: 4 customers, one request.
    assert _writes(emulator)["POST /v3/customers"] == 1


def test_upsert_plan_shows_the_nameless_rows_the_run_refuses_and_no_others(
    sync_project: SyncProject, emulator: Any
) -> None:
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user1@example.com", "first_name": "Ada", "last_name": "Lovelace"}],
        )
    rows = [customer(1, first_name=None), customer(2, first_name=None), customer(3)]
    sync_project.load("customers", rows)
    sync_project.configure(UPSERT_BY_EMAIL)
    reason = "creating a customer needs column 'first_name' (field first_name) to be set"

    plan = sync_project.engine().plan("customers")
    # Plan matches the rows that could not be created as the run does (reads only): user1's
    # customer exists, so that row is an update; only user2's needs a create it cannot have.
    assert {row["pk"]: row["reason"] for row in plan.invalid_rows} == {"2": reason}
    assert (plan.operations["update"], plan.operations["create"]) == (1, 1)
    assert _writes(emulator) == {"POST /v3/customers": 1}  # the setup's: plan wrote nothing

    result = sync_project.run("customers")
    # The run found user1's customer and updated it; user2 needed a create and was refused.
    assert {row["pk"]: row["reason"] for row in result.invalid_rows} == {"2": reason}
    held = store_customers(emulator)
    assert sorted(held) == ["user1@example.com", "user3@example.com"]
    assert held["user1@example.com"]["first_name"] == "Ada"  # a null never blanks a name
    assert held["user1@example.com"]["phone"] == "555-0001"


def test_a_vanished_customer_is_not_remade_without_a_name(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL)
    assert sync_project.run("customers").status == "success"
    gone = store_customers(emulator)["user1@example.com"]["id"]
    with emulator.client() as http:
        assert http.delete("/v3/customers", params={"id:in": str(gone)}).status_code == 204
    sync_project.load("customers", [customer(1, first_name=None, phone="555-9999"), customer(2)])
    before = _writes(emulator)

    result = sync_project.run("customers")
    assert result.status == "warning"
    [invalid] = result.invalid_rows
    assert invalid["pk"] == "1"
    assert invalid["reason"] == (
        "creating a customer needs column 'first_name' (field first_name) to be set"
    )
    assert _writes(emulator).get("POST /v3/customers") == before.get("POST /v3/customers")
    assert sorted(store_customers(emulator)) == ["user2@example.com"]


def test_orders_insert_needs_products_and_a_billing_zip(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(1), order(2, zip="7"), order(3, products="[]")])
    no_products = INSERT_ORDERS.replace("    - {column: products, field: products}\n", "")
    sync_project.configure(no_products)
    check = sync_project.cli("check")
    assert check.returncode == 2
    assert "creating an order needs field 'products' (not mapped)" in check.stdout
    assert sync_project.cli("plan", "orders").returncode == 2

    sync_project.configure(INSERT_ORDERS)
    plan = sync_project.engine().plan("orders")
    planned = {row["pk"]: row["reason"] for row in plan.invalid_rows}
    assert set(planned) == {"ERP-2", "ERP-3"}
    assert "column 'zip' (billing_address.zip): at least 2 characters" in planned["ERP-2"]
    result = sync_project.run("orders")
    assert {row["pk"]: row["reason"] for row in result.invalid_rows} == planned
    assert [o["external_order_id"] for o in live_orders(emulator)] == ["bcsync:orders:ERP-1"]
