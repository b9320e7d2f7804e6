"""The per-sync snapshot file: outcomes recorded per primary key, durable between calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from bcsync.errors import StateError
from bcsync.run.snapshot import Confirmed, Failed, Snapshot


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".bcsync" / "snapshots" / "vip.duckdb"


@pytest.fixture
def snapshot(path: Path):
    with Snapshot(path) as snap:
        yield snap


def test_new_snapshot_creates_its_file_and_is_empty(path: Path, snapshot: Snapshot) -> None:
    assert path.exists()
    assert snapshot.count() == 0
    assert snapshot.get(["1"]) == {}
    assert snapshot.pending() == []
    assert snapshot.summary().to_json() == {
        "total": 0,
        "synced": 0,
        "failed": 0,
        "pending": 0,
        "in_doubt": 0,
        "owned": 0,
        "unsettled": 0,
        "released": 0,
    }
    assert snapshot.unsettled() == []


def test_confirm_records_hash_and_id_and_clears_failure(snapshot: Snapshot) -> None:
    snapshot.fail([Failed("7", "email is invalid", None)])
    snapshot.mark_pending([("7", "create")])
    snapshot.confirm([Confirmed("7", "h1", "101")])

    entry = snapshot.get(["7"])["7"]
    assert (entry.row_hash, entry.dest_id, entry.status) == ("h1", "101", "synced")
    assert (entry.attempts, entry.last_error, entry.pending_op) == (0, None, None)
    assert entry.updated_at.tzinfo is not None
    assert snapshot.count() == 1


def test_confirm_without_id_keeps_the_pinned_id(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed("7", "h1", "101")])
    snapshot.confirm([Confirmed("7", "h2", None)])
    entry = snapshot.get(["7"])["7"]
    assert (entry.row_hash, entry.dest_id) == ("h2", "101")


def test_fail_keeps_the_old_hash_and_counts_attempts(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed("7", "h1", "101")])
    snapshot.fail([Failed("7", "phone too long")])
    snapshot.fail([Failed("7", "phone still too long")])

    entry = snapshot.get(["7"])["7"]
    assert (entry.row_hash, entry.dest_id, entry.status) == ("h1", "101", "failed")
    assert (entry.attempts, entry.last_error) == (2, "phone still too long")


def test_fail_of_a_new_row_has_no_hash(snapshot: Snapshot) -> None:
    snapshot.fail([Failed("8", "duplicate email", None), Failed("9", "bad", "55")])
    entries = snapshot.get(["8", "9"])
    assert (entries["8"].row_hash, entries["8"].dest_id, entries["8"].attempts) == (None, None, 1)
    assert entries["9"].dest_id == "55"
    assert snapshot.count() == 1
    assert snapshot.summary().failed == 2


def test_long_errors_are_truncated(snapshot: Snapshot) -> None:
    snapshot.fail([Failed("1", "x" * 10_000)])
    assert len(snapshot.get(["1"])["1"].last_error or "") == 2000


def test_mark_pending_flags_writes_in_flight(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed("1", "h1", "101")])
    snapshot.mark_pending([("1", "update"), ("2", "create")])

    pending = snapshot.pending()
    assert [(e.pk, e.pending_op, e.status, e.in_doubt) for e in pending] == [
        ("1", "update", "synced", True),
        ("2", "create", "pending", True),
    ]
    assert pending[0].row_hash == "h1"  # the in-flight write has not been confirmed
    summary = snapshot.summary()
    assert (summary.total, summary.synced, summary.pending, summary.in_doubt) == (2, 1, 1, 2)


def test_outcomes_settle_pending_entries(snapshot: Snapshot) -> None:
    keys = {"1": "a@x.io", "2": "b@x.io", "3": "c@x.io", "4": "d@x.io"}
    snapshot.confirm([Confirmed("4", "h4", "104")])
    snapshot.mark_pending([("1", "create"), ("2", "create"), ("3", "create")], keys)
    snapshot.mark_pending([("4", "create")], keys)
    assert [e.pending_key for e in snapshot.pending()] == ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]
    snapshot.confirm([Confirmed("1", "h1", "101")])
    snapshot.fail([Failed("2", "rejected")])
    snapshot.forget(["3"])  # never sent: 3 only held its mark
    snapshot.confirm([Confirmed("4", "h4", "104")])
    assert snapshot.pending() == []
    entries = snapshot.get(["1", "2", "3", "4"])
    assert set(entries) == {"1", "2", "4"}
    assert [entries[pk].pending_key for pk in ("1", "2", "4")] == [None, None, None]


def test_unknown_operation_is_refused(snapshot: Snapshot) -> None:
    with pytest.raises(ValueError, match="upsert"):
        snapshot.mark_pending([("1", "upsert")])
    assert snapshot.pending() == []


def test_duplicate_keys_in_one_batch_last_wins(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed("1", "h1", "101"), Confirmed("1", "h2", "101")])
    assert snapshot.get(["1"])["1"].row_hash == "h2"


def test_forget_and_reset(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed(str(i), "h", str(i)) for i in range(5)])
    snapshot.forget(["0", "1", "unknown"])
    assert sorted(snapshot.get([str(i) for i in range(5)])) == ["2", "3", "4"]
    snapshot.reset()
    summary = snapshot.summary()
    # Nothing is held or synced any more; each row stays a tombstone keeping its record's id.
    assert (summary.synced, summary.owned, summary.released) == (0, 0, 3)
    assert snapshot.count() == 0 and snapshot.holders(["2", "3", "4"]) == {}
    assert [e.dest_id for e in snapshot.get(["2", "3", "4"]).values()] == ["2", "3", "4"]


def test_released_rows_hold_nothing_but_keep_their_record(snapshot: Snapshot) -> None:
    snapshot.confirm([Confirmed("a", "h", "101"), Confirmed("b", "h", "102")])
    assert snapshot.holders(["101", "102", "103"]) == {"101": ["a"], "102": ["b"]}
    snapshot.release([("a", None)])
    entry = snapshot.get(["a"])["a"]
    assert (entry.status, entry.dest_id, entry.holds, entry.row_hash) == (
        "released",
        "101",
        None,
        None,
    )
    assert snapshot.count() == 1 and snapshot.holders(["101"]) == {}
    # A rejected return keeps the tombstone (it holds nothing); a confirmed one holds again.
    snapshot.fail([Failed("a", "duplicate")])
    assert snapshot.get(["a"])["a"].status == "released"
    snapshot.confirm([Confirmed("a", "h2", "101")])
    assert snapshot.holders(["101"]) == {"101": ["a"]}


def test_creates_in_flight_count_as_owned_and_keep_their_mark(snapshot: Snapshot) -> None:
    import datetime as dt

    marked = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    snapshot.mark_pending([("n", "create")], {"n": "N@x.io"}, marked)
    [entry] = snapshot.pending()
    assert (entry.pending_key, entry.pending_at) == ("N@x.io", marked)
    assert snapshot.count() == 1


def test_empty_batches_are_no_ops(snapshot: Snapshot) -> None:
    snapshot.confirm([])
    snapshot.fail([])
    snapshot.forget([])
    snapshot.mark_pending([])
    assert snapshot.summary().total == 0


def test_entries_survive_reopening(path: Path) -> None:
    with Snapshot(path) as snap:
        snap.confirm([Confirmed("1", "h1", "101")])
        snap.fail([Failed("2", "bad")])
    with Snapshot(path) as snap:
        entries = snap.get(["1", "2"])
    assert entries["1"].dest_id == "101"
    assert entries["2"].last_error == "bad"


def test_committed_calls_survive_sigkill(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from bcsync.run.snapshot import Snapshot, Confirmed
        snap = Snapshot(Path({str(path)!r}))
        snap.confirm([Confirmed(str(i), "h" + str(i), str(1000 + i)) for i in range(300)])
        snap.mark_pending([("300", "create")])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()

    with Snapshot(path) as snap:
        assert snap.count() == 301  # the create in flight may have made a record: owned
        assert snap.get(["299"])["299"].row_hash == "h299"
        assert [(e.pk, e.pending_op) for e in snap.pending()] == [("300", "create")]


def test_a_file_of_another_format_is_refused(path: Path) -> None:
    with Snapshot(path):
        pass
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE snapshot_meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(StateError, match="format 99"):
        Snapshot(path)


def test_a_format_1_file_is_migrated_in_place(path: Path) -> None:
    # What bcsync 0.1 wrote: no quick-hash cache, no integer key column.
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            """
            CREATE TABLE snapshot (pk VARCHAR PRIMARY KEY, row_hash VARCHAR, dest_id VARCHAR,
                status VARCHAR NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR,
                pending_op VARCHAR, updated_at TIMESTAMPTZ NOT NULL);
            CREATE TABLE snapshot_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
            INSERT INTO snapshot_meta VALUES ('format', '1');
            INSERT INTO snapshot VALUES ('7', 'h7', '107', 'synced', 0, NULL, NULL, now()),
                                        ('007', 'h', '9', 'failed', 2, 'no', NULL, now());
            """
        )
    with Snapshot(path) as snap:
        assert snap.get(["7"])["7"].row_hash == "h7"
        assert snap.get(["007"])["007"].attempts == 2
        rows = snap.connection.execute(
            "SELECT pk, pk_int, fast_hash FROM snapshot ORDER BY pk"
        ).fetchall()
        assert rows == [("007", None, None), ("7", 7, None)]
        snap.confirm([Confirmed("8", "h8", "108", 12345)])
    with Snapshot(path) as snap:  # now a format 2 file: opened as it is
        assert snap.connection.execute(
            "SELECT pk_int, fast_hash FROM snapshot WHERE pk = '8'"
        ).fetchall() == [(8, 12345)]


def test_100k_outcomes_in_chunks_of_500_are_quick(snapshot: Snapshot) -> None:
    started = time.perf_counter()
    for start in range(0, 100_000, 500):
        keys = [str(i) for i in range(start, start + 500)]
        snapshot.mark_pending([(pk, "create") for pk in keys])
        snapshot.confirm([Confirmed(pk, "h", pk) for pk in keys])
    elapsed = time.perf_counter() - started
    assert snapshot.count() == 100_000
    # About 5 s on a busy 2-core machine; the bound only catches a per-row or O(n²) regression.
    assert elapsed < 60, f"{elapsed:.1f} s"
