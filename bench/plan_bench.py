"""Planning benchmark: plan() over a 1 000 000-row model vs a bare DuckDB scan of it into Arrow.

Run: .venv/bin/python bench/plan_bench.py [--rows N] [--repeat R] [--workdir DIR]

1. Builds a model of N rows × (pk + 10 mapped columns of mixed types) in a DuckDB file.
2. Seeds a snapshot as if the previous run synced every row: plan() (all added), then confirm()
   every row in chunks of 500, the way the engine records outcomes (also timed).
3. Changes 1% of the rows.
4. Measures, each in a fresh subprocess and best of R:
   (a) a bare scan of the model into Arrow batches (the warehouse step alone);
   (b) plan() as the engine runs it for a DuckDB warehouse (the model run by the snapshot's
       DuckDB, ``DuckDBWarehouse.local_query``), then iterating the changed rows in chunks of 500;
   (b2) the same through the Arrow stream, the path every other warehouse (PostgreSQL) takes;
   (c) for reference, the scan hashing every row's canonical text with md5 and storing nothing:
       what every plan cost before the snapshot cached quick hashes.
   Each (b) counts from opening the warehouse to the last PlannedRow, the snapshot's opening
   included; sqlglot's DuckDB dialect, which the engine has loaded by then, is loaded first.
   Peak RSS is each child's VmHWM from /proc/self/status.

Targets: (b)/(a) ≤ 3×, peak RSS of (b) ≤ 600 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bcsync.config.project import ModelConfig
from bcsync.run.planner import plan
from bcsync.run.rowhash import canonical_sql, field_sql, quote_ident, row_hash_sql
from bcsync.run.snapshot import Confirmed, Snapshot
from bcsync.warehouse.base import model_select
from bcsync.warehouse.duckdb import DuckDBWarehouse

COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "tier",
    "ltv",
    "orders_count",
    "score",
    "active",
    "created_at",
]
MODEL_SQL = """
CREATE OR REPLACE TABLE customers AS
SELECT i AS customer_key,
       'user' || i || '@example.com' AS email,
       'First' || (i % 5000) AS first_name,
       'Last' || (i % 7919) AS last_name,
       '+1-555-' || lpad(CAST(i % 10000000 AS VARCHAR), 7, '0') AS phone,
       ['bronze', 'silver', 'gold'][1 + i % 3] AS tier,
       CAST((i % 100000) / 100.0 AS DECIMAL(12, 2)) AS ltv,
       CAST(i % 50 AS INTEGER) AS orders_count,
       (i % 1000) / 7.0 AS score,
       i % 2 = 0 AS active,
       TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_seconds(i * 37) AS created_at
FROM range(?) AS t(i)
"""
BATCH_ROWS = 100_000
CHUNK = 500


def scan_reader(model: Path) -> tuple[duckdb.DuckDBPyConnection, object]:
    conn = duckdb.connect(str(model), read_only=True)
    reader = conn.sql("SELECT * FROM customers").to_arrow_reader(BATCH_ROWS)
    return conn, reader


def child_scan(model: Path) -> dict[str, float]:
    start = time.perf_counter()
    conn, reader = scan_reader(model)
    rows = sum(batch.num_rows for batch in reader)  # type: ignore[attr-defined]
    conn.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def child_hash(model: Path) -> dict[str, float]:
    """The floor under (b): the same scan, hashing every row's canonical text, storing nothing."""
    start = time.perf_counter()
    conn, reader = scan_reader(model)
    work = duckdb.connect()
    work.register("model", reader)
    types = dict(
        zip(COLUMNS, work.sql(f"SELECT {', '.join(COLUMNS)} FROM model").types, strict=True)
    )
    fields = [(n, field_sql(canonical_sql(quote_ident(n), t), t)) for n, t in types.items()]
    work.execute(f"SELECT max({row_hash_sql(fields)}) FROM model").fetchall()
    conn.close()
    return {"seconds": time.perf_counter() - start}


def child_plan(model: Path, snapshot_path: Path, path: str) -> dict[str, float]:
    config = ModelConfig(table="customers", primary_key="customer_key")
    # By the time the engine plans, it has read the model's schema, which loads sqlglot's
    # DuckDB dialect (60 ms, once per process): load it here too, outside the timing.
    model_select(config, sync="bench", dialect="duckdb")
    start = time.perf_counter()
    warehouse = DuckDBWarehouse(f"duckdb:///{model}")
    if path == "local":
        source = warehouse.local_query(config, sync="bench")
        assert source is not None
    else:
        source = warehouse.stream(config, sync="bench", batch_rows=BATCH_ROWS)  # type: ignore[assignment]
    with (
        Snapshot(snapshot_path) as snapshot,
        plan(source, snapshot, primary_key="customer_key", columns=COLUMNS) as changes,
    ):
        planned = time.perf_counter() - start
        iterated = sum(len(chunk) for chunk in changes.rows("changed", chunk=CHUNK))
        counts = changes.counts
        stages = dict(changes.timings)
    warehouse.close()
    return {
        "seconds": time.perf_counter() - start,
        "plan_seconds": planned,
        "changed": counts.changed,
        "iterated": iterated,
        "unchanged": counts.unchanged,
        "stages": stages,  # type: ignore[dict-item]
    }


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Unlike getrusage's ru_maxrss it is not
    inherited across exec, so the child does not report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def build(workdir: Path, rows: int) -> tuple[Path, Path, dict[str, float]]:
    model = workdir / "warehouse.duckdb"
    snapshot_path = workdir / "snapshot.duckdb"
    for path in (model, snapshot_path):
        path.unlink(missing_ok=True)
    with duckdb.connect(str(model)) as conn:
        conn.execute(MODEL_SQL, [rows])
    timings: dict[str, float] = {}
    conn, reader = scan_reader(model)
    with Snapshot(snapshot_path) as snapshot:
        start = time.perf_counter()
        with plan(reader, snapshot, primary_key="customer_key", columns=COLUMNS) as changes:  # type: ignore[arg-type]
            timings["first_plan_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            for chunk in changes.rows("added", chunk=CHUNK):
                snapshot.confirm(
                    [
                        Confirmed(row.pk, row.row_hash, str(int(row.pk) + 1), row.fast_hash)
                        for row in chunk
                    ]
                )
            timings["seed_confirm_seconds"] = time.perf_counter() - start
    conn.close()
    with duckdb.connect(str(model)) as conn:
        conn.execute("UPDATE customers SET phone = phone || '9' WHERE customer_key % 100 = 7")
    return model, snapshot_path, timings


def _seconds(result: dict[str, float]) -> float:
    return result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *paths = args.child
        if kind == "scan":
            result = child_scan(Path(paths[0]))
        elif kind == "hash":
            result = child_hash(Path(paths[0]))
        else:
            result = child_plan(Path(paths[0]), Path(paths[1]), kind)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bcsync-plan-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"building {args.rows:,} rows × {len(COLUMNS)} mapped columns in {workdir} …")
    model, snapshot_path, timings = build(workdir, args.rows)
    print(
        f"first plan (all added): {timings['first_plan_seconds']:.2f} s; "
        f"confirming {args.rows:,} rows in chunks of {CHUNK}: "
        f"{timings['seed_confirm_seconds']:.2f} s"
    )
    # Interleaved, so that a change in the machine's load touches every measure alike.
    scans, locals_, streams = [], [], []
    for _ in range(args.repeat):
        scans.append(run_child("scan", str(model)))
        locals_.append(run_child("local", str(model), str(snapshot_path)))
        streams.append(run_child("stream", str(model), str(snapshot_path)))
    floor = min((run_child("hash", str(model)) for _ in range(args.repeat)), key=_seconds)
    scan = min(scans, key=_seconds)
    print(
        f"(a) bare scan into Arrow: {scan['seconds']:.3f} s, peak RSS {scan['peak_rss_mb']:.0f} MB"
    )
    for label, runs in (("(b) ", locals_), ("(b2)", streams)):
        best = min(runs, key=_seconds)
        peak = max(r["peak_rss_mb"] for r in runs)
        iterate = best["seconds"] - best["plan_seconds"]
        stages = ", ".join(f"{k} {v:.3f}" for k, v in best["stages"].items())  # type: ignore[attr-defined]
        name = "DuckDB model run by the snapshot" if runs is locals_ else "Arrow stream"
        plan_ratio = best["plan_seconds"] / scan["seconds"]
        print(
            f"{label} {name}: plan {best['plan_seconds']:.3f} s ({plan_ratio:.2f}× (a)), "
            f"plan + iterate {best['iterated']:,.0f} changed rows {best['seconds']:.3f} s "
            f"({best['seconds'] / scan['seconds']:.2f}× (a)), peak RSS {peak:.0f} MB"
        )
        print(f"      stages (s): {stages}; iterate {iterate:.3f}")
    print(
        f"(c) scan + md5 of every row's canonical text, nothing stored: {floor['seconds']:.3f} s "
        f"({floor['seconds'] / scan['seconds']:.2f}× (a))"
    )
    print("targets: (b) ≤ 3× (a); peak RSS ≤ 600 MB")
    if args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
