"""``bcsync scheduler``: fire this project's schedules until SIGINT or SIGTERM.

Each tick recorded by this process is printed as one line (queued, or skipped and why), and
each run it executed as it ends. Any number of schedulers may share one run store: every tick is
claimed once (``bcsync.scheduling``). Registered by the main CLI with
``app.command()(scheduler)``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from bcsync.cli.render import console
from bcsync.errors import BcsyncError, ConfigError

if TYPE_CHECKING:
    from types import FrameType

    from bcsync.run.results import RunResult
    from bcsync.scheduling.scheduler import Fired

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DRAIN_SECONDS = 600.0  # how long a stopping scheduler lets its runs in progress finish


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _fired(event: Fired) -> None:
    _print(f"{event.at.strftime('%H:%M:%S')} tick {event.line()}")


def _done(sync: str, run_id: str, result: RunResult | None, error: BaseException | None) -> None:
    if error is not None:
        _print(f"run {run_id} of {sync} did not run: {type(error).__name__}: {error}")
    elif result is not None:
        extra = f": {result.error}" if result.error else ""
        _print(f"run {run_id} of {sync} ended {result.status}{extra}")


def _error(exc: BaseException) -> None:
    text = str(exc) if isinstance(exc, BcsyncError) else f"{type(exc).__name__}: {exc}"
    console(stderr=True).print(f"[yellow]scheduler:[/yellow] {escape(text)} (retrying)")


def scheduler(ctx: typer.Context) -> None:
    """Run the syncs' schedules (every, cron, after) until Ctrl-C or SIGTERM."""
    from bcsync.config.project import load_config
    from bcsync.scheduling import service

    project: Path = ctx.find_root().obj.project
    err = console(stderr=True)
    try:
        config = load_config(project)
        if not service.has_schedules(config):
            err.print("no sync has a schedule: nothing to do (see `bcsync schedule`)")
            raise typer.Exit(EXIT_OK)
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        running = service.start(config, on_fire=_fired, on_error=_error, on_done=_done)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    except BcsyncError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    err.print(f"bcsync scheduler (pid {os.getpid()}): Ctrl-C to stop")
    try:
        while not stop.wait(0.5):
            if not running.thread.is_alive():
                break
    finally:
        # A second Ctrl-C or SIGTERM stops at once; the runs cut short are taken over as
        # interrupted by the next run of their syncs.
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        running.stop()
    busy = running.busy_syncs()
    if busy:
        err.print(
            f"waiting for the runs of {', '.join(busy)} to end (Ctrl-C again to stop at once)"
        )
        running.join_runs(DRAIN_SECONDS)
    err.print("scheduler stopped")
