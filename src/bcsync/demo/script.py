"""``bcsync demo``: the whole story on this machine, told step by step.

A sample warehouse, a local BigCommerce emulator, a project pointing at it, ``check`` / ``plan`` /
``run`` through the very same CLI code a user runs, then a change in the warehouse and a second
run that sends only the difference. The emulator's request counters show what went over the wire.

The demo does not import the CLI: ``bcsync demo`` hands it the command runner (``CommandRunner``)
and the console to tell the story on.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from bcsync.demo.orders import (
    INSERT_SYNC,
    STATUS_SYNC,
    build_orders,
    load_store_orders,
    ship_orders,
)
from bcsync.demo.orders import SYNCS as ORDER_SYNCS
from bcsync.demo.warehouse import BAD_EMAIL, build_warehouse, change_warehouse

SYNC = "loyal_customers"
# Demo-only variable names: the real environment wins over .env, and a developer's own
# BIGCOMMERCE_* variables must never send the demo to a real store.
ENV_PREFIX = "BCSYNC_DEMO_"
DEMO_QUOTA = 3_000
DEMO_WINDOW_MS = 30_000

# Runs ``bcsync ARGS`` in-process and returns its exit code (``bcsync.cli.commands.invoke``).
CommandRunner = Callable[[Sequence[str]], int]

PROJECT_FILE = (
    f"""\
version: 1
warehouse:
  url: duckdb:///warehouse.duckdb
destinations:
  store:
    type: bigcommerce
    store_hash: ${{{ENV_PREFIX}STORE_HASH}}
    access_token: ${{{ENV_PREFIX}ACCESS_TOKEN}}
    api_url: ${{{ENV_PREFIX}API_URL}}
syncs:
  {SYNC}:
    destination: store
    object: customers
    model:
      sql: select * from customers
      primary_key: customer_key
    mode: upsert
    match: {{column: email, field: email}}
    mappings:
      - {{column: first_name,     field: first_name}}
      - {{column: last_name,      field: last_name}}
      - {{column: phone,          field: phone}}
      - {{column: company,        field: company}}
      - {{column: loyalty_tier,   field: "attributes.Loyalty Tier"}}
      - {{column: loyalty_points, field: "attributes.Loyalty Points"}}
      - {{column: segment,        field: "form_fields.Segment"}}
      - {{column: street,         field: address.address1}}
      - {{column: city,           field: address.city}}
      - {{column: state,          field: address.state_or_province}}
      - {{column: postal_code,    field: address.postal_code}}
      - {{column: country,        field: address.country_code}}
    create_missing_attributes: true
    on_delete: delete
"""
    + ORDER_SYNCS
)


class DemoStepFailed(Exception):
    """A CLI step of the demo did not end as the story needs."""


class Demo:
    """One telling of the story, against one emulator, in one project directory."""

    def __init__(
        self, project: Path, console: Console, admin: httpx.Client, invoke: CommandRunner
    ) -> None:
        self.project = project
        self.console = console
        self.admin = admin
        self.invoke = invoke

    def step(self, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold cyan]{escape(title)}")

    def say(self, text: str) -> None:
        self.console.print(text)

    def bcsync(self, *args: str, allowed: Sequence[int] = (0,)) -> int:
        """Run ``bcsync --project DIR ARGS`` through the real CLI and show the command line."""
        self.console.print(f"\n[bold]$ bcsync {escape(' '.join(args))}[/bold]")
        code = self.invoke(["--project", str(self.project), *args])
        if code not in allowed:
            raise DemoStepFailed(f"`bcsync {' '.join(args)}` exited with {code}")
        return code

    def stats(self) -> Counter[str]:
        response = self.admin.get("/_emulator/stats")
        response.raise_for_status()
        return Counter(response.json()["by_endpoint"])

    def show_calls(self, before: Counter[str], title: str) -> None:
        """The API calls made since ``before``, by endpoint, as the emulator counted them."""
        calls = self.stats() - before
        self.say(f"\n[bold]{escape(title)}[/bold] (the emulator's own count):")
        table = Table(box=None, padding=(0, 2), header_style="bold")
        table.add_column("endpoint", no_wrap=True)
        table.add_column("calls", justify="right")
        for endpoint, count in sorted(calls.items()):
            table.add_row(escape(endpoint), f"{count:,}")
        table.add_row("[bold]total[/bold]", f"[bold]{calls.total():,}[/bold]")
        self.console.print(table)

    def show_store(self, how_many: int = 5) -> None:
        """A few customers as BigCommerce now holds them, with attributes, form fields and the
        city of their synced address."""
        response = self.admin.get("/_emulator/dump")
        response.raise_for_status()
        dump = response.json()
        names = {attr["id"]: attr["name"] for attr in dump.get("attributes", [])}
        customers = sorted(dump["customers"], key=lambda customer: customer["id"])
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
        for column in ("id", "email", "name", "City", "Loyalty Tier", "Points", "Segment"):
            numeric = column in ("id", "Points")
            table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
        for customer in customers[:how_many]:
            attrs = {
                names.get(a["attribute_id"]): a["attribute_value"]
                for a in customer.get("attributes", [])
            }
            fields = {f["name"]: f["value"] for f in customer.get("form_fields", [])}
            addresses = customer.get("addresses") or [{}]
            table.add_row(
                str(customer["id"]),
                escape(customer["email"]),
                escape(f"{customer['first_name']} {customer['last_name']}"),
                escape(str(addresses[0].get("city", ""))),
                escape(str(attrs.get("Loyalty Tier", ""))),
                escape(str(attrs.get("Loyalty Points", ""))),
                escape(str(fields.get("Segment", ""))),
            )
        self.say(f"The store holds [bold]{len(customers):,}[/bold] customers. The first few:")
        self.console.print(table)

    def show_orders(self, how_many: int = 5) -> None:
        """A few shipped orders as BigCommerce holds them."""
        response = self.admin.get("/_emulator/dump")
        response.raise_for_status()
        orders = sorted(response.json()["orders"], key=lambda order: order["id"])
        by_status = Counter(order["status"] for order in orders)
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold")
        for column in ("id", "external_order_id", "status", "total", "tracking"):
            table.add_column(column, justify="right" if column in ("id", "total") else "left")
        shipped = [o for o in orders if o["status"] != "Awaiting Fulfillment"]
        for order in shipped[:how_many]:
            tracking = [
                m["value"] for m in order.get("metafields", []) if m["key"] == "tracking_number"
            ]
            table.add_row(
                str(order["id"]),
                escape(str(order.get("external_order_id"))),
                escape(order["status"]),
                escape(str(order["total_inc_tax"])),
                escape(", ".join(tracking)),
            )
        summary = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
        self.say(f"\nThe store holds [bold]{len(orders):,}[/bold] orders ({escape(summary)}):")
        self.console.print(table)


def _write_project(project: Path, api_url: str, store_hash: str, token: str) -> None:
    (project / "bcsync.yml").write_text(PROJECT_FILE, encoding="utf-8")
    env = (
        f"{ENV_PREFIX}API_URL={api_url}\n"
        f"{ENV_PREFIX}STORE_HASH={store_hash}\n"
        f"{ENV_PREFIX}ACCESS_TOKEN={token}\n"
    )
    (project / ".env").write_text(env, encoding="utf-8")


def tell(demo: Demo, emulator: Any, customers: int) -> None:
    """The story itself; raises DemoStepFailed if a step does not end as it should."""
    project = demo.project
    demo.step("1. A sample warehouse")
    count = build_warehouse(project / "warehouse.duckdb", customers=customers)
    orders = build_orders(project / "warehouse.duckdb")
    demo.say(
        f"Built [bold]{count:,}[/bold] customers in {escape(str(project / 'warehouse.duckdb'))}"
        " (table customers: email, names, phone, company, loyalty tier and points, segment,"
        " default shipping address)"
        f" and [bold]{orders:,}[/bold] phone and marketplace orders (table orders)."
    )

    demo.step("2. A local BigCommerce")
    demo.say(
        f"The emulator answers at {escape(emulator.api_url)} for store "
        f"[bold]{escape(emulator.store_hash)}[/bold]. It has the signup form field 'Segment' but"
        " no customer attributes yet: bcsync creates 'Loyalty Tier' and 'Loyalty Points' itself"
        " (create_missing_attributes: true)."
    )
    _write_project(project, emulator.api_url, emulator.store_hash, emulator.token)
    demo.say(
        "The project file (bcsync.yml); the URL, store hash and token come from .env next to it:"
    )
    demo.console.print(Syntax(PROJECT_FILE, "yaml", background_color="default"))

    demo.step("3. Check, plan and the first run")
    demo.bcsync("check")
    demo.bcsync("plan", SYNC)
    before = demo.stats()
    demo.bcsync("run", SYNC)
    demo.show_calls(before, "API calls of the first run")

    demo.step("4. The warehouse changes")
    changes = change_warehouse(project / "warehouse.duckdb")
    demo.say(
        f"{len(changes.added)} new customers, {len(changes.edited)} edited (new loyalty tier and"
        f" points), {len(changes.removed)} removed, and customer {changes.bad_email_key} with the"
        f" email {BAD_EMAIL!r}."
    )
    demo.bcsync("plan", SYNC)
    before = demo.stats()
    demo.bcsync("run", SYNC)
    demo.show_calls(before, "API calls of the second run: only the changes")

    demo.step("5. Nothing changed: not one API call")
    before = demo.stats()
    demo.bcsync("run", SYNC)
    demo.show_calls(before, "API calls of the third run")

    tell_orders(demo)

    demo.step("9. What BigCommerce holds now")
    demo.show_store()
    demo.show_orders()
    demo.bcsync("runs")


def tell_orders(demo: Demo) -> None:
    """Orders: created by an insert sync, then shipped in the warehouse and pushed as updates."""
    warehouse = demo.project / "warehouse.duckdb"
    demo.step("6. Orders from the warehouse")
    demo.say(
        "Each order goes in one request (the v2 API has no batch), sent concurrently under the"
        " store's quota. Every order carries external_order_id and external_source: bcsync, so a"
        " lost answer is settled by looking the order up, never by sending it twice."
    )
    demo.bcsync("plan", INSERT_SYNC)
    before = demo.stats()
    demo.bcsync("run", INSERT_SYNC)
    demo.show_calls(before, "API calls of the orders run")

    demo.step("7. The warehouse ships orders")
    response = demo.admin.get("/_emulator/dump")
    response.raise_for_status()
    loaded = load_store_orders(warehouse, response.json()["orders"])
    shipped = ship_orders(warehouse)
    demo.say(
        f"The warehouse loaded BigCommerce's {loaded} order ids back (as an ELT tool would), and"
        f" {len(shipped)} orders were shipped or completed, with tracking numbers."
    )
    demo.bcsync("plan", STATUS_SYNC)
    before = demo.stats()
    demo.bcsync("run", STATUS_SYNC)
    demo.show_calls(before, "API calls of the status run: one update per shipped order")

    demo.step("8. Orders again: nothing changed, nothing sent")
    before = demo.stats()
    demo.bcsync("run", INSERT_SYNC, STATUS_SYNC)
    demo.show_calls(before, "API calls of the rerun")


def run_demo(
    directory: Path | None = None,
    *,
    bcsync: CommandRunner,
    console: Console,
    customers: int = 2_500,
) -> int:
    """Tell the whole story on ``console``, running each command with ``bcsync``; return the
    exit code (0 when every step ended as expected)."""
    from bcsync.emulator.server import start_in_thread
    from bcsync.emulator.settings import EmulatorSettings

    project = directory or Path(tempfile.mkdtemp(prefix="bcsync-demo-"))
    project.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # A generous quota (a real store allows 150-450 per 30 s) keeps the demo quick while the
    # rate governor still paces by the headers and the plan estimates a real duration.
    emulator = start_in_thread(EmulatorSettings(quota=DEMO_QUOTA, window_ms=DEMO_WINDOW_MS), port=0)
    try:
        with httpx.Client(base_url=emulator.url, timeout=30) as admin:
            tell(Demo(project, console, admin, bcsync), emulator, customers)
    except DemoStepFailed as exc:
        console.print(f"\n[bold red]The demo stopped:[/bold red] {escape(str(exc))}")
        return 1
    finally:
        emulator.stop()
    console.print()
    console.rule("[bold green]Done")
    console.print(
        f"The demo took {time.monotonic() - started:.0f} s. Its project stays in"
        f" {escape(str(project))}; look around with\n"
        f"  bcsync --project {escape(str(project))} runs\n"
        f"  bcsync --project {escape(str(project))} state show {SYNC}\n"
        f"or look at its runs, rows and API calls in your browser with\n"
        f"  bcsync --project {escape(str(project))} serve   (then open http://127.0.0.1:8600/)"
    )
    return 0
