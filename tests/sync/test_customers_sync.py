"""Customer syncs end to end: warehouse → planner → engine → client → emulator, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from bcsync.run.snapshot import Snapshot, snapshot_path
from bcsync.state import RunStore
from bcsync.state.schema import runs
from tests.fixtures.projects import SyncProject

UPSERT_BY_EMAIL = """\
customers:
  destination: store
  object: customers
  model:
    table: customers
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: phone, field: phone}
    - {column: tier, field: "attributes.Loyalty Tier"}
  create_missing_attributes: true
"""


def customer(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_key": n,
        "email": f"user{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "phone": f"555-{n:04d}",
        "tier": "gold" if n % 2 else "silver",
    }
    row.update(overrides)
    return row


def store_customers(emulator: Any) -> dict[str, dict[str, Any]]:
    return {c["email"].lower(): c for c in emulator.dump()["customers"]}


def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    keys = set(after["by_endpoint"]) | set(before["by_endpoint"])
    out = {k: after["by_endpoint"].get(k, 0) - before["by_endpoint"].get(k, 0) for k in keys}
    return {k: v for k, v in out.items() if v}


def test_initial_sync_then_unchanged_rerun_makes_no_calls(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 1001)])
    sync_project.configure(UPSERT_BY_EMAIL)

    first = sync_project.run("customers")
    assert first.status == "success", first.error
    assert first.counts["added"] == 1000
    assert first.counts["succeeded"] == 1000
    stats = emulator.stats()["by_endpoint"]
    assert stats["POST /v3/customers"] == 100  # 10 customers a request, not 1 000 requests
    # Attribute values ride inside the creates: no second request per batch.
    assert "PUT /v3/customers/attribute-values" not in stats
    assert stats["GET /v3/customers"] == 20  # email:in look-ups, 50 emails each
    # bcsync's own requests and the answers went through the OpenAPI contract checker.
    assert sync_project.checker.checked >= 120
    held = store_customers(emulator)
    assert len(held) == 1000
    assert held["user7@example.com"]["first_name"] == "First7"
    tier_values = {a["attribute_value"] for a in held["user7@example.com"]["attributes"]}
    assert tier_values == {"gold"}
    # Every confirmed row left its quick hash, so the next plan needs no md5 for any of them.
    with Snapshot(snapshot_path(sync_project.dir, "customers")) as snapshot:
        uncached = snapshot.connection.execute(
            "SELECT count(*) FROM snapshot WHERE fast_hash IS NULL"
        ).fetchall()
    assert uncached == [(0,)]

    before = emulator.stats()
    second = sync_project.run("customers")
    assert second.status == "success"
    assert second.counts["added"] == second.counts["changed"] == 0
    after = emulator.stats()
    changed = diff(after, before)
    assert changed == {}  # no write, no look-up, not even a read of the attribute definitions
    assert second.api_calls == 0


def test_changed_email_updates_the_same_customer(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL)
    assert sync_project.run("customers").status == "success"
    original_id = store_customers(emulator)["user1@example.com"]["id"]

    sync_project.load("customers", [customer(1, email="renamed@example.com"), customer(2)])
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["changed"] == 1
    held = store_customers(emulator)
    assert len(held) == 2
    assert held["renamed@example.com"]["id"] == original_id
    assert "user1@example.com" not in held


def test_upsert_matches_existing_customer_case_insensitively(
    sync_project: SyncProject, emulator: Any
) -> None:
    with emulator.client() as http:
        response = http.post(
            "/v3/customers",
            json=[{"email": "Existing@Example.com", "first_name": "Old", "last_name": "Name"}],
        )
        assert response.status_code in (200, 201)
    sync_project.load("customers", [customer(1, email="existing@example.COM")])
    sync_project.configure(UPSERT_BY_EMAIL)
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    held = emulator.dump()["customers"]
    assert len(held) == 1
    assert held[0]["first_name"] == "First1"
    assert emulator.stats()["by_endpoint"].get("POST /v3/customers", 0) == 1  # only the setup


def test_insert_mode_duplicate_email_is_rejected_and_others_land(
    sync_project: SyncProject, emulator: Any
) -> None:
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user5@example.com", "first_name": "Taken", "last_name": "Already"}],
        )
    sync_project.load("customers", [customer(n) for n in range(1, 11)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))
    result = sync_project.run("customers")
    assert result.status == "warning"
    assert result.counts["succeeded"] == 9
    assert result.counts["rejected"] == 1
    [rejected] = result.rejected_rows
    assert rejected["pk"] == "5"
    assert rejected["op"] == "create"
    assert "email" in rejected["error"].lower()
    held = store_customers(emulator)
    assert len(held) == 10
    assert held["user5@example.com"]["first_name"] == "Taken"

    # Months later, a run forgets the rejected row of that run, but not the run.
    months_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=91)
    engine = sa.create_engine(sync_project.state_url)
    with engine.begin() as conn:
        conn.execute(
            runs.update().where(runs.c.run_id == result.run_id).values(started_at=months_ago)
        )
    engine.dispose()
    with RunStore.open(sync_project.state_url) as store:
        assert len(store.outcomes(result.run_id)) == 10
    assert sync_project.run("customers").status == "warning"  # user5 is still taken
    with RunStore.open(sync_project.state_url) as store:
        assert store.outcomes(result.run_id) == []
        old = store.get_run(result.run_id)
        assert old is not None and old.counts["rejected"] == 1


def test_update_mode_without_match_skips(sync_project: SyncProject, emulator: Any) -> None:
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user1@example.com", "first_name": "Old", "last_name": "Name"}],
        )
    sync_project.load("customers", [customer(1), customer(2)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: update"))
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["succeeded"] == 1
    assert result.counts["skipped"] == 1
    held = store_customers(emulator)
    assert set(held) == {"user1@example.com"}
    assert held["user1@example.com"]["first_name"] == "First1"


def test_invalid_rows_name_their_column_and_good_rows_land(
    sync_project: SyncProject, emulator: Any
) -> None:
    rows = [
        customer(1),
        customer(2, email="not-an-email"),
        customer(3, phone="5" * 51),
        customer(4),
        customer(4, first_name="Twin"),
        customer(5, customer_key=None),
        customer(6, group="gold"),
        customer(7),
    ]
    for row in rows:
        row.setdefault("group", None)
    sync_project.load("customers", rows)
    sync_project.configure(
        UPSERT_BY_EMAIL.replace(
            "    - {column: phone, field: phone}\n",
            "    - {column: phone, field: phone}\n"
            "    - {column: group, field: customer_group_id}\n",
        )
    )
    result = sync_project.run("customers")
    assert result.status == "warning"
    reasons = {row["pk"]: row["reason"] for row in result.invalid_rows}
    assert "'email'" in reasons["2"] and "valid email" in reasons["2"]
    assert "'phone'" in reasons["3"] and "50" in reasons["3"]
    assert "duplicate" in reasons["4"].lower() and "customer_key" in reasons["4"]
    assert any("null" in r.lower() and "customer_key" in r for pk, r in reasons.items() if not pk)
    assert "'group'" in reasons["6"] and "integer" in reasons["6"]
    assert result.counts["invalid"] == 6  # both rows with key 4 are invalid
    assert set(store_customers(emulator)) == {"user1@example.com", "user7@example.com"}


def test_injected_server_errors_and_429s_are_retried(
    sync_project: SyncProject, emulator: Any
) -> None:
    emulator.faults(
        [
            {"method": "POST", "path": "/v3/customers", "status": 500, "times": 2},
            {"method": "GET", "path": "/v3/customers", "status": 429, "times": 2},
        ]
    )
    sync_project.load("customers", [customer(n) for n in range(1, 31)])
    sync_project.configure(UPSERT_BY_EMAIL)
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert len(store_customers(emulator)) == 30
    by_status = emulator.stats()["by_status"]
    assert by_status.get("500") == 2 and by_status.get("429") == 2
    # A create answered 500 may have landed: it is looked up before it is sent again.
    by_endpoint = emulator.stats()["by_endpoint"]
    assert by_endpoint["POST /v3/customers"] == 3 + 2


def test_bad_token_fails_the_run_with_exit_code_1(sync_project: SyncProject, emulator: Any) -> None:
    sync_project.load("customers", [customer(1)])
    sync_project.configure(UPSERT_BY_EMAIL)
    env_file = sync_project.dir / ".env"
    env_file.write_text(env_file.read_text().replace(emulator.token, "wrong-token"))
    completed = sync_project.cli("run", "customers")
    assert completed.returncode == 1
    assert "401" in completed.stdout + completed.stderr
    assert "wrong-token" not in completed.stdout + completed.stderr
    assert emulator.dump()["customers"] == []


def test_lost_create_answer_leaves_no_duplicate(sync_project: SyncProject, emulator: Any) -> None:
    emulator.faults(
        [{"method": "POST", "path": "/v3/customers", "drop_after_apply": True, "times": 1}]
    )
    sync_project.load("customers", [customer(n) for n in range(1, 26)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert result.counts["succeeded"] == 25
    emails = [c["email"] for c in emulator.dump()["customers"]]
    assert len(emails) == len(set(emails)) == 25


@pytest.mark.parametrize("on_delete", ["clear", "delete", "nothing"])
def test_delete_behaviour(sync_project: SyncProject, emulator: Any, on_delete: str) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 11)])
    sync_project.configure(UPSERT_BY_EMAIL + f"  on_delete: {on_delete}\n")
    assert sync_project.run("customers").status == "success"

    sync_project.load("customers", [customer(n) for n in range(1, 9)])
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["removed"] == 2
    held = store_customers(emulator)
    if on_delete == "delete":
        assert set(held) == {f"user{n}@example.com" for n in range(1, 9)}
        return
    assert len(held) == 10
    gone = held["user9@example.com"]
    if on_delete == "clear":
        assert gone["phone"] == ""
        assert gone["attributes"] == []
        assert gone["first_name"] == "First9"  # required: left as it is
    else:
        assert gone["phone"] == "555-0009"


def test_guards_stop_mass_deletes_and_empty_models(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 11)])
    sync_project.configure(UPSERT_BY_EMAIL + "  on_delete: delete\n")
    assert sync_project.run("customers").status == "success"

    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    before = emulator.stats()
    result = sync_project.run("customers")
    assert result.status == "failed"
    assert "max_delete_fraction" in (result.error or "")
    assert not [k for k in diff(emulator.stats(), before) if not k.startswith("GET ")]
    assert len(emulator.dump()["customers"]) == 10

    sync_project.sql("DELETE FROM customers")
    result = sync_project.run("customers")
    assert result.status == "failed"
    assert "no rows" in (result.error or "")
    assert len(emulator.dump()["customers"]) == 10

    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    result = sync_project.run("customers", override_guards=True)
    assert result.status == "success", result.error
    assert len(emulator.dump()["customers"]) == 3


def test_a_lost_create_whose_row_left_the_model_is_found_and_deleted(
    sync_project: SyncProject, emulator: Any
) -> None:
    sync_project.load("customers", [customer(n) for n in range(1, 9)])
    sync_project.configure(UPSERT_BY_EMAIL + "  on_delete: delete\n")
    assert sync_project.run("customers").status == "success"
    # A run died with the creates of rows 9 and 10 in flight: 9's landed, 10's never did.
    with Snapshot(snapshot_path(sync_project.dir, "customers")) as snapshot:
        snapshot.mark_pending(
            [("9", "create"), ("10", "create")],
            {"9": "user9@example.com", "10": "user10@example.com"},
            dt.datetime.now(dt.UTC),
        )
    with emulator.client() as http:
        created = http.post(
            "/v3/customers",
            json=[{"email": "user9@example.com", "first_name": "First9", "last_name": "Last9"}],
        )
        assert created.status_code == 200
    # Before the next run, rows 9 and 10 left the model (they never were in this one).
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert result.counts["removed"] == 2
    held = store_customers(emulator)
    assert sorted(held) == sorted(f"user{n}@example.com" for n in range(1, 9))  # 9 deleted
    with Snapshot(snapshot_path(sync_project.dir, "customers")) as snapshot:
        assert snapshot.summary().in_doubt == 0 and snapshot.get(["9", "10"]) == {}
    with RunStore.open(sync_project.state_url) as store:
        notes = {o.pk: (o.op, o.error) for o in store.outcomes(result.run_id)}
    assert notes == {"9": ("delete", None), "10": (None, "its create never reached BigCommerce")}


def test_token_is_stored_nowhere(sync_project: SyncProject, emulator: Any) -> None:
    emulator.faults([{"method": "POST", "path": "/v3/customers", "status": 500, "times": 1}])
    sync_project.load("customers", [customer(n) for n in range(1, 5)] + [customer(9, email="bad")])
    sync_project.configure(UPSERT_BY_EMAIL)
    completed = sync_project.cli("run", "customers")
    assert completed.returncode == 0, completed.stderr
    token = emulator.token.encode()
    for path in (sync_project.dir / ".bcsync").rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), path
    assert emulator.token not in completed.stdout + completed.stderr


def test_killed_run_resumes_without_duplicates(sync_project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 1201)]
    sync_project.load("customers", rows)
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))
    sync_project.kill_midway("customers", endpoint="POST /v3/customers", after=25, latency_ms=40)
    landed = len(emulator.dump()["customers"])
    assert 0 < landed < 1200, "the run should have been killed midway"

    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows[:3])
    held = emulator.dump()["customers"]
    emails = [c["email"] for c in held]
    assert len(emails) == len(set(emails)) == 1200
    assert {c["email"] for c in held} == {r["email"] for r in rows}
    runs = sync_project.cli("runs", "customers", "--json")
    statuses = [run["status"] for run in json.loads(runs.stdout)["runs"]]
    assert statuses[0] == "success" and "interrupted" in statuses


def test_postgres_as_warehouse_and_run_store(
    sync_project: SyncProject, emulator: Any, postgres_url: str
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE customers (customer_key int primary key, email text, "
                "first_name text, last_name text, phone text, tier text)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO customers VALUES "
                "(:customer_key, :email, :first_name, :last_name, :phone, :tier)"
            ),
            [customer(n) for n in range(1, 21)],
        )
    engine.dispose()
    sync_project.warehouse_url = postgres_url
    sync_project.state_url = postgres_url
    sync_project.configure(UPSERT_BY_EMAIL)
    result = sync_project.run("customers")
    assert result.status == "success", result.error
    assert len(store_customers(emulator)) == 20
    again = sync_project.run("customers")
    assert again.counts["added"] == again.counts["changed"] == 0
    listed = sync_project.cli("runs", "customers", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["runs"]) == 2


def test_customer_metafields_and_form_fields(sync_project: SyncProject, emulator: Any) -> None:
    emulator.config(form_fields=[{"name": "Segment", "type": "text"}])
    config = (
        UPSERT_BY_EMAIL.replace(
            '    - {column: tier, field: "attributes.Loyalty Tier"}\n',
            '    - {column: tier, field: "attributes.Loyalty Tier"}\n'
            "    - {column: ltv, field: metafields.warehouse.ltv}\n"
            "    - {column: segment, field: form_fields.Segment}\n",
        )
        + "  on_delete: clear\n"
    )
    rows = [customer(n, ltv=n * 100.5, segment="Retail") for n in range(1, 5)]
    sync_project.load("customers", rows)
    sync_project.configure(config)
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)

    def ltv(email: str) -> list[str]:
        held = store_customers(emulator)[email]
        return [m["value"] for m in held["metafields"] if m["key"] == "ltv"]

    held = store_customers(emulator)["user2@example.com"]
    assert ltv("user2@example.com") == ["201"]
    assert {f["name"]: f["value"] for f in held["form_fields"]} == {"Segment": "Retail"}

    rows[1]["ltv"] = 999.25
    rows[1]["segment"] = "Trade"
    sync_project.load("customers", rows[:3])
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert ltv("user2@example.com") == ["999.25"]
    held = store_customers(emulator)
    assert {f["name"]: f["value"] for f in held["user2@example.com"]["form_fields"]} == {
        "Segment": "Trade"
    }
    assert ltv("user4@example.com") == []  # cleared: the metafield is removed
    assert len([m for m in held["user2@example.com"]["metafields"] if m["key"] == "ltv"]) == 1


def test_match_by_bigcommerce_id(sync_project: SyncProject, emulator: Any) -> None:
    with emulator.client() as http:
        created = http.post(
            "/v3/customers",
            json=[{"email": "known@example.com", "first_name": "Old", "last_name": "Name"}],
        ).json()["data"]
    known_id = created[0]["id"]
    rows = [
        customer(1, bc_id=known_id, email="known@example.com"),
        customer(2, bc_id=None),
        customer(3, bc_id=987654),
    ]
    sync_project.load("customers", rows)
    config = UPSERT_BY_EMAIL.replace(
        "match: {column: email, field: email}", "match: {column: bc_id, field: id}"
    )
    sync_project.configure(config.replace("mode: upsert", "mode: update"))
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert (result.counts["succeeded"], result.counts["skipped"]) == (1, 2)
    assert store_customers(emulator)["known@example.com"]["first_name"] == "First1"
    assert emulator.stats()["by_endpoint"]["GET /v3/customers"] == 1  # one id:in look-up

    sync_project.configure(config)  # upsert: rows without a matching id are created
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    assert set(store_customers(emulator)) == {
        "known@example.com",
        "user2@example.com",
        "user3@example.com",
    }


def test_per_item_batches_land_the_good_rows(sync_project: SyncProject, emulator: Any) -> None:
    emulator.config(batch_atomic=False)  # BigCommerce may also apply the good items of a batch
    with emulator.client() as http:
        http.post(
            "/v3/customers",
            json=[{"email": "user4@example.com", "first_name": "Taken", "last_name": "Already"}],
        )
    sync_project.load("customers", [customer(n) for n in range(1, 11)])
    sync_project.configure(UPSERT_BY_EMAIL.replace("mode: upsert", "mode: insert"))
    result = sync_project.run("customers")
    assert result.status == "warning"
    assert (result.counts["succeeded"], result.counts["rejected"]) == (9, 1)
    assert [row["pk"] for row in result.rejected_rows] == ["4"]
    emails = [c["email"] for c in emulator.dump()["customers"]]
    assert len(emails) == len(set(emails)) == 10
    assert emulator.stats()["by_endpoint"]["POST /v3/customers"] <= 1 + 1 + 2


def test_a_run_longer_than_its_lock_lease_keeps_the_lock(
    sync_project: SyncProject, emulator: Any
) -> None:
    import threading
    import time

    sync_project.load("customers", [customer(n) for n in range(1, 201)])
    sync_project.configure(UPSERT_BY_EMAIL)
    emulator.faults([{"path": "*", "latency_ms": 250, "times": 100000}])
    first = sync_project.engine()
    first.lock_lease_seconds = 0.6  # the run lasts several leases: only renewals keep it alive
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(first.run("customers")))
    worker.start()
    time.sleep(1.5)
    second = sync_project.engine()
    second.lock_lease_seconds = 0.6
    blocked = second.run("customers")
    worker.join(timeout=120)
    assert blocked.status == "skipped"
    [done] = results
    assert f"run {done.run_id}" in (blocked.error or "")  # the holder, named
    assert done.status == "success", done.error
    assert done.counts["succeeded"] == 200
    emails = [c["email"] for c in emulator.dump()["customers"]]
    assert len(emails) == len(set(emails)) == 200


def test_python_api(sync_project: SyncProject, emulator: Any) -> None:
    import bcsync

    sync_project.load("customers", [customer(n) for n in range(1, 4)])
    sync_project.configure(UPSERT_BY_EMAIL)
    project = bcsync.load_project(sync_project.dir)
    assert project.plan("customers").counts["added"] == 3
    result = project.run("customers")
    assert result.status == "success" and result.counts["succeeded"] == 3
    assert len(store_customers(emulator)) == 3


def test_exact_decimals_reach_metafields_and_form_fields_as_plain_digits(
    sync_project: SyncProject, emulator: Any
) -> None:
    # Found by review: metafields got str(Decimal): "0E-10", "1.000E-7", "100.0000000000".
    emulator.config(form_fields=[{"name": "Segment", "type": "text"}])
    config = UPSERT_BY_EMAIL.replace(
        '    - {column: tier, field: "attributes.Loyalty Tier"}\n',
        '    - {column: tier, field: "attributes.Loyalty Tier"}\n'
        "    - {column: ltv, field: metafields.warehouse.ltv}\n"
        "    - {column: segment, field: form_fields.Segment}\n",
    )
    values = {1: "0", 2: "0.0000001", 3: "100", 4: "-12.5"}
    sync_project.load("customers", [customer(n) for n in values])
    exact = (
        "CAST(CASE customer_key WHEN 1 THEN 0 WHEN 2 THEN 0.0000001 WHEN 3 THEN 100 "
        "ELSE -12.5 END AS DECIMAL(20, 10))"
    )
    sync_project.sql(
        f"CREATE OR REPLACE TABLE customers AS "
        f"SELECT *, {exact} AS ltv, {exact} AS segment FROM customers"
    )
    sync_project.configure(config)
    result = sync_project.run("customers")
    assert result.status == "success", (result.error, result.rejected_rows)
    held = store_customers(emulator)
    for n, text in values.items():
        record = held[f"user{n}@example.com"]
        assert [m["value"] for m in record["metafields"] if m["key"] == "ltv"] == [text]
        assert {f["name"]: f["value"] for f in record["form_fields"]} == {"Segment": text}
