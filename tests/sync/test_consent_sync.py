"""Customer consent mapped from the model, end to end against the emulator: declared with the
customer, changed, left alone when unchanged, cleared, and refused before sending when a row says
something BigCommerce cannot hold."""

from __future__ import annotations

from typing import Any

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer

CONSENT_COLUMNS = """\
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
    - {column: analytics_ok, field: consent.analytics}
    - {column: ads_ok, field: consent.targeting}
"""


def consent_of(emulator: Any) -> dict[str, dict[str, list[str]]]:
    return {c["email"]: c["consent"] for c in emulator.dump()["customers"]}


def consent_puts(emulator: Any) -> int:
    return int(emulator.stats()["by_endpoint"].get("PUT /v3/customers/{customer_id}/consent", 0))


def row(n: int, analytics: bool | None, ads: bool | None) -> dict[str, Any]:
    plain = {k: v for k, v in customer(n).items() if k not in ("phone", "tier")}
    return {**plain, "analytics_ok": analytics, "ads_ok": ads}


def test_consent_columns_are_declared_changed_and_cleared(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(CONSENT_COLUMNS)
    sync_project.load("customers", [row(1, True, False), row(2, None, True)])
    first = sync_project.run("customers")
    assert (first.status, first.counts["added"]) == ("success", 2)
    assert consent_of(emulator) == {
        "user1@example.com": {"allow": ["analytics"], "deny": ["targeting"]},
        "user2@example.com": {"allow": ["targeting"], "deny": []},
    }
    assert consent_puts(emulator) == 2

    # Only the row whose consent changed is sent again.
    sync_project.load("customers", [row(1, False, False), row(2, None, True)])
    assert sync_project.run("customers").status == "success"
    assert consent_puts(emulator) == 3
    assert consent_of(emulator)["user1@example.com"] == {
        "allow": [],
        "deny": ["analytics", "targeting"],
    }

    sync_project.load("customers", [row(2, None, True)])
    assert sync_project.run("customers").status == "success"
    assert consent_of(emulator)["user1@example.com"] == {"allow": [], "deny": []}
    assert consent_of(emulator)["user2@example.com"] == {"allow": ["targeting"], "deny": []}


def test_a_list_column_allows_its_categories_and_denies_the_rest(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(
        CONSENT_COLUMNS.replace(
            "    - {column: analytics_ok, field: consent.analytics}\n"
            "    - {column: ads_ok, field: consent.targeting}\n",
            "    - {column: allowed, field: consent}\n",
        )
    )
    plain = {k: v for k, v in customer(1).items() if k not in ("phone", "tier")}
    sync_project.load(
        "customers",
        [
            {**plain, "allowed": ["essential", "analytics"]},
            {**plain, "customer_key": 2, "email": "x@example.com", "allowed": ["cookies"]},
        ],
    )
    ran = sync_project.run("customers")
    assert (ran.status, ran.counts["invalid"]) == ("warning", 1)
    assert "unknown consent categories ['cookies']" in ran.invalid_rows[0]["reason"]
    assert consent_of(emulator) == {
        "user1@example.com": {
            "allow": ["essential", "analytics"],
            "deny": ["functional", "targeting"],
        }
    }


def test_an_unknown_category_is_a_config_error_naming_the_mapping(
    sync_project: SyncProject,
) -> None:
    sync_project.configure(CONSENT_COLUMNS.replace("consent.targeting", "consent.ads"))
    sync_project.load("customers", [row(1, True, True)])
    checked = sync_project.cli("check", "customers")
    assert checked.returncode != 0
    assert (
        "bcsync.yml:27: unknown consent category 'ads' in 'consent.ads' "
        "(known: essential, functional, analytics, targeting)" in checked.stdout
    )
