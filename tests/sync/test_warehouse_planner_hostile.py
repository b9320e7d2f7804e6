"""``planner: warehouse`` as a hostile user drives it: write-backs that never happen, models
changing mid-run, a DBA editing the planner's table, other writers of the ledger, awkward keys
and column names. Each test is a way the cache of clean hashes could miss a change or send one
twice; the promise (DESIGN §3.1, §3.8) is that it never does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bcsync.run.snapshots import Snapshots
from tests.fixtures.projects import SyncProject
from tests.sync.test_customers_sync import customer, diff, store_customers
from tests.sync.test_warehouse_planner import plan, sync_yaml, warehouse_rows, writes


@pytest.fixture(params=["duckdb", "postgres"])
def project(request: pytest.FixtureRequest, sync_project: SyncProject) -> SyncProject:
    if request.param == "postgres":
        sync_project.use_postgres_warehouse(request.getfixturevalue("postgres_url"))
    return sync_project


def in_flight(project: SyncProject) -> list[tuple[str, str | None]]:
    with project.engine().snapshots.open("customers") as snapshot:
        return [(e.pk, e.pending_op) for e in snapshot.pending()]


def first_name(emulator: Any, n: int) -> str:
    return str(store_customers(emulator)[f"user{n}@example.com"]["first_name"])


def test_reverting_after_a_lost_write_back_is_sent(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [*rows[:2], customer(3, first_name="B"), *rows[3:]])
    with monkeypatch.context() as patched:
        patched.setattr(Snapshots, "_write_back", lambda self, planned: None)
        changed = project.run("customers")
    assert changed.status == "success", changed.error
    assert first_name(emulator, 3) == "B"
    assert warehouse_rows(project)["3"] is None  # dirty: the write-back never happened
    project.load("customers", rows)  # back to the value the warehouse last saw confirmed
    back = project.run("customers")
    assert back.status == "success", back.error
    assert back.counts["changed"] == 1
    assert first_name(emulator, 3) == "First3"
    assert plan(project).planner.rows_read == 0


def test_model_changing_before_the_write_back(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-back stores the hash read at plan time, of the row that was sent: a model that
    changed meanwhile is a change the next run finds."""
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [*rows[:2], customer(3, first_name="B"), *rows[3:]])
    original = Snapshots._write_back

    def changed_first(self: Snapshots, planned: Any) -> None:
        project.load("customers", [*rows[:2], customer(3, first_name="C"), *rows[3:]])
        original(self, planned)

    with monkeypatch.context() as patched:
        patched.setattr(Snapshots, "_write_back", changed_first)
        assert project.run("customers").status == "success"
    assert first_name(emulator, 3) == "B"
    again = project.run("customers")
    assert again.counts["changed"] == 1, again
    assert first_name(emulator, 3) == "C"


def test_a_local_planned_run_between_warehouse_runs(project: SyncProject, emulator: Any) -> None:
    """A local-planned run confirms new values the warehouse's table never hears of; going
    back to the values that table holds as clean must still be sent."""
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.configure(sync_yaml("local"))
    project.load("customers", [customer(n, first_name="Local") for n in range(1, 6)])
    assert project.run("customers").counts["changed"] == 5
    assert plan(project).counts["changed"] == 0  # a local plan too: it may write quick hashes
    project.configure(sync_yaml())
    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    assert back.counts["changed"] == 5
    assert {c["first_name"] for c in store_customers(emulator).values()} == {
        f"First{n}" for n in range(1, 6)
    }


def test_a_dropped_planner_table_is_rebuilt(project: SyncProject, emulator: Any) -> None:
    """A DBA drops the sync's table (the token row stays): the run rebuilds it, not fails."""
    project.load("customers", [customer(n) for n in range(1, 6)])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.sql('DROP TABLE bcsync_planner."customers"')
    before = emulator.stats()
    again = project.run("customers")
    assert again.status == "success", again.error
    assert writes(diff(emulator.stats(), before)) == 0
    assert len(warehouse_rows(project)) == 5


def test_a_truncated_planner_table_still_finds_rows_leaving(
    project: SyncProject, emulator: Any
) -> None:
    """A DBA empties the sync's table while a row leaves the model: the row's record is
    deleted all the same (W1 broken is rebuilt, never trusted)."""
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="delete"))
    assert project.run("customers").status == "success"
    project.sql('DELETE FROM bcsync_planner."customers"')
    project.load("customers", rows[:4])
    gone = project.run("customers")
    assert gone.status == "success", gone.error
    assert gone.counts["removed"] == 1
    assert "user5@example.com" not in store_customers(emulator)


def test_a_deleted_token_row_rebuilds(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="delete"))
    assert project.run("customers").status == "success"
    project.sql("DELETE FROM bcsync_planner.bcsync_tokens")
    project.load("customers", rows[:4])
    gone = project.run("customers")
    assert gone.counts["removed"] == 1, gone
    assert plan(project).planner.rows_read == 0


def test_rows_leaving_and_returning_across_killed_runs(project: SyncProject, emulator: Any) -> None:
    """Rows 6-10 leave while 11-40 arrive in a run killed while creating; they come back in the
    next. (``on_delete: nothing``: a delete killed before its confirm is
    ``test_a_delete_killed_before_its_confirm_then_the_row_returning``.)"""
    rows = [customer(n) for n in range(1, 41)]
    project.load("customers", rows[:10])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [*rows[:5], *rows[10:]])
    project.kill_midway("customers", endpoint="POST /v3/customers", after=1, latency_ms=400)
    time.sleep(1.0)  # the killed process's request lands (the emulator's latency comes first)
    project.load("customers", rows)
    result = project.run("customers")
    assert result.status == "success", result.error
    held = store_customers(emulator)
    assert set(held) == {f"user{n}@example.com" for n in range(1, 41)}, result
    assert plan(project).planner.rows_read == 0
    before = emulator.stats()
    assert project.run("customers").counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


@pytest.mark.parametrize("planner", ["warehouse", "local"])
def test_a_delete_killed_before_its_confirm_then_the_row_returning(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch, planner: str
) -> None:
    """The delete is marked in flight before it is sent: the returning row is not unchanged
    but makes its record again (the one deleted is gone)."""
    from bcsync.run.snapshot import Snapshot

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(planner, on_delete="delete"))
    assert project.run("customers").status == "success"
    project.load("customers", rows[:4])

    def killed(self: Snapshot, pks: Any) -> None:
        raise SystemExit("killed after the DELETE landed, before the ledger forgot the row")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, "forget", killed)
        project.run("customers")
    assert "user5@example.com" not in store_customers(emulator)
    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    assert first_name(emulator, 5) == "First5"
    assert len(store_customers(emulator)) == 5
    before = emulator.stats()
    assert project.run("customers").counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


@pytest.mark.parametrize("on_delete", ["delete", "clear"])
def test_a_removal_killed_before_its_confirm_is_sent_again(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch, on_delete: str
) -> None:
    """A row still absent after a delete or clear killed before its confirm: removed again
    (the customer already deleted counts as done), then settled for good."""
    from bcsync.run.snapshot import Snapshot

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete=on_delete))
    assert project.run("customers").status == "success"
    project.load("customers", rows[:4])

    def killed(self: Snapshot, items: Any) -> None:
        raise SystemExit("killed after the removal landed, before the ledger recorded it")

    recorded = "forget" if on_delete == "delete" else "release"
    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, recorded, killed)
        project.run("customers")
    assert in_flight(project) == [("5", on_delete)]  # marked before it was sent
    again = project.run("customers")
    assert again.status == "success", again.error
    assert again.counts["removed"] == 1
    assert (on_delete == "delete") == ("user5@example.com" not in store_customers(emulator))
    assert project.run("customers").counts["removed"] == 0
    assert in_flight(project) == []


@pytest.mark.parametrize("on_delete", ["delete", "clear"])
def test_a_removal_killed_before_it_was_sent_then_the_row_returning(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch, on_delete: str
) -> None:
    """Killed between the mark and the request: the record is still there, and the returning
    row holds it again (found by its id), without a second customer."""
    from bcsync.run.snapshot import Snapshot

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete=on_delete))
    assert project.run("customers").status == "success"
    before = {email: c["id"] for email, c in store_customers(emulator).items()}
    project.load("customers", rows[:4])
    original = Snapshot.mark_pending

    def killed(self: Snapshot, items: Any, *args: Any) -> None:
        original(self, items, *args)
        if any(op in ("delete", "clear") for _, op in items):
            raise SystemExit("killed after the mark, before the request")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, "mark_pending", killed)
        project.run("customers")
    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    assert {email: c["id"] for email, c in store_customers(emulator).items()} == before
    assert in_flight(project) == []
    assert project.run("customers").counts["changed"] == 0


def test_a_delete_killed_before_its_confirm_in_a_shared_run_store(
    sync_project: SyncProject,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    """The in-flight mark of a delete reaches the PostgreSQL run store's ledger: another
    checkout, whose copy never saw it, makes the record again when the row returns."""
    from bcsync.run.snapshot import Snapshot

    a = sync_project
    a.state_url = postgres_url
    rows = [customer(n) for n in range(1, 6)]
    a.load("customers", rows)
    a.configure(sync_yaml("local", on_delete="delete"))
    assert a.run("customers").status == "success"
    a.load("customers", rows[:4])

    def killed(self: Snapshot, pks: Any) -> None:
        raise SystemExit("killed after the DELETE landed, before the ledger forgot the row")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, "forget", killed)
        a.run("customers")
    assert "user5@example.com" not in store_customers(emulator)
    (tmp_path / "b").mkdir()
    b = SyncProject(tmp_path / "b", emulator)
    b.state_url = postgres_url
    b.configure(sync_yaml("local", on_delete="delete"))
    b.load("customers", rows)
    back = b.run("customers")
    assert back.status == "success", back.error
    assert first_name(emulator, 5) == "First5"
    assert len(store_customers(emulator)) == 5


@pytest.mark.parametrize("planner", ["warehouse", "local"])
def test_a_clear_killed_before_its_confirm_then_the_row_returning(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch, planner: str
) -> None:
    """A clear is marked in flight too: the returning row writes all its fields again, as
    what landed before may have been cleared."""
    from bcsync.run.snapshot import Snapshot

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(planner, on_delete="clear"))
    assert project.run("customers").status == "success"
    project.load("customers", rows[:4])

    def killed(self: Snapshot, items: Any) -> None:
        raise SystemExit("killed after the clear landed, before the ledger released the row")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, "release", killed)
        project.run("customers")
    cleared = store_customers(emulator)["user5@example.com"]
    assert cleared["phone"] == "" and cleared["attributes"] == []
    project.load("customers", rows)
    back = project.run("customers")
    assert back.status == "success", back.error
    held = store_customers(emulator)["user5@example.com"]
    assert held["phone"] == "555-0005"
    assert [a["attribute_value"] for a in held["attributes"]] == ["gold"]
    assert len(store_customers(emulator)) == 5
    before = emulator.stats()
    assert project.run("customers").counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


def test_key_and_email_changes(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="delete"))
    assert project.run("customers").status == "success"
    # Row 1 takes a new key (same email: the record moves to the new key); rows 2 and 3 swap
    # emails through a third one is not possible in one run, so 2 takes a fresh email.
    moved = [
        customer(101, email="user1@example.com"),
        customer(2, email="fresh2@example.com"),
        *rows[2:],
    ]
    project.load("customers", moved)
    result = project.run("customers")
    assert result.status == "success", result.error
    held = store_customers(emulator)
    assert set(held) == {
        "user1@example.com",
        "fresh2@example.com",
        *(f"user{n}@example.com" for n in range(3, 6)),
    }
    assert plan(project).planner.rows_read == 0
    before = emulator.stats()
    assert project.run("customers").counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0


def test_mapping_change_resends_through_the_warehouse(project: SyncProject, emulator: Any) -> None:
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    swapped = sync_yaml().replace(
        "{column: first_name, field: first_name}", "{column: last_name, field: first_name}"
    )
    project.configure(swapped)
    result = project.run("customers")
    assert result.counts["changed"] == 3, result
    assert first_name(emulator, 2) == "Last2"
    assert plan(project).planner.rows_read == 0


AWKWARD_SQL = """\
customers:
  destination: store
  object: customers
  planner: warehouse
  on_delete: delete
  max_delete_fraction: 1.0
  model:
    sql: |
      WITH base AS (SELECT * FROM customers)
      SELECT b.customer_key AS pk, b.email AS "E Mail", b.first_name AS row_hash,
             b.last_name AS "Last Name", b.phone AS "PHONE", t.tier AS "Tier"
      FROM base b JOIN (SELECT customer_key, tier FROM customers) t
        ON t.customer_key = b.customer_key
    primary_key: pk
  mode: upsert
  match: {column: "E Mail", field: email}
  mappings:
    - {column: "E Mail", field: email}
    - {column: row_hash, field: first_name}
    - {column: "Last Name", field: last_name}
    - {column: PHONE, field: phone}
    - {column: Tier, field: "attributes.Loyalty Tier"}
  create_missing_attributes: true
"""


def test_a_join_model_with_awkward_column_names(project: SyncProject, emulator: Any) -> None:
    """A CTE and join model whose columns are called ``pk`` and ``row_hash`` (as the planner's
    tables' own) and have spaces and capitals: changes found, nothing sent twice."""
    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(AWKWARD_SQL)
    first = project.run("customers")
    assert first.status == "success", first.error
    assert first.counts["added"] == 5
    assert plan(project).planner.rows_read == 0
    project.load("customers", [customer(1, first_name="Changed"), *rows[1:4]])
    second = project.run("customers")
    assert second.status == "success", second.error
    assert (second.counts["changed"], second.counts["removed"]) == (1, 1)
    assert first_name(emulator, 1) == "Changed"
    assert plan(project).planner.rows_read == 0


@pytest.mark.parametrize("name", ["bcsync_pk", "BCSYNC_HASH", "bcsync_known"])
def test_a_column_named_like_the_diffs_own_is_refused(
    project: SyncProject, emulator: Any, name: str
) -> None:
    """Found as a bug: a model column ``bcsync_pk`` was read as the diff's key text, and the
    key sent as the customer's first name (DuckDB; PostgreSQL failed as ambiguous)."""
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(
        AWKWARD_SQL.replace("AS row_hash", f'AS "{name}"').replace(
            "column: row_hash", f"column: {name}"
        )
    )
    before = emulator.stats()
    result = project.run("customers")
    assert result.status == "failed"
    assert f"model column '{name}' has a name the warehouse planner uses itself" in (
        result.error or ""
    )
    assert writes(diff(emulator.stats(), before)) == 0


def test_a_schema_qualified_table(project: SyncProject, emulator: Any) -> None:
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.sql("CREATE SCHEMA crm")
    project.sql("CREATE TABLE crm.people AS SELECT * FROM customers")
    project.configure(sync_yaml().replace("table: customers", "table: crm.people"))
    assert project.run("customers").counts["added"] == 3
    project.sql("UPDATE crm.people SET first_name = 'Q' WHERE customer_key = 2")
    result = project.run("customers")
    assert result.counts["changed"] == 1, result
    assert first_name(emulator, 2) == "Q"


def test_null_and_empty_phone_differ(project: SyncProject, emulator: Any) -> None:
    project.load("customers", [customer(1, phone=None), customer(2, phone="")])
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [customer(1, phone=""), customer(2, phone=None)])
    planned = plan(project)
    assert planned.planner.rows_read == 2
    assert planned.counts["changed"] == 2


def test_text_keys_with_spaces_case_and_unicode(project: SyncProject, emulator: Any) -> None:
    keys = ["a", "A", "a ", " a", "\u00e9", "e\u0301", "\u00df", "1", "01"]
    rows = [customer(n, customer_key=k) for n, k in enumerate(keys, 1)]
    project.load("customers", rows)
    project.configure(sync_yaml(on_delete="delete"))
    first = project.run("customers")
    assert first.counts["added"] == len(keys), first
    assert plan(project).planner.rows_read == 0
    project.load("customers", rows[1:])
    gone = project.run("customers")
    assert (gone.counts["removed"], gone.counts["changed"]) == (1, 0), gone
    assert plan(project).planner.rows_read == 0


def test_padded_char_keys(sync_project: SyncProject, emulator: Any, postgres_url: str) -> None:
    """PostgreSQL ``char(n)`` keys: the driver keeps the padding that a cast to text drops. The
    key the warehouse joins on must be the ledger's, or rows look new every run (sent again)
    and rows leaving are never seen."""
    sync_project.use_postgres_warehouse(postgres_url)
    sync_project.load("customers", [customer(n) for n in range(1, 5)])
    sync_project.sql("ALTER TABLE customers ALTER COLUMN customer_key TYPE char(6)")
    sync_project.configure(sync_yaml(on_delete="delete"))
    first = sync_project.run("customers")
    assert first.status == "success", first.error
    assert first.counts["added"] == 4
    before = emulator.stats()
    again = sync_project.run("customers")
    assert (again.counts["added"], again.counts["changed"]) == (0, 0), again
    assert writes(diff(emulator.stats(), before)) == 0
    sync_project.sql("DELETE FROM customers WHERE customer_key = '4'")
    gone = sync_project.run("customers")
    assert gone.counts["removed"] == 1, gone
    assert "user4@example.com" not in store_customers(emulator)


def test_two_checkouts_sharing_a_run_store(
    sync_project: SyncProject, emulator: Any, postgres_url: str, tmp_path: Path
) -> None:
    """Checkout A plans in the warehouse, checkout B locally, one ledger in a PostgreSQL run
    store: what B confirms, A's table of hashes never heard of."""
    a = sync_project
    a.use_postgres_warehouse(postgres_url)
    a.state_url = postgres_url
    rows = [customer(n) for n in range(1, 6)]
    a.load("customers", rows)
    a.configure(sync_yaml())
    assert a.run("customers").status == "success"
    (tmp_path / "b").mkdir()
    b = SyncProject(tmp_path / "b", emulator)
    b.use_postgres_warehouse(postgres_url)
    b.state_url = postgres_url
    b.configure(sync_yaml("local"))
    b.load("customers", [customer(n, first_name="ByB") for n in range(1, 6)])
    assert b.run("customers").counts["changed"] == 5
    a.load("customers", rows)
    back = a.run("customers")
    assert back.status == "success", back.error
    assert back.counts["changed"] == 5
    assert first_name(emulator, 1) == "First1"


def test_server_errors_after_the_store_applied_writes(project: SyncProject, emulator: Any) -> None:
    rows = [customer(n) for n in range(1, 11)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [customer(n, first_name=f"N{n}") for n in range(1, 11)])
    emulator.faults(
        [{"path": "/v3/customers", "method": "PUT", "status": 500, "apply": True, "times": 1}]
    )
    first = project.run("customers")
    emulator.faults([])
    second = project.run("customers")
    assert second.status == "success", second.error
    held = store_customers(emulator)
    assert len(held) == 10
    assert {c["first_name"] for c in held.values()} == {f"N{n}" for n in range(1, 11)}
    assert first.status in {"success", "partial", "failed"}
    assert plan(project).planner.rows_read == 0


def test_a_run_killed_during_bootstrap(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the warehouse's table and token were made, before the snapshot kept the
    token; the ledger then changes under a local-planned run: nothing is missed or resent."""
    from bcsync.run.snapshot import Snapshot

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml("local"))
    assert project.run("customers").status == "success"
    project.configure(sync_yaml())
    original = Snapshot.set_warehouse_token

    def killed(self: Snapshot, token: str | None) -> None:
        if token is not None:
            raise SystemExit("killed in the bootstrap")
        original(self, token)

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Snapshot, "set_warehouse_token", killed)
        project.run("customers")
    project.configure(sync_yaml("local"))
    project.load("customers", [customer(1, first_name="Local"), *rows[1:]])
    assert project.run("customers").counts["changed"] == 1
    project.configure(sync_yaml())
    project.load("customers", rows)
    before = emulator.stats()
    back = project.run("customers")
    assert back.counts["changed"] == 1, back
    assert first_name(emulator, 1) == "First1"
    assert writes(diff(emulator.stats(), before)) == 1


TYPED_SQL = """\
customers:
  destination: store
  object: customers
  planner: warehouse
  model:
    sql: |
      SELECT customer_key, email, first_name, last_name,
             CAST(score AS DOUBLE PRECISION) AS score, CAST(amount AS NUMERIC(12, 4)) AS amount,
             CAST(seen AS TIMESTAMPTZ) AS seen, CAST(meta AS JSON) AS meta
      FROM customers
    primary_key: customer_key
  mode: upsert
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: score, field: "attributes.Score"}
    - {column: amount, field: "attributes.Amount"}
    - {column: seen, field: "attributes.Seen"}
    - {column: meta, field: "attributes.Meta"}
  create_missing_attributes: true
"""


def typed(n: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_key": n,
        "email": f"user{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "score": 0.1 * n,
        "amount": f"{n}.5000",
        "seen": f"2024-03-0{n} 10:00:00.123456+05:30",
        "meta": '{"b": 1, "a": [1, 2]}',
    }
    row.update(overrides)
    return row


def test_typed_columns_changes_are_never_missed(project: SyncProject, emulator: Any) -> None:
    """Floats a bit apart, numerics of other scale, timestamps a microsecond or a zone apart,
    JSON: the warehouse's hash may differ from the local md5 (a re-read), but a change the
    local planner sees is never one the warehouse planner misses."""
    rows = [typed(n) for n in range(1, 7)]
    project.load("customers", rows)
    project.configure(TYPED_SQL)
    first = project.run("customers")
    assert first.status == "success", first.error
    project.run("customers")  # JSON's warehouse text: clean after one re-read at most
    assert plan(project).planner.rows_read == 0
    changed = [
        typed(1, score=0.1 + 1e-16),  # 0.1 vs 0.10000000000000002
        typed(2, amount="2.5001"),
        typed(3, seen="2024-03-03 10:00:00.123457+05:30"),
        typed(4, meta='{"b": 1, "a": [1, 3]}'),
        typed(5, amount="5.50"),  # the same number: no change
        typed(6, seen="2024-03-06 05:30:00.123456+01:00"),  # the same instant: no change
    ]
    project.load("customers", changed)
    planned = plan(project)
    assert planned.counts["changed"] == 4, planned.counts
    result = project.run("customers")
    assert result.status == "success", result.error
    assert result.counts["changed"] == 4
    assert plan(project).planner.rows_read == 0


def test_a_role_that_cannot_write_the_planner_table(
    sync_project: SyncProject,
    emulator: Any,
    postgres_url: str,
    login_role: Any,
) -> None:
    """The planner's table made by another role, readable but not writable by this one: the
    run fails before anything is sent, naming the GRANT, and the table keeps its hashes."""
    sync_project.use_postgres_warehouse(postgres_url)
    rows = [customer(n) for n in range(1, 4)]
    sync_project.load("customers", rows)
    sync_project.configure(sync_yaml())
    assert sync_project.run("customers").status == "success"
    cached = warehouse_rows(sync_project)
    role = login_role("cannot-write-pw", rights="read")
    sync_project.sql(f'GRANT USAGE ON SCHEMA bcsync_planner TO "{role.name}"')
    sync_project.sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA bcsync_planner TO "{role.name}"')
    sync_project.load("customers", [customer(1, first_name="X"), *rows[1:]])
    sync_project.sql(f'GRANT SELECT ON customers TO "{role.name}"')
    sync_project.warehouse_url = role.url(role.password)
    sync_project.configure(sync_yaml())
    before = emulator.stats()
    result = sync_project.run("customers")
    assert result.status == "failed"
    assert "GRANT" in (result.error or ""), result.error
    assert "cannot-write-pw" not in (result.error or "")
    assert writes(diff(emulator.stats(), before)) == 0
    assert warehouse_rows(sync_project) == cached


@pytest.mark.parametrize("schema", ["public", "main"])
def test_a_planner_schema_holding_the_models_own_table(
    project: SyncProject, emulator: Any, schema: str
) -> None:
    """``planner_schema`` set to the model's own schema, and the sync named as its table: the
    bootstrap must not drop the user's table to make its own."""
    if (schema == "public") != (project.postgres_warehouse is not None):
        pytest.skip("the warehouse's default schema only")
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(sync_yaml(), extra=f"planner_schema: {schema}\n")
    result = project.run("customers")
    assert result.status == "failed"
    assert "not a warehouse planner table" in (result.error or ""), result.error
    assert writes(emulator.stats()["by_endpoint"]) == 0
    project.sql("SELECT first_name FROM customers")  # still there
    done = project.cli("state", "reset", "customers", "--yes")
    project.sql("SELECT first_name FROM customers")  # state reset leaves it too
    assert done.returncode != 0 or "dropped its warehouse planner table" not in done.stdout


def test_a_warehouse_restored_from_a_backup(sync_project: SyncProject, emulator: Any) -> None:
    """The warehouse is restored to yesterday (model and planner tables alike): its cache says
    yesterday's rows are clean, but BigCommerce holds today's. They must be sent again."""
    import shutil

    rows = [customer(n) for n in range(1, 6)]
    sync_project.load("customers", rows)
    sync_project.configure(sync_yaml())
    assert sync_project.run("customers").status == "success"
    backup = sync_project.dir / "backup.duckdb"
    shutil.copy(sync_project.warehouse, backup)
    sync_project.load("customers", [customer(n, first_name="Today") for n in range(1, 6)])
    assert sync_project.run("customers").counts["changed"] == 5
    shutil.copy(backup, sync_project.warehouse)
    restored = sync_project.run("customers")
    assert restored.status == "success", restored.error
    assert restored.counts["changed"] == 5
    assert first_name(emulator, 1) == "First1"


def test_a_snapshot_restored_from_a_backup(sync_project: SyncProject, emulator: Any) -> None:
    """The ledger goes back to yesterday's file (rows 6-10 made since are unknown to it): the
    warehouse's cache, made for today's ledger, must not be trusted for it."""
    import shutil

    from bcsync.run.snapshot import snapshot_path

    rows = [customer(n) for n in range(1, 11)]
    sync_project.load("customers", rows[:5])
    sync_project.configure(sync_yaml(on_delete="delete"))
    assert sync_project.run("customers").status == "success"
    path = snapshot_path(sync_project.dir, "customers")
    backup = sync_project.dir / "snapshot-backup.duckdb"
    shutil.copy(path, backup)
    sync_project.load("customers", rows)
    assert sync_project.run("customers").counts["added"] == 5
    shutil.copy(backup, path)
    again = sync_project.run("customers")  # 6-10: found again by email, now held
    assert again.status == "success", again.error
    sync_project.load("customers", rows[:5])
    gone = sync_project.run("customers")
    assert gone.counts["removed"] == 5, gone
    assert len(store_customers(emulator)) == 5


def test_a_write_back_the_warehouse_refuses(
    project: SyncProject, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row was sent and confirmed; the write-back then fails (the warehouse is down, or
    a DuckDB file is locked by another process): the run reports what it sent, and its keys,
    left dirty, are read out and found unchanged next time."""
    from bcsync.errors import WarehouseError
    from bcsync.run.planner.warehouse.planner import WarehousePlan

    rows = [customer(n) for n in range(1, 6)]
    project.load("customers", rows)
    project.configure(sync_yaml())
    assert project.run("customers").status == "success"
    project.load("customers", [customer(1, first_name="New"), *rows[1:]])

    def refused(self: WarehousePlan, session: Any) -> None:
        raise WarehouseError("warehouse gone away")

    with monkeypatch.context() as patched:
        patched.setattr(WarehousePlan, "write_back", refused)
        sent = project.run("customers")
    assert first_name(emulator, 1) == "New"
    assert sent.counts["succeeded"] == 1
    assert sent.status != "failed", sent.error
    assert warehouse_rows(project)["1"] is None
    before = emulator.stats()
    again = project.run("customers")
    assert again.counts["changed"] == 0
    assert writes(diff(emulator.stats(), before)) == 0
    assert plan(project).planner.rows_read == 0


def test_a_sync_named_like_the_tokens_table(project: SyncProject, emulator: Any) -> None:
    project.load("customers", [customer(n) for n in range(1, 4)])
    project.configure(sync_yaml().replace("customers:\n", "bcsync_tokens:\n", 1))
    result = project.run("bcsync_tokens")
    assert result.status == "failed"
    assert "not a warehouse planner table" in (result.error or ""), result.error
    assert writes(emulator.stats()["by_endpoint"]) == 0
