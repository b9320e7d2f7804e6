"""Issue 15's end-to-end promise in one place: customers synced with a default address and their
consent; both changed; rows removed with ``clear`` and with ``delete``; after every run the store
holds exactly what the model says, and the addresses customers added in the storefront are
untouched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_address_sync import FLAT, add_storefront_address, addresses_of, row

WITH_CONSENT = FLAT + (
    "    - {column: analytics_ok, field: consent.analytics}\n"
    "    - {column: ads_ok, field: consent.targeting}\n"
)


def model(n: int, city: str, analytics: bool, ads: bool | None) -> dict[str, Any]:
    return {**row(n, city=city), "analytics_ok": analytics, "ads_ok": ads}


def held(emulator: Any) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """Per customer: the cities of its addresses and its consent."""
    return {
        c["email"]: (sorted(a["city"] for a in c.get("addresses", [])), c["consent"])
        for c in emulator.dump()["customers"]
    }


@pytest.mark.parametrize("on_delete", ["clear", "delete"])
def test_addresses_and_consent_follow_the_model_and_leave_the_storefronts_alone(
    sync_project: SyncProject, emulator: Any, on_delete: str
) -> None:
    sync_project.configure(WITH_CONSENT.replace("on_delete: clear", f"on_delete: {on_delete}"))
    rows = [model(1, "Austin", True, False), model(2, "Boston", False, None)]
    sync_project.load("customers", rows)
    assert sync_project.run("customers").status == "success"
    assert held(emulator) == {
        "user1@example.com": (["Austin"], {"allow": ["analytics"], "deny": ["targeting"]}),
        "user2@example.com": (["Boston"], {"allow": [], "deny": ["analytics"]}),
    }
    own = {email: add_storefront_address(emulator, email) for email in held(emulator)}
    pinned = {
        e: [a["id"] for a in addrs if a["id"] != own[e]]
        for e, addrs in addresses_of(emulator).items()
    }

    # The address moves and the consent changes: the same address is updated in place.
    rows = [model(1, "Houston", False, True), model(2, "Boston", True, None)]
    sync_project.load("customers", rows)
    assert sync_project.run("customers").status == "success"
    after = addresses_of(emulator)
    assert [a["id"] for a in after["user1@example.com"] if a["id"] != own["user1@example.com"]] == (
        pinned["user1@example.com"]
    )
    assert held(emulator)["user1@example.com"] == (
        ["Dallas", "Houston"],
        {"allow": ["targeting"], "deny": ["analytics"]},
    )
    assert held(emulator)["user2@example.com"][1] == {"allow": ["analytics"], "deny": []}

    # Row 2 leaves the model.
    sync_project.load("customers", rows[:1])
    assert sync_project.run("customers").status == "success"
    state = held(emulator)
    if on_delete == "delete":
        assert "user2@example.com" not in state
    else:
        assert state["user2@example.com"] == (["Dallas"], {"allow": [], "deny": []})
    # The storefront's own addresses never moved.
    for email, address_id in own.items():
        if email in state:
            assert address_id in [a["id"] for a in addresses_of(emulator)[email]]
    assert state["user1@example.com"][0] == ["Dallas", "Houston"]
