"""Snapshots kept in a PostgreSQL run store: every checkout plans against one shared state.

Against the tests' real PostgreSQL server and, end to end, the emulator.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bcsync.errors import StateError
from bcsync.run.snapshot import Confirmed, Failed, Snapshot
from bcsync.state import RunStore
from tests.fixtures.projects import SyncProject
from tests.sync.test_orders_sync import INSERT_ORDERS, live_orders, order

CUSTOMERS = """\
customers:
  destination: store
  object: customers
  mode: upsert
  model:
    table: customers
    primary_key: id
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
"""


def _rows(n: int, *, renamed: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": f"c{i}@example.com",
            "first_name": "Renamed" if i == renamed else f"First{i}",
            "last_name": f"Last{i}",
        }
        for i in range(1, n + 1)
    ]


@pytest.fixture
def store(postgres_url: str) -> Any:
    with RunStore.open(postgres_url) as opened:
        yield opened


def _entries(snapshot: Snapshot) -> list[tuple[Any, ...]]:
    return sorted(
        snapshot.connection.execute(
            "SELECT pk, row_hash, dest_id, status, attempts, last_error, pending_op, updated_at,"
            " pending_key, pending_at, landed, found_key FROM snapshot"
        ).fetchall()
    )


def test_a_second_copy_reads_what_the_first_wrote_exactly(store: RunStore, tmp_path: Path) -> None:
    # Keys and values CSV and SQL could mangle: quotes, commas, newlines, empty vs NULL, unicode.
    nasty = ['a"b', "c,d", "line\nbreak", "", " spaced ", "ünï☃", "NULL", "\\N"]
    with Snapshot(tmp_path / "one.duckdb", shared=store.shared_snapshot("s")) as one:
        one.confirm(
            [
                Confirmed(pk, f"h{i}", str(i), landed='{"native": "x"}', found_key=pk)
                for i, pk in enumerate(nasty)
            ]
        )
        one.fail([Failed("c,d", "", dest_id="1")])  # an empty error is not NULL
        at = dt.datetime(2026, 12, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
        one.mark_pending([("new", "create")], {"new": "n@example.com"}, at=at)
        expected = _entries(one)
    with Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two:
        assert _entries(two) == expected
        pending = two.pending()
        assert [(e.pk, e.pending_key, e.pending_at) for e in pending] == [
            ("new", "n@example.com", at)
        ]
        assert two.get(["c,d"])["c,d"].last_error == ""
        assert two.get([""])[""].row_hash == "h3"


def test_a_copy_behind_the_shared_state_is_reloaded(store: RunStore, tmp_path: Path) -> None:
    shared = store.shared_snapshot("s")
    with Snapshot(tmp_path / "one.duckdb", shared=shared) as one:
        one.confirm([Confirmed(str(i), f"h{i}", str(i)) for i in range(5)])
    with Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two:
        two.forget(["0"])
        two.mark_pending([("3", "update")])
    with Snapshot(tmp_path / "one.duckdb", shared=shared) as one:
        assert sorted(e.pk for e in one.get([str(i) for i in range(5)]).values()) == [
            "1",
            "2",
            "3",
            "4",
        ]
        assert [e.pk for e in one.pending()] == ["3"]


def test_a_stale_copy_cannot_overwrite_another_writer(store: RunStore, tmp_path: Path) -> None:
    with (
        Snapshot(tmp_path / "one.duckdb", shared=store.shared_snapshot("s")) as one,
        Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two,
    ):
        one.confirm([Confirmed("1", "h1", "10")])
        with pytest.raises(StateError, match="changed by another process"):
            two.confirm([Confirmed("1", "other", "99")])
        # Neither the shared entries nor the stale copy took the refused write.
        assert two.get(["1"]) == {}
    with Snapshot(tmp_path / "three.duckdb", shared=store.shared_snapshot("s")) as three:
        assert three.get(["1"])["1"].dest_id == "10"


def test_a_local_snapshot_is_uploaded_when_the_store_has_none(
    store: RunStore, tmp_path: Path
) -> None:
    # A project that switches its run store to PostgreSQL keeps what it had synced.
    with Snapshot(tmp_path / "local.duckdb") as local:
        local.confirm([Confirmed(str(i), f"h{i}", str(i)) for i in range(3)])
    with Snapshot(tmp_path / "local.duckdb", shared=store.shared_snapshot("s")):
        pass  # a plan or `state show`: writes nothing to the run store
    assert store.shared_snapshot("s").head() is None  # type: ignore[union-attr]
    with Snapshot(tmp_path / "local.duckdb", shared=store.shared_snapshot("s"), upload=True):
        pass  # a run
    with Snapshot(tmp_path / "elsewhere.duckdb", shared=store.shared_snapshot("s")) as elsewhere:
        assert elsewhere.summary().synced == 3


def test_reset_is_shared(store: RunStore, tmp_path: Path) -> None:
    with Snapshot(tmp_path / "one.duckdb", shared=store.shared_snapshot("s")) as one:
        one.confirm([Confirmed(str(i), f"h{i}", str(i)) for i in range(3)])
        one.reset()
    with Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two:
        summary = two.summary()
        assert (summary.released, summary.owned) == (3, 0)


def test_syncs_do_not_share_each_others_entries(store: RunStore, tmp_path: Path) -> None:
    with Snapshot(tmp_path / "a.duckdb", shared=store.shared_snapshot("a")) as a:
        a.confirm([Confirmed("1", "h", "1")])
    with Snapshot(tmp_path / "b.duckdb", shared=store.shared_snapshot("b")) as b:
        assert b.summary().total == 0


def _second_checkout(first: SyncProject, directory: Path, syncs: str = CUSTOMERS) -> SyncProject:
    """A teammate's checkout of the same project: its own directory, the same warehouse and
    run store, no local snapshot."""
    directory.mkdir()
    second = SyncProject(directory, first.emulator, first.checker)
    second.warehouse_url, second.state_url = first.warehouse_url, first.state_url
    second.configure(syncs)
    return second


def test_a_second_checkout_sharing_the_run_store_plans_nothing(
    sync_project: SyncProject, postgres_url: str, tmp_path: Path
) -> None:
    first = sync_project
    first.state_url = postgres_url
    first.configure(CUSTOMERS)
    first.load("customers", _rows(40))
    assert first.run("customers").counts["succeeded"] == 40
    second = _second_checkout(first, tmp_path / "teammate")

    plan = second.engine().plan("customers")
    assert (plan.counts["added"], plan.counts["changed"], plan.counts["removed"]) == (0, 0, 0)
    before = first.emulator.stats()["by_endpoint"]
    assert second.run("customers").api_calls == 0
    assert first.emulator.stats()["by_endpoint"] == before

    # A change synced from the second checkout is not synced again from the first.
    first.load("customers", _rows(40, renamed=7))
    result = second.run("customers")
    assert (result.counts["changed"], result.counts["succeeded"]) == (1, 1)
    assert first.engine().plan("customers").counts["changed"] == 0
    assert first.run("customers").api_calls == 0
    names = {c["email"]: c["first_name"] for c in first.emulator.dump()["customers"]}
    assert names["c7@example.com"] == "Renamed"
    assert len(names) == 40

    shown = second.cli("state", "show", "customers", "--json")
    assert '"synced": 40' in shown.stdout, shown.stdout + shown.stderr


def test_state_reset_from_one_checkout_is_seen_by_the_other(
    sync_project: SyncProject, postgres_url: str, tmp_path: Path
) -> None:
    first = sync_project
    first.state_url = postgres_url
    first.configure(CUSTOMERS)
    first.load("customers", _rows(5))
    first.run("customers")
    second = _second_checkout(first, tmp_path / "teammate")
    reset = second.cli("state", "reset", "customers", "--yes")
    assert "5 rows forgotten" in reset.stdout, reset.stdout + reset.stderr
    plan = first.engine().plan("customers")
    assert plan.counts["added"] == 5  # re-sent, matched by email: nothing is duplicated
    first.run("customers")
    assert len(first.emulator.dump()["customers"]) == 5


def test_entries_live_in_the_run_store(store: RunStore, tmp_path: Path) -> None:
    with Snapshot(tmp_path / "one.duckdb", shared=store.shared_snapshot("s")) as one:
        one.confirm([Confirmed("1", "h", "7")])
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT sync, pk, dest_id, status FROM snapshot_entries")
        ).fetchall()
    assert [tuple(r) for r in rows] == [("s", "1", "7", "synced")]


def test_a_killed_run_is_resumed_from_another_checkout_without_duplicates(
    sync_project: SyncProject, postgres_url: str, tmp_path: Path
) -> None:
    # Orders in insert mode cannot be matched: only the in-flight marks the killed run wrote to
    # the shared snapshot keep the second checkout from creating its orders again.
    first = sync_project
    first.state_url = postgres_url
    first.configure(INSERT_ORDERS)
    first.load("orders", [order(n) for n in range(1, 201)])
    first.kill_midway("orders", endpoint="POST /v2/orders", after=30, latency_ms=30)
    assert 0 < len(live_orders(first.emulator)) < 200
    second = _second_checkout(first, tmp_path / "teammate", INSERT_ORDERS)
    result = second.run("orders")
    assert result.status == "success", (result.error, result.rejected_rows[:3])
    externals = [o["external_order_id"] for o in live_orders(first.emulator)]
    assert len(externals) == len(set(externals)) == 200


def test_a_crash_after_the_shared_write_is_healed_on_the_next_open(
    store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shared entries took the write, the local copy did not (the process died between the
    # two commits): the copy is behind, and the next open reloads it.
    path = tmp_path / "one.duckdb"
    with Snapshot(path, shared=store.shared_snapshot("s")) as one:
        one.confirm([Confirmed("1", "h1", "10")])

        def die() -> None:
            raise KeyboardInterrupt  # stands in for SIGKILL between the commits

        monkeypatch.setattr(one, "_record_head", die)
        with pytest.raises(KeyboardInterrupt):
            one.mark_pending([("2", "create")], {"2": "two@example.com"})
        assert one.pending() == []  # the local copy rolled back
    with Snapshot(path, shared=store.shared_snapshot("s")) as again:
        assert [(e.pk, e.pending_key) for e in again.pending()] == [("2", "two@example.com")]
        again.confirm([Confirmed("2", "h2", "20")])  # and it writes on from there
    with Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two:
        assert {pk: e.dest_id for pk, e in two.get(["1", "2"]).items()} == {"1": "10", "2": "20"}


def test_every_kind_of_write_reaches_the_other_copies(store: RunStore, tmp_path: Path) -> None:
    path = tmp_path / "one.duckdb"
    with Snapshot(path, shared=store.shared_snapshot("s")) as one:
        one.confirm([Confirmed(str(i), f"h{i}", str(i), found_key=f"{i}@x") for i in range(6)])
        one.release([("0", None), ("1", "100")])  # rows that left, records kept
        one.confirm([Confirmed("2", "h2b", "22")], release=[("3", None)])  # 2 took 3's record
        one.fail([Failed("4", "rejected")])
        one.mark_pending([("5", "update"), ("6", "create")], {"6": "6@x"})
        one.confirm([Confirmed("5", "h5", "5")])
        one.forget(["4", "6"])  # 6 never made a record: it only held its mark
        expected = _entries(one)
    assert [row[:4] for row in expected] == [
        ("0", None, "0", "released"),
        ("1", None, "100", "released"),
        ("2", "h2b", "22", "synced"),
        ("3", None, "3", "released"),
        ("5", "h5", "5", "synced"),
    ]
    with Snapshot(tmp_path / "two.duckdb", shared=store.shared_snapshot("s")) as two:
        assert _entries(two) == expected


def test_a_plan_from_a_fresh_checkout_does_not_wipe_the_ledger_of_a_machine_moving_to_pg(
    sync_project: SyncProject, postgres_url: str, tmp_path: Path
) -> None:
    # Found by review: the fresh checkout's plan uploaded an empty snapshot, which machine A
    # then loaded over its own ledger, and every order was created a second time.
    sync_project.configure(INSERT_ORDERS)  # machine A, with the default SQLite run store
    sync_project.load("orders", [order(n) for n in range(1, 6)])
    assert sync_project.run("orders").counts["succeeded"] == 5
    other = _second_checkout(sync_project, tmp_path / "teammate", INSERT_ORDERS)
    other.state_url = postgres_url
    other.configure(INSERT_ORDERS)
    assert other.cli("plan", "orders").returncode == 0  # plans 5 creates: it knows nothing
    sync_project.state_url = postgres_url  # machine A moves to the shared run store
    sync_project.configure(INSERT_ORDERS)
    result = sync_project.run("orders")
    assert (result.status, result.api_calls) == ("success", 0)
    assert len(live_orders(sync_project.emulator)) == 5
    assert other.engine().plan("orders").counts["added"] == 0  # the teammate now knows


def test_a_ledger_from_before_the_move_is_not_silently_replaced(
    store: RunStore, tmp_path: Path
) -> None:
    with Snapshot(tmp_path / "a.duckdb") as a:  # made with a SQLite run store
        a.confirm([Confirmed("1", "h1", "101")])
    with Snapshot(tmp_path / "b.duckdb", shared=store.shared_snapshot("s"), upload=True) as b:
        b.confirm([Confirmed("2", "h2", "102")])  # another checkout went first
    with pytest.raises(StateError, match="will not pick one") as refused:
        Snapshot(tmp_path / "a.duckdb", shared=store.shared_snapshot("s"))
    assert "move this file away" in str(refused.value)
    with Snapshot(tmp_path / "a.duckdb") as a:  # and this checkout's ledger is intact
        assert a.get(["1"])["1"].dest_id == "101"


def test_a_reset_never_drops_what_a_live_writer_wrote_after_it_looked(
    store: RunStore, tmp_path: Path
) -> None:
    with Snapshot(tmp_path / "a.duckdb", shared=store.shared_snapshot("o"), upload=True) as a:
        a.confirm([Confirmed("ERP-1", "h1", "101")])
        with Snapshot(tmp_path / "b.duckdb", shared=store.shared_snapshot("o")) as b:
            a.confirm([Confirmed("ERP-2", "h2", "102")])  # order 102 made meanwhile
            with pytest.raises(StateError, match="changed by another process"):
                b.reset()
    with Snapshot(tmp_path / "c.duckdb", shared=store.shared_snapshot("o")) as c:
        assert {pk: e.status for pk, e in c.get(["ERP-1", "ERP-2"]).items()} == {
            "ERP-1": "synced",
            "ERP-2": "synced",
        }


def test_state_reset_is_refused_while_a_run_holds_the_sync(
    sync_project: SyncProject, postgres_url: str, tmp_path: Path
) -> None:
    sync_project.state_url = postgres_url
    sync_project.configure(CUSTOMERS)
    sync_project.load("customers", _rows(3))
    sync_project.run("customers")
    with RunStore.open(postgres_url) as store:
        run_id = store.start_run("customers")
        store.acquire_lock("customers", run_id)  # a live run of this process
        second = _second_checkout(sync_project, tmp_path / "teammate")
        reset = second.cli("state", "reset", "customers", "--yes")
        assert reset.returncode != 0
        assert f"run {run_id}" in reset.stdout + reset.stderr
        store.release_lock("customers", run_id)
    assert sync_project.engine().plan("customers").counts["added"] == 0  # nothing was reset


def test_a_run_store_role_without_the_temporary_right_syncs(
    sync_project: SyncProject, postgres_url: str
) -> None:
    # Found by review: writes went through a temporary table, and many databases revoke
    # TEMPORARY from PUBLIC; `check` passed and every run then failed.
    url = sa.make_url(postgres_url)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE ROLE no_temp LOGIN"))
        conn.execute(sa.text("GRANT CREATE ON SCHEMA public TO no_temp"))
        conn.execute(sa.text(f'REVOKE TEMPORARY ON DATABASE "{url.database}" FROM PUBLIC'))
    try:
        no_temp = url.set(username="no_temp", password=None)
        sync_project.state_url = no_temp.render_as_string(hide_password=False)
        sync_project.configure(CUSTOMERS)
        sync_project.load("customers", _rows(3))
        assert sync_project.cli("check").returncode == 0
        result = sync_project.run("customers")
        assert (result.status, result.counts["succeeded"]) == ("success", 3), result.error
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("DROP OWNED BY no_temp"))
            conn.execute(sa.text("DROP ROLE no_temp"))
        admin.dispose()
