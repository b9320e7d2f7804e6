"""How the command line shows results to a person: rich tables and short lines.

Part of the CLI layer (``bcsync.cli.commands`` and the demo call these; nothing else
prints). Every function takes the console to print on, so the caller decides between stdout
and stderr.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bcsync.run.results import CheckReport, PlanResult, RunResult
from bcsync.vocabulary import COUNT_KEYS, OPERATIONS

STATUS_STYLES = {
    "success": "bold green",
    "warning": "bold yellow",
    "failed": "bold red",
    "skipped": "bold blue",  # another run held the lock: nothing went wrong
    "cancelled": "bold red",
    "interrupted": "bold red",
}
ROWS_IN_SUMMARY = 5
SNAPSHOT_LINES = (
    ("total", "rows remembered"),
    ("synced", "last write confirmed by BigCommerce"),
    ("failed", "last write rejected; retried next run"),
    ("pending", "first write never confirmed"),
    ("in_doubt", "write in flight when a run died; settled next run"),
    ("owned", "records this sync created or matched (only these are ever cleared/deleted)"),
    ("released", "rows that left (or a reset): their records are kept, found again on return"),
)
RUN_ID_SHOWN = 8  # a prefix `bcsync show` accepts; unique in practice for 128-bit ids
PIPED_WIDTH = 160


def console(*, stderr: bool = False) -> Console:
    """A rich console that keeps lines whole (paths and commands stay copyable) and, when the
    output is piped or logged, draws tables 160 wide instead of truncating them to 80."""
    screen = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not screen.is_terminal and "COLUMNS" not in os.environ:
        screen.width = PIPED_WIDTH
    return screen


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLES.get(status, 'bold')}]{escape(status)}[/]"


def check_reports(out: Console, reports: Sequence[CheckReport]) -> None:
    """One line per checked scope: ``✓ name`` or ``✗ name`` followed by its problems."""
    for report in reports:
        name = report.sync or "run store"  # the one project-wide report (``Engine.check``)
        if report.ok:
            out.print(f"[green]✓[/green] {escape(name)}")
            continue
        out.print(f"[red]✗[/red] {escape(name)}")
        for problem in report.problems:
            out.print(f"    {escape(problem)}")
    failing = sum(1 for report in reports if not report.ok)
    if failing:
        out.print(f"[red]{failing} of {len(reports)} failed the check.[/red]")
    else:
        out.print("[green]Everything checks out.[/green]")


def plan(out: Console, result: PlanResult) -> None:
    """The plan as a user reads it: what changed, what will be sent, how long it will take."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    table.add_row("rows", _counts(result.counts, COUNT_KEYS[:5]))
    table.add_row("operations", _counts(result.operations, OPERATIONS))
    table.add_row(
        "estimate",
        f"{result.estimated_api_calls:,} API calls, about {_duration(result.estimated_seconds)}"
        " under the store's quota",
    )
    if result.planner is not None:
        report = result.planner
        where = "in the warehouse" if report.planner == "warehouse" else "locally"
        table.add_row(
            "planner",
            f"{report.planner}: {report.scanned:,} rows scanned {where}, {report.rows_read:,} "
            f"read out ({_size(report.bytes_read)})",
        )
    out.print(f"[bold]Plan for {escape(result.sync)}[/bold]")
    out.print(table)
    _row_list(out, "Invalid rows (will not be sent)", result.invalid_rows, ROWS_IN_SUMMARY)


def run_summary(
    out: Console, result: RunResult, *, hint: bool = True, listed: int = ROWS_IN_SUMMARY
) -> None:
    """A run's summary: status, counts, API calls and its first ``listed`` rejected/invalid
    rows, with the hint to ``bcsync show RUN_ID --rows`` when there are any."""
    header = f"[bold]{escape(result.sync)}[/bold]  {styled_status(result.status)}"
    elapsed = _elapsed(result.started_at, result.finished_at)
    if elapsed:
        header += f"  in {elapsed}"
    out.print(header + f"  [dim]run {escape(result.run_id)}[/dim]")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    if result.status == "skipped":  # refused at the start: nothing was read or sent
        table.add_row("reason", escape(result.error or ""))
        out.print(table)
        out.print()
        return
    table.add_row("rows", _counts(result.counts, COUNT_KEYS[:5]))
    table.add_row("sent", _counts(result.counts, COUNT_KEYS[5:]))
    table.add_row("api calls", f"{result.api_calls:,}")
    if result.error:
        table.add_row("error", f"[red]{escape(result.error)}[/red]")
    out.print(table)
    if listed:
        _row_list(out, "Rejected by BigCommerce", result.rejected_rows, listed)
        _row_list(out, "Invalid (not sent)", result.invalid_rows, listed)
    bad_rows = result.counts.get("rejected", 0) + result.counts.get("invalid", 0)
    if hint and (bad_rows or result.rejected_rows or result.invalid_rows):
        out.print(f"[dim]Every row: bcsync show {escape(result.run_id)} --rows[/dim]")
    out.print()


def all_rows(
    out: Console, rejected: Sequence[Mapping[str, Any]], invalid: Sequence[Mapping[str, Any]]
) -> None:
    """Every rejected and invalid row of a run (``show --rows``)."""
    _row_list(out, "Rejected by BigCommerce", rejected, None)
    _row_list(out, "Invalid (not sent)", invalid, None)
    if not rejected and not invalid:
        out.print("No rejected or invalid rows.")


def run_history(out: Console, runs: Sequence[Mapping[str, Any]]) -> None:
    """Run history (run JSON documents) as a table, newest first."""
    if not runs:
        out.print("No runs yet.")
        return
    # Fits 80 columns: an id prefix is enough for `bcsync show`; times are UTC to the minute.
    table = Table(
        box=None, padding=(0, 1), pad_edge=False, collapse_padding=True, header_style="bold"
    )
    for name in ("run", "sync", "status", "started (UTC)", "took"):
        table.add_column(name, no_wrap=name != "sync", min_width=6 if name == "sync" else None)
    for name in ("rows", "sent", "rejected", "invalid"):
        table.add_column(name, justify="right", no_wrap=True)
    for run in runs:
        counts = run["counts"]
        # A skipped run read nothing: dashes, not zeros that would read as an empty model.
        shown = (
            ["–"] * 4
            if run["status"] == "skipped"
            else [f"{counts[key]:,}" for key in ("queried", "succeeded", "rejected", "invalid")]
        )
        table.add_row(
            escape(run["run_id"][:RUN_ID_SHOWN]),
            escape(run["sync"]),
            styled_status(run["status"]),
            escape(str(run["started_at"])[:16].replace("T", " ")),
            _elapsed(run["started_at"], run["finished_at"]) or "–",
            *shown,
        )
    out.print(table)


def snapshot(
    out: Console,
    sync: str,
    path: Path,
    summary: Mapping[str, int] | None,
    unsettled: Sequence[Mapping[str, Any]] = (),
) -> None:
    """What a sync's snapshot holds (``state show``), and its failed and in-doubt rows."""
    if summary is None:
        out.print(f"{escape(sync)}: no snapshot yet (the sync has not run).")
        return
    out.print(f"[bold]Snapshot of {escape(sync)}[/bold]  [dim]{escape(str(path))}[/dim]")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for key, meaning in SNAPSHOT_LINES:
        table.add_row(key.replace("_", " "), f"{summary.get(key, 0):,}", meaning)
    out.print(table)
    if not unsettled:
        return
    rows = Table(title="Rows not settled", title_justify="left")
    for name in ("pk", "state", "attempts", "since (UTC)", "last error"):
        rows.add_column(name, overflow="fold")
    for row in unsettled:
        state = f"in doubt: {row['in_flight']}" if row["in_flight"] else str(row["status"])
        since = datetime.fromisoformat(str(row["updated_at"])).strftime("%Y-%m-%d %H:%M")
        rows.add_row(
            escape(str(row["pk"])),
            escape(state),
            str(row["attempts"]),
            since,
            escape(str(row["error"] or "")),
        )
    out.print(rows)
    shown, total = len(unsettled), summary.get("unsettled", 0)
    if shown < total:
        out.print(f"[dim]{shown} of {total:,} shown; --rows lists them all.[/dim]")


def emulator_banner(out: Console, base_url: str, store_hash: str, token: str) -> None:
    """Where the emulator listens and the credentials it accepts (fake ones, by design)."""
    out.print(f"[bold]BigCommerce emulator[/bold] listening on {escape(base_url)}")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    table.add_row("api_url", escape(base_url))
    table.add_row("store_hash", escape(store_hash))
    table.add_row("access_token", escape(token))
    out.print(table)
    out.print("For a project's .env (the names `bcsync init` uses):")
    out.print(f"  BIGCOMMERCE_API_URL={escape(base_url)}")
    out.print(f"  BIGCOMMERCE_STORE_HASH={escape(store_hash)}")
    out.print(f"  BIGCOMMERCE_ACCESS_TOKEN={escape(token)}")
    out.print("[dim]Press Ctrl-C to stop.[/dim]")


def _row_list(
    out: Console, title: str, rows: Sequence[Mapping[str, Any]], limit: int | None
) -> None:
    if not rows:
        return
    shown = rows if limit is None else rows[:limit]
    out.print(f"  [bold]{title}[/bold] ({len(rows):,}{'+' if len(rows) >= 100 else ''}):")
    for row in shown:
        what = row.get("error") or row.get("reason") or ""
        op = f" {row['op']}" if row.get("op") else ""
        out.print(f"    pk {escape(str(row.get('pk')))}{escape(op)}: {escape(str(what))}")
    if len(rows) > len(shown):
        out.print(f"    … and {len(rows) - len(shown):,} more")


def _counts(counts: Mapping[str, int], keys: Iterable[str]) -> str:
    return "  ".join(f"{key} {int(counts.get(key, 0)):,}" for key in keys)


def _elapsed(started_at: str | None, finished_at: str | None) -> str:
    if not started_at or not finished_at:
        return ""
    try:
        seconds = (
            datetime.fromisoformat(finished_at) - datetime.fromisoformat(started_at)
        ).total_seconds()
    except ValueError:
        return ""
    return _duration(seconds)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def call_json(call: Any) -> dict[str, Any]:
    """One recorded API call as JSON (``ApiCallRecord``; the token is already ``***``)."""
    return {
        "seq": call.seq,
        "started_at": call.started_at.isoformat(),
        "duration_ms": round(call.duration_ms, 1),
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "attempt": call.attempt,
        "status": call.status,
        "error": call.error,
        "pks": list(call.pks),
        "request_headers": dict(call.request_headers),
        "request_body": call.request_body,
        "response_headers": dict(call.response_headers),
        "response_body": call.response_body,
    }


def api_calls(
    out: Console,
    run_id: str,
    calls: Sequence[Any],
    *,
    pk: str | None,
    row: Mapping[str, Any] | None,
) -> None:
    """The debugger's view: a table of calls, and with ``pk`` each call's exchange in full."""
    title = f"API calls of run {run_id}" + (f" that carried row {pk}" if pk else "")
    table = Table(title=escape(title), title_justify="left")
    for column in ("#", "time", "method", "path", "status", "try", "ms", "rows"):
        table.add_column(column, justify="right" if column in ("#", "try", "ms") else "left")
    for call in calls:
        status = str(call.status) if call.status is not None else f"[red]{call.error}[/red]"
        if call.status is not None and call.status >= 400:
            status = f"[red]{call.status}[/red]"
        path = call.path + (f"?{call.query}" if call.query else "")
        rows = ", ".join(call.pks[:5]) + (f" (+{len(call.pks) - 5})" if len(call.pks) > 5 else "")
        table.add_row(
            str(call.seq),
            call.started_at.strftime("%H:%M:%S.%f")[:-3],
            call.method,
            escape(path),
            status,
            str(call.attempt),
            f"{call.duration_ms:.0f}",
            escape(rows),
        )
    out.print(table)
    if pk is None:
        out.print(
            "Add [bold]--pk PK[/bold] for one row's calls in full, [bold]--har FILE[/bold] "
            "to open them in browser dev tools."
        )
        return
    for call in calls:
        out.rule(f"#{call.seq} {call.method} {escape(call.path)} → {call.status or call.error}")
        out.print(f"[bold]request[/bold] {escape(call.request_body or '(no body)')}")
        limits = {k: v for k, v in call.response_headers.items() if "rate-limit" in k.lower()}
        if limits:
            out.print(
                "[bold]rate limit[/bold] "
                + escape(", ".join(f"{k}: {v}" for k, v in limits.items()))
            )
        out.print(f"[bold]response[/bold] {escape(call.response_body or '(no body)')}")
    if row is not None:
        reason = row.get("error") or row.get("reason") or ""
        out.print(f"row {escape(pk)}: [bold]{row.get('outcome')}[/bold] {escape(str(reason))}")
    else:
        out.print(f"row {escape(pk)}: no outcome recorded in this run")


def schedules(out: Console, report: Sequence[Mapping[str, Any]]) -> None:
    """``bcsync schedule``: per sync, its schedule in words and its next fire times."""
    if not report:
        out.print("No syncs defined.")
        return
    for entry in report:
        out.print(f"[bold]{escape(entry['sync'])}[/bold]: {escape(entry['description'])}")
        for tick in entry["next_fire_times"]:
            utc = datetime.fromisoformat(tick["utc"]).strftime("%Y-%m-%d %H:%M UTC")
            line = f"  {utc}"
            if tick["local"] is not None:
                local = datetime.fromisoformat(tick["local"])
                zone = entry["schedule"]["timezone"]
                line += f"  ({local.strftime('%Y-%m-%d %H:%M')} {escape(zone)})"
            out.print(line)
        plan = entry["schedule"]
        if plan is not None and plan["kind"] != "after" and not entry["next_fire_times"]:
            out.print("  [dim]no more fire times (end_at has passed)[/dim]")


def _size(count: int) -> str:
    """A byte count as people read it: ``0 B``, ``12.3 KB``, ``4.5 MB``."""
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{count} B"
