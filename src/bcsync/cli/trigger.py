"""``bcsync trigger SYNC``: start a run through a running ``bcsync serve`` (its JSON API), for a
shell, cron or an orchestrator on another machine. Registered by the main CLI with
``app.command()(trigger)``; the HTTP side is ``bcsync.client``.

Prints the run id on stdout. With ``--wait`` it follows the run to its end, prints a one-line
summary and exits as ``bcsync run`` would for that status: 0 ``success``, ``warning`` or
``skipped``; 1 ``failed``, ``cancelled`` or ``interrupted``. Other exit codes: 1 the server cannot
be reached, the sync is already running (the error names the run) or ``--timeout`` passed; 2 a
usage error, an unknown sync, or a token the server refuses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bcsync.cli.render import console, styled_status
from bcsync.client import (
    DEFAULT_SERVER,
    BadOptions,
    BcsyncClient,
    ClientError,
    Unauthorized,
    UnknownSync,
    exit_code,
    read_token,
    summary,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_SECONDS = 1.0


def trigger(
    sync: Annotated[str, typer.Argument(help="The sync to run.")],
    server: Annotated[
        str,
        typer.Option(
            "--server", envvar="BCSYNC_SERVER", help="The bcsync serve to ask (or BCSYNC_SERVER)."
        ),
    ] = DEFAULT_SERVER,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Follow the run to its end and exit with its exit code."),
    ] = False,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding the server's UI token (or BCSYNC_TOKEN)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="With --wait: give up after this many seconds."),
    ] = None,
    full_resync: Annotated[
        bool, typer.Option("--full-resync", help="Treat every row as added; no deletes.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document: the run (with --wait) or its id."),
    ] = False,
) -> None:
    """Start a run through a running `bcsync serve` and print its id; --wait follows it."""
    out, err = console(), console(stderr=True)
    try:
        with BcsyncClient(server, read_token(token_file)) as client:
            run_id = client.trigger(sync, full_resync=full_resync)
            if not wait:
                if as_json:
                    _emit({"run_id": run_id, "sync": sync, "url": f"/api/v1/runs/{run_id}"})
                else:
                    out.print(run_id)
                return
            if not as_json:
                out.print(run_id)
            run = client.wait(run_id, timeout=timeout, poll=POLL_SECONDS)
    except ClientError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        usage = isinstance(exc, (BadOptions, Unauthorized, UnknownSync))
        raise typer.Exit(EXIT_USAGE if usage else EXIT_FAILED) from None
    if as_json:
        _emit(run)
    else:
        status = str(run.get("status"))
        rest = summary(run).removeprefix(status)
        out.print(f"{escape(sync)}: {styled_status(status)}{escape(rest)}")
    raise typer.Exit(exit_code(run))


def _emit(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()
