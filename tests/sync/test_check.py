"""`bcsync check` and `bcsync plan` catch every mapping problem before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import UPSERT_BY_EMAIL, customer

PROBLEMS = [
    (
        UPSERT_BY_EMAIL.replace("field: phone}", "field: telephone}"),
        "unknown or read-only customer field 'telephone'",
    ),
    (UPSERT_BY_EMAIL.replace("{column: phone,", "{column: phone_number,"), "'phone_number'"),
    (
        UPSERT_BY_EMAIL.replace("field: phone}", "field: customer_group_id}").replace(
            "{column: phone,", "{column: joined,"
        ),
        "cannot become customer field 'customer_group_id'",
    ),
    (
        UPSERT_BY_EMAIL.replace(
            "match: {column: email, field: email}", "match: {column: email, field: phone}"
        ),
        "matched on 'id' or 'email'",
    ),
    (
        UPSERT_BY_EMAIL.replace(
            "create_missing_attributes: true", "create_missing_attributes: false"
        ),
        "attribute 'Loyalty Tier' does not exist",
    ),
    (
        UPSERT_BY_EMAIL.replace("object: customers", "object: orders").replace(
            "match: {column: email, field: email}", "match: {column: customer_key, field: id}"
        ),
        "upsert",
    ),
]


@pytest.mark.parametrize(("config", "expected"), PROBLEMS)
def test_check_and_plan_name_the_problem_and_write_nothing(
    sync_project: SyncProject, emulator: Any, config: str, expected: str
) -> None:
    import datetime as dt

    sync_project.load("customers", [customer(n, joined=dt.date(2024, 1, n)) for n in range(1, 4)])
    sync_project.configure(config)
    checked = sync_project.cli("check")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    output = checked.stdout + checked.stderr
    assert expected in output, output
    assert "bcsync.yml:" in output  # the problem is located in the file

    planned = sync_project.cli("plan", "customers")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert expected in planned.stdout + planned.stderr

    ran = sync_project.cli("run", "customers")
    assert ran.returncode in (1, 2)
    writes = [k for k in emulator.stats()["by_endpoint"] if not k.startswith("GET ")]
    assert writes == []
    assert emulator.dump()["customers"] == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("{column: phone,", "{column: phone_number,"),
            "column 'phone_number' is not in the model",
        ),
        (("table: customers", "table: no_such_table"), "model query failed"),
        (("field: phone}", "field: telephone}"), "unknown or read-only customer field"),
    ],
)
def test_check_names_a_failing_sync_once(
    sync_project: SyncProject, emulator: Any, change: tuple[str, str], expected: str
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    config = UPSERT_BY_EMAIL.replace("customers:\n  destination:", "vip_sync:\n  destination:")
    sync_project.configure(config.replace(*change))
    checked = sync_project.cli("check")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert expected in checked.stdout
    # The report is headed "✗ vip_sync"; its lines do not say the name again.
    assert checked.stdout.count("vip_sync") == 1, checked.stdout
    assert "✗ vip_sync" in checked.stdout
    assert "✓ run store" in checked.stdout
