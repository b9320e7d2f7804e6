"""A progress bar for runs, drawn on stderr from the engine's observer events.

The engine only emits events; this observer turns them into one rich progress row per run:
rows done / total, rows per second and the time left. When stderr is not a terminal the bar is
not drawn (it would only litter logs).
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from bcsync.run import events


def _rate(task: Task) -> float | None:
    """Rows per second since sending began (the plan's ``Planned`` event), None before data.

    Measured from the start of sending rather than rich's sampled speed, which needs several
    updates and the engine reports once per chunk of rows.
    """
    if task.fields.get("final_rate") is not None:
        return float(task.fields["final_rate"])
    since = task.fields.get("sending_since")
    if since is None or not task.completed:
        return None
    elapsed = task.get_time() - float(since)
    return task.completed / elapsed if elapsed > 0 else None


class RowRateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        rate = _rate(task)
        shown = "–" if rate is None else f"{rate:,.0f}"
        return Text(f"{shown} rows/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """Time left at the current rate."""

    def render(self, task: Task) -> Text:
        rate = _rate(task)
        if task.fields.get("final_rate") is not None:
            return Text("")
        if task.total is None or not rate:
            return Text("ETA –", style="progress.remaining")
        seconds = int(max(task.total - task.completed, 0) / rate)
        minutes, seconds = divmod(seconds, 60)
        return Text(f"ETA {minutes}:{seconds:02d}", style="progress.remaining")


class RunProgress:
    """Observer drawing a progress row per run on ``console`` (stderr by default).

    Use it as a context manager around the runs so the live display is started and stopped
    exactly once: ``with RunProgress() as bar: Engine(config, observers=[bar]).run(name)``.
    """

    def __init__(self, console: Console | None = None, *, enabled: bool | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._progress = Progress(
            TextColumn("[bold]{task.fields[sync]}[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            RowRateColumn(),
            EtaColumn(),
            console=self.console,
            transient=False,
            disable=not self.enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunStarted):
            self._task(event.sync, event.run_id)
        elif isinstance(event, events.StatusChanged):
            self._progress.update(self._task(event.sync, event.run_id), description=event.status)
        elif isinstance(event, events.Planned):
            task = self._task(event.sync, event.run_id)
            self._progress.update(
                task,
                total=event.operations,
                description="syncing",
                sending_since=self._progress.get_time(),
            )
        elif isinstance(event, events.Progress):
            task = self._task(event.sync, event.run_id)
            self._progress.update(task, completed=event.done, total=event.total)
        elif isinstance(event, events.RunFinished):
            result = event.result
            if result.run_id in self._tasks:
                task = self._tasks.pop(result.run_id)
                # Freeze the rate: the bar stays on screen after the run.
                shown = next(t for t in self._progress.tasks if t.id == task)
                final_rate = _rate(shown) or 0.0
                self._progress.update(task, description=result.status, final_rate=final_rate)
                self._progress.stop_task(task)

    def _task(self, sync: str, run_id: str) -> TaskID:
        if run_id not in self._tasks:
            # total=None until the plan is known: rich shows a pulsing bar meanwhile.
            self._tasks[run_id] = self._progress.add_task("starting", total=None, sync=sync)
        return self._tasks[run_id]
