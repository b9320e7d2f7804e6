"""Customer addresses mapped from the model, end to end against the emulator: the one synced
address of flat ``address.<field>`` columns and the full set of an ``addresses`` list column —
created with the customer, updated in place by the id bcsync pinned, left alone when unchanged,
removed by ``clear``, re-created when deleted behind bcsync's back, settled after a lost answer,
and refused before sending when a row says something BigCommerce cannot hold. The addresses a
customer added in the storefront are never touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer, diff

FLAT = """\
customers:
  destination: store
  object: customers
  model:
    table: customers
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  on_delete: clear
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: street, field: address.address1}
    - {column: city, field: address.city}
    - {column: state, field: address.state_or_province}
    - {column: zip, field: address.postal_code}
    - {column: country, field: address.country_code}
"""

LISTED = """\
customers:
  destination: store
  object: customers
  model:
    table: customers
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  on_delete: clear
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: addrs, field: addresses}
"""

ADDRESS_ENDPOINTS = ("POST", "PUT", "DELETE", "GET")


def row(n: int, city: str = "Austin", **overrides: Any) -> dict[str, Any]:
    plain = {k: v for k, v in customer(n).items() if k not in ("phone", "tier")}
    address = {
        "street": f"{n} Main St",
        "city": city,
        "state": "Texas",
        "zip": "78701",
        "country": "us",
    }
    return {**plain, **address, **overrides}


def addresses_of(emulator: Any) -> dict[str, list[dict[str, Any]]]:
    return {c["email"]: c.get("addresses", []) for c in emulator.dump()["customers"]}


def address_calls(emulator: Any) -> dict[str, int]:
    by_endpoint = emulator.stats()["by_endpoint"]
    return {
        method: int(by_endpoint.get(f"{method} /v3/customers/addresses", 0))
        for method in ADDRESS_ENDPOINTS
    }


def customer_id(emulator: Any, email: str) -> int:
    return next(int(c["id"]) for c in emulator.dump()["customers"] if c["email"] == email)


def add_storefront_address(emulator: Any, email: str) -> int:
    """An address the customer adds themselves (not through bcsync)."""
    response = emulator.client().post(
        "/v3/customers/addresses",
        json=[
            {
                "customer_id": customer_id(emulator, email),
                "first_name": "Own",
                "last_name": "Address",
                "address1": "1 Storefront Way",
                "city": "Dallas",
                "state_or_province": "Texas",
                "postal_code": "75201",
                "country_code": "US",
            }
        ],
    )
    assert response.status_code == 200, response.text
    return int(response.json()["data"][0]["id"])


def test_the_flat_address_is_created_with_the_customer_and_updated_in_place(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1), row(2)])
    first = sync_project.run("customers")
    assert (first.status, first.counts["added"]) == ("success", 2), first.rejected_rows
    held = addresses_of(emulator)
    [address] = held["user1@example.com"]
    assert (address["city"], address["country_code"], address["state_or_province"]) == (
        "Austin",
        "US",
        "Texas",
    )
    # The first and last name default to the customer's own.
    assert (address["first_name"], address["last_name"]) == ("First1", "Last1")
    # Nested in the create: no address call at all.
    assert address_calls(emulator) == dict.fromkeys(ADDRESS_ENDPOINTS, 0)

    # An unchanged rerun makes no call.
    before = emulator.stats()
    assert sync_project.run("customers").status == "success"
    assert diff(emulator.stats(), before) == {}

    # A storefront address joins; the synced one changes: the same id is updated.
    own = add_storefront_address(emulator, "user1@example.com")
    sync_project.load("customers", [row(1, city="Houston"), row(2)])
    before = emulator.stats()
    changed = sync_project.run("customers")
    assert changed.status == "success", changed.rejected_rows
    assert diff(emulator.stats(), before) == {"PUT /v3/customers/addresses": 1}
    after = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert set(after) == {address["id"], own}
    assert after[address["id"]]["city"] == "Houston"
    assert after[own]["city"] == "Dallas"

    # clear removes the address bcsync wrote, and only that one.
    sync_project.load("customers", [row(2)])
    cleared = sync_project.run("customers")
    assert cleared.status == "success", cleared.rejected_rows
    assert [a["id"] for a in addresses_of(emulator)["user1@example.com"]] == [own]
    assert len(addresses_of(emulator)["user2@example.com"]) == 1


def test_an_address_mapped_later_is_sent_on_the_next_run(
    sync_project: SyncProject, emulator: Any
) -> None:
    plain = FLAT.split("    - {column: street")[0]
    sync_project.configure(plain)
    sync_project.load("customers", [row(1)])
    assert sync_project.run("customers").status == "success"
    assert addresses_of(emulator)["user1@example.com"] == []

    # The hash covers the mapping: adding the address mapping re-sends the row.
    sync_project.configure(FLAT)
    ran = sync_project.run("customers")
    assert (ran.status, ran.counts["changed"]) == ("success", 1), ran.rejected_rows
    assert [a["city"] for a in addresses_of(emulator)["user1@example.com"]] == ["Austin"]
    assert address_calls(emulator)["POST"] == 1

    # Nulls everywhere: the synced address is deleted.
    sync_project.load(
        "customers", [row(1, street=None, city=None, state=None, zip=None, country=None)]
    )
    assert sync_project.run("customers").status == "success"
    assert addresses_of(emulator)["user1@example.com"] == []


def test_an_address_deleted_behind_bcsyncs_back_is_created_anew(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1), row(2)])
    assert sync_project.run("customers").status == "success"
    [gone] = addresses_of(emulator)["user1@example.com"]
    response = emulator.client().delete("/v3/customers/addresses", params={"id:in": gone["id"]})
    assert response.status_code == 204

    sync_project.load("customers", [row(1, city="Houston"), row(2, city="Houston")])
    ran = sync_project.run("customers")
    assert ran.status == "success", ran.rejected_rows
    held = addresses_of(emulator)
    [again] = held["user1@example.com"]
    assert again["city"] == "Houston" and again["id"] != gone["id"]
    assert [a["city"] for a in held["user2@example.com"]] == ["Houston"]

    # The new id is pinned: the next change updates it in place.
    sync_project.load("customers", [row(1, city="Waco"), row(2, city="Houston")])
    assert sync_project.run("customers").status == "success"
    assert [(a["id"], a["city"]) for a in addresses_of(emulator)["user1@example.com"]] == [
        (again["id"], "Waco")
    ]


def test_a_lost_address_post_is_settled_without_a_duplicate(
    sync_project: SyncProject, emulator: Any
) -> None:
    plain = FLAT.split("    - {column: street")[0]
    sync_project.configure(plain)
    sync_project.load("customers", [row(1), row(2)])
    assert sync_project.run("customers").status == "success"

    sync_project.configure(FLAT)
    emulator.faults(
        [
            {
                "method": "POST",
                "path": "/v3/customers/addresses",
                "drop_after_apply": True,
                "times": 1,
            }
        ]
    )
    ran = sync_project.run("customers")
    assert ran.status == "success", (ran.error, ran.rejected_rows)
    emulator.clear_faults()
    held = addresses_of(emulator)
    assert [len(held[f"user{n}@example.com"]) for n in (1, 2)] == [1, 1]
    # Settled by a read: the lost POST is not sent again.
    assert address_calls(emulator)["POST"] == 1
    assert address_calls(emulator)["GET"] >= 1

    # The address the lost answer made is pinned: a change updates it in place.
    sync_project.load("customers", [row(1, city="Houston"), row(2)])
    assert sync_project.run("customers").status == "success"
    [after] = addresses_of(emulator)["user1@example.com"]
    assert (after["id"], after["city"]) == (held["user1@example.com"][0]["id"], "Houston")


def test_delete_removes_the_customer(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.configure(FLAT.replace("on_delete: clear", "on_delete: delete"))
    sync_project.load("customers", [row(1), row(2)])
    assert sync_project.run("customers").status == "success"
    sync_project.load("customers", [row(2)])
    assert sync_project.run("customers").status == "success"
    assert set(addresses_of(emulator)) == {"user2@example.com"}


def test_invalid_addresses_are_refused_naming_the_column(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(FLAT)
    sync_project.load(
        "customers",
        [
            row(1),
            row(2, state=None),  # the US needs a state
            row(3, country="USA"),
            row(4, city=None),
            row(5, zip="9" * 31),
            row(6, country="GB", state=None),  # no state needed
        ],
    )
    ran = sync_project.run("customers")
    assert (ran.status, ran.counts["invalid"]) == ("warning", 4)
    reasons = {r["pk"]: r["reason"] for r in ran.invalid_rows}
    assert "column 'state' (field address.state_or_province)" in reasons["2"]
    assert "column 'country' (field address.country_code)" in reasons["3"]
    assert "column 'city' (field address.city): an address needs it" in reasons["4"]
    assert "column 'zip' (field address.postal_code)" in reasons["5"]
    assert set(addresses_of(emulator)) == {"user1@example.com", "user6@example.com"}


def test_a_mapping_without_the_required_address_fields_is_a_config_error(
    sync_project: SyncProject,
) -> None:
    sync_project.configure(FLAT.replace("    - {column: city, field: address.city}\n", ""))
    sync_project.load("customers", [row(1)])
    checked = sync_project.cli("check", "customers")
    assert checked.returncode != 0
    assert "an address needs 'address.city' mapped" in checked.stdout
    sync_project.configure(FLAT.replace("address.city", "address.town"))
    checked = sync_project.cli("check", "customers")
    assert checked.returncode != 0
    assert "unknown address field 'town' in 'address.town'" in checked.stdout


def listed(n: int, *addresses: dict[str, Any] | None) -> dict[str, Any]:
    plain = {k: v for k, v in customer(n).items() if k not in ("phone", "tier")}
    return {**plain, "addrs": json.dumps([a for a in addresses if a is not None])}


def place(city: str, street: str = "1 Main St", **more: Any) -> dict[str, Any]:
    return {
        "first_name": "Ship",
        "last_name": "To",
        "address1": street,
        "city": city,
        "state_or_province": "Texas",
        "postal_code": "78701",
        "country_code": "US",
        **more,
    }


def test_a_list_column_keeps_the_set_bcsync_wrote(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.configure(LISTED)
    other = listed(2, place("Austin"))
    sync_project.load("customers", [listed(1, place("Austin"), place("Dallas")), other])
    assert sync_project.run("customers").status == "success"
    first = {a["city"]: a["id"] for a in addresses_of(emulator)["user1@example.com"]}
    assert set(first) == {"Austin", "Dallas"}
    own = add_storefront_address(emulator, "user1@example.com")

    before = emulator.stats()
    assert sync_project.run("customers").status == "success"
    assert diff(emulator.stats(), before) == {}

    # Austin stays, Dallas changes (updated in place), Waco is new.
    sync_project.load(
        "customers",
        [listed(1, place("Austin"), place("Dallas", "2 Elm St"), place("Waco")), other],
    )
    before = emulator.stats()
    ran = sync_project.run("customers")
    assert ran.status == "success", ran.rejected_rows
    # The customer's addresses are read before the POST, so a lost answer is never settled
    # with one that was there before.
    assert diff(emulator.stats(), before) == {
        "PUT /v3/customers/addresses": 1,
        "POST /v3/customers/addresses": 1,
        "GET /v3/customers/addresses": 1,
    }
    held = {a["id"]: a for a in addresses_of(emulator)["user1@example.com"]}
    assert held[first["Dallas"]]["address1"] == "2 Elm St"
    assert held[first["Austin"]]["address1"] == "1 Main St"
    assert {a["city"] for a in held.values()} == {"Austin", "Dallas", "Waco"}
    assert own in held

    # Austin leaves: deleted; the storefront address stays.
    sync_project.load("customers", [listed(1, place("Dallas", "2 Elm St"), place("Waco")), other])
    assert sync_project.run("customers").status == "success"
    cities = sorted(a["city"] for a in addresses_of(emulator)["user1@example.com"])
    assert cities == ["Dallas", "Dallas", "Waco"]  # the storefront one is in Dallas too
    assert own in {a["id"] for a in addresses_of(emulator)["user1@example.com"]}

    # clear removes bcsync's addresses only.
    sync_project.load("customers", [other])
    assert sync_project.run("customers").status == "success"
    assert [a["id"] for a in addresses_of(emulator)["user1@example.com"]] == [own]
    assert [a["city"] for a in addresses_of(emulator)["user2@example.com"]] == ["Austin"]


@pytest.mark.parametrize(
    ("addrs", "reason"),
    [
        ('[{"city": "Austin"}]', "(addresses[0].first_name): an address needs it"),
        ("{}", "must be a list of addresses"),
        ("[1]", "item 0 is not an address object"),
        ('[{"town": "x"}]', "unknown fields ['town']"),
    ],
)
def test_an_invalid_address_list_is_refused_naming_the_column(
    sync_project: SyncProject, emulator: Any, addrs: str, reason: str
) -> None:
    sync_project.configure(LISTED)
    bad = {**listed(2), "addrs": addrs}
    sync_project.load("customers", [listed(1, place("Austin")), bad])
    ran = sync_project.run("customers")
    assert (ran.status, ran.counts["invalid"]) == ("warning", 1)
    assert "column 'addrs'" in ran.invalid_rows[0]["reason"]
    assert reason in ran.invalid_rows[0]["reason"]
    assert set(addresses_of(emulator)) == {"user1@example.com"}


def test_twelve_addresses_go_ten_to_a_request(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.configure(LISTED)
    many = [place(f"City{i}") for i in range(12)]
    sync_project.load("customers", [listed(1, *many)])
    ran = sync_project.run("customers")
    assert ran.status == "success", ran.rejected_rows
    assert len(addresses_of(emulator)["user1@example.com"]) == 12
    # Ten nested in the create, the last two posted after it.
    assert address_calls(emulator)["POST"] == 1


def test_a_lost_customer_create_keeps_its_nested_address(
    sync_project: SyncProject, emulator: Any
) -> None:
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "drop_after_apply": True, "times": 1}]
    )
    sync_project.configure(FLAT)
    sync_project.load("customers", [row(1), row(2)])
    ran = sync_project.run("customers")
    assert ran.status == "success", (ran.error, ran.rejected_rows)
    emulator.clear_faults()
    held = addresses_of(emulator)
    assert [len(held[f"user{n}@example.com"]) for n in (1, 2)] == [1, 1]
    assert address_calls(emulator)["POST"] == 0  # found by reading, not posted again

    # The nested address was found and pinned: a change updates it in place.
    sync_project.load("customers", [row(1, city="Houston"), row(2)])
    assert sync_project.run("customers").status == "success"
    [after] = addresses_of(emulator)["user1@example.com"]
    assert (after["id"], after["city"]) == (held["user1@example.com"][0]["id"], "Houston")


def test_a_list_item_without_an_optional_field_blanks_it(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(LISTED)
    other = listed(2, place("Austin"))
    sync_project.load("customers", [listed(1, place("Austin", company="Acme")), other])
    assert sync_project.run("customers").status == "success"
    [before] = addresses_of(emulator)["user1@example.com"]
    assert before["company"] == "Acme"
    sync_project.load("customers", [listed(1, place("Austin")), other])
    assert sync_project.run("customers").status == "success"
    [after] = addresses_of(emulator)["user1@example.com"]
    assert (after["id"], after["company"]) == (before["id"], "")


def test_flat_columns_and_a_list_column_are_not_mapped_together(
    sync_project: SyncProject,
) -> None:
    sync_project.configure(FLAT + "    - {column: addrs, field: addresses}\n")
    sync_project.load("customers", [{**row(1), "addrs": "[]"}])
    checked = sync_project.cli("check", "customers")
    assert checked.returncode != 0
    assert "map addresses either as one list column ('addresses')" in checked.stdout
