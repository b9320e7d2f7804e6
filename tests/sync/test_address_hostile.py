"""Hostile cases for customer addresses: the store's own (storefront) addresses are never
adopted, updated or deleted, even when one is identical to what bcsync sends and the answer to
bcsync's write was lost."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.projects import SyncProject
from tests.sync.test_address_sync import FLAT, LISTED, addresses_of, customer_id, row


def storefront(emulator: Any, email: str, **fields: Any) -> int:
    body = {
        "customer_id": customer_id(emulator, email),
        "first_name": "First1",
        "last_name": "Last1",
        "address1": "1 Main St",
        "city": "Austin",
        "state_or_province": "Texas",
        "postal_code": "78701",
        "country_code": "US",
        **fields,
    }
    response = emulator.client().post("/v3/customers/addresses", json=[body])
    assert response.status_code == 200, response.text
    return int(response.json()["data"][0]["id"])


def test_a_lost_post_never_adopts_an_identical_storefront_address(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    nothing: dict[str, Any] = dict.fromkeys(("street", "city", "state", "zip", "country"))
    sync_project.load("customers", [row(1, **nothing)])
    assert sync_project.run("customers").status == "success"
    own = storefront(emulator, "user1@example.com")

    # The row now says the storefront's address; the POST answer is lost (the store skipped it
    # as a duplicate, or never got it).
    sync_project.load("customers", [row(1)])
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers/addresses", "status": 500, "times": 10}]
    )
    sync_project.run("customers")
    emulator.clear_faults()
    sync_project.run("customers")

    # A change must not touch the storefront's address.
    sync_project.load("customers", [row(1, city="Houston")])
    sync_project.run("customers")
    held = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert held[own]["city"] == "Austin", held

    # Nor does clearing remove it.
    sync_project.load("customers", [row(2)])
    assert sync_project.run("customers", override_guards=True).status == "success"
    assert own in {a["id"] for a in addresses_of(emulator)["user1@example.com"]}


def test_a_change_to_a_storefront_address_s_content_retires_bcsyncs_own(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1, city="Waco")])
    assert sync_project.run("customers").status == "success"
    [ours] = addresses_of(emulator)["user1@example.com"]
    own = storefront(emulator, "user1@example.com")  # 1 Main St, Austin

    # The row now says what the storefront's address says: BigCommerce skips the PUT as a
    # duplicate. The customer holds the row's address (the storefront's), so bcsync's is
    # retired, and the row is synced (not refused on every run).
    sync_project.load("customers", [row(1)])
    ran = sync_project.run("customers")
    assert ran.status == "success", ran.rejected_rows
    held = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert set(held) == {own}, held
    assert held[own]["city"] == "Austin"
    assert ours["id"] not in held

    # bcsync holds no address now: a change creates one, the storefront's untouched.
    sync_project.load("customers", [row(1, city="Houston")])
    assert sync_project.run("customers").status == "success"
    held = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert held[own]["city"] == "Austin"
    assert sorted(a["city"] for a in held.values()) == ["Austin", "Houston"]


def test_switching_from_flat_columns_to_a_list_and_back_keeps_one_set(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1)])
    assert sync_project.run("customers").status == "success"
    [flat] = addresses_of(emulator)["user1@example.com"]
    own = storefront(emulator, "user1@example.com", address1="9 Own Rd")

    def item(street: str) -> dict[str, Any]:
        return {
            "first_name": "First1",
            "last_name": "Last1",
            "address1": street,
            "city": "Austin",
            "state_or_province": "Texas",
            "postal_code": "78701",
            "country_code": "US",
        }

    def listed(*streets: str) -> dict[str, Any]:
        return {**row(1), "addrs": json.dumps([item(s) for s in streets])}

    # The same address, now one of a list: bcsync's address is still bcsync's.
    sync_project.configure(LISTED)
    sync_project.load("customers", [listed("1 Main St", "2 Elm St")])
    assert sync_project.run("customers").status == "success"
    sync_project.load("customers", [listed("2 Elm St")])
    assert sync_project.run("customers").status == "success"
    held = {a["id"]: a["address1"] for a in addresses_of(emulator)["user1@example.com"]}
    assert sorted(held.values()) == ["2 Elm St", "9 Own Rd"], held
    assert own in held
    assert held.get(flat["id"], "2 Elm St") == "2 Elm St"  # updated in place, or retired

    # And back to the flat columns: one synced address, the storefront's kept.
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1, city="Houston")])
    assert sync_project.run("customers").status == "success"
    held = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert sorted((a["address1"], a["city"]) for a in held.values()) == [
        ("1 Main St", "Houston"),
        ("9 Own Rd", "Austin"),
    ], held
    sync_project.load("customers", [row(2)])
    ran = sync_project.run("customers", override_guards=True)
    assert ran.status == "success", (ran.error, ran.rejected_rows)
    assert [a["id"] for a in addresses_of(emulator)["user1@example.com"]] == [own]


def test_an_address_put_applied_without_an_answer_is_pinned_with_what_it_holds(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1)])
    assert sync_project.run("customers").status == "success"
    [ours] = addresses_of(emulator)["user1@example.com"]

    # The store applies the change and answers 500 (every retry too).
    sync_project.load("customers", [row(1, city="Houston")])
    emulator.faults(
        [
            {
                "method": "PUT",
                "path": "/v3/customers/addresses",
                "status": 500,
                "apply": True,
                "times": 20,
            }
        ]
    )
    sync_project.run("customers")
    emulator.clear_faults()
    assert addresses_of(emulator)["user1@example.com"][0]["city"] == "Houston"

    # The row goes back to what it said before: the address must follow.
    sync_project.load("customers", [row(1)])
    assert sync_project.run("customers").status == "success"
    [after] = addresses_of(emulator)["user1@example.com"]
    assert (after["id"], after["city"]) == (ours["id"], "Austin")


def test_a_key_change_keeps_one_address_and_bcsync_still_holds_it(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1), row(2)])
    assert sync_project.run("customers").status == "success"

    # The same customer under a new key, same address: the holding moves.
    sync_project.load("customers", [row(1, customer_key=101), row(2)])
    ran = sync_project.run("customers", override_guards=True)
    assert ran.status == "success", (ran.error, ran.rejected_rows)
    assert len(addresses_of(emulator)["user1@example.com"]) == 1

    # bcsync still holds it: a change updates it, a clear removes it.
    sync_project.load("customers", [row(1, customer_key=101, city="Houston"), row(2)])
    assert sync_project.run("customers").status == "success"
    assert [a["city"] for a in addresses_of(emulator)["user1@example.com"]] == ["Houston"]
    sync_project.load("customers", [row(2)])
    assert sync_project.run("customers", override_guards=True).status == "success"
    assert addresses_of(emulator)["user1@example.com"] == []


def test_a_lost_customer_create_with_twelve_addresses_keeps_twelve(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(LISTED)
    items = [
        {
            "first_name": "First1",
            "last_name": "Last1",
            "address1": f"{n} Main St",
            "city": "Austin",
            "state_or_province": "Texas",
            "postal_code": "78701",
            "country_code": "US",
        }
        for n in range(12)
    ]
    sync_project.load("customers", [{**row(1), "addrs": json.dumps(items)}])
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "drop_after_apply": True, "times": 1}]
    )
    sync_project.run("customers")
    emulator.clear_faults()
    assert sync_project.run("customers").status == "success"
    held = addresses_of(emulator)["user1@example.com"]
    assert sorted(a["address1"] for a in held) == sorted(i["address1"] for i in items)

    # All twelve are bcsync's: dropping to one deletes eleven.
    sync_project.load("customers", [{**row(1), "addrs": json.dumps(items[:1])}])
    assert sync_project.run("customers").status == "success"
    assert [a["address1"] for a in addresses_of(emulator)["user1@example.com"]] == ["0 Main St"]
