"""Record ownership (DESIGN §3.8), one test per way issue 9 found it broken: a record is never
touched, duplicated or lost under ordinary edits, real faults and crashes. Each test says which
symptom of issue 9 it covers; all run the real engine against the emulator over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from bcsync.run.snapshot import Snapshot, snapshot_path
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer, store_customers
from tests.sync.test_orders_sync import INSERT_ORDERS, live_orders, order

TIER = '    - {column: tier, field: "attributes.Loyalty Tier"}\n'
WITH_METAFIELD = UPSERT_BY_EMAIL.replace(
    TIER, TIER + "    - {column: tier, field: metafields.warehouse.tier}\n"
)


def post_customer(
    emulator: Any, email: str, first: str = "Foreign", *, settle: bool = True
) -> dict[str, Any]:
    """A customer made outside bcsync. ``settle``: wait until the store's clock has moved on
    by two whole seconds: ``date_created`` has whole seconds and bcsync's reading of the store's
    clock errs early by up to one, so a record made within that window of bcsync's create
    cannot be told from it (README, "Known limits")."""
    with emulator.client() as http:
        response = http.post(
            "/v3/customers", json=[{"email": email, "first_name": first, "last_name": "Person"}]
        )
        assert response.status_code == 200, response.text
    if settle:
        time.sleep(2.1)
    return dict(response.json()["data"][0])


def mark_in_flight(project: SyncProject, sync: str, keys: dict[str, str]) -> None:
    """As a run killed with these creates in flight leaves the snapshot."""
    with Snapshot(snapshot_path(project.dir, sync)) as snapshot:
        snapshot.mark_pending([(pk, "create") for pk in keys], dict(keys), dt.datetime.now(dt.UTC))


def test_1_a_key_change_moves_the_customer_instead_of_deleting_it(
    sync_project: SyncProject, emulator: Any
) -> None:
    config = UPSERT_BY_EMAIL + "  on_delete: delete\n"
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(config)
    assert sync_project.run("customers").status == "success"
    original = store_customers(emulator)["user1@example.com"]["id"]

    # Row 1 gets a new primary key and keeps its email.
    sync_project.load("customers", [customer(10, email="user1@example.com"), customer(2)])
    result = sync_project.run("customers", override_guards=True)
    assert result.status == "success", (result.error, result.rejected_rows)
    held = store_customers(emulator)
    assert held["user1@example.com"]["id"] == original
    assert held["user1@example.com"]["first_name"] == "First10"
    # Row 10 holds it now: dropping row 10 deletes it, as the record is its own.
    sync_project.load("customers", [customer(2)])
    assert sync_project.run("customers", override_guards=True).status == "success"
    assert "user1@example.com" not in store_customers(emulator)


def test_1_emails_that_differ_in_case_never_share_one_customer(
    sync_project: SyncProject, emulator: Any
) -> None:
    rows = [customer(1, email="Same@Example.com"), customer(2, email="same@example.com")]
    sync_project.load("customers", rows)
    sync_project.configure(UPSERT_BY_EMAIL + "  on_delete: delete\n")
    result = sync_project.run("customers")
    assert result.status == "warning"
    [rejected] = [r["pk"] for r in result.rejected_rows]
    [kept] = [row for row in rows if str(row["customer_key"]) != rejected]
    [only] = store_customers(emulator).values()
    assert only["first_name"] == kept["first_name"]
    # The rejected row leaves: the customer the other row holds is not deleted.
    sync_project.load("customers", [kept])
    assert sync_project.run("customers").status == "success"
    assert [c["first_name"] for c in store_customers(emulator).values()] == [kept["first_name"]]


def test_2_an_order_row_that_comes_back_finds_its_order(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 4)])
    sync_project.configure(INSERT_ORDERS)
    assert sync_project.run("orders").status == "success"
    sync_project.load("orders", [order(n) for n in (1, 3)])
    assert sync_project.run("orders").status == "success"
    sync_project.load("orders", [order(n) for n in range(1, 4)])
    result = sync_project.run("orders")
    assert result.status == "success", result.rejected_rows
    externals = [o["external_order_id"] for o in live_orders(emulator)]
    assert len(externals) == len(set(externals)) == 3


def test_2_a_reset_state_duplicates_no_order(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("orders", [order(n) for n in range(1, 6)])
    sync_project.configure(INSERT_ORDERS)
    assert sync_project.run("orders").status == "success"
    reset = sync_project.cli("state", "reset", "orders", "--yes")
    assert reset.returncode == 0, reset.stderr
    result = sync_project.run("orders")
    assert result.status == "success", result.rejected_rows
    assert len(live_orders(emulator)) == 5
    # Held again: an unchanged run after that costs nothing.
    before = emulator.stats()["requests_total"]
    assert sync_project.run("orders").api_calls == 0
    assert emulator.stats()["requests_total"] == before


def test_3_a_lost_create_is_settled_by_its_own_email_after_the_email_changed(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL)
    mark_in_flight(sync_project, "customers", {"1": "user1@example.com"})
    landed = post_customer(emulator, "user1@example.com", "First1", settle=False)  # it landed
    sync_project.load("customers", [customer(1, email="changed@example.com")])
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    held = store_customers(emulator)
    assert list(held) == ["changed@example.com"]
    assert held["changed@example.com"]["id"] == landed["id"]


def test_4_insert_mode_never_adopts_a_customer_after_a_504(
    sync_project: SyncProject, emulator: Any
) -> None:
    foreign = post_customer(emulator, "user1@example.com")
    emulator.faults([{"method": "POST", "path": "/v3/customers", "status": 504, "times": 1}])
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(
        UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert") + "  on_delete: delete\n"
    )
    result = sync_project.run("customers")
    assert [r["pk"] for r in result.rejected_rows] == ["1"]
    assert "already existed" in result.rejected_rows[0]["error"]
    # Removing the row later must not delete the customer it never owned.
    sync_project.load("customers", [customer(2)])
    assert sync_project.run("customers", override_guards=True).status == "success"
    kept = store_customers(emulator)["user1@example.com"]
    assert kept["id"] == foreign["id"] and kept["first_name"] == "Foreign"


def test_4_insert_mode_never_adopts_after_a_kill_mid_create(
    sync_project: SyncProject, emulator: Any
) -> None:
    foreign = post_customer(emulator, "user1@example.com")
    config = UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert") + "  on_delete: delete\n"
    sync_project.load("customers", [customer(1)])
    sync_project.configure(config)
    mark_in_flight(sync_project, "customers", {"1": "user1@example.com"})
    result = sync_project.run("customers")
    assert result.status == "warning"
    assert "already existed" in result.rejected_rows[0]["error"]
    assert store_customers(emulator)["user1@example.com"]["first_name"] == "Foreign"
    # Killed before the POST went out, then the row left: nothing of the customer is ours.
    mark_in_flight(sync_project, "customers", {"1": "user1@example.com"})
    sync_project.load("customers", [customer(2)])
    assert sync_project.run("customers", override_guards=True).status == "success"
    assert store_customers(emulator)["user1@example.com"]["id"] == foreign["id"]


def test_5_the_empty_model_guard_counts_creates_in_flight(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL + "  on_delete: delete\n")
    mark_in_flight(sync_project, "customers", {"1": "user1@example.com", "2": "user2@example.com"})
    for n in (1, 2):
        post_customer(emulator, f"user{n}@example.com", f"First{n}", settle=False)
    sync_project.sql("DELETE FROM customers")
    result = sync_project.run("customers")
    assert result.status == "failed" and "returned no rows" in (result.error or "")
    assert len(store_customers(emulator)) == 2


def test_6_insert_mode_retries_a_metafield_that_failed(
    sync_project: SyncProject, emulator: Any
) -> None:
    config = WITH_METAFIELD.replace("mode: upsert", "mode: insert")
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers/metafields", "status": 503, "times": 1}]
    )
    sync_project.load("customers", [customer(1)])
    sync_project.configure(config)
    assert sync_project.run("customers").status == "warning"
    assert store_customers(emulator)["user1@example.com"]["metafields"] == []
    result = sync_project.run("customers")
    assert result.status == "success", result.rejected_rows
    [metafield] = store_customers(emulator)["user1@example.com"]["metafields"]
    assert metafield["value"] == "gold"
    assert sync_project.run("customers").api_calls == 0


def test_6_7_an_order_metafield_answered_5xx_is_written_next_run_once(
    sync_project: SyncProject, emulator: Any
) -> None:
    # BigCommerce made the metafield but answered 502.
    emulator.faults(
        [{"method": "POST", "path": "/v3/orders/metafields", "status": 502, "apply": True}]
    )
    sync_project.load("orders", [order(1)])
    sync_project.configure(INSERT_ORDERS)
    first = sync_project.run("orders")
    assert first.status == "warning", first.error  # a row-level failure, not a failed run
    emulator.clear_faults()
    second = sync_project.run("orders")  # finds the metafield, does not make a second one
    assert second.status == "success", second.rejected_rows
    [held] = live_orders(emulator)
    assert [m["value"] for m in held["metafields"]] == ["phone"]
    assert sync_project.run("orders").api_calls == 0


def test_7_an_order_adopted_after_a_lost_create_gets_its_metafields(
    sync_project: SyncProject, emulator: Any
) -> None:
    emulator.faults([{"method": "POST", "path": "/v2/orders", "drop_after_apply": True}])
    sync_project.load("orders", [order(1)])
    sync_project.configure(INSERT_ORDERS)
    sync_project.run("orders")  # the create lands twice-lost: settled next run
    emulator.clear_faults()
    result = sync_project.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows)
    [held] = live_orders(emulator)
    assert [m["value"] for m in held["metafields"]] == ["phone"]


def test_8_upsert_makes_anew_a_customer_deleted_outside_bcsync(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL)
    assert sync_project.run("customers").status == "success"
    gone = store_customers(emulator)["user1@example.com"]["id"]
    with emulator.client() as http:
        assert http.delete("/v3/customers", params={"id:in": str(gone)}).status_code == 204
    sync_project.load("customers", [customer(1, first_name="Again")])
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    again = store_customers(emulator)["user1@example.com"]
    assert again["id"] != gone and again["first_name"] == "Again"
    assert sync_project.run("customers").api_calls == 0


def test_8_update_mode_skips_a_row_whose_customer_is_gone(
    sync_project: SyncProject, emulator: Any
) -> None:
    post_customer(emulator, "user1@example.com")
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: update"))
    assert sync_project.run("customers").counts["succeeded"] == 1
    gone = store_customers(emulator)["user1@example.com"]["id"]
    with emulator.client() as http:
        http.delete("/v3/customers", params={"id:in": str(gone)})
    sync_project.load("customers", [customer(1, first_name="Again")])
    result = sync_project.run("customers")
    assert result.counts["skipped"] == 1 and result.counts["rejected"] == 0
    assert store_customers(emulator) == {}


def test_9_a_mapping_change_resends_the_rows(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL)
    assert sync_project.run("customers").status == "success"
    sync_project.configure(
        UPSERT_BY_EMAIL.replace(TIER, TIER + "    - {column: last_name, field: company}\n")
    )
    planned = sync_project.cli("plan", "customers", "--json")
    assert json.loads(planned.stdout)["counts"]["changed"] == 2
    before = emulator.stats()["by_endpoint"]
    assert sync_project.run("customers").status == "success"
    after = emulator.stats()["by_endpoint"]
    assert store_customers(emulator)["user1@example.com"]["company"] == "Last1"
    # Only the customer's own fields changed: one PUT, no attribute values sent again.
    assert after["PUT /v3/customers"] - before.get("PUT /v3/customers", 0) == 1
    assert "PUT /v3/customers/attribute-values" not in after


def test_12_look_ups_ask_for_the_email_as_it_was_sent(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(1, email="Mixed.Case@Example.com")])
    sync_project.configure(UPSERT_BY_EMAIL)
    result = sync_project.run("customers")
    debug = sync_project.cli("debug", result.run_id, "--json")
    lookups = [c for c in json.loads(debug.stdout)["calls"] if c["method"] == "GET"]
    asked = json.dumps(lookups)
    assert "Mixed.Case@Example.com" in asked or "Mixed.Case%40Example.com" in asked


def test_13_a_changed_email_is_sent_when_email_is_only_the_match_column(
    sync_project: SyncProject, emulator: Any
) -> None:
    config = UPSERT_BY_EMAIL.replace("    - {column: email, field: email}\n", "")
    sync_project.load("customers", [customer(1)])
    sync_project.configure(config)
    assert sync_project.run("customers").status == "success"
    sync_project.load("customers", [customer(1, email="new@example.com")])
    assert sync_project.run("customers").status == "success"
    assert list(store_customers(emulator)) == ["new@example.com"]


def test_2_after_a_reset_insert_mode_holds_its_orders_again_and_updates_nothing(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("orders", [order(1)])
    sync_project.configure(INSERT_ORDERS)
    assert sync_project.run("orders").status == "success"
    sync_project.load("orders", [order(1, channel="marketplace")])
    assert sync_project.run("orders").counts["skipped"] == 1  # insert mode: not sent
    assert sync_project.cli("state", "reset", "orders", "--yes").returncode == 0
    result = sync_project.run("orders")
    assert result.status == "success", result.rejected_rows
    # Held again, but insert mode never updates: the order keeps what it was created with.
    [held] = live_orders(emulator)
    assert [m["value"] for m in held["metafields"]] == ["phone"]
    assert sync_project.run("orders").api_calls == 0


def test_1_insert_mode_moves_a_customer_to_its_rows_new_key(
    sync_project: SyncProject, emulator: Any
) -> None:
    config = UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert") + "  on_delete: clear\n"
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(config)
    assert sync_project.run("customers").status == "success"
    original = store_customers(emulator)["user1@example.com"]["id"]
    # Row 1 gets a new primary key (same email): the customer moves to it, nothing is cleared.
    sync_project.load("customers", [customer(10, email="user1@example.com"), customer(2)])
    result = sync_project.run("customers", override_guards=True)
    assert result.status == "success", (result.error, result.rejected_rows)
    held = store_customers(emulator)["user1@example.com"]
    assert held["id"] == original and held["first_name"] == "First10"
    assert held["phone"] == "555-0010"  # not cleared by the old key's removal
    assert sync_project.run("customers").api_calls == 0
    # The old key comes back: the customer is row 10's now, so it is rejected, not shared.
    sync_project.load(
        "customers", [customer(1), customer(10, email="user1@example.com"), customer(2)]
    )
    again = sync_project.run("customers")
    assert [r["pk"] for r in again.rejected_rows] == ["1"]
    assert store_customers(emulator)["user1@example.com"]["first_name"] == "First10"


def test_a_first_write_to_a_matched_customer_is_found_again_after_a_kill(
    sync_project: SyncProject, emulator: Any
) -> None:
    matched = post_customer(emulator, "user1@example.com", settle=False)
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL)
    # A run matched row 1 to that customer and was killed with its update in flight (it
    # landed); then the row's email changed.
    with Snapshot(snapshot_path(sync_project.dir, "customers")) as snapshot:
        snapshot.mark_pending([("1", "update")], {"1": str(matched["id"])})
    sync_project.load("customers", [customer(1, email="moved@example.com")])
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    held = store_customers(emulator)
    assert list(held) == ["moved@example.com"]  # the same customer, not a second one
    assert held["moved@example.com"]["id"] == matched["id"]
