"""``bcsync alerts …``: a Typer sub-app, registered by the main CLI with
``app.add_typer(alerts_app, name="alerts")``.

``bcsync alerts test CHANNEL`` sends a test message through one channel. Exit codes: 0 delivered,
1 not delivered, 2 unknown channel or bad configuration.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bcsync.alerts.delivery import DEFAULT_RETRY
from bcsync.alerts.dispatch import send_test
from bcsync.config.project import load_config
from bcsync.errors import BcsyncError, ConfigError
from bcsync.state import RunStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

RETRY = DEFAULT_RETRY  # tries per send; tests make the backoff zero

alerts_app = typer.Typer(help="Send and check alerts.", no_args_is_help=True)


@alerts_app.callback()
def _alerts() -> None:
    """Send and check alerts (channels are defined under ``alerts:`` in bcsync.yml)."""
    # A callback keeps ``test`` a subcommand even while it is the only one.


def _project(ctx: typer.Context, given: Path | None) -> Path:
    """``--project`` given here, else the main CLI's global ``--project``, else the cwd."""
    if given is not None:
        return given
    root = ctx.find_root().obj
    project = getattr(root, "project", None)
    return project if isinstance(project, Path) else Path(".")


@alerts_app.command("test")
def test_channel(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="The channel's name under alerts.channels.")],
    project: Annotated[
        Path | None,
        typer.Option("--project", help="Project directory or its bcsync.yml."),
    ] = None,
) -> None:
    """Send a test message through CHANNEL; exit 0 if it was delivered, 1 if not."""
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    try:
        config = load_config(_project(ctx, project))
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    channels = config.alerts.channels if config.alerts else {}
    if channel not in channels:
        known = ", ".join(sorted(channels)) or "none defined"
        err.print(
            f"[red]error:[/red] unknown alert channel '{channel}' (defined: {known})",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_USAGE)
    log = logging.getLogger("bcsync.alerts")
    with contextlib.ExitStack() as stack:
        store: RunStore | None = None
        with contextlib.suppress(BcsyncError):  # a test still goes out without a run store
            store = stack.enter_context(RunStore.open(config.state_url))
        # Recorded in the run store's history of notifications, as a test from the UI is.
        delivery, _ = send_test(config, channel, store=store, log=log, policy=RETRY)
    if delivery.delivered:
        out.print(f"sent a test message to '{channel}' ({delivery.kind})", markup=False)
        raise typer.Exit(EXIT_OK)
    err.print(
        f"[red]error:[/red] test message to '{channel}' ({delivery.kind}) not delivered "
        f"after {delivery.attempts} attempt(s): {delivery.error}",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_FAILED)
