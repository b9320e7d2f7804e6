"""API calls per 1,000 customers: what bcsync sends next to the fewest the API allows.

One customers sync (upsert, match on email; email, first_name, last_name, one attribute created
on demand and one metafield) over N customers (5,000 by default), against the emulator in a
child process with no quota. Five scenarios in turn, each one run of the real engine:

1. initial load into an empty store;
2. first_name changed on every row;
3. the attribute changed on every row;
4. the metafield changed on every row;
5. an unchanged rerun.

Calls are the emulator's own count (``GET /_emulator/stats``, by endpoint), not bcsync's. After
each run the store is read back (``/_emulator/dump``) to check that every customer holds the
model's values. Writes the figures into bench/README.md ("API calls per 1,000 customers"). Run:

    .venv/bin/python bench/calls_bench.py            # --customers 5000 by default
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_throughput import emulator_process
from sync_bench import CUSTOMERS, Bench, calls_by_endpoint

README = Path(__file__).resolve().parent / "README.md"
HEADING = "## API calls per 1,000 customers"

# sync_bench's customers sync, its phone and company left out, a metafield added.
SYNC = (
    CUSTOMERS.replace("    - {column: phone, field: phone}\n", "")
    .replace("    - {column: company, field: company}\n", "")
    .replace(
        '    - {column: tier, field: "attributes.Loyalty Tier"}\n',
        '    - {column: tier, field: "attributes.Loyalty Tier"}\n'
        '    - {column: ltv, field: "metafields.warehouse.ltv"}\n',
    )
)

# BigCommerce's page and batch sizes the minimum is built from.
LOOKUP, CUSTOMER_BATCH, ATTRIBUTE_VALUE_BATCH, METAFIELD_BATCH = 50, 10, 10, 25
LIST_ATTRIBUTES, CREATE_ATTRIBUTE = "GET /v3/customers/attributes", "POST /v3/customers/attributes"


def per_k(size: int) -> int:
    """Requests for 1,000 items at ``size`` a request."""
    return -(-1000 // size)


@dataclass
class Scenario:
    name: str
    change: str | None  # SQL run on the warehouse before the sync; None: no change
    minimum: dict[str, int]  # the fewest calls per 1,000 customers, by endpoint
    reasoning: str
    per_run: dict[str, int] = field(default_factory=dict)  # unavoidable once a run, by endpoint
    per_run_reasoning: str = ""

    @property
    def minimum_per_k(self) -> int:
        return sum(self.minimum.values())

    def allowed(self, endpoint: str, count: int) -> float:
        """The fewest calls to ``endpoint`` for ``count`` customers."""
        return self.minimum.get(endpoint, 0) * count / 1000 + self.per_run.get(endpoint, 0)


SCENARIOS = [
    Scenario(
        "initial load (empty store)",
        None,
        {
            "GET /v3/customers": per_k(LOOKUP),
            "POST /v3/customers": per_k(CUSTOMER_BATCH),
            "POST /v3/customers/metafields": per_k(METAFIELD_BATCH),
        },
        f"1,000/{LOOKUP} = {per_k(LOOKUP)} email:in look-ups + 1,000/{CUSTOMER_BATCH} = "
        f"{per_k(CUSTOMER_BATCH)} creates carrying the attribute inline + 1,000/{METAFIELD_BATCH}"
        f" = {per_k(METAFIELD_BATCH)} metafield batch creates",
        {LIST_ATTRIBUTES: 1, CREATE_ATTRIBUTE: 1},
        "once per run, whatever the size: read the attribute list, create the missing attribute",
    ),
    Scenario(
        "first_name changed on every row",
        "UPDATE customers SET first_name = first_name || 'b'",
        {"PUT /v3/customers": per_k(CUSTOMER_BATCH)},
        f"1,000/{CUSTOMER_BATCH} = {per_k(CUSTOMER_BATCH)} customer batch PUTs (ids known)",
    ),
    Scenario(
        "attribute changed on every row",
        "UPDATE customers SET tier = CASE tier WHEN 'gold' THEN 'silver' ELSE 'gold' END",
        {"PUT /v3/customers/attribute-values": per_k(ATTRIBUTE_VALUE_BATCH)},
        f"1,000/{ATTRIBUTE_VALUE_BATCH} = {per_k(ATTRIBUTE_VALUE_BATCH)} attribute-value PUTs",
    ),
    Scenario(
        "metafield changed on every row",
        "UPDATE customers SET ltv = ltv + 1",
        {"PUT /v3/customers/metafields": per_k(METAFIELD_BATCH)},
        f"1,000/{METAFIELD_BATCH} = {per_k(METAFIELD_BATCH)} metafield batch PUTs "
        "(bcsync remembers metafield ids)",
    ),
    Scenario("unchanged rerun", None, {}, "nothing to send"),
]


@dataclass
class Measured:
    scenario: Scenario
    seconds: float
    calls: dict[str, int]
    counts: dict[str, int]
    count: int

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def per_k(self) -> float:
        return self.total * 1000 / self.count

    def excess(self) -> dict[str, float]:
        """Calls beyond the minimum, by endpoint (per run, unscaled)."""
        out = {}
        for endpoint, n in self.calls.items():
            extra = n - self.scenario.allowed(endpoint, self.count)
            if extra > 0:
                out[endpoint] = extra
        return out


def customers_table(bench: Bench, count: int) -> None:
    bench.sql(
        f"""CREATE OR REPLACE TABLE customers AS
        SELECT i AS customer_key, 'user' || i || '@example.com' AS email,
               'First' || i AS first_name, 'Last' || i AS last_name,
               CASE WHEN i % 3 = 0 THEN 'gold' ELSE 'silver' END AS tier,
               CAST(100 + i % 5000 AS INTEGER) AS ltv
        FROM range(1, {count + 1}) t(i)"""
    )


def check_store(bench: Bench, count: int) -> None:
    """Every model row is one customer in the store holding the model's values."""
    with duckdb.connect(str(bench.dir / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT email, first_name, last_name, tier, ltv FROM customers")
        model = {r[0]: r[1:] for r in rows.fetchall()}
    store = bench.admin.get("/_emulator/dump").json()
    names = {a["id"]: a["name"] for a in store.get("attributes") or []}
    seen = {}
    for customer in store["customers"]:
        attributes = {
            names.get(a.get("attribute_id")): a.get("attribute_value")
            for a in customer.get("attributes") or []
        }
        metafields = {
            (m.get("namespace"), m.get("key")): m.get("value")
            for m in customer.get("metafields") or []
        }
        seen[customer["email"]] = (
            customer["first_name"],
            customer["last_name"],
            attributes.get("Loyalty Tier"),
            metafields.get(("warehouse", "ltv")),
        )
    expected = {e: (f, la, t, str(v)) for e, (f, la, t, v) in model.items()}
    if len(store["customers"]) != count or seen != expected:
        wrong = [e for e in expected if seen.get(e) != expected[e]]
        raise RuntimeError(
            f"the store does not match the model: {len(store['customers'])} customers, "
            f"{len(wrong)} wrong, e.g. {wrong[:1]} {[seen.get(e) for e in wrong[:1]]} "
            f"vs {[expected[e] for e in wrong[:1]]}"
        )


def measure(bench: Bench, count: int) -> list[Measured]:
    bench.reset()
    customers_table(bench, count)
    directory = bench.project("calls", SYNC)
    out = []
    for scenario in SCENARIOS:
        if scenario.change:
            bench.sql(scenario.change)
        before = bench.stats()
        elapsed, result = bench.run(directory, "customers")
        calls = calls_by_endpoint(before, bench.stats())
        counts = {k: int(v) for k, v in result.counts.items() if v}
        check_store(bench, count)
        out.append(Measured(scenario, elapsed, calls, counts, count))
    return out


def endpoints(calls: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(calls.items())) or "none"


def minimum_text(scenario: Scenario) -> str:
    text = f"{scenario.minimum_per_k}: {scenario.reasoning}"
    if scenario.per_run:
        text += f"; + {sum(scenario.per_run.values())} a run ({scenario.per_run_reasoning})"
    return text


def metafield_reason(m: Measured) -> str | None:
    n = m.calls["POST /v3/customers/metafields"]
    if n != m.calls.get("POST /v3/customers"):
        return None
    return (
        f"one metafield create per customer create, so {m.count / n:.0f} metafields a request "
        f"where a batch takes {METAFIELD_BATCH}: the metafields of each batch of "
        f"{CUSTOMER_BATCH} new customers are sent as soon as that batch is created instead of "
        "being pooled across batches"
    )


def notes(results: list[Measured]) -> list[str]:
    """Where a run cost more than the minimum, and why, as far as the by-endpoint counts show."""
    lines = []
    list_only = [m for m in results if m.excess().keys() == {LIST_ATTRIBUTES}]
    for m in results:
        excess = m.excess()
        if not excess or m in list_only:
            continue
        parts = []
        for endpoint in sorted(excess):
            why = metafield_reason(m) if endpoint == "POST /v3/customers/metafields" else None
            allowed = m.scenario.allowed(endpoint, m.count)
            parts.append(
                f"`{endpoint}` {m.calls[endpoint]:,} where {allowed:,.0f} would do"
                + (f": {why}" if why else "")
            )
        over = sum(excess.values()) * 1000 / m.count
        lines.append(
            f"**{m.scenario.name}: {over:,.1f} calls per 1,000 over the minimum.** "
            + "; ".join(parts)
            + "."
        )
    if list_only:
        count = list_only[0].count
        names = [m.scenario.name.split(" changed")[0] for m in list_only]
        label = f"{', '.join(names[:-1])} and {names[-1]} changes" if len(names) > 1 else names[0]
        idle = [
            m.scenario.name.split(" changed")[0]
            for m in list_only
            if "PUT /v3/customers/attribute-values" not in m.calls
        ]
        lines.append(
            f"**{label}: 1 call a run over the minimum** ({1000 / count:.1f} per "
            f"1,000 at {count:,} customers). Each run that sends anything starts by reading the "
            f"attribute list (`{LIST_ATTRIBUTES}`) to learn the attribute's id and type, which "
            "bcsync does not keep between runs"
            + (
                f", even in runs that write no attribute value ({' and '.join(idle)} changes)"
                if idle
                else ""
            )
            + "."
        )
    met = [m.scenario.name for m in results if not m.excess()]
    if met:
        lines.append(f"At the minimum: {', '.join(met)}.")
    # Wrapped like the rest of the README, never inside a `code span`.
    spans = [re.sub(r"`[^`]*`", lambda c: c[0].replace(" ", "\0"), line) for line in lines]
    return [
        textwrap.fill(line, width=99, initial_indent="- ", subsequent_indent="  ").replace(
            "\0", " "
        )
        for line in spans
    ]


def report(results: list[Measured]) -> None:
    for m in results:
        print(f"{m.scenario.name}: {m.seconds:.2f} s wall, outcomes {m.counts}")
        print(f"  calls: {endpoints(m.calls)}")
        print(
            f"  total {m.total:,} = {m.per_k:,.1f} per 1,000 customers; "
            f"minimum {minimum_text(m.scenario)}"
        )
    for line in notes(results):
        print(line)


def write_readme(results: list[Measured], count: int) -> None:
    rows = [
        f"| {m.scenario.name} | {m.per_k:,.1f} | {minimum_text(m.scenario)} | "
        f"{endpoints(m.calls)} | {m.seconds:.2f} s |"
        for m in results
    ]
    section = [
        HEADING,
        "",
        "What one customers sync costs in API calls, counted by the emulator itself",
        f"(`GET /_emulator/stats`, by endpoint) over {count:,} customers and scaled to 1,000, next",
        "to the fewest calls BigCommerce's API allows. The sync: upsert matching on email, mapping",
        "email, first_name, last_name, `attributes.Loyalty Tier` (`create_missing_attributes: "
        "true`)",
        "and `metafields.warehouse.ltv`; five runs of the engine in turn, the emulator in a child",
        "process with no quota. After each run the store is read back and every customer checked",
        "against the model. Reproduce with:",
        "",
        f"    .venv/bin/python bench/calls_bench.py --customers {count}",
        "",
        "Machine: 2 shared cores, CPython 3.11; call counts are exact, wall times indicative.",
        f"Last run: {time.strftime('%Y-%m-%d')}.",
        "",
        f"| scenario | calls per 1,000 | minimum per 1,000 | calls by endpoint ({count:,} "
        "customers) | wall time |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *notes(results),
        "",
    ]
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    block = "\n".join(section)
    if HEADING in text:
        text = re.sub(
            re.escape(HEADING) + r"\n.*?(?=\n## |\Z)", block.rstrip() + "\n", text, flags=re.S
        )
    else:
        text = text.rstrip() + "\n\n" + block
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    with emulator_process() as url, tempfile.TemporaryDirectory() as tmp:
        results = measure(Bench(url, Path(tmp)), args.customers)
    report(results)
    if not args.no_readme:
        write_readme(results, args.customers)


if __name__ == "__main__":
    main()
