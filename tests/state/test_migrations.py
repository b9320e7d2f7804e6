from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bcsync.errors import StateError
from bcsync.state import RunStore
from bcsync.state.database import create_store_engine, write_transaction
from bcsync.state.migrations import LATEST_VERSION, MIGRATIONS, migrate
from bcsync.state.schema import metadata, schema_versions


def _versions(url: str) -> list[int]:
    engine = create_store_engine(url)
    with engine.connect() as conn:
        versions = list(conn.scalars(sa.select(schema_versions.c.version).order_by("version")))
    engine.dispose()
    return versions


def test_steps_are_numbered_one_by_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert LATEST_VERSION == len(MIGRATIONS) >= 2


def test_store_from_migration_1_upgrades_and_keeps_its_data(store_url: str) -> None:
    engine = create_store_engine(store_url)
    with write_transaction(engine) as conn:
        assert migrate(conn, target=1) == 1
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, sync, status, started_at, finished_at, error, queried,"
                " invalid, added, changed, removed, planned, succeeded, rejected, skipped,"
                " api_calls) VALUES ('0ld', 'vip', 'success', :t, :t, NULL,"
                " 10, 0, 2, 1, 0, 3, 3, 0, 0, 4)"
            ),
            {"t": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC).replace(tzinfo=None)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO row_outcomes (run_id, pk, op, outcome, error, dest_id)"
                " VALUES ('0ld', '7', 'create', 'succeeded', NULL, '501')"
            )
        )
    engine.dispose()
    assert _versions(store_url) == [1]

    with RunStore.open(store_url) as store:
        old = store.get_run("0ld")
        assert old is not None
        assert (old.status, old.full_resync, old.pid, old.hostname) == (
            "success",
            False,
            None,
            None,
        )
        assert old.counts["queried"] == 10 and old.api_calls == 4
        assert old.started_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert [o.dest_id for o in store.outcomes("0ld")] == ["501"]
        # What migration 2 added works on the upgraded store.
        run_id = store.start_run("vip", full_resync=True)
        assert store.get_run(run_id).full_resync  # type: ignore[union-attr]
        store.set_alert_state("vip", "run_failed", "ok")
        store.acquire_lock("vip", run_id)
    assert _versions(store_url) == list(range(1, LATEST_VERSION + 1))


def test_migrated_schema_is_what_the_store_queries(store: RunStore) -> None:
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
        pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(pk) == {c.name for c in table.primary_key}, table.name


def test_reopening_applies_nothing_twice(store_url: str) -> None:
    for _ in range(2):
        RunStore.open(store_url).close()
    assert _versions(store_url) == list(range(1, LATEST_VERSION + 1))


def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            barrier.wait()
            with RunStore.open(store_url) as store:
                store.start_run("s")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _versions(store_url) == list(range(1, LATEST_VERSION + 1))
    with RunStore.open(store_url) as store:
        assert len(store.list_runs()) == 4


def test_store_from_a_newer_bcsync_is_refused(store_url: str) -> None:
    RunStore.open(store_url).close()
    engine = create_store_engine(store_url)
    with write_transaction(engine) as conn:
        conn.execute(
            schema_versions.insert().values(
                version=LATEST_VERSION + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    engine.dispose()
    with pytest.raises(StateError, match=f"schema version {LATEST_VERSION + 1}.*upgrade bcsync"):
        RunStore.open(store_url)
