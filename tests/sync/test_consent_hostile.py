"""Hostile consent rows: a bad value in one of several consent columns is refused naming that
column (and only it); a PUT the store applied without an answer is sent again, not lost."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tests.fixtures.projects import SyncProject
from tests.sync.test_consent_sync import CONSENT_COLUMNS, consent_of, row

SCHEMA = pa.schema(
    [
        ("customer_key", pa.int64()),
        ("email", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("analytics_ok", pa.string()),
        ("ads_ok", pa.string()),
    ]
)


def test_a_bad_consent_value_names_its_own_column(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.configure(CONSENT_COLUMNS)
    bad = {**row(1, None, None), "analytics_ok": "true", "ads_ok": "maybe"}
    sync_project.load("customers", [bad], schema=SCHEMA)
    ran = sync_project.run("customers")
    [invalid] = ran.invalid_rows
    reason = invalid["reason"]
    assert "'ads_ok'" in reason and "maybe" in reason, reason
    assert "analytics_ok" not in reason, reason
    assert consent_of(emulator) == {}


def test_a_consent_put_applied_without_an_answer_is_settled_next_run(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.configure(CONSENT_COLUMNS)
    sync_project.load("customers", [row(1, True, False)])
    assert sync_project.run("customers").status == "success"
    sync_project.load("customers", [row(1, False, True)])
    emulator.faults(
        [
            {
                "method": "PUT",
                "path": "/v3/customers/{customer_id}/consent",
                "drop_after_apply": True,
                "times": 20,
            }
        ]
    )
    faulted = sync_project.run("customers")
    emulator.clear_faults()
    assert faulted.status != "success"
    # The row goes back to what it said: the consent must follow.
    sync_project.load("customers", [row(1, True, False)])
    assert sync_project.run("customers").status == "success"
    assert consent_of(emulator)["user1@example.com"] == {
        "allow": ["analytics"],
        "deny": ["targeting"],
    }
