"""The ``bcsync`` command line: a thin Typer layer over the engine. Only this module prints.

Conventions (DESIGN §1.2): human output goes to stdout through rich; errors, notices and the
progress bar go to stderr. With ``--json`` stdout carries exactly one JSON document. Exit codes:
0 ok (a run with status ``warning`` included, and one ``skipped`` because another run of the sync
held its lock: a scheduler's overlapping trigger is not a failure), 1 a run failed, 2 usage or
configuration error.
"""

from __future__ import annotations

# isort: off
from bcsync.cli import loading  # first: the cyclic garbage collector rests while the CLI loads
# isort: on

import contextlib
import functools
import gc
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.exceptions import TyperException

from bcsync import __version__
from bcsync.cli import render
from bcsync.cli.alerts import alerts_app
from bcsync.cli.fields import fields
from bcsync.cli.progress import RunProgress
from bcsync.cli.render import console
from bcsync.cli.scheduling import scheduler
from bcsync.cli.trigger import trigger
from bcsync.cli.warehouse_logs import logs_app
from bcsync.cli.workers import worker
from bcsync.errors import BcsyncError, ConfigError
from bcsync.run.results import MAX_LISTED_ROWS
from bcsync.vocabulary import COUNT_KEYS

if TYPE_CHECKING:  # imported lazily at run time so `bcsync --help` starts fast
    from bcsync.api import Project
    from bcsync.config.project import ProjectConfig
    from bcsync.run.events import Observer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="bcsync",
    help="Keep BigCommerce customers and orders in step with a SQL model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state_app = typer.Typer(help="Inspect or forget a sync's snapshot.", no_args_is_help=True)
app.add_typer(state_app, name="state")
app.add_typer(alerts_app, name="alerts")
app.add_typer(logs_app, name="logs")
app.command()(fields)
app.command()(scheduler)
app.command()(trigger)
app.command()(worker)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Invocation:
    """What the global options say: where the project is (its directory or its bcsync.yml)."""

    project: Path


def _out() -> Console:
    return console()


def _err() -> Console:
    return console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    _err().print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn bcsync errors into ``error: …`` on stderr and the contract's exit code.

    Anything else is a bug, or a value nothing foresaw: it too ends as one ``error:`` line (exit
    1), as a run's internal error does (``bcsync.run.engine``), never as a Python traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except BcsyncError as exc:
            raise fail(str(exc), EXIT_FAILED) from None
        except (typer.Exit, typer.Abort, TyperException):  # typer's own ways out
            raise
        except Exception as exc:
            raise fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_FAILED) from None

    return wrapper


def emit_json(document: Any) -> None:
    """The single JSON document of a ``--json`` command."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _invocation(ctx: typer.Context) -> Invocation:
    obj = ctx.find_root().obj
    assert isinstance(obj, Invocation)
    return obj


def _config(ctx: typer.Context, known: Sequence[str] = ()) -> ProjectConfig:
    """The configuration of the project the global options name; every sync in ``known`` must
    be defined (a ConfigError names the syncs that exist)."""
    from bcsync.config.project import load_config

    config = load_config(_invocation(ctx).project)
    for name in known:
        config.sync(name)
    return config


def _project(config: ProjectConfig, observers: Sequence[Observer] = ()) -> Project:
    """The public API over ``config``: everything the commands read and do goes through it."""
    from bcsync.api import Project

    return Project(config, observers)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@app.callback()
def _root(
    ctx: typer.Context,
    project: Annotated[
        Path,
        typer.Option(
            "--project", help="Project directory or its bcsync.yml.", show_default="current dir"
        ),
    ] = Path("."),
) -> None:
    """bcsync: reverse ETL from your warehouse to BigCommerce."""
    ctx.obj = Invocation(project=project)


@app.command()
def version() -> None:
    """Print the bcsync version."""
    typer.echo(__version__)


@app.command()
@reports_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
) -> None:
    """Scaffold a project: bcsync.yml, models/ and .env.example."""
    from bcsync.cli.scaffold import init_project

    created = init_project(directory)
    out = _out()
    for path in created:
        out.print(f"  created {escape(str(path))}")
    out.print(
        f"Project ready in {escape(str(directory))}. Next: copy .env.example to .env and fill"
        " it in, then `bcsync check`."
    )


@app.command()
@reports_errors
def check(
    ctx: typer.Context,
    syncs: Annotated[
        list[str] | None, typer.Argument(help="Syncs to check (default: all).")
    ] = None,
) -> None:
    """Validate the project: config, warehouse, BigCommerce credentials, every mapping."""
    reports = _project(_config(ctx, syncs or ())).check(list(syncs) if syncs else None)
    render.check_reports(_out(), reports)
    if not all(report.ok for report in reports):
        raise typer.Exit(EXIT_USAGE)


@app.command()
@reports_errors
def plan(
    ctx: typer.Context,
    sync: Annotated[str, typer.Argument(help="The sync to plan.")],
    as_json: JsonOption = False,
) -> None:
    """Show what the next run would do. Writes nothing to BigCommerce."""
    config = _config(ctx, [sync])
    with RunProgress() as bar:
        result = _project(config, [bar]).plan(sync)
    if as_json:
        emit_json(result.to_json())
    else:
        render.plan(_out(), result)


@app.command()
@reports_errors
def run(
    ctx: typer.Context,
    syncs: Annotated[list[str] | None, typer.Argument(help="Syncs to run.")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every sync.")] = False,
    as_json: JsonOption = False,
    full_resync: Annotated[
        bool, typer.Option("--full-resync", help="Treat every row as added; no deletes.")
    ] = False,
    override_guards: Annotated[
        bool,
        typer.Option("--override-guards", help="Send even if the delete guards would stop it."),
    ] = False,
) -> None:
    """Run syncs, with a progress bar and a summary at the end.

    Exit code 0 when every run succeeded (some rows rejected or invalid included) or was skipped
    because another run of the sync was in progress; 1 when one failed; 2 for a config error.
    """
    if bool(syncs) == run_all:
        raise fail("name the syncs to run, or pass --all (not both)", EXIT_USAGE)
    config = _config(ctx, syncs or ())
    names = sorted(config.syncs) if run_all else list(dict.fromkeys(syncs or ()))
    out = _out()
    documents: list[dict[str, Any]] = []
    exit_code = EXIT_OK
    with RunProgress() as bar:
        project = _project(config, [bar])
        for name in names:
            try:
                result = project.run(
                    name, full_resync=full_resync, override_guards=override_guards, trigger="cli"
                )
            except BcsyncError as exc:
                # The engine turns run failures into failed runs; what it raises stopped the
                # sync before a run was recorded. Other syncs still run.
                code = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
                exit_code = max(exit_code, code)
                _err().print(f"[red]error:[/red] {escape(str(exc))}")
                documents.append(_unstarted_run(name, str(exc)))
                continue
            exit_code = max(exit_code, result.exit_code)
            documents.append(result.to_json())
            if not as_json:
                render.run_summary(out, result)
    if as_json:
        emit_json({"runs": documents} if run_all or len(names) > 1 else documents[0])
    raise typer.Exit(exit_code)


def _unstarted_run(sync: str, error: str) -> dict[str, Any]:
    """The run document of a sync the engine refused to start (no run id was recorded)."""
    return {
        "run_id": None,
        "sync": sync,
        "status": "failed",
        "started_at": None,
        "finished_at": None,
        "error": error,
        "counts": dict.fromkeys(COUNT_KEYS, 0),
        "api_calls": 0,
        "rejected_rows": [],
        "invalid_rows": [],
    }


@app.command()
@reports_errors
def runs(
    ctx: typer.Context,
    sync: Annotated[str | None, typer.Argument(help="Only this sync's runs.")] = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
) -> None:
    """Run history, newest first."""
    history = [record.to_json() for record in _project(_config(ctx)).runs(sync, limit=limit)]
    if as_json:
        emit_json({"runs": history})
    else:
        render.run_history(_out(), history)


@app.command()
@reports_errors
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id (a unique prefix is enough).")],
    rows: Annotated[
        bool, typer.Option("--rows", help="List every rejected and invalid row.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """One run: status, counts, rejected and invalid rows with reasons."""
    project = _project(_config(ctx))
    result = project.result(run_id, limit=None if rows else MAX_LISTED_ROWS)
    if as_json:
        document = result.to_json()
        if rows:  # the full lists, not the 100 the run JSON is capped at
            document["rejected_rows"] = [dict(row) for row in result.rejected_rows]
            document["invalid_rows"] = [dict(row) for row in result.invalid_rows]
        emit_json(document)
    elif rows:
        render.run_summary(_out(), result, hint=False, listed=0)
        render.all_rows(_out(), result.rejected_rows, result.invalid_rows)
    else:
        render.run_summary(_out(), result)
    failed_rows = result.counts.get("rejected", 0) + result.counts.get("invalid", 0)
    if not as_json and failed_rows and not (result.rejected_rows or result.invalid_rows):
        _out().print(
            "[dim]This run's rows are no longer kept (state.retention_days); its counts are.[/dim]"
        )


@app.command()
@reports_errors
def debug(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id (a unique prefix is enough).")],
    pk: Annotated[
        str | None, typer.Option("--pk", help="Only the calls that carried this row.")
    ] = None,
    har: Annotated[
        Path | None, typer.Option("--har", help="Write the calls to this HAR 1.2 file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A run's API calls: request, response, timing and the rows each carried."""
    project = _project(_config(ctx))
    found = project.calls(run_id, pk=pk)
    if har is not None:
        har.write_text(project.har(found.run_id, pk=pk))
        _err().print(f"wrote {len(found.calls)} calls to {escape(str(har))}")
    if as_json:
        document: dict[str, Any] = {
            "run_id": found.run_id,
            "sync": found.sync,
            "calls": [render.call_json(call) for call in found.calls],
        }
        if pk is not None:
            document["pk"] = pk
            document["row"] = found.row_json()
        emit_json(document)
    elif har is None:
        render.api_calls(_out(), found.run_id, found.calls, pk=pk, row=found.row_json())


@state_app.command("show")
@reports_errors
def state_show(
    ctx: typer.Context,
    sync: Annotated[str, typer.Argument(help="The sync whose snapshot to show.")],
    rows: Annotated[
        bool, typer.Option("--rows", help="List every failed and in-doubt row.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """What the sync's snapshot holds: rows synced, failed, in doubt, and why rows fail."""
    state = _project(_config(ctx, [sync])).state(sync, limit=None if rows else MAX_LISTED_ROWS)
    document = state.to_json()
    if as_json:
        emit_json(document)
    else:
        render.snapshot(_out(), sync, state.path, document["snapshot"], document["unsettled"])


@state_app.command("reset")
@reports_errors
def state_reset(
    ctx: typer.Context,
    sync: Annotated[str, typer.Argument(help="The sync whose snapshot to forget.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a sync's snapshot: the next run treats every row as added."""
    project = _project(_config(ctx, [sync]))
    if not project.has_snapshot(sync):
        _out().print(f"{sync}: no snapshot, nothing to reset.")
        return
    if not yes:
        typer.confirm(
            f"Forget the snapshot of {sync!r}? Its next run treats every row as new"
            " (matching still finds existing records)",
            abort=True,
            err=True,
        )
    forgotten = project.reset(sync)
    _out().print(f"{sync}: snapshot reset ({forgotten:,} rows forgotten).")
    config = project.engine.config
    if config.planner_for(sync) == "warehouse":
        _out().print(
            f"{sync}: dropped its warehouse planner table {config.planner_schema}.{sync} "
            "(the next run rebuilds it)."
        )


@app.command()
@reports_errors
def schedule(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each sync's schedule in plain words and its next five fire times."""
    from bcsync.config.schedule import schedule_report

    report = schedule_report(_config(ctx).syncs.values(), datetime.now(UTC))
    if as_json:
        emit_json({"syncs": report})
    else:
        render.schedules(_out(), report)


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8787,
    store_hash: Annotated[str | None, typer.Option(help="Store hash to answer for.")] = None,
    token: Annotated[str | None, typer.Option(help="Access token to accept.")] = None,
    quota: Annotated[int | None, typer.Option(help="Requests per window (0: unlimited).")] = None,
    window_ms: Annotated[int | None, typer.Option(help="Rate-limit window in ms.")] = None,
) -> None:
    """Run the local BigCommerce emulator until Ctrl-C."""
    from bcsync.emulator.server import serve
    from bcsync.emulator.settings import EmulatorSettings

    changes = {"store_hash": store_hash, "token": token, "quota": quota, "window_ms": window_ms}
    settings = EmulatorSettings()
    settings.update({key: value for key, value in changes.items() if value is not None})
    out = _out()

    def announce(base_url: str) -> None:
        render.emulator_banner(out, base_url, settings.store_hash, settings.token)

    # serve() turns SIGINT/SIGTERM into a clean shutdown; the suppress covers the moment
    # before its handlers are installed.
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(settings, host, port, on_ready=announce)
    except OSError as exc:  # the port is taken, or the host is not ours
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_USAGE) from None
    _err().print("emulator stopped")


@app.command()
@reports_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8600,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding the UI token (or BCSYNC_UI_TOKEN)."),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Hide Run, Plan, Resync and Send test.")
    ] = False,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not run the syncs' schedules here.")
    ] = False,
) -> None:
    """Serve the web UI and its JSON API over this project's runs, and run the syncs'
    schedules (unless --no-scheduler), until Ctrl-C."""
    from bcsync.config.editing.setup_mode import load_for_setup
    from bcsync.web.server import serve as serve_ui
    from bcsync.web.server import settings_for, ui_token

    settings = settings_for(host, read_only=read_only, token=ui_token(token_file))
    # A project the setup forms can fix (unset variables, no destination) is served anyway.
    loaded = load_for_setup(_invocation(ctx).project)
    project = _project(loaded.config)
    _err().print(f"bcsync UI on http://{host}:{port}/ (Ctrl-C to stop)")
    if not loaded.ready:
        _err().print(f"set up the project at http://{host}:{port}/setup (runs wait until then)")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve_ui(
                project,
                host=host,
                port=port,
                settings=settings,
                scheduler=not no_scheduler,
                setup_problems=loaded.problems,
            )
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_USAGE) from None


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to build the demo project (default: temp).")
    ] = None,
) -> None:
    """The whole story: a sample warehouse, the emulator, a sync, a change, a second run."""
    from bcsync.demo.script import run_demo

    raise typer.Exit(run_demo(directory, bcsync=invoke, console=console()))


def invoke(args: Sequence[str]) -> int:
    """Run the CLI in-process on ``args`` and return its exit code (the demo uses this)."""
    try:
        app(args=list(args), prog_name="bcsync")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    return EXIT_OK


loading.done()


def main() -> None:
    # What the command line imported lives as long as the process and is out of the cyclic
    # garbage collector's way by now (``loading.done``), so its full collections skip it.
    try:
        app(prog_name="bcsync")
    finally:
        # The process ends here. Freezing what the command made too spares the collector's
        # passes over it during interpreter shutdown (~15 ms after a run, which counts against
        # the quota); what holds data (run store, snapshots, warehouse) is closed by now.
        gc.freeze()
