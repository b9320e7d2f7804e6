"""The Python API: ``bcsync.load_project(path).run("vip_customers")``, the one the CLI uses.

``Project`` is the one door to a project: it plans and runs syncs, and reads back what runs left
behind (the run history, one run's result, its API calls as the debugger shows them or as a HAR
file, a sync's snapshot). The CLI, the demo and a web UI read through it and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bcsync.config.project import ProjectConfig
from bcsync.errors import ConfigError, StateError
from bcsync.run.debugger import har_json
from bcsync.run.engine import Engine
from bcsync.run.events import Observer
from bcsync.run.results import MAX_LISTED_ROWS, CheckReport, PlanResult, RunResult
from bcsync.run.snapshot import SnapshotEntry, SnapshotSummary, snapshot_path
from bcsync.state import ApiCallRecord, RowOutcomeRecord, RunRecord, RunStore


@dataclass(frozen=True)
class SyncState:
    """What a sync's snapshot holds: its summary (None: no snapshot yet) and unsettled rows."""

    sync: str
    path: Path
    summary: SnapshotSummary | None
    unsettled: Sequence[SnapshotEntry]

    def unsettled_json(self) -> list[dict[str, Any]]:
        return [
            {
                "pk": e.pk,
                "status": e.status,
                "attempts": e.attempts,
                "error": e.last_error,
                "in_flight": e.pending_op,
                "dest_id": e.dest_id,
                "updated_at": e.updated_at.isoformat(),
            }
            for e in self.unsettled
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "path": str(self.path),
            "snapshot": self.summary.to_json() if self.summary is not None else None,
            "unsettled": self.unsettled_json(),
        }


@dataclass(frozen=True)
class RunCalls:
    """A run's API calls (all, or those that carried one row) and that row's last outcome."""

    run_id: str
    sync: str
    calls: Sequence[ApiCallRecord]
    pk: str | None = None
    outcome: RowOutcomeRecord | None = None  # the row's last outcome, when ``pk`` is given

    def row_json(self) -> dict[str, Any] | None:
        if self.outcome is None:
            return None
        return self.outcome.to_json() | {"outcome": self.outcome.outcome}


class Project:
    """The Python API: ``bcsync.load_project(path).run("vip_customers")``."""

    def __init__(self, config: ProjectConfig, observers: Sequence[Observer] = ()) -> None:
        self.config = config
        self.engine = Engine(config, observers=observers)

    # -- syncs -------------------------------------------------------------------------------

    def check(self, names: Sequence[str] | None = None) -> list[CheckReport]:
        return self.engine.check(names)

    def plan(self, name: str) -> PlanResult:
        return self.engine.plan(name)

    def run(
        self,
        name: str,
        *,
        full_resync: bool = False,
        override_guards: bool = False,
        trigger: str = "api",
    ) -> RunResult:
        return self.engine.run(
            name, full_resync=full_resync, override_guards=override_guards, trigger=trigger
        )

    # -- runs --------------------------------------------------------------------------------

    def runs(self, sync: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        """The latest runs (of one sync, or of all), newest first."""
        with self.engine.open_store() as store:
            return store.list_runs(sync, limit=limit)

    def result(self, run_id: str, *, limit: int | None = MAX_LISTED_ROWS) -> RunResult:
        """A recorded run (``run_id`` or a unique prefix) as a RunResult, with its first
        ``limit`` rejected and invalid rows (None: all). Raises ConfigError when no run or
        several match."""
        with self.engine.open_store() as store:
            record = _find_run(store, run_id)
            rejected = store.outcomes(record.run_id, kinds=["rejected"], limit=limit)
            invalid = store.outcomes(record.run_id, kinds=["invalid"], limit=limit)
        document = record.to_json()
        return RunResult(
            run_id=record.run_id,
            sync=record.sync,
            status=record.status,
            started_at=document["started_at"],
            finished_at=document["finished_at"],
            error=record.error,
            counts=document["counts"],
            api_calls=record.api_calls,
            rejected_rows=[outcome.to_json() for outcome in rejected],
            invalid_rows=[outcome.to_json() for outcome in invalid],
        )

    def calls(self, run_id: str, *, pk: str | None = None) -> RunCalls:
        """A recorded run's API calls in order; with ``pk``, those that carried that row."""
        with self.engine.open_store() as store:
            record = _find_run(store, run_id)
            calls = store.api_calls(record.run_id, pk=pk)
            outcomes = store.outcomes(record.run_id, pk=pk) if pk is not None else []
        return RunCalls(record.run_id, record.sync, calls, pk, outcomes[-1] if outcomes else None)

    def har(self, run_id: str, *, pk: str | None = None) -> str:
        """``calls(run_id, pk=pk)`` as a HAR 1.2 document, their URLs on the sync's store."""
        found = self.calls(run_id, pk=pk)
        sync = self.config.syncs.get(found.sync)
        if sync is None:
            raise ConfigError(
                f"run {found.run_id} is of sync {found.sync!r}, which bcsync.yml no longer"
                " defines: the store its calls went to is unknown"
            )
        destination = self.config.destinations[sync.destination]
        base = f"{destination.api_url.rstrip('/')}/stores/{destination.store_hash}"
        return har_json(found.calls, base_url=base)

    # -- snapshots ---------------------------------------------------------------------------

    def has_snapshot(self, sync: str) -> bool:
        """Whether ``sync`` (which must be defined) may have a snapshot."""
        self.config.sync(sync)  # raises a ConfigError naming the syncs that exist
        return self.engine.snapshots.exists(sync)

    def state(self, sync: str, *, limit: int | None = MAX_LISTED_ROWS) -> SyncState:
        """What ``sync``'s snapshot holds, with its first ``limit`` unsettled rows (None: all)."""
        path = snapshot_path(self.config.project_dir, sync)
        if not self.has_snapshot(sync):
            return SyncState(sync, path, None, [])
        with self.engine.snapshots.open(sync) as snapshot:
            return SyncState(sync, path, snapshot.summary(), snapshot.unsettled(limit))

    def reset(self, sync: str) -> int:
        """Forget ``sync``'s snapshot (its next run treats every row as added); returns how many
        rows were forgotten. Refused while a run of the sync is going."""
        self.config.sync(sync)
        return self.engine.snapshots.reset(sync, lease_seconds=self.engine.lock_lease_seconds)


def _find_run(store: RunStore, run_id: str) -> RunRecord:
    """The run ``run_id`` names (an id or a unique prefix); a ConfigError when none or several."""
    try:
        record = store.get_run(run_id)
    except StateError as exc:  # an ambiguous prefix: the user's to fix
        raise ConfigError(str(exc)) from None
    if record is None:
        raise ConfigError(f"no run {run_id!r} in the run store (see `bcsync runs`)")
    return record


def load_project(path: Path | str | None = None, observers: Sequence[Observer] = ()) -> Project:
    from bcsync.config.project import load_config

    return Project(load_config(path), observers)
