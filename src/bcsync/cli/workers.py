"""``bcsync worker``: run queued syncs on this machine (``executor: queue``), until Ctrl-C.

Registered by the main CLI with ``app.command()(worker)``. Start as many as you like, on as many
machines as share the PostgreSQL run store; each runs ``--concurrency`` syncs at once. Exit
codes: 0 stopped by a signal, 1 the run store or queue cannot be used, 2 the project does not run
syncs on a queue (``executor: local``) or its config is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bcsync.cli.render import console
from bcsync.errors import BcsyncError, ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Syncs this worker runs at once.")
    ] = 1,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat",
            min=0.1,
            help="Seconds between heartbeats; a worker silent for three is taken for dead and "
            "its runs go to the others (give every worker the same value).",
        ),
    ] = 10.0,
) -> None:
    """Run queued syncs (executor: queue) until Ctrl-C; start one or more per machine."""
    from bcsync.config.project import load_config
    from bcsync.executors.worker import run_worker

    err = console(stderr=True)
    root = ctx.find_root().obj
    project = getattr(root, "project", None)
    try:
        config = load_config(project if isinstance(project, Path) else Path("."))
        if config.executor != "queue":
            raise ConfigError(
                f"{config.locate('executor')}: executor: this project runs its syncs in-process "
                "(executor: local), so no run ever reaches a worker; set `executor: queue` (with "
                "a PostgreSQL state.url) to run them on workers"
            )
        # bcsync's own lines (runs starting and ending, jobs handed back); libraries' warnings.
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
        logging.getLogger("bcsync").setLevel(logging.INFO)

        def ready() -> None:
            err.print(f"bcsync worker running up to {concurrency} sync(s) at once (Ctrl-C to stop)")

        run_worker(config, concurrency=concurrency, heartbeat=heartbeat, on_ready=ready)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    except BcsyncError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    err.print("worker stopped")
