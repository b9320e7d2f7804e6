from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import pytest

from bcsync.errors import StateError
from bcsync.state import COUNT_KEYS, DEFAULT_URL, RunStore
from bcsync.state.database import normalize_url
from bcsync.state.schema import runs
from bcsync.vocabulary import Counts


def test_run_lifecycle_and_json(store: RunStore) -> None:
    before = datetime.now(UTC)
    run_id = store.start_run("vip_customers", full_resync=True)
    run = store.get_run(run_id)
    assert run is not None
    assert (run.sync, run.status, run.finished_at, run.error) == (
        "vip_customers",
        "querying",
        None,
        None,
    )
    assert run.running and run.full_resync
    assert (run.pid, run.hostname) == (os.getpid(), socket.gethostname())
    assert run.started_at.tzinfo is not None and run.started_at >= before.replace(microsecond=0)

    store.set_status(run_id, "planning")
    store.set_status(run_id, "syncing")
    assert store.get_run(run_id).status == "syncing"  # type: ignore[union-attr]

    counts = {"queried": 1200, "added": 3, "changed": 2, "planned": 5, "succeeded": 4}
    store.finish_run(run_id, "warning", counts=counts | {"rejected": 1}, api_calls=7, error=None)
    doc = store.get_run(run_id).to_json()  # type: ignore[union-attr]

    assert list(doc) == [
        "run_id",
        "sync",
        "status",
        "started_at",
        "finished_at",
        "error",
        "counts",
        "api_calls",
    ]
    assert doc["status"] == "warning" and doc["api_calls"] == 7 and doc["error"] is None
    assert doc["counts"] == {
        "queried": 1200,
        "invalid": 0,
        "added": 3,
        "changed": 2,
        "removed": 0,
        "planned": 5,
        "succeeded": 4,
        "rejected": 1,
        "skipped": 0,
    }
    started = datetime.fromisoformat(doc["started_at"])
    finished = datetime.fromisoformat(doc["finished_at"])
    assert started.utcoffset() == finished.utcoffset() and started.utcoffset() is not None
    assert started.utcoffset().total_seconds() == 0
    assert started <= finished <= datetime.now(UTC)


def test_failed_run_keeps_its_error(store: RunStore) -> None:
    run_id = store.start_run("orders")
    store.finish_run(run_id, "failed", counts={}, api_calls=1, error="401 Unauthorized: bad token")
    run = store.get_run(run_id)
    assert run is not None and not run.running
    assert (run.status, run.error, run.counts["queried"]) == (
        "failed",
        "401 Unauthorized: bad token",
        0,
    )


def test_bad_statuses_and_counters_are_refused(store: RunStore) -> None:
    run_id = store.start_run("s")
    with pytest.raises(ValueError, match="running status"):
        store.set_status(run_id, "success")
    with pytest.raises(ValueError, match="final status"):
        store.finish_run(run_id, "syncing", counts={}, api_calls=0, error=None)
    with pytest.raises(ValueError, match=r"unknown run counters.*'upserted'"):
        store.finish_run(run_id, "success", counts={"upserted": 1}, api_calls=0, error=None)
    with pytest.raises(StateError, match="no run nope"):
        store.set_status("nope", "planning")


def test_list_runs_newest_first_and_by_sync(store: RunStore) -> None:
    ids = [store.start_run(name) for name in ("a", "b", "a", "a")]
    assert [r.run_id for r in store.list_runs()] == ids[::-1]
    assert [r.run_id for r in store.list_runs("a")] == [ids[3], ids[2], ids[0]]
    assert [r.run_id for r in store.list_runs("a", limit=2)] == [ids[3], ids[2]]
    assert store.list_runs("unknown") == []


def test_get_run_by_unique_prefix(store: RunStore) -> None:
    ids = [store.start_run("s") for _ in range(40)]
    target = ids[7]
    # The shortest prefix of the target shared with no other id.
    n = next(n for n in range(1, 33) if sum(i.startswith(target[:n]) for i in ids) == 1)
    assert store.get_run(target[:n]).run_id == target  # type: ignore[union-attr]
    assert store.get_run(target[:n] + "z") is None
    assert store.get_run("%") is None  # LIKE wildcards are taken literally
    assert store.get_run("") is None
    shared = next(i[:1] for i in ids if sum(j.startswith(i[:1]) for j in ids) > 1)
    with pytest.raises(StateError, match=f"run id '{shared}' is ambiguous"):
        store.get_run(shared)


def test_every_counter_of_a_run_is_a_column_of_the_run_store() -> None:
    assert tuple(Counts().to_json()) == COUNT_KEYS
    assert set(COUNT_KEYS) <= {column.name for column in runs.c}


def test_sqlite_store_creates_its_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with RunStore.open(DEFAULT_URL) as store:
        store.start_run("s")
    assert (tmp_path / ".bcsync" / "state.db").is_file()
    with RunStore.open(DEFAULT_URL) as store:
        assert len(store.list_runs()) == 1


def test_in_memory_sqlite_store_works() -> None:
    with RunStore.open("sqlite://") as store:
        run_id = store.start_run("s")
        assert store.get_run(run_id) is not None


def test_url_rules_never_show_a_password() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(StateError, match="supports sqlite and postgresql") as info:
        normalize_url("mysql://u:s3cret@h/db")
    assert "s3cret" not in str(info.value)
    with pytest.raises(StateError, match="not a database URL"):
        normalize_url("not a url")


def test_unreachable_postgres_is_a_state_error_without_password() -> None:
    with pytest.raises(StateError, match="cannot open the run store") as info:
        RunStore.open("postgresql://bcsync:s3cret@127.0.0.1:1/state?connect_timeout=2")
    assert "s3cret" not in str(info.value)
