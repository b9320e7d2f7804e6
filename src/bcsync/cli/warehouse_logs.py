"""``bcsync logs …``: a Typer sub-app, registered by the main CLI with
``app.add_typer(logs_app, name="logs")``.

``bcsync logs write [SYNC…] [--run ID]`` writes the warehouse logs of finished runs by hand:
the recent runs the warehouse lacks (what every run's catch-up does), or one run. A run already
in ``sync_runs`` is never written twice. Exit codes: 0 written (or nothing to write), 1 the
warehouse or run store failed, 2 bad configuration or unknown sync or run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bcsync.config.project import load_config
from bcsync.errors import BcsyncError, ConfigError
from bcsync.state import RunStore

if TYPE_CHECKING:  # imported when the command runs: `bcsync --help` needs no Arrow or DuckDB
    from bcsync.warehouse_logs import LogWrite

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

logs_app = typer.Typer(help="Write run logs to the warehouse.", no_args_is_help=True)


@logs_app.callback()
def _logs() -> None:
    """Run logs in the warehouse (``warehouse_logs:`` in bcsync.yml; see docs/warehouse-logs.md)."""
    # A callback keeps ``write`` a subcommand even while it is the only one.


def _project_path(ctx: typer.Context) -> Path:
    project = getattr(ctx.find_root().obj, "project", None)
    return project if isinstance(project, Path) else Path(".")


def _document(done: LogWrite) -> dict[str, object]:
    return {
        "sync": done.sync,
        "schema": done.schema,
        "written": list(done.written),
        "already_logged": list(done.already_logged),
        "changelog_rows": done.changelog_rows,
    }


@logs_app.command("write")
def write(
    ctx: typer.Context,
    syncs: Annotated[
        list[str] | None,
        typer.Argument(help="Syncs whose logs to write (default: every sync that has them on)."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Only this run (its id or a unique prefix).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Write finished runs missing from the warehouse's sync_runs and sync_changelog."""
    from bcsync.warehouse_logs import write_logs

    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    done: list[LogWrite] = []
    try:
        config = load_config(_project_path(ctx))
        with RunStore.open(config.state_url) as store:
            if run_id is not None:
                record = store.get_run(run_id)
                if record is None:
                    raise ConfigError(f"no run {run_id!r} in the run store")
                done.append(write_logs(config, store, record.sync, run_ids=[record.run_id]))
            else:
                names = syncs or [n for n in sorted(config.syncs) if config.warehouse_logs_for(n)]
                if not names:
                    raise ConfigError("no sync writes warehouse logs (set warehouse_logs: true)")
                done.extend(write_logs(config, store, config.sync(n).name) for n in names)
    except BcsyncError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED) from None
    if as_json:
        sys.stdout.write(json.dumps({"logs": [_document(d) for d in done]}, indent=2) + "\n")
        return
    for d in done:
        out.print(
            f"{d.sync}: wrote {len(d.written)} run(s), {d.changelog_rows} changelog row(s) to "
            f"schema {d.schema}; {len(d.already_logged)} already there",
            markup=False,
        )
